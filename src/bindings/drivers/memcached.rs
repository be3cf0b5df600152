//! `MemcachedBackend`: Dramatiq's Memcached layout (`stores::memcached`) over a memjs
//! client or any object with memjs's `get` / `set` / `delete`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::adapter::{Adapter, ValueType};
use super::timer::epoch_ms;
use crate::bindings::js::is_absent;
use crate::model::error::StoreError;
use crate::rate_limits::memcached::MemcachedCounterClient;
use crate::stores::memcached::{check_key, MemcachedClient};

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

#[wasm_bindgen(module = "/src/bindings/drivers/memcached.js")]
extern "C" {
    #[wasm_bindgen(js_name = memcachedAdd)]
    fn memcached_add(
        client: &JsValue,
        key: &str,
        value: &str,
        exptime: f64,
        flags: u32,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = memcachedCount)]
    fn memcached_count(client: &JsValue, key: &str, amount: f64, down: bool) -> js_sys::Promise;
}

/// pylibmc's flags for a Python `int` (`FLAG_LONG`): what Dramatiq's counters carry, so a
/// Python process reading a counter this process created gets a number.
pub const PYLIBMC_INT_FLAGS: u32 = 4;

/// A memjs client (or anything with its `add` / `increment` / `decrement` / `get`) as the
/// rate limiters' [`MemcachedCounterClient`].
pub struct JsMemcachedCounters {
    adapter: Adapter,
    reads: JsMemcached,
}

impl JsMemcachedCounters {
    /// Wraps `client`, checking its methods.
    pub fn new(client: &JsValue) -> Result<JsMemcachedCounters, JsValue> {
        Ok(JsMemcachedCounters {
            adapter: Adapter::new(
                client,
                "the Memcached client",
                &["get", "add", "increment", "decrement"],
            )?,
            reads: JsMemcached {
                adapter: Adapter::new(client, "the Memcached client", &["get"])?,
            },
        })
    }

    /// The client.
    pub fn target(&self) -> &JsValue {
        self.adapter.target()
    }

    async fn count(&self, key: &str, amount: u64, down: bool) -> Result<Option<u64>, StoreError> {
        // memjs writes the amount as 32 bits; the limiters only ever count by 1.
        let method = if down { "decrement" } else { "increment" };
        let promise = memcached_count(self.target(), key, amount as f64, down);
        let answer = self.adapter.settle(method, promise).await?;
        if is_absent(&answer) {
            return Ok(None);
        }
        match answer.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
            _ => Err(self
                .adapter
                .wrong_answer(method, &answer, "a counter value")),
        }
    }
}

impl MemcachedCounterClient for JsMemcachedCounters {
    fn epoch_s(&self) -> u64 {
        (epoch_ms() / 1000.0) as u64
    }

    async fn add(&self, key: &str, value: &str, exptime: u64) -> Result<bool, StoreError> {
        check_key(key)?;
        let promise = memcached_add(self.target(), key, value, exptime as f64, PYLIBMC_INT_FLAGS);
        let answer = self.adapter.settle("add", promise).await?;
        Ok(answer == JsValue::TRUE)
    }

    async fn incr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError> {
        check_key(key)?;
        self.count(key, amount, false).await
    }

    async fn decr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError> {
        check_key(key)?;
        self.count(key, amount, true).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        for key in keys {
            check_key(key)?;
        }
        match self.reads.get_multi(keys).await {
            Some(answer) => answer,
            None => Ok(Vec::new()),
        }
    }
}
