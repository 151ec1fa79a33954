//! Record conventions shared by `erx extract` and `erx serve`: when a record's text is
//! usable, and the error record that stands in place of a document that could not be
//! extracted, so that both front ends report bad input in the same words and shape.

use serde_json::{Map, Value};

/// The text held by a record's text field, or why it cannot be extracted. The message is
/// what goes into the record's `error` field.
pub fn field_text(value: Value, field: &str) -> Result<String, String> {
    match value {
        Value::String(s) if s.trim().is_empty() => Err("empty text".to_string()),
        Value::String(s) => Ok(s),
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
