//! Core errors → instances of the JS classes in `errors.js`.

use wasm_bindgen::prelude::*;

use super::interchange::value_to_js;
use crate::bindings::js::type_error;
use crate::codec::surrogates::text_with_stand_ins;
use crate::model::envelope;
use crate::model::error::{ResultError, StoreError};

#[wasm_bindgen(module = "/src/bindings/exports/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeResultError)]
    fn make_result_error(
        code: &str,
        message: &str,
        key: Option<String>,
        cause: JsValue,
        failure: JsValue,
        stand_ins: bool,
    ) -> JsValue;

    /// `[type, message]` of a thrown JS value, as Dramatiq's `wrap_exception` reads them.
    /// Never throws (a hostile error is described as such); `catch` all the same, as every
    /// import that reads the caller's objects is.
    #[wasm_bindgen(js_name = exceptionInfo, catch)]
    fn exception_info_js(error: &JsValue) -> Result<js_sys::Array, JsValue>;

    /// The `Missing` sentinel.
    #[wasm_bindgen(js_name = missing)]
    pub fn missing() -> JsValue;
}

/// `[type, message]` of a thrown JS value (see `exceptionInfo` in `errors.js`): the
/// message as Python's `str(e)` writes it, for one of Dramatiq's own errors too, with a lone
/// surrogate in it (a JS string cut inside a pair) as its stand-in, and the flag saying so,
/// for `codec::surrogates::write_stand_ins_back` to write it as Python's escape instead of
/// U+FFFD: for bytes about to be stored or a message about to be sent (a failure
/// callback's payload, `Message::push_arg_marked`). A stand-in must never reach any other
/// text.
pub fn exception_info_keeping_surrogates(error: &JsValue) -> (String, String, bool) {
    read_exception_info(error)
}

fn read_exception_info(error: &JsValue) -> (String, String, bool) {
    match exception_info_js(error) {
        Ok(info) => {
            let exc_type = info.get(0).as_string().unwrap_or_else(|| "Error".into());
            let raw = info.get(1);
            let marked = raw
                .dyn_ref::<js_sys::JsString>()
                .filter(|s| !s.is_valid_utf16())
                .and_then(|s| text_with_stand_ins(&s.iter().collect::<Vec<u16>>()));
            let stand_ins = marked.is_some();
            let message = marked.unwrap_or_else(|| raw.as_string().unwrap_or_default());
            // The third entry: whether the class is one of Dramatiq's `DramatiqError`s.
            let message = if info.get(2).is_truthy() {
                envelope::dramatiq_error_str(message)
            } else {
                message
            };
            (exc_type, message, stand_ins)
        }
        Err(_) => ("Error".into(), String::new(), false),
    }
}

/// A `ResultError` with `code` and `message` and no message key: what `connectRedis`'s
/// client rejects with.
pub fn redis_error(code: &str, message: &str) -> JsValue {
    make_result_error(
        code,
        message,
        None,
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
        false,
    )
}

/// The adapter's original error when it threw one, else a plain `Error` saying what failed.
fn cause_of(source: &StoreError) -> JsValue {
    source
        .cause
        .as_ref()
        .and_then(|c| c.downcast_ref::<JsValue>())
        .cloned()
        .unwrap_or_else(|| js_sys::Error::new(&source.message).into())
}

/// A broker's failure (code `RESULT_BROKER`): a `ResultError` saying what failed, with the
/// client's own error as its `cause` when there is one. Broker errors concern no result key.
pub fn broker_error(message: &str, cause: Option<JsValue>) -> JsValue {
    make_result_error(
        "RESULT_BROKER",
        message,
        None,
        cause.unwrap_or(JsValue::UNDEFINED),
        JsValue::UNDEFINED,
        false,
    )
}

/// A rate-limiter backend's failure (code `RATE_LIMIT_BACKEND`): a `ResultError` saying
/// what failed, with the client's own error as its `cause` when there is one.
pub fn rate_limit_error(source: &StoreError) -> JsValue {
    make_result_error(
        "RATE_LIMIT_BACKEND",
        &source.message,
        None,
        cause_of(source),
        JsValue::UNDEFINED,
        false,
    )
}

/// The JS error for a core error: a `ResultError` subclass, or a `TypeError` for bad
/// arguments.
pub fn to_js(err: &ResultError) -> JsValue {
    error_to_js(err, false)
}

/// [`to_js`]; with `stand_ins`, the error's strings hold stand-ins for lone surrogates
/// (`codec::surrogates::decode_marking_surrogates`: Python's `'\udcff'`, as
/// `surrogateescape` makes of an undecodable file name in an `OSError`'s message), which
/// the JS side writes back as the lone surrogates a JS string can hold.
pub fn error_to_js(err: &ResultError, stand_ins: bool) -> JsValue {
    let message = err.to_string();
    let key = err.key().filter(|k| !k.is_empty()).map(str::to_owned);
    let make = |code: &str, cause: JsValue, failure: JsValue| {
        make_result_error(code, &message, key.clone(), cause, failure, stand_ins)
    };
    match err {
        ResultError::Missing { .. } => {
            make("RESULT_MISSING", JsValue::UNDEFINED, JsValue::UNDEFINED)
        }
        ResultError::Timeout { cause, .. } => make(
            "RESULT_TIMEOUT",
            cause.as_ref().map_or(JsValue::UNDEFINED, cause_of),
            JsValue::UNDEFINED,
        ),
        ResultError::Failure { failure, .. } => {
            let parts = js_sys::Array::new();
            parts.push(&value_to_js(&failure.exc_type).unwrap_or(JsValue::NULL));
            parts.push(&value_to_js(&failure.exc_msg).unwrap_or(JsValue::NULL));
            parts.push(
                &failure
                    .traceback
                    .as_deref()
                    .map_or(JsValue::NULL, JsValue::from_str),
            );
            make("RESULT_FAILURE", JsValue::UNDEFINED, parts.into())
        }
        ResultError::Store { source, .. } => {
            make("RESULT_STORE", cause_of(source), JsValue::UNDEFINED)
        }
        ResultError::Decode { .. } => make("RESULT_DECODE", JsValue::UNDEFINED, JsValue::UNDEFINED),
        ResultError::MalformedFailure { .. } => {
            make("RESULT_MALFORMED", JsValue::UNDEFINED, JsValue::UNDEFINED)
        }
        ResultError::Encode { .. } => make("RESULT_ENCODE", JsValue::UNDEFINED, JsValue::UNDEFINED),
        ResultError::TooLarge { .. } => {
            make("RESULT_TOO_LARGE", JsValue::UNDEFINED, JsValue::UNDEFINED)
        }
        ResultError::Aborted { .. } => {
            make("RESULT_ABORTED", JsValue::UNDEFINED, JsValue::UNDEFINED)
        }
        ResultError::InvalidArgument(msg) => type_error(msg),
    }
}
