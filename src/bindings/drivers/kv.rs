//! `KvBackend`: results in any key-value store the caller hands in, as an object with
//! `get(key)`, `put(key, value, { ttlMs })` and `delete(key)`, each answering with a value
//! or a Promise.

use wasm_bindgen::prelude::*;

use super::adapter::{Adapter, ValueType};
use crate::model::error::StoreError;
use crate::stores::kv::KvClient;

/// A JS object with `get` / `put` / `delete`, as a [`KvClient`].
pub struct JsKv {
    adapter: Adapter,
    value_type: ValueType,
}

impl JsKv {
    /// Wraps `adapter`, checking its methods.
    pub fn new(adapter: &JsValue, options: &JsValue) -> Result<JsKv, JsValue> {
        Ok(JsKv {
            adapter: Adapter::new(adapter, "the KV adapter", &["get", "put", "delete"])?,
            value_type: ValueType::read(options)?,
        })
    }

    /// The adapter object.
    pub fn target(&self) -> &JsValue {
        self.adapter.target()
    }
}

impl KvClient for JsKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let answer = self.adapter.call("get", &[key.into()]).await?;
        self.adapter.bytes_answer("get", &answer)
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        let options = js_sys::Object::new();
        // Reflect::set on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&options, &"ttlMs".into(), &(ttl_ms as f64).into());
        self.adapter
            .call(
                "put",
                &[key.into(), self.value_type.to_js(&value), options.into()],
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.adapter.call("delete", &[key.into()]).await?;
        Ok(())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let answers = self
            .adapter
            .call_each("get", keys, GET_MANY_IN_FLIGHT)
            .await?;
        answers
            .iter()
            .map(|answer| self.adapter.bytes_answer("get", answer))
            .collect()
    }
}

/// How many `get`s a batch read keeps in flight: enough to hide a network store's latency,
/// few enough not to flood it (browsers queue beyond six per host anyway).
const GET_MANY_IN_FLIGHT: u32 = 32;
