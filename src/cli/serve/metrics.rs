//! The server's counters and histograms, rendered in the Prometheus text format for
//! `GET /metrics`. Hand-rolled on atomics: a handful of series does not justify a metrics
//! framework, and recording must never block a request or a batch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the request latency buckets: from a lone short article on a
/// warm model to requests that sat behind a full queue.
const LATENCY_BUCKETS_S: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Upper bounds of the batch size buckets (documents per batch).
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// A cumulative histogram with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative; summed when rendered), then +Inf.
    counts: Vec<AtomicU64>,
    /// Sum of observations in millionths, so that it can be an integer atomic.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", l.trim_end_matches(','))
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

/// Everything `/metrics` reports. One instance per server, shared by the handlers, the
/// request middleware and the batch workers.
#[derive(Debug)]
pub struct Metrics {
    /// Answered requests by (route, status). A map behind a lock: the routes are a fixed
    /// handful and the statuses few, and one short lock per request is no contention.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Requests being answered now.
    in_flight: AtomicU64,
    /// Time to answer `POST /v1/extract`, whatever the status.
    latency: Histogram,
    /// Documents extracted.
    documents: AtomicU64,
    /// Documents answered with an error record (bad input or a failed extraction).
    document_errors: AtomicU64,
    /// Whitespace-separated words of the documents extracted (as `erx bench` counts).
    words: AtomicU64,
    /// Documents dropped from the queue unprocessed because their request had already
    /// been answered (deadline passed) or its client had gone.
    abandoned: AtomicU64,
    /// Documents per `extract_batch` call.
    batch_documents: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            in_flight: AtomicU64::new(0),
            latency: Histogram::new(&LATENCY_BUCKETS_S),
            documents: AtomicU64::new(0),
            document_errors: AtomicU64::new(0),
            words: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            batch_documents: Histogram::new(&BATCH_BUCKETS),
        }
    }
}

/// Values that belong to other parts of the server, read when `/metrics` is rendered.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    /// Documents accepted and not yet extracted.
    pub queue_documents: usize,
    /// The most documents the queue accepts.
    pub queue_capacity: usize,
}

impl Metrics {
    /// A request has started.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request has been answered: counts it, and its latency when it was an extraction.
    pub fn request_finished(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *requests.entry((route, status)).or_insert(0) += 1;
        drop(requests);
        if route == super::api::EXTRACT_PATH {
            self.latency.observe(elapsed.as_secs_f64());
        }
    }

    /// Requests being answered now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// One document was extracted from a text of `words` words.
    pub fn document_extracted(&self, words: usize) {
        self.documents.fetch_add(1, Ordering::Relaxed);
        self.words.fetch_add(words as u64, Ordering::Relaxed);
    }

    /// `n` documents were answered with an error record.
    pub fn document_errors(&self, n: usize) {
        self.document_errors.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` queued documents were dropped because nobody waits for them any more.
    pub fn documents_abandoned(&self, n: usize) {
        self.abandoned.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One `extract_batch` call over `documents` documents.
    pub fn batch(&self, documents: usize) {
        self.batch_documents.observe(documents as f64);
    }

    /// The Prometheus text exposition (format 0.0.4) of every series.
    pub fn render(&self, model: &str, provider: &str, gauges: Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        family(
            &mut out,
            "erx_model_info",
            "gauge",
            "The model being served.",
        );
        let _ = writeln!(
            out,
            "erx_model_info{{model=\"{}\",provider=\"{}\"}} 1",
            escape_label(model),
            escape_label(provider)
        );

        family(
            &mut out,
            "erx_http_requests_total",
            "counter",
            "Answered HTTP requests by route and status.",
        );
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for ((route, status), n) in requests {
            let _ = writeln!(
                out,
                "erx_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }

        family(
            &mut out,
            "erx_http_requests_in_flight",
            "gauge",
            "HTTP requests being answered now.",
        );
        let _ = writeln!(out, "erx_http_requests_in_flight {}", load(&self.in_flight));

        family(
            &mut out,
            "erx_extract_request_duration_seconds",
            "histogram",
            "Time to answer POST /v1/extract, queueing included, whatever the status.",
        );
        self.latency
            .render(&mut out, "erx_extract_request_duration_seconds", "");

        family(
            &mut out,
            "erx_documents_total",
            "counter",
            "Documents extracted.",
        );
        let _ = writeln!(out, "erx_documents_total {}", load(&self.documents));
        family(
            &mut out,
            "erx_document_errors_total",
            "counter",
            "Documents answered with an error record (unusable text or failed extraction).",
        );
        let _ = writeln!(
            out,
            "erx_document_errors_total {}",
            load(&self.document_errors)
        );
        family(
            &mut out,
            "erx_words_total",
            "counter",
            "Whitespace-separated words of the documents extracted.",
        );
        let _ = writeln!(out, "erx_words_total {}", load(&self.words));
        family(
            &mut out,
            "erx_documents_abandoned_total",
            "counter",
            "Queued documents dropped unprocessed because their request had timed out or its client had gone.",
        );
        let _ = writeln!(
            out,
            "erx_documents_abandoned_total {}",
            load(&self.abandoned)
        );

        family(
            &mut out,
            "erx_queue_documents",
            "gauge",
            "Documents accepted and not yet extracted (waiting or in a running batch).",
        );
        let _ = writeln!(out, "erx_queue_documents {}", gauges.queue_documents);
        family(
            &mut out,
            "erx_queue_capacity_documents",
            "gauge",
            "The most documents the queue accepts; beyond it requests get 503.",
        );
        let _ = writeln!(
            out,
            "erx_queue_capacity_documents {}",
            gauges.queue_capacity
        );

        family(
            &mut out,
            "erx_batch_documents",
            "histogram",
            "Documents per extraction batch (requests batched together).",
        );
        self.batch_documents
            .render(&mut out, "erx_batch_documents", "");
        out
    }
}

/// A label value with the characters the text format reserves escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauges() -> Gauges {
        Gauges {
            queue_documents: 3,
            queue_capacity: 10,
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let h = Histogram::new(&BATCH_BUCKETS);
        for v in [1.0, 3.0, 3.0, 1000.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "b", "");
        assert!(out.contains("b_bucket{le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("b_bucket{le=\"4\"} 3\n"), "{out}");
        assert!(out.contains("b_bucket{le=\"512\"} 3\n"), "{out}");
        assert!(out.contains("b_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("b_sum 1007\n"), "{out}");
        assert!(out.contains("b_count 4\n"), "{out}");
    }

    #[test]
    fn render_reports_requests_documents_and_queue() {
        let m = Metrics::default();
        m.request_started();
        m.request_finished(
            super::super::api::EXTRACT_PATH,
            200,
            Duration::from_millis(7),
        );
        m.request_started();
        m.request_finished("/healthz", 200, Duration::from_millis(1));
        m.document_extracted(12);
        m.document_errors(2);
        m.batch(5);
        let text = m.render("fix\"ture", "cpu", gauges());
        for line in [
            "erx_model_info{model=\"fix\\\"ture\",provider=\"cpu\"} 1",
            "erx_http_requests_total{route=\"/v1/extract\",status=\"200\"} 1",
            "erx_http_requests_total{route=\"/healthz\",status=\"200\"} 1",
            "erx_http_requests_in_flight 0",
            "erx_extract_request_duration_seconds_bucket{le=\"0.01\"} 1",
            "erx_extract_request_duration_seconds_count 1",
            "erx_documents_total 1",
            "erx_document_errors_total 2",
            "erx_words_total 12",
            "erx_queue_documents 3",
            "erx_queue_capacity_documents 10",
            "erx_batch_documents_bucket{le=\"8\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // every sample line belongs to a family announced with # TYPE
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| text.contains(&format!("# TYPE {f} histogram")))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{l}");
        }
    }
}
