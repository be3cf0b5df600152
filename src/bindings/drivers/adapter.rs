//! Calling injected JavaScript adapters: one typed path for every backend that drives a JS
//! client (KV namespaces, Redis and Memcached clients, user objects).
//!
//! Whatever the adapter does — answer, return a Promise, throw, reject, answer the wrong
//! type — becomes either a value or a [`StoreError`] that says which method failed and keeps
//! the adapter's own error as its `cause`. An adapter that never settles is the core's
//! business: every store operation runs under the caller's deadline there.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::bindings::js::type_error;
use crate::bindings::js::{bytes_of, is_absent, prop};
use crate::model::error::StoreError;

#[wasm_bindgen(module = "/src/bindings/drivers/adapter.js")]
extern "C" {
    fn invoke(target: &JsValue, name: &str, args: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = invokeEach)]
    fn invoke_each(
        target: &JsValue,
        name: &str,
        keys: &js_sys::Array,
        limit: u32,
    ) -> js_sys::Promise;
    /// A short description of a JS value for error messages ("a Map", "null").
    #[wasm_bindgen(js_name = describeValue)]
    pub fn describe_value(value: &JsValue) -> String;
    /// The text of a thrown value.
    #[wasm_bindgen(js_name = errorText)]
    pub fn error_text(error: &JsValue) -> String;
}

/// An injected JS object whose methods a backend calls.
#[derive(Clone)]
pub struct Adapter {
    target: JsValue,
    /// What to call it in messages ("the KV adapter", "the Redis client").
    name: &'static str,
}

impl Adapter {
    /// Wraps `target`, checking now that it has every method in `methods`, so a wrong
    /// argument fails at construction with a `TypeError` rather than at the first call.
    pub fn new(target: &JsValue, name: &'static str, methods: &[&str]) -> Result<Adapter, JsValue> {
        if !target.is_object() && !target.is_function() {
            return Err(type_error(&format!(
                "{name} must be an object with {} methods, got {}",
                methods.join(", "),
                describe_value(target)
            )));
        }
        for method in methods {
            if !prop(target, method)?.is_function() {
                return Err(type_error(&format!("{name} has no {method}() method")));
            }
        }
        Ok(Adapter {
            target: target.clone(),
            name,
        })
    }

    /// The wrapped object.
    pub fn target(&self) -> &JsValue {
        &self.target
    }

    /// Calls `method(...args)` and waits for its answer.
    pub async fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue, StoreError> {
        let array: js_sys::Array = args.iter().collect();
        self.settle(method, invoke(&self.target, method, &array))
            .await
    }

    /// Waits for `promise`, which a call of `method` on the adapter returned; a rejection
    /// becomes a store error naming the method, with the rejection as its cause.
    pub async fn settle(
        &self,
        method: &str,
        promise: js_sys::Promise,
    ) -> Result<JsValue, StoreError> {
        JsFuture::from(promise).await.map_err(|cause| {
            StoreError::with_cause(
                format!("{} failed in {method}(): {}", self.name, error_text(&cause)),
                Rc::new(cause),
            )
        })
    }

    /// Calls `method(key)` for every key, at most `limit` at once; the answers in key order.
    pub async fn call_each(
        &self,
        method: &str,
        keys: &[String],
        limit: u32,
    ) -> Result<Vec<JsValue>, StoreError> {
        let array: js_sys::Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
        let answers = self
            .settle(method, invoke_each(&self.target, method, &array, limit))
            .await?;
        Ok(js_sys::Array::from(&answers).iter().collect())
    }

    /// A store error for an answer of the wrong shape; its cause is a `TypeError` saying so.
    pub fn wrong_answer(&self, method: &str, answer: &JsValue, expected: &str) -> StoreError {
        let message = format!(
            "{}'s {method}() returned {}; expected {expected}",
            self.name,
            describe_value(answer)
        );
        StoreError::with_cause(message.clone(), Rc::new(type_error(&message)))
    }

    /// An answer that must be stored bytes or nothing: a string (UTF-8), a `Uint8Array`
    /// (a Node `Buffer` is one), an `ArrayBuffer` or another view; `null` / `undefined`
    /// for absent.
    pub fn bytes_answer(
        &self,
        method: &str,
        answer: &JsValue,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if is_absent(answer) {
            return Ok(None);
        }
        match bytes_of(answer) {
            Ok(Some(bytes)) => Ok(Some(bytes)),
            Ok(None) => {
                Err(self.wrong_answer(method, answer, "a string, bytes, null or undefined"))
            }
            Err(cause) => Err(StoreError::with_cause(
                format!(
                    "{}'s {method}() answered bytes that cannot be read",
                    self.name
                ),
                Rc::new(cause),
            )),
        }
    }

    /// `answer[name]` for an answer of `method`; a store error when reading it throws.
    pub fn read(&self, answer: &JsValue, name: &str) -> Result<JsValue, StoreError> {
        prop(answer, name).map_err(|cause| {
            StoreError::with_cause(
                format!("{}'s answer threw when its {name} was read", self.name),
                Rc::new(cause),
            )
        })
    }
}

/// How stored bytes are handed to an adapter's write method.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// As a string when the bytes are UTF-8 (Dramatiq's JSON always is: it is ASCII), as a
    /// `Uint8Array` otherwise, so no byte is ever lost to a lossy conversion.
    Text,
    /// Always as a `Uint8Array`.
    Bytes,
}

impl ValueType {
    /// Reads the `valueType` option: `"string"` (default) or `"bytes"`.
    pub fn read(options: &JsValue) -> Result<ValueType, JsValue> {
        let v = prop(options, "valueType")?;
        if is_absent(&v) {
            return Ok(ValueType::Text);
        }
        match v.as_string().as_deref() {
            Some("string") => Ok(ValueType::Text),
            Some("bytes") => Ok(ValueType::Bytes),
            _ => Err(type_error(
                r#"option valueType must be "string" or "bytes""#,
            )),
        }
    }

    /// `bytes` as the JS value this type calls for.
    pub fn to_js(self, bytes: &[u8]) -> JsValue {
        if self == ValueType::Text {
            if let Ok(text) = std::str::from_utf8(bytes) {
                return JsValue::from_str(text);
            }
        }
        js_sys::Uint8Array::from(bytes).into()
    }
}
