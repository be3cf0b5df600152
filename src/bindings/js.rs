//! Reading what JavaScript hands in: properties, options objects, numbers and bytes, and the
//! `TypeError` / `RangeError` for what has the wrong shape. Both halves of the bindings use
//! these; they import nothing else from the bindings.
//!
//! **Every read that can run the caller's code is caught here.** A getter, a Proxy trap or
//! a detached buffer that throws while wasm frames are on the stack would skip their
//! epilogues and leave wasm's stack pointer behind: after a few thousand such calls every
//! call fails. So properties are read with `Reflect.get` (imported with `catch`), and bytes
//! and arrays are copied out by the small `js.js` helpers, also imported with `catch`; what
//! they throw becomes a `TypeError` whose `cause` is the original.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/src/bindings/js.js")]
extern "C" {
    #[wasm_bindgen(js_name = bytesOf, catch)]
    fn bytes_view(value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = arrayOf, catch)]
    fn array_copy(value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = keysOf, catch)]
    fn keys_copy(value: &JsValue) -> Result<js_sys::Array, JsValue>;
    #[wasm_bindgen(js_name = withCause)]
    fn with_cause(error: JsValue, cause: &JsValue) -> JsValue;
    /// A new Promise adopting `value` (a value, a Promise or any thenable); never throws.
    pub fn adopt(value: &JsValue) -> js_sys::Promise;
}

/// A new `TypeError` with `message` whose `cause` is `cause` (what the caller's code threw).
pub fn type_error_caused(message: &str, cause: &JsValue) -> JsValue {
    with_cause(type_error(message), cause)
}

/// A new `TypeError` with `message`: an argument of the wrong shape.
pub fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

/// A new `RangeError` with `message`: an argument of the right shape but out of range.
pub fn range_error(message: &str) -> JsValue {
    js_sys::RangeError::new(message).into()
}

/// `obj[name]`, or `undefined` when `obj` is not an object; a `TypeError` (with the
/// original as `cause`) when reading it throws — a throwing getter, a revoked Proxy — rather
/// than a silent default.
pub fn prop(obj: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    if !obj.is_object() {
        return Ok(JsValue::UNDEFINED);
    }
    js_sys::Reflect::get(obj, &JsValue::from_str(name))
        .map_err(|cause| type_error_caused(&format!("reading {name} threw"), &cause))
}

/// `Object.keys(value)`: its own enumerable string keys; a `TypeError` when a Proxy trap
/// throws.
pub fn keys_of(value: &JsValue) -> Result<Vec<String>, JsValue> {
    let keys = keys_copy(value)
        .map_err(|cause| type_error_caused("listing an object's keys threw", &cause))?;
    Ok(keys.iter().filter_map(|k| k.as_string()).collect())
}

/// The items of `value` when it is an array (copied by JS into a new plain array, so no
/// getter runs while Rust reads them); `None` when it is not an array.
pub fn array_of(value: &JsValue) -> Result<Option<Vec<JsValue>>, JsValue> {
    let copy =
        array_copy(value).map_err(|cause| type_error_caused("reading an array threw", &cause))?;
    if copy.is_undefined() {
        return Ok(None);
    }
    Ok(Some(
        copy.unchecked_into::<js_sys::Array>().iter().collect(),
    ))
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

/// Checks that an options argument is absent or an object whose own keys are all
/// `accepted`: a misspelled option is a `TypeError` naming it and the accepted ones, never
/// silently ignored (`pkg/src/internal/options.js` does the same for the JavaScript classes).
pub fn known_options(value: &JsValue, what: &str, accepted: &[&str]) -> Result<JsValue, JsValue> {
    let options = options_object(value, what)?;
    for key in keys_of(&options)? {
        if !accepted.contains(&key.as_str()) {
            return Err(type_error(&format!(
                "{what}: unknown option \"{key}\"; accepted: {}",
                accepted.join(", ")
            )));
        }
    }
    Ok(options)
}

/// An optional boolean option.
pub fn opt_bool(obj: &JsValue, name: &str) -> Result<Option<bool>, JsValue> {
    let v = prop(obj, name)?;
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| type_error(&format!("option {name} must be a boolean")))
}

/// An optional number option.
pub fn opt_number(obj: &JsValue, name: &str) -> Result<Option<f64>, JsValue> {
    let v = prop(obj, name)?;
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_f64()
        .map(Some)
        .ok_or_else(|| type_error(&format!("option {name} must be a number")))
}

/// An optional string option.
pub fn opt_string(obj: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = prop(obj, name)?;
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

/// A new `Uint8Array` over the bytes of `value` when it is a typed array, a `DataView`, an
/// `ArrayBuffer` or a Buffer (read through the intrinsic getters, so a Proxy or an object
/// that only inherits from `Uint8Array` is not one), else `None`; reading it runs nobody's
/// code. A detached buffer is `None` too.
pub fn byte_view(value: &JsValue) -> Option<js_sys::Uint8Array> {
    bytes_view(value)
        .ok()?
        .dyn_into::<js_sys::Uint8Array>()
        .ok()
}

/// The bytes of a string (UTF-8) or a binary value (`Uint8Array` — a Node `Buffer` is one —,
/// `ArrayBuffer` or another view); `None` for anything else; a `TypeError` for a view over a
/// detached buffer.
pub fn bytes_of(value: &JsValue) -> Result<Option<Vec<u8>>, JsValue> {
    if let Some(s) = value.as_string() {
        return Ok(Some(s.into_bytes()));
    }
    let view = bytes_view(value)
        .map_err(|cause| type_error_caused("reading bytes threw (a detached buffer?)", &cause))?;
    if view.is_undefined() {
        return Ok(None);
    }
    // A new Uint8Array made by `bytesOf`: reading it runs nobody's code.
    Ok(Some(view.unchecked_into::<js_sys::Uint8Array>().to_vec()))
}

/// Bytes from a `Uint8Array` (or any typed-array view / ArrayBuffer) or a string (UTF-8).
pub fn bytes_from_js(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    bytes_of(value)?.ok_or_else(|| type_error("expected a Uint8Array, an ArrayBuffer or a string"))
}
