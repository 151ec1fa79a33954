//! Command-line definitions (the help text is the manual) and dispatch.

mod bench;
mod eval;
mod extract;
mod input;
mod pretty;
#[cfg(feature = "serve")]
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

/// Fast entity and relation extraction for English news text.
///
/// erx finds people, organisations, locations and other names with exact character
/// offsets, merges mentions of the same entity across a document, and links entities with
/// typed relations and the phrase that expresses them. One ONNX model, run by ONNX Runtime
/// on CPU or GPU.
///
/// Offsets are Unicode code-point offsets into the input text: in Python,
/// text[start:end] is the mention.
#[derive(Debug, Parser)]
#[command(name = "erx", version, max_term_width = 100)]
#[command(after_help = "Examples:
  erx extract --text 'The State Department denied a visa to Choe Son Hui.' --pretty
  erx extract articles.jsonl -o entities.jsonl
  cat articles.jsonl | erx extract > entities.jsonl
  erx eval --format conll2003 dev.txt
  erx bench articles.jsonl --limit 200

Setup: scripts/setup-ort.sh fetches ONNX Runtime into .ort/ (once).")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Extract entities and relations from JSONL records, text files or stdin.
    #[command(after_help = extract::AFTER_HELP)]
    Extract(extract::ExtractArgs),
    /// Score the model on gold data (strict span + type micro P/R/F1).
    #[command(after_help = eval::AFTER_HELP)]
    Eval(eval::EvalArgs),
    /// Measure throughput on an article dump: docs/s, words/s, time per stage, peak memory.
    #[command(after_help = bench::AFTER_HELP)]
    Bench(bench::BenchArgs),
    /// Serve extraction over HTTP: JSON in and out, batching across requests, with
    /// limits that answer (413, 422, 503, 504) instead of falling over.
    #[cfg(feature = "serve")]
    #[command(after_help = serve::AFTER_HELP)]
    Serve(serve::ServeArgs),
}

/// Model and runtime settings shared by every command.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model folder (erx.json, model.onnx, tokenizer.json), or the name of a model shipped in
    /// models/ (erx-news-v2, erx-news-v2-fast). Default: $ERX_MODEL, else models/erx-news-v2
    /// in the current directory or beside the executable's repository.
    #[arg(long, short = 'm', value_name = "DIR|NAME")]
    model: Option<PathBuf>,
    /// ONNX Runtime threads in all.
    #[arg(long, short = 't', default_value_t = 2, value_name = "N")]
    threads: usize,
    /// Sessions that run forward passes at once; the threads are shared out among them
    /// [default: one single-threaded session per thread, faster on CPU than one session
    /// with several threads]. Use 1 for one multi-threaded session (e.g. with --device cuda).
    #[arg(long, value_name = "N")]
    sessions: Option<usize>,
    /// Where to run the model: cpu, cuda (fails if CUDA is unusable) or auto (CUDA if it
    /// works, else CPU). The provider that ran is reported.
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    device: String,
    /// Padded tokens per forward pass (windows x padded length). Small batches of
    /// similar-length windows are fastest on CPU; on a GPU use e.g. 32768 with
    /// --batch-windows 256 --sessions 1.
    #[arg(long, default_value_t = 512, value_name = "N")]
    batch_tokens: usize,
    /// Most windows per forward pass. 1 makes results independent of batch-mates (int8
    /// quantisation scales are per pass) at no CPU cost; raise it for GPUs.
    #[arg(long, default_value_t = 1, value_name = "N")]
    batch_windows: usize,
    /// Tokens per window, special tokens included [default: the model's max_tokens].
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Tokens shared by consecutive chunks of an over-long sentence [default: a quarter of
    /// the window, at most 32].
    #[arg(long, value_name = "N")]
    overlap: Option<usize>,
    /// Relation score threshold for every label [default: per label, from the model card].
    #[arg(long, value_name = "P")]
    relation_threshold: Option<f32>,
    /// Keep the label each mention was read with in its sentence. By default every
    /// mention of one name in a document gets the label most of them were read with
    /// ("Japan" is either the team or the country throughout).
    #[arg(long)]
    sentence_labels: bool,
    /// Only typed relations. Applies to models with the version-1 contract (a predicate
    /// tagger, such as erx-news-v1), which by default also link a subject and an object
    /// through a predicted predicate between them (schema "open", label
    /// "subject-object"); the default erx-news-v2 prints no open links.
    #[arg(long)]
    no_open_relations: bool,
    /// ONNX Runtime library [default: $ORT_DYLIB_PATH, else .ort/libonnxruntime.so here, else
    /// in the repository the executable was built in].
    #[arg(long, value_name = "FILE")]
    ort_library: Option<PathBuf>,
}

/// The model used when neither `--model` nor `$ERX_MODEL` names one.
const DEFAULT_MODEL: &str = "erx-news-v2";

/// `models/NAME` in the current directory, else in the repository the executable was built
/// in (target/{debug,release}/erx), if it holds a model card.
fn shipped_model(name: &Path) -> Option<PathBuf> {
    let local = Path::new("models").join(name);
    if local.join("erx.json").exists() {
        return Some(local);
    }
    built_in_repository()
        .map(|root| root.join("models").join(name))
        .filter(|p| p.join("erx.json").exists())
}

/// The repository the executable was built in (target/{debug,release}/erx), if any.
fn built_in_repository() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
}

/// `--ort-library`, else nothing where the library's own search finds one
/// (`$ORT_DYLIB_PATH`, beside the executable, `.ort/` here), else the `.ort/` of the
/// repository the executable was built in, so that erx runs from any directory.
fn ort_library(explicit: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.clone());
    }
    if std::env::var_os("ORT_DYLIB_PATH").is_some() || erx::infer::runtime_library(None).exists() {
        return None;
    }
    built_in_repository()
        .map(|root| root.join(".ort/libonnxruntime.so"))
        .filter(|p| p.exists())
}

impl ModelArgs {
    fn model_dir(&self) -> Result<PathBuf> {
        if let Some(m) = &self.model {
            // A bare name such as `erx-news-v2-fast` that is not a folder here names one of
            // the repository's shipped models.
            if !m.exists() && m.components().count() == 1 {
                if let Some(found) = shipped_model(m) {
                    return Ok(found);
                }
            }
            return Ok(m.clone());
        }
        if let Some(m) = std::env::var_os("ERX_MODEL") {
            return Ok(PathBuf::from(m));
        }
        shipped_model(Path::new(DEFAULT_MODEL)).with_context(|| {
            format!("no model found: pass --model DIR or set ERX_MODEL (the default is models/{DEFAULT_MODEL})")
        })
    }

    fn options(&self) -> Result<erx::Options> {
        if self.threads == 0 {
            bail!("--threads must be at least 1");
        }
        let options = erx::Options {
            batch_tokens: self.batch_tokens,
            batch_windows: self.batch_windows,
            device: self.device.parse()?,
            window_tokens: self.window,
            overlap_tokens: self.overlap,
            relation_threshold: self.relation_threshold,
            harmonise_labels: !self.sentence_labels,
            open_relations: !self.no_open_relations,
            runtime_library: ort_library(self.ort_library.as_ref()),
            ..erx::Options::default()
        };
        Ok(options.with_threads(self.threads, self.sessions)?)
    }

    fn load(&self, options: erx::Options) -> Result<erx::Extractor> {
        let dir = self.model_dir()?;
        erx::Extractor::load(&dir, options)
            .with_context(|| format!("cannot load the model in {}", dir.display()))
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Extract(a) => extract::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Bench(a) => bench::run(a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run(a),
    }
}

/// Peak resident memory of this process in bytes (Linux), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
