//! The limits that make the server answer instead of falling over, and the answers it
//! gives when one is reached. Where a stock layer can hold a limit, it does:
//!
//! | limit | status | held by |
//! |---|---|---|
//! | body size | 413 | axum's `DefaultBodyLimit` (the body is never buffered past it) |
//! | requests in progress | 503 + Retry-After | tower `ConcurrencyLimit` + `LoadShed` |
//! | request deadline | 504 | tower `Timeout` |
//! | queued documents | 503 + Retry-After | the batch queue ([`super::batcher`]) |
//! | documents per request, characters per document | 422 | request parsing ([`super::api`]) |
//! | a panic in a handler | 500 | tower-http `CatchPanicLayer` |
//!
//! The last two depend on the content of the request, which no layer reads.

use std::any::Any;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::BoxError;
use tower::ServiceBuilder;

use super::api::ApiError;

/// Seconds a client told "503" should wait before retrying. Batches take tens to
/// hundreds of milliseconds, so a second frees room without idling the server.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Every limit of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most documents in one request.
    pub max_request_documents: usize,
    /// Most characters (code points) in one document.
    pub max_document_chars: usize,
    /// Most extraction requests being answered at once.
    pub max_concurrent_requests: usize,
    /// Time from receiving a request to answering it.
    pub request_timeout: Duration,
}

/// Wraps the extraction route in its deadline and its cap on requests in progress.
///
/// Order matters: the deadline is innermost, so a request holds its place among the
/// requests in progress until it is answered; load shedding sits outside the cap, so a
/// request over the cap is refused at once instead of waiting for a place.
pub fn guard_extraction<S>(route: MethodRouter<S>, limits: &Limits) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let (timeout, cap) = (limits.request_timeout, limits.max_concurrent_requests);
    route.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |error: BoxError| async move {
                layer_error(&error, timeout, cap)
            }))
            .load_shed()
            .concurrency_limit(cap)
            .timeout(timeout),
    )
}

/// The answer for an error raised by the layers of [`guard_extraction`].
fn layer_error(error: &BoxError, timeout: Duration, cap: usize) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "no answer within the request deadline of {} ms; the server is busy or the \
                 request is large: retry later or send fewer documents",
                timeout.as_millis()
            ),
        )
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many requests in progress (limit {cap}); retry later"),
        )
        .retry_after(RETRY_AFTER_SECONDS)
    } else {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {error}"),
        )
    }
}

/// The answer when the body could not be read: too large (413, naming the limit) or cut
/// short by the client (400).
pub fn body_rejection(rejection: &BytesRejection, max_body_bytes: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body too large: the limit is {max_body_bytes} bytes; send fewer or \
                 shorter documents per request"
            ),
        )
    } else {
        ApiError::new(
            rejection.status(),
            format!("cannot read the request body: {}", rejection.body_text()),
        )
    }
}

/// The answer for a panic in a handler ([`tower_http::catch_panic::CatchPanicLayer`]): the
/// client gets a JSON 500 instead of a dropped connection.
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: the request handler failed",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_errors_map_to_their_statuses() {
        let second = Duration::from_secs(1);
        let elapsed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        let answer = layer_error(&elapsed, second, 4).into_response();
        assert_eq!(answer.status(), StatusCode::GATEWAY_TIMEOUT);

        let shed: BoxError = Box::new(tower::load_shed::error::Overloaded::new());
        let answer = layer_error(&shed, second, 4).into_response();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            answer.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );

        let other: BoxError = "boom".into();
        let answer = layer_error(&other, second, 4).into_response();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
