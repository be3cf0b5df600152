//! JS values ⇄ core [`Value`]s: the JS half of the text protocol in
//! `crate::codec::interchange`.
//!
//! Values travel as JSON text (see `interchange.js` for why); this module only moves the
//! text and reports what cannot be converted as a `TypeError`.

use wasm_bindgen::prelude::*;

use crate::bindings::js::type_error;
use crate::codec::interchange;
use crate::codec::value::Value;

#[wasm_bindgen(module = "/src/bindings/exports/interchange.js")]
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
            // `toUtf8`'s own TextEncoder output: a plain Uint8Array, read as it is.
            let bytes = wasm_bindgen::JsCast::dyn_ref::<js_sys::Uint8Array>(&text)
                .map(js_sys::Uint8Array::to_vec)
                .unwrap_or_default();
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
