//! `CloudflareKvBackend`: results in a Workers KV namespace, given the `KVNamespace`
//! binding itself (`env.RESULTS`). The rules (60 s clamp, exact expiry in metadata) are in
//! `stores::cloudflare_kv`; this file only speaks KV's JS API.

use wasm_bindgen::prelude::*;

use super::adapter::{Adapter, ValueType};
use super::timer::epoch_ms;
use crate::bindings::js::opt_number;
use crate::bindings::js::type_error;
use crate::model::error::StoreError;
use crate::stores::cloudflare_kv::{check_cache_ttl, CloudflareKvClient, Entry};

/// A `KVNamespace` binding as a [`CloudflareKvClient`].
pub struct JsCloudflareKv {
    adapter: Adapter,
    cache_ttl: Option<f64>,
}

impl JsCloudflareKv {
    /// Wraps `namespace`, checking its methods; reads the `cacheTtl` option.
    pub fn new(namespace: &JsValue, options: &JsValue) -> Result<JsCloudflareKv, JsValue> {
        let cache_ttl = opt_number(options, "cacheTtl")?
            .map(check_cache_ttl)
            .transpose()
            .map_err(|e| type_error(&e))?;
        Ok(JsCloudflareKv {
            adapter: Adapter::new(
                namespace,
                "the KV namespace",
                &["getWithMetadata", "put", "delete"],
            )?,
            cache_ttl,
        })
    }

    /// The binding.
    pub fn target(&self) -> &JsValue {
        self.adapter.target()
    }
}

/// `obj[name] = value` on a fresh plain object (cannot fail there).
fn set(obj: &js_sys::Object, name: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &name.into(), value);
}

impl CloudflareKvClient for JsCloudflareKv {
    fn epoch_ms(&self) -> f64 {
        epoch_ms()
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let options = js_sys::Object::new();
        // Bytes, not text: the value is handed on exactly as stored.
        set(&options, "type", &"arrayBuffer".into());
        if let Some(seconds) = self.cache_ttl {
            set(&options, "cacheTtl", &seconds.into());
        }
        let answer = self
            .adapter
            .call("getWithMetadata", &[key.into(), options.into()])
            .await?;
        if !answer.is_object() {
            return Err(self.adapter.wrong_answer(
                "getWithMetadata",
                &answer,
                "an object { value, metadata }",
            ));
        }
        let Some(bytes) = self
            .adapter
            .bytes_answer("getWithMetadata", &self.adapter.read(&answer, "value")?)?
        else {
            return Ok(None);
        };
        // Metadata without a numeric `expiresAt` is not ours: the value has KV's expiry only.
        let metadata = self.adapter.read(&answer, "metadata")?;
        let expires_at = self.adapter.read(&metadata, "expiresAt")?.as_f64();
        Ok(Some(Entry { bytes, expires_at }))
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expiration_ttl_s: u64,
        expires_at: f64,
    ) -> Result<(), StoreError> {
        let metadata = js_sys::Object::new();
        set(&metadata, "expiresAt", &expires_at.into());
        let options = js_sys::Object::new();
        set(&options, "expirationTtl", &(expiration_ttl_s as f64).into());
        set(&options, "metadata", &metadata.into());
        self.adapter
            .call(
                "put",
                &[key.into(), ValueType::Text.to_js(&value), options.into()],
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.adapter.call("delete", &[key.into()]).await?;
        Ok(())
    }
}
