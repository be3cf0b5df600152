//! `MemcachedBackend`: Dramatiq's Memcached layout (`stores::memcached`) over a memjs
//! client or any object with memjs's `get` / `set` / `delete`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::adapter::{Adapter, ValueType};
use super::timer::epoch_ms;
use crate::bindings::js::is_absent;
use crate::model::error::StoreError;
use crate::stores::memcached::MemcachedClient;

#[wasm_bindgen(module = "/src/bindings/drivers/memcached.js")]
extern "C" {
    #[wasm_bindgen(js_name = memcachedSet)]
    fn memcached_set(client: &JsValue, key: &str, value: &JsValue, exptime: f64)
        -> js_sys::Promise;
    #[wasm_bindgen(js_name = memcachedGetMany)]
    fn memcached_get_many(client: &JsValue, keys: &js_sys::Array) -> js_sys::Promise;
}

/// A Memcached client as a [`MemcachedClient`].
pub struct JsMemcached {
    adapter: Adapter,
}

impl JsMemcached {
    /// Wraps `client`, checking its methods.
    pub fn new(client: &JsValue) -> Result<JsMemcached, JsValue> {
        Ok(JsMemcached {
            adapter: Adapter::new(client, "the Memcached client", &["get", "set", "delete"])?,
        })
    }

    /// The client.
    pub fn target(&self) -> &JsValue {
        self.adapter.target()
    }

    /// One `get` answer: memjs's `{ value, flags }`, or the value itself.
    fn value_of(&self, method: &str, answer: &JsValue) -> Result<Option<Vec<u8>>, StoreError> {
        let bytes_itself =
            js_sys::ArrayBuffer::is_view(answer) || answer.is_instance_of::<js_sys::ArrayBuffer>();
        let value = if answer.is_object() && !bytes_itself {
            self.adapter.read(answer, "value")?
        } else {
            answer.clone()
        };
        self.adapter.bytes_answer(method, &value)
    }
}

impl MemcachedClient for JsMemcached {
    fn epoch_s(&self) -> u64 {
        (epoch_ms() / 1000.0) as u64
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let answer = self.adapter.call("get", &[key.into()]).await?;
        self.value_of("get", &answer)
    }

    async fn set(&self, key: &str, value: Vec<u8>, exptime: u64) -> Result<(), StoreError> {
        let value = ValueType::Text.to_js(&value);
        let promise = memcached_set(self.target(), key, &value, exptime as f64);
        let answer = self.adapter.settle("set", promise).await?;
        // memjs answers `false` when the server refused the item (too large, say).
        if answer == JsValue::FALSE {
            return Err(StoreError::new(format!(
                "the Memcached server refused to store {key}"
            )));
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.adapter.call("delete", &[key.into()]).await?;
        Ok(())
    }

    async fn get_multi(&self, keys: &[String]) -> Option<Result<Vec<Option<Vec<u8>>>, StoreError>> {
        let array: js_sys::Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
        let promise = memcached_get_many(self.target(), &array);
        let answer = match self.adapter.settle("get", promise).await {
            Ok(answer) => answer,
            Err(e) => return Some(Err(e)),
        };
        let Ok(items) = answer.dyn_into::<js_sys::Array>() else {
            return Some(Err(StoreError::new(
                "the Memcached client's multi-get did not answer an array",
            )));
        };
        Some(
            items
                .iter()
                .map(|item| {
                    if is_absent(&item) {
                        Ok(None)
                    } else {
                        self.value_of("getMulti", &item)
                    }
                })
                .collect(),
        )
    }
}
