//! `erx bench`: throughput of the full pipeline on an article dump.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::{display, peak_rss_bytes, ModelArgs};

pub const AFTER_HELP: &str =
    "Reads the dump (JSONL with a \"text\" field) into memory, extracts a warm-up set, then
times the full pipeline (entities, relations, phrases, JSON serialisation) over the
documents. Words are whitespace-separated words of the input texts.

Reported: docs/s, words/s, tokens/s, padding efficiency (real / padded tokens), seconds
per stage (read, split, tokenize, batch, infer, decode, write), peak RSS, threads and the
execution provider that ran.

Examples:
  erx bench                                        # the committed sample
  erx bench articles.jsonl --limit 200 --threads 2
  erx bench articles.jsonl --json > bench.json";

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// JSONL article dump [default: data/sample.jsonl].
    #[arg(value_name = "DUMP")]
    dump: Option<PathBuf>,
    /// Use only the first N documents.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Documents extracted before timing starts.
    #[arg(long, default_value_t = 8, value_name = "N")]
    warmup: usize,
    /// Documents per extraction batch.
    #[arg(long, default_value_t = 128, value_name = "N")]
    batch_docs: usize,
    /// JSON field holding the text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    text_field: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if args.batch_docs == 0 {
        bail!("--batch-docs must be at least 1");
    }
    let dump = args
        .dump
        .clone()
        .unwrap_or_else(|| PathBuf::from("data/sample.jsonl"));
    let t0 = Instant::now();
    let file =
        std::fs::File::open(&dump).with_context(|| format!("cannot open {}", display(&dump)))?;
    let mut texts = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        if args.limit.is_some_and(|n| texts.len() >= n) {
            break;
        }
        let line =
            line.with_context(|| format!("cannot read {} line {}", display(&dump), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: invalid JSON", display(&dump), i + 1))?;
        match v.get(&args.text_field).and_then(Value::as_str) {
            Some(t) => texts.push(t.to_string()),
            None => bail!(
                "{} line {}: no string field {:?}",
                display(&dump),
                i + 1,
                args.text_field
            ),
        }
    }
    let read = t0.elapsed();
    if texts.is_empty() {
        bail!("{} holds no documents", display(&dump));
    }
    let extractor = args.model.load(args.model.options()?)?;
    let warm: Vec<&String> = texts.iter().take(args.warmup).collect();
    if !warm.is_empty() {
        extractor.extract_batch(&warm).context("warm-up failed")?;
    }

    let mut stats = erx::Stats::default();
    let mut write = Duration::ZERO;
    let mut sink: Vec<u8> = Vec::new();
    let (mut entities, mut relations) = (0usize, 0usize);
    let start = Instant::now();
    for chunk in texts.chunks(args.batch_docs) {
        let docs = extractor
            .extract_batch_with_stats(chunk, &mut stats)
            .context("extraction failed")?;
        let tw = Instant::now();
        for doc in &docs {
            entities += doc.entities.len();
            relations += doc.relations.len();
            sink.clear();
            serde_json::to_writer(&mut sink, doc)?;
        }
        write += tw.elapsed();
    }
    let wall = start.elapsed();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let secs = wall.as_secs_f64().max(1e-9);
    let stage = |d: Duration| d.as_secs_f64();
    // shares are of the summed stage times: with several sessions they exceed the wall time
    let stages = [
        ("split", stats.split),
        ("tokenize", stats.tokenize),
        ("batch", stats.batch),
        ("infer", stats.infer),
        ("decode", stats.decode),
        ("write", write),
    ];
    let busy = stages.iter().map(|(_, d)| stage(*d)).sum::<f64>().max(1e-9);
    let report = json!({
        "dump": display(&dump),
        "model": extractor.card().name,
        "precision": extractor.card().onnx.precision,
        "provider": extractor.provider(),
        "threads": args.model.threads,
        "documents": texts.len(),
        "words": words,
        "tokens": stats.tokens,
        "seconds": secs,
        "docs_per_s": texts.len() as f64 / secs,
        "words_per_s": words as f64 / secs,
        "tokens_per_s": stats.tokens as f64 / secs,
        "padding_efficiency": stats.tokens as f64 / (stats.padded_tokens.max(1)) as f64,
        "windows": stats.windows,
        "forward_passes": stats.batches,
        "entities": entities,
        "relations": relations,
        "stages_s": {
            "read": stage(read),
            "split": stage(stats.split),
            "tokenize": stage(stats.tokenize),
            "batch": stage(stats.batch),
            "infer": stage(stats.infer),
            "decode": stage(stats.decode),
            "write": stage(write),
        },
        "sessions": extractor.options().sessions,
        "threads_per_session": extractor.options().threads,
        "tokenize_plus_decode_share": (stage(stats.tokenize) + stage(stats.decode)) / busy,
        "peak_rss_mb": peak_rss_bytes().map(|b| b as f64 / 1048576.0),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "erx bench: {} docs, {} words from {} — {} ({}) on {}, {} threads",
        texts.len(),
        words,
        display(&dump),
        extractor.card().name,
        extractor.card().onnx.precision,
        extractor.provider(),
        args.model.threads
    );
    println!("  docs/s           {:>12.1}", texts.len() as f64 / secs);
    println!("  words/s          {:>12.0}", words as f64 / secs);
    println!("  tokens/s         {:>12.0}", stats.tokens as f64 / secs);
    println!(
        "  padding          {:>11.1}%  ({} windows in {} forward passes)",
        100.0 * stats.tokens as f64 / stats.padded_tokens.max(1) as f64,
        stats.windows,
        stats.batches
    );
    println!(
        "  wall             {:>11.2}s  (+ read {:.2}s)",
        secs,
        stage(read)
    );
    println!(
        "  time per stage (summed over {} session thread(s); share of the sum):",
        extractor.options().sessions
    );
    for (name, d) in stages {
        println!(
            "    {name:<14} {:>11.3}s  {:>5.1}%",
            stage(d),
            100.0 * stage(d) / busy
        );
    }
    if let Some(b) = peak_rss_bytes() {
        println!("  peak RSS         {:>10.0} MB", b as f64 / 1048576.0);
    }
    println!("  output           {entities} entities, {relations} relations");
    Ok(ExitCode::SUCCESS)
}
