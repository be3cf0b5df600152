//! The result envelope: how a success and an exception look once stored.
//!
//! A success is stored as the bare value. An exception is stored as
//! `{"__t":"dramatiq.results.Result","exn":{"type":T,"msg":M}}` (key order fixed), and on
//! read only a *top-level* object whose `__t` equals the canary is a failure; canaries nested
//! deeper are data, extra keys are ignored.

use crate::codec::value::Value;
use crate::model::error::Failure;

/// The canary value of the `__t` key that marks an exception envelope.
pub const CANARY: &str = "dramatiq.results.Result";

/// An exception to store: what Python's `wrap_exception` reads off an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionInfo {
    /// The unqualified class name (`type(e).__name__`).
    pub exc_type: String,
    /// The message (`str(e)`).
    pub message: String,
    /// An optional traceback; written as an extra `exn.traceback` key, which Python ignores.
    pub traceback: Option<String>,
}

impl ExceptionInfo {
    /// An exception with a type name and a message, no traceback.
    pub fn new(exc_type: impl Into<String>, message: impl Into<String>) -> Self {
        ExceptionInfo {
            exc_type: exc_type.into(),
            message: message.into(),
            traceback: None,
        }
    }
}

/// Python's `str(e)` of one of Dramatiq's own errors (`DramatiqError`: `Retry`,
/// `RateLimitExceeded`, the broker and result errors) whose message is `message`: its
/// `__str__` is `str(self.message) or repr(self.message)`, so an empty message is written
/// `''` (a bare `Retry()` is stored, and called back, as `Retry: ''`). Other messages are
/// kept as they are.
pub fn dramatiq_error_str(message: String) -> String {
    if message.is_empty() {
        "''".to_owned()
    } else {
        message
    }
}

/// The envelope for an exception, ready to encode (`wrap_exception`).
pub fn wrap_exception(exc: &ExceptionInfo) -> Value {
    let mut exn = vec![
        ("type".to_owned(), Value::Str(exc.exc_type.clone())),
        ("msg".to_owned(), Value::Str(exc.message.clone())),
    ];
    if let Some(tb) = &exc.traceback {
        exn.push(("traceback".to_owned(), Value::Str(tb.clone())));
    }
    Value::Dict(vec![
        ("__t".to_owned(), Value::Str(CANARY.to_owned())),
        ("exn".to_owned(), Value::Dict(exn)),
    ])
}

/// Why a stored value could not be returned as a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Unwrapped {
    /// A well-formed exception envelope: the actor failed.
    Failure(Failure),
    /// An envelope with the canary but without `exn`, `exn.type` or `exn.msg`.
    Malformed(String),
}

/// Whether a decoded value is an exception envelope (only the top level counts).
pub fn is_envelope(value: &Value) -> bool {
    value.get("__t").and_then(Value::as_str) == Some(CANARY)
}

/// Dramatiq's `unwrap_result`: the value itself, or the failure it encodes.
pub fn unwrap(value: Value) -> Result<Value, Unwrapped> {
    if !is_envelope(&value) {
        return Ok(value);
    }
    let Some(exn) = value.get("exn") else {
        return Err(Unwrapped::Malformed(
            "the envelope has no \"exn\" key".into(),
        ));
    };
    if !matches!(exn, Value::Dict(_)) {
        return Err(Unwrapped::Malformed("\"exn\" is not an object".into()));
    }
    let (Some(exc_type), Some(exc_msg)) = (exn.get("type"), exn.get("msg")) else {
        let missing = if exn.get("type").is_none() {
            "type"
        } else {
            "msg"
        };
        return Err(Unwrapped::Malformed(format!(
            "the envelope has no \"exn.{missing}\" key"
        )));
    };
    Err(Unwrapped::Failure(Failure {
        exc_type: exc_type.clone(),
        exc_msg: exc_msg.clone(),
        traceback: exn
            .get("traceback")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};

    #[test]
    fn exception_bytes_match_python() {
        let bytes = encode(&wrap_exception(&ExceptionInfo::new(
            "ValueError",
            "bad value: 42",
        )));
        assert_eq!(
            bytes,
            br#"{"__t":"dramatiq.results.Result","exn":{"type":"ValueError","msg":"bad value: 42"}}"#
        );
    }

    #[test]
    fn dramatiq_errors_write_an_empty_message_as_python_does() {
        // `str(dramatiq.Retry())` is "''"; a message is kept, whitespace included.
        assert_eq!(dramatiq_error_str(String::new()), "''");
        assert_eq!(dramatiq_error_str("later".into()), "later");
        assert_eq!(dramatiq_error_str(" ".into()), " ");
    }

    #[test]
    fn nested_canaries_are_data() {
        let v =
            decode(br#"[{"__t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}]"#).unwrap();
        assert!(unwrap(v).is_ok());
    }

    #[test]
    fn failure_text_formats_like_python() {
        let v =
            decode(br#"{"__t":"dramatiq.results.Result","exn":{"type":123,"msg":null}}"#).unwrap();
        match unwrap(v) {
            Err(Unwrapped::Failure(f)) => assert_eq!(f.to_string(), "actor raised 123: None"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_envelope_names_the_missing_part() {
        let v = decode(br#"{"__t":"dramatiq.results.Result","exn":{"type":"E"}}"#).unwrap();
        match unwrap(v) {
            Err(Unwrapped::Malformed(reason)) => assert!(reason.contains("exn.msg"), "{reason}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn traceback_is_an_extra_key_python_ignores() {
        let mut exc = ExceptionInfo::new("E", "m");
        exc.traceback = Some("at f".into());
        let v = wrap_exception(&exc);
        match unwrap(v) {
            Err(Unwrapped::Failure(f)) => assert_eq!(f.traceback.as_deref(), Some("at f")),
            other => panic!("unexpected {other:?}"),
        }
    }
}
