//! Reading what JavaScript hands in: properties, options objects, numbers and bytes, and the
//! `TypeError` / `RangeError` for what has the wrong shape. Both halves of the bindings use
//! these; they import nothing else from the bindings.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A new `TypeError` with `message`: an argument of the wrong shape.
pub fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

/// A new `RangeError` with `message`: an argument of the right shape but out of range.
pub fn range_error(message: &str) -> JsValue {
    js_sys::RangeError::new(message).into()
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
