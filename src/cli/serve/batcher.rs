//! The queue in front of the extractor. Requests put their documents in; worker threads
//! take whatever has arrived within a short wait (up to a batch size) and run one
//! `extract_batch` over documents from many requests, so that many small concurrent
//! requests share forward passes the way one large `erx bench` batch does.
//!
//! The queue is bounded in documents, not requests: a caller learns at once that it is
//! full (and the server answers 503) instead of piling up work it cannot finish in time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::metrics::Metrics;

/// One document's result: the document, or the message of its error record.
pub type DocumentResult = Result<erx::Document, String>;

/// How documents are gathered into batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// How long a worker waits for more documents after the first one arrives.
    pub wait: Duration,
    /// Most documents per batch; a worker stops waiting once it has this many.
    pub max_documents: usize,
    /// Worker threads, i.e. batches extracted at once.
    pub workers: usize,
    /// Most documents accepted and not yet extracted.
    pub queue_capacity: usize,
}

/// The queue is full: the request should be retried later.
#[derive(Debug)]
pub struct QueueFull;

/// One request's documents and where their results go.
struct Job {
    texts: Vec<String>,
    reply: oneshot::Sender<Vec<DocumentResult>>,
    /// The job's places in the queue, given back when it has been extracted (or
    /// dropped), not when its request is answered: a request that timed out still
    /// occupies the workers until its batch is done.
    _places: OwnedSemaphorePermit,
}

/// The submitting side of the queue; cheap to share between handlers.
#[derive(Debug)]
pub struct Batcher {
    jobs: Sender<Job>,
    places: Arc<Semaphore>,
    capacity: usize,
}

/// The worker threads; joined at shutdown once every [`Batcher`] has been dropped.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<JoinHandle<()>>,
}

impl Batcher {
    /// Starts `config.workers` threads extracting with `extractor`.
    pub fn start(
        extractor: Arc<erx::Extractor>,
        config: BatchConfig,
        metrics: Arc<Metrics>,
    ) -> Result<(Batcher, Workers)> {
        let (jobs, queue) = mpsc::channel::<Job>();
        // Workers take turns at the receiving end: the one holding it gathers a batch,
        // then lets go and extracts while the next one gathers.
        let queue = Arc::new(Mutex::new(queue));
        let mut handles = Vec::with_capacity(config.workers);
        for i in 0..config.workers {
            let (queue, extractor, metrics) = (queue.clone(), extractor.clone(), metrics.clone());
            let handle = std::thread::Builder::new()
                .name(format!("erx-batch-{i}"))
                .spawn(move || work(&queue, &extractor, config, &metrics))
                .context("cannot start a batch worker thread")?;
            handles.push(handle);
        }
        let batcher = Batcher {
            jobs,
            places: Arc::new(Semaphore::new(config.queue_capacity)),
            capacity: config.queue_capacity,
        };
        Ok((batcher, Workers { handles }))
    }

    /// Queues `texts` for extraction; the receiver yields one result per text, in order.
    /// Fails at once when the queue has no room for all of them.
    pub fn submit(
        &self,
        texts: Vec<String>,
    ) -> Result<oneshot::Receiver<Vec<DocumentResult>>, QueueFull> {
        let (reply, results) = oneshot::channel();
        let wanted = u32::try_from(texts.len()).map_err(|_| QueueFull)?;
        let places = self
            .places
            .clone()
            .try_acquire_many_owned(wanted)
            .map_err(|_| QueueFull)?;
        let job = Job {
            texts,
            reply,
            _places: places,
        };
        // Sending fails only when every worker has exited, and then the dropped reply
        // tells the caller.
        let _ = self.jobs.send(job);
        Ok(results)
    }

    /// Documents accepted and not yet extracted.
    pub fn queued(&self) -> usize {
        self.capacity
            .saturating_sub(self.places.available_permits())
    }

    /// The most documents the queue accepts.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Workers {
    /// Waits until the workers have finished the queue. They stop once every
    /// [`Batcher`] is dropped and nothing is left to take.
    pub fn join(self) {
        for handle in self.handles {
            // a worker cannot panic past `catch_unwind`; nothing to report if it did
            let _ = handle.join();
        }
    }
}

/// A worker: gathers a batch, extracts it, answers, until the queue is closed.
fn work(
    queue: &Mutex<Receiver<Job>>,
    extractor: &erx::Extractor,
    config: BatchConfig,
    metrics: &Metrics,
) {
    while let Some(batch) = gather(queue, config) {
        run_batch(extractor, batch, config.max_documents, metrics);
    }
}

/// Waits for a first job, then for more until `config.wait` has passed since it came or
/// the batch is full. `None` when the queue is closed and empty.
fn gather(queue: &Mutex<Receiver<Job>>, config: BatchConfig) -> Option<Vec<Job>> {
    // A worker that panicked while holding the lock left the receiver intact.
    let queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
    let first = queue.recv().ok()?;
    let deadline = Instant::now() + config.wait;
    let mut documents = first.texts.len();
    let mut batch = vec![first];
    while documents < config.max_documents {
        let left = deadline.saturating_duration_since(Instant::now());
        match queue.recv_timeout(left) {
            Ok(job) => {
                documents += job.texts.len();
                batch.push(job);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(batch)
}

/// Extracts the documents of every job still awaited, in slices of at most
/// `max_documents`, and sends each job its results.
fn run_batch(extractor: &erx::Extractor, batch: Vec<Job>, max_documents: usize, metrics: &Metrics) {
    // A job whose request has been answered already (deadline) or whose client has gone
    // is dropped unprocessed: nobody would read its results.
    let (live, abandoned): (Vec<Job>, Vec<Job>) =
        batch.into_iter().partition(|job| !job.reply.is_closed());
    metrics.documents_abandoned(abandoned.iter().map(|j| j.texts.len()).sum());
    drop(abandoned);

    let texts: Vec<&str> = live
        .iter()
        .flat_map(|job| job.texts.iter().map(String::as_str))
        .collect();
    let mut results = Vec::with_capacity(texts.len());
    for slice in texts.chunks(max_documents.max(1)) {
        metrics.batch(slice.len());
        results.extend(extract_isolated(extractor, slice));
    }
    for (text, result) in texts.iter().zip(&results) {
        match result {
            Ok(_) => metrics.document_extracted(text.split_whitespace().count()),
            Err(_) => metrics.document_errors(1),
        }
    }

    let mut results = results.into_iter();
    for job in live {
        let own: Vec<DocumentResult> = results.by_ref().take(job.texts.len()).collect();
        // the receiver may have gone since the check above; then nobody is waiting
        let _ = job.reply.send(own);
    }
}

/// One result per text. Documents from different requests share the batch, so a failing
/// batch is retried one document at a time: an error (or a panic) stays with the document
/// that caused it instead of failing its batch-mates from other requests.
fn extract_isolated(extractor: &erx::Extractor, texts: &[&str]) -> Vec<DocumentResult> {
    match guarded(|| extractor.extract_batch(texts)) {
        Ok(docs) if docs.len() == texts.len() => docs.into_iter().map(Ok).collect(),
        Ok(_) | Err(_) if texts.len() > 1 => texts
            .iter()
            .flat_map(|text| extract_isolated(extractor, std::slice::from_ref(text)))
            .collect(),
        Ok(_) => vec![Err(
            "internal error: the extractor returned no document".into()
        )],
        Err(message) => vec![Err(message)],
    }
}

/// Runs an extraction, turning an error or a panic into the message of an error record.
fn guarded<T>(f: impl FnOnce() -> erx::Result<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("extraction failed: {e}")),
        Err(_) => Err("extraction failed: internal error (panic)".to_string()),
    }
}
