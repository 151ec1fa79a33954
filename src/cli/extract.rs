//! `erx extract`: streaming JSONL in, JSONL out; one output line per input record, in
//! order, whatever happens to the record.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use super::input::{InputFormat, Record, RecordReader};
use super::{display, pretty, ModelArgs};
use erx::record;

pub const AFTER_HELP: &str = "Input: JSONL records like {\"id\": \"doc-1\", \"text\": \"...\"} (one per line), .txt files
(one document each, id = file name), or stdin when no INPUT or `-` is given.

Output: one JSON object per input record, in input order:
  {\"id\", \"entities\": [{\"id\", \"label\", \"text\", \"score\", \"mentions\": [{\"start\", \"end\", \"text\", \"score\"}]}],
   \"relations\": [{\"head\", \"tail\", \"label\", \"schema\", \"phrase\", \"score\", \"start\", \"end\", ...}],
   \"meta\": {\"model\", \"sentences\", \"tokens\", \"windows\", \"truncated\", \"provider\"}}
Offsets are Unicode code points: in Python text[start:end] == mention[\"text\"].

A bad record (invalid JSON, no text field, not UTF-8, empty text) yields
  {\"id\", \"source\", \"line\", \"error\": \"...\"}
and the run goes on. Exit status: 0 all good, 2 some records failed, 1 the run failed.

Examples:
  erx extract --text 'Kim Jong-nam was killed in Kuala Lumpur.' --pretty
  erx extract data/sample.jsonl -o out.jsonl
  erx extract dump.jsonl -o out.jsonl --resume     # continue an interrupted run
  erx extract notes.txt report.txt                 # each file is one document
  zcat dump.jsonl.gz | erx extract --text-field body --id-field uid > out.jsonl";

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Input files: JSONL, or .txt (one document each). None or `-`: stdin.
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Write JSONL here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Extract from this text instead of reading inputs.
    #[arg(long, value_name = "TEXT", conflicts_with = "inputs")]
    text: Option<String>,
    /// Print a readable view instead of JSONL.
    #[arg(long)]
    pretty: bool,
    /// JSON field holding the text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    text_field: String,
    /// JSON field holding the record id.
    #[arg(long, default_value = "id", value_name = "NAME")]
    id_field: String,
    /// How to read inputs.
    #[arg(long, value_enum, default_value = "auto")]
    format: InputFormat,
    /// Continue an interrupted run: keep the complete lines already in --output (a last
    /// line cut short is removed), skip that many input records, checking that each is
    /// the record its line was written for, and append the rest. The result is
    /// byte-identical to an uninterrupted run over the same input.
    #[arg(long, requires = "output", conflicts_with = "pretty")]
    resume: bool,
    /// Documents per extraction batch (memory stays bounded by this).
    #[arg(long, default_value_t = 128, value_name = "N")]
    batch_docs: usize,
    /// No progress bar and no summary.
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: ExtractArgs) -> Result<ExitCode> {
    if args.batch_docs == 0 {
        bail!("--batch-docs must be at least 1");
    }
    let extractor = args.model.load(args.model.options()?)?;
    if let Some(text) = &args.text {
        let doc = extractor.extract(text).context("extraction failed")?;
        let mut out = std::io::stdout().lock();
        if args.pretty {
            pretty::print(&mut out, text, &doc)?;
        } else {
            serde_json::to_writer(&mut out, &doc)?;
            writeln!(out)?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let done = match (&args.output, args.resume) {
        (Some(path), true) => Done::load(path)?,
        _ => Done::default(),
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(args.resume)
                .truncate(!args.resume)
                .open(path)
                .with_context(|| format!("cannot write {}", display(path)))?;
            Box::new(std::io::BufWriter::with_capacity(1 << 16, file))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };

    let mut reader = RecordReader::new(&args.inputs, args.format, &args.text_field, &args.id_field);
    let progress = Progress::new(RecordReader::total_bytes(&args.inputs), args.quiet);
    let start = Instant::now();
    let (mut total, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut chunk: Vec<Record> = Vec::with_capacity(args.batch_docs);
    let mut chunk_chars = 0usize;
    let mut position = 0usize;
    loop {
        let record = reader.next_record()?;
        let end = record.is_none();
        if let Some(r) = record {
            position += 1;
            if position <= done.len() {
                done.check(position, &r)?;
                skipped += 1;
                continue;
            }
            chunk_chars += r.text.as_ref().map_or(0, String::len);
            chunk.push(r);
        }
        // bounded memory: flush on document count or on text volume
        if chunk.len() >= args.batch_docs || chunk_chars >= 4 << 20 || (end && !chunk.is_empty()) {
            let (n, bad) = process_chunk(&extractor, &chunk, &mut out, args.pretty)?;
            total += n;
            failed += bad;
            chunk.clear();
            chunk_chars = 0;
            progress.update(reader.bytes_read, total, start.elapsed());
        }
        if end {
            break;
        }
    }
    if position < done.len() {
        bail!(
            "cannot resume: the output already holds {} lines but the input has only {position} \
             records; it was written from another input. fix: rerun without --resume",
            done.len()
        );
    }
    out.flush().context("cannot write output")?;
    progress.finish();
    if !args.quiet {
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "erx: {total} documents, {failed} failed{} in {secs:.1}s ({:.1} docs/s), model {} on {}",
            if skipped > 0 { format!(", {skipped} skipped (already in output)") } else { String::new() },
            total as f64 / secs.max(1e-9),
            extractor.card().name,
            extractor.provider()
        );
        if failed > 0 {
            eprintln!("erx: {failed} of {total} records failed; see the \"error\" field of their output lines");
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Extracts one chunk and writes one line per record; returns (records, failures).
fn process_chunk(
    extractor: &erx::Extractor,
    chunk: &[Record],
    out: &mut dyn Write,
    pretty: bool,
) -> Result<(usize, usize)> {
    let results = record::extract_each(
        extractor,
        chunk
            .iter()
            .map(|r| r.text.as_deref().map_err(String::as_str)),
    );
    let mut failed = 0;
    for (r, result) in chunk.iter().zip(results) {
        match result {
            Ok(mut doc) => {
                doc.id = r.id.clone();
                if pretty {
                    pretty::print(out, r.text.as_deref().unwrap_or_default(), &doc)
                        .context("cannot write output")?;
                } else {
                    write_line(out, &doc)?;
                }
            }
            Err(message) => {
                failed += 1;
                let place = [("source", json!(r.source)), ("line", json!(r.line))];
                write_line(out, &record::error_record(r.id.as_ref(), &place, &message))?;
            }
        }
    }
    out.flush().context("cannot write output")?;
    Ok((chunk.len(), failed))
}

/// One JSON line of output; a failed write (full disk, closed pipe) ends the run.
fn write_line(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    let mut line = serde_json::to_vec(value).context("cannot serialise an output record")?;
    line.push(b'\n');
    out.write_all(&line).context("cannot write output")
}

/// What identifies a record in the output: its id, else its source and line (error
/// lines carry them), else nothing (a successful line for a record without an id).
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Id(String),
    Line(String, usize),
    Unknown,
}

impl Key {
    fn of_record(r: &Record) -> Key {
        match &r.id {
            Some(id) => Key::Id(id.to_string()),
            None => Key::Line(r.source.clone(), r.line),
        }
    }

    fn of_output(v: &Value) -> Key {
        if let Some(id) = v.get("id") {
            return Key::Id(id.to_string());
        }
        match (
            v.get("source").and_then(Value::as_str),
            v.get("line").and_then(Value::as_u64),
        ) {
            (Some(s), Some(l)) => Key::Line(s.to_string(), l as usize),
            _ => Key::Unknown,
        }
    }
}

/// The complete lines of an interrupted run's output, in order. Output order is input
/// order, so resuming skips exactly that many input records and checks that each
/// skipped record is the one its line was written for. (Matching by id alone would skip
/// the second of two records sharing an id, and re-run records that have no id.)
#[derive(Default)]
struct Done {
    keys: Vec<Key>,
}

impl Done {
    /// Reads the output file and cuts off a last line left without its newline by the
    /// interruption, so that only complete lines are trusted.
    fn load(path: &Path) -> Result<Self> {
        let mut done = Done::default();
        let mut file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open {} to resume", display(path)))
            }
        };
        let mut reader = BufReader::new(&mut file);
        let mut buf = Vec::new();
        let mut complete: u64 = 0;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("cannot read {}", display(path)))?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break;
            }
            let Ok(v) = serde_json::from_slice::<Value>(&buf) else {
                bail!(
                    "cannot resume: line {} of {} is not a JSON record; it was not written by \
                     `erx extract`. fix: write to a new file or rerun without --resume",
                    done.keys.len() + 1,
                    display(path)
                );
            };
            complete += n as u64;
            done.keys.push(Key::of_output(&v));
        }
        drop(reader);
        file.set_len(complete)
            .with_context(|| format!("cannot truncate {}", display(path)))?;
        file.seek(SeekFrom::End(0))?;
        Ok(done)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    /// Checks that input record number `position` (from 1) is the one the output's line
    /// `position` was written for, where both say who they are.
    fn check(&self, position: usize, r: &Record) -> Result<()> {
        let written = &self.keys[position - 1];
        let input = Key::of_record(r);
        // a successful line without an id was written for a record without one
        let matches = match written {
            Key::Unknown => r.id.is_none(),
            known => *known == input,
        };
        if !matches {
            bail!(
                "cannot resume: output line {position} is for {written:?} but input record \
                 {position} is {input:?}; the input changed since the interrupted run. \
                 fix: rerun without --resume"
            );
        }
        Ok(())
    }
}

/// Progress on stderr, only when it is a terminal.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(total_bytes: Option<u64>, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = match total_bytes {
            Some(total) => {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} ETA {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    fn update(&self, bytes: u64, docs: usize, elapsed: Duration) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!(
                "{docs} docs, {:.1} docs/s",
                docs as f64 / elapsed.as_secs_f64().max(1e-9)
            ));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
