//! Record conventions shared by every front end (`erx extract`, `erx serve`, the Python
//! package, the Spark job): how a JSONL line or a JSON object becomes a text and an id,
//! when a text is usable, and the error record that stands in place of a document that
//! could not be extracted, so that all of them report bad input in the same words and
//! shape and every input record yields exactly one output record.

use serde_json::{Map, Value};

use crate::{Document, Extractor};

/// One input record: its id (when it had one) and its text, or why it cannot be extracted.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordText {
    /// The record's id field, echoed into its output record.
    pub id: Option<Value>,
    /// The text, or the message for the record's `error` field.
    pub text: Result<String, String>,
}

/// Reads one JSONL line (without or with its trailing newline) as a record with the
/// given text and id fields. `None` for a blank line, which is not a record.
pub fn parse_jsonl_line(line: &[u8], text_field: &str, id_field: &str) -> Option<RecordText> {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => {
            // keep the id when the rest of the line is readable, so the error is traceable
            let id = serde_json::from_str::<Value>(&String::from_utf8_lossy(line))
                .ok()
                .and_then(|mut v| v.get_mut(id_field).map(Value::take));
            return Some(RecordText {
                id,
                text: Err(format!("line is not valid UTF-8 ({e})")),
            });
        }
    };
    if text.trim().is_empty() {
        return None;
    }
    Some(match serde_json::from_str::<Value>(text) {
        Ok(value) => object_record(value, text_field, id_field),
        Err(e) => RecordText {
            id: None,
            text: Err(format!("invalid JSON: {e}")),
        },
    })
}

/// Reads a parsed JSON value as a record: it must be an object whose text field holds a
/// non-blank string.
fn object_record(value: Value, text_field: &str, id_field: &str) -> RecordText {
    let Value::Object(mut obj) = value else {
        return RecordText {
            id: None,
            text: Err("expected a JSON object".to_string()),
        };
    };
    let id = obj.remove(id_field);
    let text = match obj.remove(text_field) {
        Some(value) => field_text(value, text_field),
        None => Err(format!(
            "no {text_field:?} field (use --text-field to read another field)"
        )),
    };
    RecordText { id, text }
}

/// Extracts the usable texts of a run of records in one batch (so their windows share
/// forward passes) and gives one result per record, in order: the document, or the
/// message for the record's `error` field (the record's own error, or, when the batch as
/// a whole failed, `extraction failed: …`).
pub fn extract_each<'a>(
    extractor: &Extractor,
    texts: impl IntoIterator<Item = Result<&'a str, &'a str>>,
) -> Vec<Result<Document, String>> {
    let texts: Vec<Result<&str, &str>> = texts.into_iter().collect();
    let usable: Vec<&str> = texts.iter().filter_map(|t| t.ok()).collect();
    let mut docs = match extractor.extract_batch(&usable) {
        Ok(docs) => docs.into_iter().map(Ok).collect::<Vec<_>>(),
        Err(e) => usable
            .iter()
            .map(|_| Err(format!("extraction failed: {e}")))
            .collect(),
    }
    .into_iter();
    texts
        .iter()
        .map(|t| match t {
            Ok(_) => docs
                .next()
                .unwrap_or_else(|| Err("internal error: missing result".into())),
            Err(message) => Err((*message).to_string()),
        })
        .collect()
}

/// A text worth extracting, or the record error for a blank one.
pub fn non_blank(text: String) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("empty text".to_string())
    } else {
        Ok(text)
    }
}

/// The text held by a record's text field, or why it cannot be extracted. The message is
/// what goes into the record's `error` field.
pub fn field_text(value: Value, field: &str) -> Result<String, String> {
    match value {
        Value::String(s) => non_blank(s),
        other => Err(format!(
            "field {field:?} is not a string ({})",
            kind(&other)
        )),
    }
}

/// The record written instead of a document: `{"id", <where>..., "error"}`. `id` is the
/// input's own id, echoed only when it had one; `place` says where the record came from
/// (a source and line for files, a position for HTTP batches), so that a record without
/// an id can still be traced.
pub fn error_record(id: Option<&Value>, place: &[(&str, Value)], message: &str) -> Value {
    let mut record = Map::new();
    if let Some(id) = id {
        record.insert("id".to_string(), id.clone());
    }
    for (key, value) in place {
        record.insert((*key).to_string(), value.clone());
    }
    record.insert("error".to_string(), Value::String(message.to_string()));
    Value::Object(record)
}

/// The JSON type of a value, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonl_lines_become_records_or_errors() {
        let parse = |line: &[u8]| parse_jsonl_line(line, "text", "id");
        assert_eq!(parse(b"  \n"), None);
        assert_eq!(
            parse(b"{\"id\": 7, \"text\": \"Paris\"}\n"),
            Some(RecordText {
                id: Some(json!(7)),
                text: Ok("Paris".to_string())
            })
        );
        let bad = parse(b"{\"id\": 1,").expect("a record");
        assert_eq!(bad.id, None);
        assert!(bad.text.expect_err("invalid").starts_with("invalid JSON: "));
        assert_eq!(
            parse(b"[1]").map(|r| r.text),
            Some(Err("expected a JSON object".to_string()))
        );
        assert_eq!(
            parse(b"{\"id\": \"x\", \"body\": \"Paris\"}"),
            Some(RecordText {
                id: Some(json!("x")),
                text: Err("no \"text\" field (use --text-field to read another field)".to_string())
            })
        );
        let latin1 = parse(b"{\"id\": \"k\", \"text\": \"caf\xe9\"}").expect("a record");
        assert_eq!(latin1.id, Some(json!("k")));
        assert!(latin1
            .text
            .expect_err("not UTF-8")
            .starts_with("line is not valid UTF-8"));
    }

    #[test]
    fn field_text_accepts_only_non_blank_strings() {
        assert_eq!(field_text(json!("Paris"), "text"), Ok("Paris".to_string()));
        assert_eq!(
            field_text(json!("  \n"), "text"),
            Err("empty text".to_string())
        );
        assert_eq!(
            field_text(json!(42), "body"),
            Err("field \"body\" is not a string (number)".to_string())
        );
    }

    #[test]
    fn error_record_echoes_only_an_id_that_was_given() {
        let place = [("index", json!(3))];
        assert_eq!(
            error_record(Some(&json!("a")), &place, "empty text"),
            json!({"id": "a", "index": 3, "error": "empty text"})
        );
        assert_eq!(
            error_record(None, &place, "empty text"),
            json!({"index": 3, "error": "empty text"})
        );
    }
}
