//! `erx extract`: streaming JSONL in, JSONL out; one output line per input record, in
//! order, whatever happens to the record.

use std::collections::HashSet;
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
    /// Continue an interrupted run: skip records whose id (or, without an id, whose
    /// source and line) is already in --output, and append the rest.
    #[arg(long, requires = "output")]
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
    loop {
        let record = reader.next_record()?;
        let end = record.is_none();
        if let Some(r) = record {
            if done.contains(&r) {
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
    out.flush().context("cannot flush output")?;
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
    let texts: Vec<&str> = chunk
        .iter()
        .filter_map(|r| r.text.as_deref().ok())
        .collect();
    let mut docs = match extractor.extract_batch(&texts) {
        Ok(docs) => docs.into_iter().map(Ok).collect::<Vec<_>>(),
        Err(e) => texts
            .iter()
            .map(|_| Err(format!("extraction failed: {e}")))
            .collect(),
    }
    .into_iter();
    let mut failed = 0;
    for r in chunk {
        let result = match &r.text {
            Ok(_) => docs
                .next()
                .unwrap_or_else(|| Err("internal error: missing result".into())),
            Err(e) => Err(e.clone()),
        };
        match result {
            Ok(mut doc) => {
                doc.id = r.id.clone();
                if pretty {
                    pretty::print(out, r.text.as_deref().unwrap_or_default(), &doc)?;
                } else {
                    serde_json::to_writer(&mut *out, &doc)?;
                    writeln!(out)?;
                }
            }
            Err(message) => {
                failed += 1;
                let mut v = json!({"source": r.source, "line": r.line, "error": message});
                if let Some(id) = &r.id {
                    v["id"] = id.clone();
                }
                serde_json::to_writer(&mut *out, &v)?;
                writeln!(out)?;
            }
        }
    }
    out.flush().context("cannot write output")?;
    Ok((chunk.len(), failed))
}

/// Records already present in the output of an interrupted run.
#[derive(Default)]
struct Done {
    ids: HashSet<String>,
    lines: HashSet<(String, usize)>,
}

impl Done {
    /// Reads the output file, dropping a last line cut short by the interruption.
    fn load(path: &Path) -> Result<Self> {
        let mut done = Done::default();
        let Ok(mut file) = OpenOptions::new().read(true).write(true).open(path) else {
            return Ok(done); // nothing to resume from
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
            complete += n as u64;
            let Ok(v) = serde_json::from_slice::<Value>(&buf) else {
                continue;
            };
            match v.get("id") {
                Some(id) => {
                    done.ids.insert(id.to_string());
                }
                None => {
                    if let (Some(s), Some(l)) = (
                        v.get("source").and_then(Value::as_str),
                        v.get("line").and_then(Value::as_u64),
                    ) {
                        done.lines.insert((s.to_string(), l as usize));
                    }
                }
            }
        }
        drop(reader);
        file.set_len(complete)
            .with_context(|| format!("cannot truncate {}", display(path)))?;
        file.seek(SeekFrom::End(0))?;
        Ok(done)
    }

    fn contains(&self, r: &Record) -> bool {
        match &r.id {
            Some(id) => self.ids.contains(&id.to_string()),
            None => self.lines.contains(&(r.source.clone(), r.line)),
        }
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
