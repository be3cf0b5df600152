//! `CloudflareKvBackend`: results in a Workers KV namespace, given the `KVNamespace`
//! binding itself (`env.RESULTS`). The rules (60 s clamp, exact expiry in metadata) are in
//! `stores::cloudflare_kv`; this file only speaks KV's JS API.

use wasm_bindgen::prelude::*;

use super::adapter::{Adapter, ValueType};
use super::backend::{AnyStore, CommonOptions, Handle};
use super::convert::{opt_number, options_object, prop};
use super::errors::type_error;
use super::time::epoch_ms;
use crate::model::error::StoreError;
use crate::stores::cloudflare_kv::{check_cache_ttl, CloudflareKvClient, CloudflareKvStore, Entry};

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
            .bytes_answer("getWithMetadata", &prop(&answer, "value"))?
        else {
            return Ok(None);
        };
        // Metadata without a numeric `expiresAt` is not ours: the value has KV's expiry only.
        let expires_at = prop(&prop(&answer, "metadata"), "expiresAt").as_f64();
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

super::backend::backend_class!(
    /// Results in a Cloudflare Workers KV namespace: `new CloudflareKvBackend(env.RESULTS,
    /// options)`. KV keeps each result at least 60 s (its minimum); the exact expiry is in
    /// the key's metadata and honoured on read. KV is eventually consistent, so waiters poll.
    CloudflareKvBackend
);

#[wasm_bindgen]
impl CloudflareKvBackend {
    /// `new CloudflareKvBackend(kvNamespace, { namespace, useNamespacePrefixKeys, encoder,
    /// cacheTtl })`. `cacheTtl` (seconds, ≥ 30) is passed to every read: KV may then serve
    /// a cached answer, including a cached "absent", for that long.
    #[wasm_bindgen(constructor)]
    pub fn new(kv_namespace: JsValue, options: JsValue) -> Result<CloudflareKvBackend, JsValue> {
        let options = options_object(&options, "backend options")?;
        let client = JsCloudflareKv::new(&kv_namespace, &options)?;
        let common = CommonOptions::read(&options)?;
        Ok(CloudflareKvBackend {
            handle: Handle::new(
                AnyStore::CloudflareKv(CloudflareKvStore::new(client)),
                common,
            ),
        })
    }

    /// The `KVNamespace` binding this backend was built over.
    #[wasm_bindgen(getter, js_name = kvNamespace)]
    pub fn kv_namespace(&self) -> JsValue {
        match self.handle.store() {
            AnyStore::CloudflareKv(s) => s.client().target().clone(),
            _ => JsValue::UNDEFINED,
        }
    }
}
