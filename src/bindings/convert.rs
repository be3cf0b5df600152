//! JS values ⇄ core [`Value`]s, and reading options objects.
//!
//! Values travel as JSON text (see `convert.js` for why); this module only moves the text
//! and reports what cannot be converted as a `TypeError`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::errors::type_error;
use crate::codec::interchange;
use crate::codec::value::Value;

#[wasm_bindgen(module = "/src/bindings/convert.js")]
extern "C" {
    #[wasm_bindgen(js_name = toText, catch)]
    fn to_text(value: &JsValue) -> Result<String, JsValue>;
    #[wasm_bindgen(js_name = toUtf8, catch)]
    fn to_utf8(value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = fromText, catch)]
    fn from_text(text: &str, needs_reviver: bool) -> Result<JsValue, JsValue>;
}

/// A JS value as a core value; `TypeError` if it is not JSON-serializable.
pub fn value_from_js(value: &JsValue) -> Result<Value, JsValue> {
    let text = to_text(value)?;
    interchange::from_js_json(&text).map_err(|e| type_error(&format!("unsupported value: {e}")))
}

/// The bytes Python's `json.dumps` writes for a JS value, without building a tree (see
/// `transcode`); `TypeError` if it is not JSON-serializable.
pub fn python_bytes_from_js(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    let text = to_utf8(value)?;
    let transcoded = match text.as_string() {
        Some(text) => crate::codec::interchange::transcode::python_bytes(&text),
        None => {
            let bytes = bytes_of(&text).unwrap_or_default();
            match std::str::from_utf8(&bytes) {
                Ok(text) => crate::codec::interchange::transcode::python_bytes(text),
                Err(_) => return Err(type_error("unsupported value: not UTF-8 text")),
            }
        }
    };
    transcoded.map_err(|e| type_error(&format!("unsupported value: {e}")))
}

/// A core value as a plain JS value (objects, arrays, numbers, strings, null; BigInt for
/// integers beyond 2^53 − 1).
pub fn value_to_js(value: &Value) -> Result<JsValue, JsValue> {
    let mut text = String::new();
    let needs_reviver = interchange::to_js_json(value, &mut text);
    from_text(&text, needs_reviver)
}

/// Plain JSON text (see `interchange::plain_json`) as a JS value, by `JSON.parse` alone.
pub fn parse_plain(text: &str) -> Result<JsValue, JsValue> {
    from_text(text, false)
}

/// `obj[name]`, or `undefined` when `obj` is not an object.
pub fn prop(obj: &JsValue, name: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(obj, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Whether a JS value is `undefined` or `null`.
pub fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// Checks that an options argument is absent or an object.
pub fn options_object(value: &JsValue, what: &str) -> Result<JsValue, JsValue> {
    if is_absent(value) {
        Ok(js_sys::Object::new().into())
    } else if value.is_object() {
        Ok(value.clone())
    } else {
        Err(type_error(&format!("{what} must be an object")))
    }
}

/// An optional boolean option.
pub fn opt_bool(obj: &JsValue, name: &str) -> Result<Option<bool>, JsValue> {
    let v = prop(obj, name);
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| type_error(&format!("option {name} must be a boolean")))
}

/// An optional number option.
pub fn opt_number(obj: &JsValue, name: &str) -> Result<Option<f64>, JsValue> {
    let v = prop(obj, name);
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_f64()
        .map(Some)
        .ok_or_else(|| type_error(&format!("option {name} must be a number")))
}

/// An optional string option.
pub fn opt_string(obj: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = prop(obj, name);
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| type_error(&format!("option {name} must be a string")))
}

/// A TTL in milliseconds: absent means `default`; otherwise a non-negative integer.
pub fn ttl_ms(value: &JsValue, default: u64) -> Result<u64, JsValue> {
    if is_absent(value) {
        return Ok(default);
    }
    let Some(ms) = value.as_f64() else {
        return Err(type_error("ttlMs must be a number of milliseconds"));
    };
    if !(ms >= 0.0 && ms.fract() == 0.0 && ms <= 9_007_199_254_740_991.0) {
        return Err(type_error(&format!(
            "ttlMs must be a non-negative integer number of milliseconds, got {}",
            crate::codec::Plain(ms)
        )));
    }
    Ok(ms as u64)
}

/// The bytes of a string (UTF-8) or a binary value (`Uint8Array` — a Node `Buffer` is one —,
/// `ArrayBuffer` or another view); `None` for anything else.
pub fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
    if let Some(s) = value.as_string() {
        return Some(s.into_bytes());
    }
    if let Some(arr) = value.dyn_ref::<js_sys::Uint8Array>() {
        return Some(arr.to_vec());
    }
    if let Some(buf) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        return Some(js_sys::Uint8Array::new(buf).to_vec());
    }
    if js_sys::ArrayBuffer::is_view(value) {
        let buffer = prop(value, "buffer");
        let buffer = buffer.dyn_ref::<js_sys::ArrayBuffer>()?;
        let offset = prop(value, "byteOffset").as_f64()?;
        let length = prop(value, "byteLength").as_f64()?;
        return Some(
            js_sys::Uint8Array::new_with_byte_offset_and_length(
                buffer,
                offset as u32,
                length as u32,
            )
            .to_vec(),
        );
    }
    None
}

/// Bytes from a `Uint8Array` (or any typed-array view / ArrayBuffer) or a string (UTF-8).
pub fn bytes_from_js(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    bytes_of(value).ok_or_else(|| type_error("expected a Uint8Array, an ArrayBuffer or a string"))
}
