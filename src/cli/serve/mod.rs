//! `erx serve`: extraction over HTTP, a thin layer over one shared [`erx::Extractor`].
//!
//! A request's documents go into one queue ([`batcher`]); worker threads run
//! `extract_batch` over documents of many requests at once. Limits answer with a status
//! instead of letting work pile up ([`limits`]); every request is counted and logged
//! ([`access`], [`metrics`]); on SIGTERM or Ctrl-C the server stops accepting, finishes
//! what it accepted and exits 0.

mod access;
mod api;
mod batcher;
mod limits;
mod metrics;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};
use clap::Args;
use tower_http::catch_panic::CatchPanicLayer;

use self::batcher::{BatchConfig, Batcher};
use self::limits::Limits;
use self::metrics::Metrics;
use super::ModelArgs;

/// How long shutdown waits beyond the request deadline for connections that are still
/// open: every accepted request has been answered by then (at worst with a 504), so what
/// is left are idle or stalled clients.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The help text after the options of `erx serve`.
pub const AFTER_HELP: &str = "API (JSON; docs/serve.md has curl examples, docs/openapi.yaml the schema):
  POST /v1/extract  {\"text\": \"...\", \"id\": ...}  → one document object, as `erx extract` writes it
                    {\"documents\": [{\"id\", \"text\"}, ...]}  → {\"documents\": [...]}, one per input,
                    in order; a document without usable text gets {\"id\", \"index\", \"error\"}
  GET  /healthz     200 while the process runs
  GET  /readyz      200 while the model is loaded and requests are taken; 503 when shutting down
  GET  /metrics     Prometheus text: requests by status, documents, words, queue depth, batch
                    sizes, latency histogram

Errors are JSON {\"error\": \"...\"}: 400 malformed request, 413 body too large, 422 too many
documents or a document too long, 503 busy (with Retry-After), 504 past the deadline.

Batching: documents of concurrent requests are extracted together. A worker takes the first
queued request, waits --batch-wait-ms for more, then extracts up to --max-batch-docs documents
in one batch; a lone request waits at most --batch-wait-ms longer than it would alone.

SIGTERM or Ctrl-C: stop accepting connections, finish the requests accepted, exit 0.

Examples:
  erx serve                                        # http://127.0.0.1:8080, models/erx-news-v2
  erx serve --addr 0.0.0.0:8080 --threads 4 --quiet
  erx serve --batch-wait-ms 5 --max-batch-docs 64 --max-queue-docs 1024
  curl -s localhost:8080/v1/extract -d '{\"id\": 1, \"text\": \"Kim Jong-nam died in Malaysia.\"}'
  curl -s localhost:8080/metrics";

/// Options of `erx serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (host:port). Port 0 picks a free port; the address bound is
    /// printed on stderr ("erx: listening on http://...").
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    addr: String,
    /// How long a worker waits for more requests after the first one arrives before it
    /// extracts the batch. Longer waits make fuller batches under load; a lone request
    /// is delayed by at most this much.
    #[arg(long, default_value_t = 2, value_name = "MS")]
    batch_wait_ms: u64,
    /// Most documents extracted in one batch (one `extract_batch` call).
    #[arg(long, default_value_t = 32, value_name = "N")]
    max_batch_docs: usize,
    /// Batches extracted at once, one worker thread each. The model's --sessions are
    /// shared by all; a second worker overlaps one batch's tokenizing and decoding with
    /// another's forward passes.
    #[arg(long, default_value_t = 1, value_name = "N")]
    workers: usize,
    /// Most documents accepted and not yet extracted. A request that does not fit gets
    /// 503 with Retry-After, so latency stays bounded instead of growing with the queue.
    #[arg(long, default_value_t = 256, value_name = "N")]
    max_queue_docs: usize,
    /// Most extraction requests in progress (queued, extracting or being read); more get
    /// 503 with Retry-After. Bounds the memory held by request bodies.
    #[arg(long, default_value_t = 256, value_name = "N")]
    max_concurrent_requests: usize,
    /// Most documents in one request; more get 422. At most --max-queue-docs.
    #[arg(long, default_value_t = 128, value_name = "N")]
    max_request_docs: usize,
    /// Most characters (Unicode code points) in one document; a longer one gets 422.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    max_doc_chars: usize,
    /// Largest request body in bytes; a larger one gets 413.
    #[arg(long, default_value_t = 10 << 20, value_name = "BYTES")]
    max_body_bytes: usize,
    /// Deadline of a request, from its arrival to its answer; past it the answer is 504
    /// and its documents are dropped from the queue if they have not started.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    request_timeout_ms: u64,
    /// No log line per request (the startup and shutdown lines stay).
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    model: ModelArgs,
}

impl ServeArgs {
    fn limits(&self) -> Result<Limits> {
        for (value, name) in [
            (self.max_request_docs, "--max-request-docs"),
            (self.max_doc_chars, "--max-doc-chars"),
            (self.max_body_bytes, "--max-body-bytes"),
            (self.max_concurrent_requests, "--max-concurrent-requests"),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        if self.request_timeout_ms == 0 {
            bail!("--request-timeout-ms must be at least 1");
        }
        if self.max_request_docs > self.max_queue_docs {
            bail!(
                "--max-request-docs ({}) must not exceed --max-queue-docs ({}): such a request \
                 could never be queued",
                self.max_request_docs,
                self.max_queue_docs
            );
        }
        Ok(Limits {
            max_body_bytes: self.max_body_bytes,
            max_request_documents: self.max_request_docs,
            max_document_chars: self.max_doc_chars,
            max_concurrent_requests: self.max_concurrent_requests,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
        })
    }

    fn batch_config(&self) -> Result<BatchConfig> {
        if self.max_batch_docs == 0 || self.workers == 0 {
            bail!("--max-batch-docs and --workers must be at least 1");
        }
        // a semaphore hands out u32 places at a time
        if u32::try_from(self.max_queue_docs).is_err() || self.max_queue_docs == 0 {
            bail!("--max-queue-docs must be between 1 and {}", u32::MAX);
        }
        Ok(BatchConfig {
            wait: Duration::from_millis(self.batch_wait_ms),
            max_documents: self.max_batch_docs,
            workers: self.workers,
            queue_capacity: self.max_queue_docs,
        })
    }
}

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    batcher: Batcher,
    limits: Limits,
    metrics: Arc<Metrics>,
    model: String,
    provider: &'static str,
    /// Set when shutdown begins (`/readyz` then answers 503).
    draining: AtomicBool,
    quiet: bool,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let limits = args.limits()?;
    let batch = args.batch_config()?;
    let extractor = Arc::new(args.model.load(args.model.options()?)?);
    // the first forward pass initialises the runtime's kernels: pay for it before the
    // first client does, and fail now if the model cannot run at all
    extractor
        .extract("The model is warming up in London.")
        .context("the model failed on a warm-up text")?;

    let metrics = Arc::new(Metrics::default());
    let (batcher, workers) = Batcher::start(extractor.clone(), batch, metrics.clone())?;
    let app = Arc::new(App {
        batcher,
        limits,
        metrics,
        model: extractor.card().name.clone(),
        provider: extractor.provider(),
        draining: AtomicBool::new(false),
        quiet: args.quiet,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("erx-http")
        .build()
        .context("cannot start the async runtime")?;
    let stopped = runtime.block_on(serve(&args.addr, app, batch));
    // Connections still open (see `Stop`) are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
    // Every handle on the queue is gone with the router: the workers finish and stop.
    workers.join();
    match stopped? {
        Stop::Drained => eprintln!("erx: stopped"),
        Stop::GaveUp => eprintln!(
            "erx: stopped; connections still open {} ms after the signal were closed",
            (args.request_timeout_ms as u128) + SHUTDOWN_GRACE.as_millis()
        ),
        Stop::Forced { unanswered } => {
            eprintln!("erx: stopped by a second signal; {unanswered} request(s) left unanswered");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How the server stopped after the first shutdown signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Every accepted request was answered and every connection closed.
    Drained,
    /// Every accepted request was answered (by its deadline), but some connections were
    /// still open past the grace period: idle or stalled clients.
    GaveUp,
    /// A second signal asked to stop at once.
    Forced {
        /// Requests in progress when it came.
        unanswered: u64,
    },
}

/// The routes and their layers. Layers added later wrap those added earlier, so the
/// request tracker sees every answer, including those of the other layers.
fn router(app: Arc<App>) -> Router {
    let extract = limits::guard_extraction(post(api::extract), &app.limits);
    Router::new()
        .route(api::EXTRACT_PATH, extract)
        .route(api::HEALTH_PATH, get(api::healthz))
        .route(api::READY_PATH, get(api::readyz))
        .route(api::METRICS_PATH, get(api::metrics))
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(app.limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(limits::panic_response))
        .layer(middleware::from_fn_with_state(app.clone(), access::track))
        .with_state(app)
}

/// Binds, serves until a shutdown signal, then waits for the accepted requests.
async fn serve(addr: &str, app: Arc<App>, batch: BatchConfig) -> Result<Stop> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the address listened on")?;
    eprintln!(
        "erx: serving model {} on {}; batches of up to {} documents after a {} ms wait, {} \
         worker(s); queue {} documents",
        app.model,
        app.provider,
        batch.max_documents,
        batch.wait.as_millis(),
        batch.workers,
        batch.queue_capacity
    );
    eprintln!("erx: listening on http://{local}");

    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let signal_app = app.clone();
    let metrics = app.metrics.clone();
    let timeout = app.limits.request_timeout;
    let server = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        signal_app.draining.store(true, Ordering::Relaxed);
        eprintln!("erx: shutting down: no new connections; finishing the requests accepted");
        let _ = stopping_tx.send(true);
    });
    // Accepted requests end by their deadline; a connection still open after it (an idle
    // or stalled client) does not hold the process forever. The signal handlers replace
    // the default action, so a second signal is what stops the process at once.
    let give_up = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
        tokio::select! {
            () = tokio::time::sleep(timeout + SHUTDOWN_GRACE) => Stop::GaveUp,
            () = shutdown_signal() => Stop::Forced {
                unanswered: metrics.in_flight(),
            },
        }
    };
    tokio::select! {
        served = server => {
            served.context("the server failed")?;
            Ok(Stop::Drained)
        }
        stop = give_up => Ok(stop),
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT). If a handler cannot be installed, that signal
/// is not awaited (the other still works) rather than shutting down at once.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("erx: cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                eprintln!("erx: cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
