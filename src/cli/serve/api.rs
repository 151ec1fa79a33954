//! The HTTP API: request and answer formats and the handlers. Documents are the
//! `erx::Document` objects `erx extract` writes, and a document that cannot be extracted
//! gets the CLI's error record, so one parser reads the output of both.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use super::access::DocumentCount;
use super::batcher::{DocumentResult, QueueFull};
use super::limits::{self, Limits, RETRY_AFTER_SECONDS};
use super::metrics::Gauges;
use super::App;
use erx::record::{error_record, field_text, kind};

/// Extraction: one document or a batch.
pub const EXTRACT_PATH: &str = "/v1/extract";
/// Liveness: the process answers.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: the model is loaded and the server takes work.
pub const READY_PATH: &str = "/readyz";
/// Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";

/// The route a path belongs to, as a metrics label: the known routes, else `other`, so
/// that arbitrary paths cannot create unbounded series.
pub fn route_label(path: &str) -> &'static str {
    [EXTRACT_PATH, HEALTH_PATH, READY_PATH, METRICS_PATH]
        .into_iter()
        .find(|route| *route == path)
        .unwrap_or("other")
}

/// An error answer: a status and a JSON body that has an `"error"` message (and, for one
/// document that could not be extracted, its error record).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl ApiError {
    /// `{"error": message}` with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
            retry_after: None,
        }
    }

    /// Asks the client to retry after `seconds` (the `Retry-After` header).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // A refused request's body may be left unread, and then the connection cannot be
        // reused: say so, or a keep-alive client sends its next request into a socket the
        // server is closing and gets a broken pipe instead of an answer (seen under 3×
        // overload with 512 clients before this header).
        if self.retry_after.is_some() || self.status == StatusCode::PAYLOAD_TOO_LARGE {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Which of the two request forms was used; the answer has the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `{"text": ..., "id": ...}` → one document object.
    Single,
    /// `{"documents": [{"id", "text"}, ...]}` → `{"documents": [...]}`.
    Batch,
}

/// One document of a request: its id when it had one, and its text or why it has none
/// usable (as `erx extract` reads a JSONL record).
#[derive(Debug, PartialEq)]
pub struct InputDocument {
    /// The id, echoed as given.
    pub id: Option<Value>,
    /// The text, or the message of the document's error record.
    pub text: Result<String, String>,
}

impl InputDocument {
    fn from_value(value: Value) -> Self {
        match value {
            Value::Object(mut record) => {
                let id = record.remove("id");
                let text = match record.remove("text") {
                    Some(text) => field_text(text, "text"),
                    None => Err("no \"text\" field".to_string()),
                };
                InputDocument { id, text }
            }
            other => InputDocument {
                id: None,
                text: Err(format!(
                    "expected a JSON object like {{\"id\": ..., \"text\": ...}}, not {}",
                    kind(&other)
                )),
            },
        }
    }
}

/// A parsed `POST /v1/extract` body.
#[derive(Debug)]
pub struct ExtractRequest {
    /// The form, which the answer keeps.
    pub form: Form,
    /// The documents, in order.
    pub documents: Vec<InputDocument>,
}

impl ExtractRequest {
    /// Reads a body. A body that is not a request at all is a 400; one over a
    /// documents-per-request or characters-per-document limit is a 422. A document
    /// without usable text is not an error of the request: it gets an error record.
    pub fn parse(body: &[u8], limits: &Limits) -> Result<Self, ApiError> {
        const SHAPE: &str = "expected {\"text\": \"...\", \"id\": ...} for one document or \
                             {\"documents\": [{\"id\": ..., \"text\": \"...\"}, ...]} for a batch";
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(format!(
                "empty request body: {SHAPE}"
            )));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(ApiError::bad_request(format!(
                "{SHAPE}, not a JSON {}",
                kind(&value)
            )));
        };
        let request = match (object.remove("documents"), object.contains_key("text")) {
            (Some(_), true) => {
                return Err(ApiError::bad_request(format!(
                    "both \"text\" and \"documents\" given: {SHAPE}"
                )))
            }
            (Some(Value::Array(items)), false) => {
                if items.len() > limits.max_request_documents {
                    return Err(ApiError::unprocessable(format!(
                        "too many documents: {} in one request; the limit is {} per request",
                        items.len(),
                        limits.max_request_documents
                    )));
                }
                ExtractRequest {
                    form: Form::Batch,
                    documents: items.into_iter().map(InputDocument::from_value).collect(),
                }
            }
            (Some(other), false) => {
                return Err(ApiError::bad_request(format!(
                    "\"documents\" must be an array of {{\"id\": ..., \"text\": \"...\"}} \
                     objects, not {}",
                    kind(&other)
                )))
            }
            (None, true) => ExtractRequest {
                form: Form::Single,
                documents: vec![InputDocument::from_value(Value::Object(object))],
            },
            (None, false) => {
                return Err(ApiError::bad_request(format!(
                    "no \"text\" or \"documents\" field: {SHAPE}"
                )))
            }
        };
        request.check_lengths(limits.max_document_chars)?;
        Ok(request)
    }

    /// Refuses the request when one of its texts is longer than `max_chars` characters.
    fn check_lengths(&self, max_chars: usize) -> Result<(), ApiError> {
        for (index, document) in self.documents.iter().enumerate() {
            let Ok(text) = &document.text else { continue };
            // a UTF-8 text has at most as many characters as bytes: count only when needed
            if text.len() <= max_chars {
                continue;
            }
            let chars = text.chars().count();
            if chars > max_chars {
                let which = match (self.form, &document.id) {
                    (Form::Single, _) => "the text".to_string(),
                    (Form::Batch, Some(id)) => format!("document {index} (id {id})"),
                    (Form::Batch, None) => format!("document {index}"),
                };
                return Err(ApiError::unprocessable(format!(
                    "document too long: {which} has {chars} characters; the limit is \
                     {max_chars} per document"
                )));
            }
        }
        Ok(())
    }
}

/// One entry of an answer: a document, or the error record that stands in its place.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Outcome {
    // Serialised as the library serialises it (not through `serde_json::Value`, which
    // would widen f32 scores into long f64 digits), so the bytes match `erx extract`.
    Document(erx::Document),
    Error(Value),
}

/// The answer to the batch form.
#[derive(Debug, Serialize)]
struct BatchAnswer {
    documents: Vec<Outcome>,
}

/// `POST /v1/extract`.
pub async fn extract(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|r| limits::body_rejection(&r, app.limits.max_body_bytes))?;
    let request = ExtractRequest::parse(&body, &app.limits)?;
    drop(body);
    let count = request.documents.len();

    // usable texts go to the queue; the others keep their place for an error record
    let mut texts = Vec::with_capacity(count);
    let mut entries = Vec::with_capacity(count);
    for document in request.documents {
        match document.text {
            Ok(text) => {
                texts.push(text);
                entries.push((document.id, None));
            }
            Err(problem) => entries.push((document.id, Some(problem))),
        }
    }
    let unusable = count - texts.len();
    app.metrics.document_errors(unusable);
    let mut results = extract_texts(&app, texts).await?.into_iter();

    let mut outcomes = entries
        .into_iter()
        .enumerate()
        .map(|(index, (id, problem))| {
            let result: DocumentResult = match problem {
                Some(problem) => Err(problem),
                None => results
                    .next()
                    .unwrap_or_else(|| Err("internal error: missing result".to_string())),
            };
            match result {
                Ok(mut document) => {
                    document.id = id;
                    Ok(document)
                }
                Err(message) => {
                    let place = match request.form {
                        Form::Single => vec![],
                        Form::Batch => vec![("index", json!(index))],
                    };
                    Err(error_record(id.as_ref(), &place, &message))
                }
            }
        });

    let mut response = match request.form {
        Form::Batch => Json(BatchAnswer {
            documents: outcomes
                .map(|o| o.map_or_else(Outcome::Error, Outcome::Document))
                .collect(),
        })
        .into_response(),
        Form::Single => match outcomes.next() {
            Some(Ok(document)) => Json(document).into_response(),
            // bad input is the client's to fix (422); a failed extraction is ours (500)
            Some(Err(record)) => {
                let status = if unusable > 0 {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                (status, Json(record)).into_response()
            }
            None => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: no result",
            )
            .into_response(),
        },
    };
    response.extensions_mut().insert(DocumentCount(count));
    Ok(response)
}

/// Extracts `texts` through the batch queue; 503 when it is full.
async fn extract_texts(app: &App, texts: Vec<String>) -> Result<Vec<DocumentResult>, ApiError> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = texts.len();
    let results = app.batcher.submit(texts).map_err(|QueueFull| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the queue is full: {} of its {} documents are waiting or being extracted, \
                 and this request brings {wanted}; retry later",
                app.batcher.queued(),
                app.batcher.capacity()
            ),
        )
        .retry_after(RETRY_AFTER_SECONDS)
    })?;
    results.await.map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error: the extraction workers have stopped",
        )
    })
}

/// `GET /healthz`: the process is up and answering.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the model is loaded and requests are taken; 503 once shutdown has begun,
/// so that a load balancer stops sending work while the last requests finish.
pub async fn readyz(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    if app.draining.load(Ordering::Relaxed) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down: finishing the requests already accepted",
        ));
    }
    Ok(Json(json!({
        "status": "ready",
        "model": app.model,
        "provider": app.provider,
    })))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let gauges = Gauges {
        queue_documents: app.batcher.queued(),
        queue_capacity: app.batcher.capacity(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(&app.model, app.provider, gauges),
    )
}

/// Any path that is not a route.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route for {method} {}; the routes are POST {EXTRACT_PATH}, GET {HEALTH_PATH}, \
             GET {READY_PATH} and GET {METRICS_PATH}",
            uri.path()
        ),
    )
}

/// A route called with a method it does not take (the `Allow` header lists those it does).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            max_body_bytes: 1 << 20,
            max_request_documents: 3,
            max_document_chars: 10,
            max_concurrent_requests: 8,
            request_timeout: Duration::from_secs(1),
        }
    }

    fn parse(body: &str) -> Result<ExtractRequest, (StatusCode, String)> {
        ExtractRequest::parse(body.as_bytes(), &limits()).map_err(|e| {
            let message = e.body["error"].as_str().unwrap_or_default().to_string();
            (e.status, message)
        })
    }

    fn status_and_message(body: &str) -> (StatusCode, String) {
        match parse(body) {
            Ok(r) => panic!("{body} parsed: {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn single_and_batch_forms() {
        let single = parse(r#"{"text": "Paris.", "id": 7, "lang": "en"}"#).map_err(|e| e.1);
        let single = single.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(single.form, Form::Single);
        assert_eq!(
            single.documents,
            vec![InputDocument {
                id: Some(json!(7)),
                text: Ok("Paris.".to_string())
            }]
        );

        let batch = parse(r#"{"documents": [{"id": "a", "text": "Rome."}, {"text": " "}, 5]}"#);
        let batch = batch.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(batch.form, Form::Batch);
        assert_eq!(batch.documents[0].text, Ok("Rome.".to_string()));
        assert_eq!(batch.documents[1].text, Err("empty text".to_string()));
        assert!(batch.documents[2]
            .text
            .as_ref()
            .is_err_and(|e| e.contains("not number")));
    }

    #[test]
    fn requests_that_are_not_requests_are_400() {
        for (body, says) in [
            ("", "empty request body"),
            ("{\"text\": ", "invalid JSON: EOF while parsing"),
            ("[1]", "not a JSON array"),
            ("{\"id\": 1}", "no \"text\" or \"documents\" field"),
            ("{\"documents\": {}}", "must be an array"),
            ("{\"documents\": [], \"text\": \"x\"}", "both"),
        ] {
            let (status, message) = status_and_message(body);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(message.contains(says), "{body}: {message}");
        }
    }

    #[test]
    fn limits_are_422_naming_the_limit() {
        let (status, message) = status_and_message(
            r#"{"documents": [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}]}"#,
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message.contains("4 in one request; the limit is 3"),
            "{message}"
        );

        let (status, message) = status_and_message(
            r#"{"documents": [{"text": "short"}, {"id": "x", "text": "ééééééééééé"}]}"#,
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message.contains("document 1 (id \"x\") has 11 characters; the limit is 10"),
            "{message}"
        );

        // ten characters in twenty bytes are within the limit
        assert!(parse(r#"{"text": "éééééééééé"}"#).is_ok());
    }

    #[test]
    fn route_labels_are_bounded() {
        assert_eq!(route_label("/v1/extract"), EXTRACT_PATH);
        assert_eq!(route_label("/metrics"), METRICS_PATH);
        assert_eq!(route_label("/v1/extract/../../etc"), "other");
    }
}
