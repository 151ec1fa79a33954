//! The outermost middleware: counts every request in the metrics and writes one log line
//! per request on stderr (method, path, status, documents, milliseconds), including the
//! answers the layers give (413, 503, 504) and requests whose client left before the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::api::route_label;
use super::App;

/// Documents in an answered extraction request, left on the response by the handler for
/// the log line.
#[derive(Debug, Clone, Copy)]
pub struct DocumentCount(pub usize);

/// The status under which a request is counted when its client closed the connection
/// before the answer (nginx's convention; no status was sent).
const CLIENT_CLOSED: u16 = 499;

/// Counts and logs one request.
pub async fn track(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut record = Pending {
        app: &app,
        method: request.method().clone(),
        path: request.uri().path().to_string(),
        start: Instant::now(),
        done: false,
    };
    app.metrics.request_started();
    let response = next.run(request).await;
    let documents = response.extensions().get::<DocumentCount>().map(|d| d.0);
    record.finish(response.status().as_u16(), documents);
    response
}

/// A request being answered. Dropped unfinished, the client has gone (the server drops
/// the handler's future when the connection closes): it is still counted and logged.
struct Pending<'a> {
    app: &'a App,
    method: Method,
    path: String,
    start: Instant,
    done: bool,
}

impl Pending<'_> {
    fn finish(&mut self, status: u16, documents: Option<usize>) {
        self.done = true;
        let elapsed = self.start.elapsed();
        self.app
            .metrics
            .request_finished(route_label(&self.path), status, elapsed);
        if !self.app.quiet {
            eprintln!("{}", self.line(status, documents, elapsed));
        }
    }

    fn line(&self, status: u16, documents: Option<usize>, elapsed: Duration) -> String {
        let documents = documents.map_or_else(|| "-".to_string(), |n| n.to_string());
        format!(
            "erx: {} {} {status} docs={documents} {:.1}ms",
            self.method,
            self.path,
            elapsed.as_secs_f64() * 1e3
        )
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(CLIENT_CLOSED, None);
        }
    }
}
