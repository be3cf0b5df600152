//! `JSONEncoder`: Dramatiq's `dramatiq.encoder.JSONEncoder`, exposed to JS.

use wasm_bindgen::prelude::*;

use super::errors::to_js;
use super::interchange::{python_bytes_from_js, value_to_js_keeping};
use crate::bindings::js::bytes_from_js;
use crate::codec;
use crate::model::error::ResultError;

/// Encodes values to exactly the bytes Python's `json.dumps(x, separators=(",", ":"))`
/// writes, and decodes what Python writes.
#[wasm_bindgen(js_name = JSONEncoder)]
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonEncoder;

#[wasm_bindgen(js_class = JSONEncoder)]
impl JsonEncoder {
    /// A JSON encoder (stateless).
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsonEncoder {
        JsonEncoder
    }

    /// The bytes Python would store for `value` (throws `TypeError` for values JSON cannot
    /// hold: functions, symbols, Maps, typed arrays, cycles).
    pub fn encode(&self, value: JsValue) -> Result<js_sys::Uint8Array, JsValue> {
        Ok(js_sys::Uint8Array::from(
            python_bytes_from_js(&value)?.as_slice(),
        ))
    }

    /// The value in `bytes` (a `Uint8Array` or a string); throws `DecodeError` if Python's
    /// `json.loads` would refuse it.
    pub fn decode(&self, bytes: JsValue) -> Result<JsValue, JsValue> {
        let raw = bytes_from_js(&bytes)?;
        let (v, lone) = codec::surrogates::decode_marking_surrogates(&raw).map_err(|source| {
            to_js(&ResultError::Decode {
                key: String::new(),
                source,
            })
        })?;
        value_to_js_keeping(&v, lone)
    }

    /// Marks the built-in encoder, so backends use their native fast path with it.
    #[wasm_bindgen(getter, js_name = isDramatiqJsonEncoder)]
    pub fn is_dramatiq_json_encoder(&self) -> bool {
        true
    }
}
