//! The backend classes users construct, one per store. Each extends `ResultBackend` (the
//! methods: `getResult`, `storeResult`, …) and only says which store it sits on, plus the
//! store's own extras (the client it was given, IndexedDB's `sweep`).

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::any_store::AnyStore;
use super::backend_state::{CommonOptions, COMMON_OPTIONS};
use super::errors::to_js;
use super::result_backend::JsResultBackend;
use crate::bindings::drivers::cloudflare_kv::JsCloudflareKv;
use crate::bindings::drivers::indexed_db::{JsIndexedDb, DEFAULT_DB_NAME, DEFAULT_STORE_NAME};
use crate::bindings::drivers::kv::JsKv;
use crate::bindings::drivers::memcached::JsMemcached;
use crate::bindings::drivers::redis::JsRedis;
use crate::bindings::drivers::timer::JsTimer;
use crate::bindings::js::{is_absent, known_options, opt_string, type_error};
use crate::model::error::ResultError;
use crate::stores::cloudflare_kv::CloudflareKvStore;
use crate::stores::indexed_db::IndexedDbStore;
use crate::stores::kv::KvStore;
use crate::stores::memcached::MemcachedStore;
use crate::stores::redis::RedisStore;
use crate::stores::stub::StubStore;
use crate::wait::notify::Notifier;

/// The in-memory backend: the embedded default. Waiters wake the moment a result is
/// stored. Each instance has its own results.
#[wasm_bindgen(extends = JsResultBackend, extends_js_class = "ResultBackend")]
pub struct StubBackend {}

#[wasm_bindgen]
impl StubBackend {
    /// `new StubBackend({ namespace, useNamespacePrefixKeys, encoder })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<StubBackend, JsValue> {
        let common = if is_absent(&options) {
            CommonOptions::defaults()
        } else {
            CommonOptions::read(&known_options(
                &options,
                "new StubBackend()",
                &COMMON_OPTIONS,
            )?)?
        };
        Ok(StubBackend {
            parent: JsResultBackend::new(AnyStore::Stub(StubStore::keeping(JsTimer)), common)
                .into(),
        })
    }

    /// How many results are held, including expired ones not yet swept.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        match self.parent.borrow().store() {
            AnyStore::Stub(s) => s.len(),
            _ => 0,
        }
    }
}

/// Results in any key-value store: `new KvBackend(adapter, options)` where `adapter` has
/// `get(key)`, `put(key, value, { ttlMs })` and `delete(key)`. Waiters poll with
/// Dramatiq's back-off.
#[wasm_bindgen(extends = JsResultBackend, extends_js_class = "ResultBackend")]
pub struct KvBackend {}

#[wasm_bindgen]
impl KvBackend {
    /// `new KvBackend(adapter, { namespace, useNamespacePrefixKeys, encoder, valueType })`.
    /// `valueType` is `"string"` (default: values are handed to `put` as strings when they
    /// are UTF-8, which Dramatiq's JSON always is) or `"bytes"` (always `Uint8Array`).
    #[wasm_bindgen(constructor)]
    pub fn new(adapter: JsValue, options: JsValue) -> Result<KvBackend, JsValue> {
        let options = known_options(&options, "new KvBackend()", &with_common(&["valueType"]))?;
        let client = JsKv::new(&adapter, &options)?;
        let common = CommonOptions::read(&options)?;
        Ok(KvBackend {
            parent: JsResultBackend::new(AnyStore::Kv(KvStore::new(client)), common).into(),
        })
    }

    /// The adapter this backend was built over.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> JsValue {
        match self.parent.borrow().store() {
            AnyStore::Kv(s) => s.client().target().clone(),
            _ => JsValue::UNDEFINED,
        }
    }
}

/// Results in a Cloudflare Workers KV namespace: `new CloudflareKvBackend(env.RESULTS,
/// options)`. KV keeps each result at least 60 s (its minimum); the exact expiry is in
/// the key's metadata and honoured on read. KV is eventually consistent, so waiters poll.
#[wasm_bindgen(extends = JsResultBackend, extends_js_class = "ResultBackend")]
pub struct CloudflareKvBackend {}

#[wasm_bindgen]
impl CloudflareKvBackend {
    /// `new CloudflareKvBackend(kvNamespace, { namespace, useNamespacePrefixKeys, encoder,
    /// cacheTtl })`. `cacheTtl` (seconds, ≥ 30) is passed to every read: KV may then serve
    /// a cached answer, including a cached "absent", for that long.
    #[wasm_bindgen(constructor)]
    pub fn new(kv_namespace: JsValue, options: JsValue) -> Result<CloudflareKvBackend, JsValue> {
        let options = known_options(
            &options,
            "new CloudflareKvBackend()",
            &with_common(&["cacheTtl"]),
        )?;
        let client = JsCloudflareKv::new(&kv_namespace, &options)?;
        let common = CommonOptions::read(&options)?;
        Ok(CloudflareKvBackend {
            parent: JsResultBackend::new(
                AnyStore::CloudflareKv(CloudflareKvStore::new(client)),
                common,
            )
            .into(),
        })
    }

    /// The `KVNamespace` binding this backend was built over.
    #[wasm_bindgen(getter, js_name = kvNamespace)]
    pub fn kv_namespace(&self) -> JsValue {
        match self.parent.borrow().store() {
            AnyStore::CloudflareKv(s) => s.client().target().clone(),
            _ => JsValue::UNDEFINED,
        }
    }
}

/// Results in IndexedDB, shared by every page and worker of the origin: `new
/// IndexedDbBackend({ dbName, storeName })`. A store wakes waiters in the same page at
/// once and in other pages through a `BroadcastChannel`; waiters also poll.
#[wasm_bindgen(extends = JsResultBackend, extends_js_class = "ResultBackend")]
pub struct IndexedDbBackend {}

#[wasm_bindgen]
impl IndexedDbBackend {
    /// `new IndexedDbBackend({ dbName = "dramatiq-results", storeName = "results",
    /// namespace, useNamespacePrefixKeys, encoder })`. Opens nothing until first used.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<IndexedDbBackend, JsValue> {
        let options = known_options(
            &options,
            "new IndexedDbBackend()",
            &with_common(&["dbName", "storeName"]),
        )?;
        let name = |option: &str, default: &str| -> Result<String, JsValue> {
            let value = opt_string(&options, option)?.unwrap_or_else(|| default.to_owned());
            if value.is_empty() {
                return Err(type_error(&format!("option {option} must not be empty")));
            }
            Ok(value)
        };
        let db_name = name("dbName", DEFAULT_DB_NAME)?;
        let store_name = name("storeName", DEFAULT_STORE_NAME)?;
        let common = CommonOptions::read(&options)?;
        let notifier = Notifier::new();
        let client = JsIndexedDb::new(db_name, store_name, notifier.clone());
        Ok(IndexedDbBackend {
            parent: JsResultBackend::new(
                AnyStore::IndexedDb(IndexedDbStore::new(client, notifier)),
                common,
            )
            .into(),
        })
    }

    /// Deletes every expired record; resolves with how many.
    pub fn sweep(&self) -> js_sys::Promise {
        let shared = self.parent.borrow().shared();
        future_to_promise(async move {
            let AnyStore::IndexedDb(store) = shared.core.store() else {
                return Ok(0.into());
            };
            match store.sweep().await {
                Ok(n) => Ok((n as f64).into()),
                Err(source) => Err(to_js(&ResultError::Store {
                    key: String::new(),
                    source,
                })),
            }
        })
    }

    /// Closes the database connection and the broadcast channel. Waits in progress keep
    /// polling; a later operation reopens the database (but no longer hears other pages).
    pub fn close(&self) {
        if let AnyStore::IndexedDb(store) = self.parent.borrow().store() {
            store.client().close();
        }
    }

    /// The database name.
    #[wasm_bindgen(getter, js_name = dbName)]
    pub fn db_name(&self) -> String {
        match self.parent.borrow().store() {
            AnyStore::IndexedDb(s) => s.client().db_name().to_owned(),
            _ => String::new(),
        }
    }

    /// The object store name.
    #[wasm_bindgen(getter, js_name = storeName)]
    pub fn store_name(&self) -> String {
        match self.parent.borrow().store() {
            AnyStore::IndexedDb(s) => s.client().store_name().to_owned(),
            _ => String::new(),
        }
    }
}

/// Results in Redis, in Dramatiq's layout: `new RedisBackend(client, options)` with a
/// node-redis or ioredis client. With a dedicated `blockingClient` connection, a
/// blocking wait is held by the server (`BLMOVE`) and ends the moment a value lands;
/// without one, waiters poll with Dramatiq's back-off.
#[wasm_bindgen(extends = JsResultBackend, extends_js_class = "ResultBackend")]
pub struct RedisBackend {}

#[wasm_bindgen]
impl RedisBackend {
    /// `new RedisBackend(client, { namespace, useNamespacePrefixKeys, encoder,
    /// blockingClient })`.
    #[wasm_bindgen(constructor)]
    pub fn new(client: JsValue, options: JsValue) -> Result<RedisBackend, JsValue> {
        let options = known_options(
            &options,
            "new RedisBackend()",
            &with_common(&["blockingClient", "blockingConnection"]),
        )?;
        let client = JsRedis::new(&client, &options)?;
        let common = CommonOptions::read(&options)?;
        Ok(RedisBackend {
            parent: JsResultBackend::new(AnyStore::Redis(RedisStore::new(client)), common).into(),
        })
    }

    /// The Redis client this backend was built over.
    #[wasm_bindgen(getter)]
    pub fn client(&self) -> JsValue {
        match self.parent.borrow().store() {
            AnyStore::Redis(s) => s.client().target().clone(),
            _ => JsValue::UNDEFINED,
        }
    }

    /// The dedicated blocking connection, or `undefined`.
    #[wasm_bindgen(getter, js_name = blockingClient)]
    pub fn blocking_client(&self) -> JsValue {
        match self.parent.borrow().store() {
            AnyStore::Redis(s) => s.client().blocking_target(),
            _ => JsValue::UNDEFINED,
        }
    }
}

/// Results in Memcached, in Dramatiq's layout: `new MemcachedBackend(client, options)`
/// with a memjs client. Waiters poll with Dramatiq's back-off.
#[wasm_bindgen(extends = JsResultBackend, extends_js_class = "ResultBackend")]
pub struct MemcachedBackend {}

#[wasm_bindgen]
impl MemcachedBackend {
    /// `new MemcachedBackend(client, { namespace, useNamespacePrefixKeys, encoder })`.
    #[wasm_bindgen(constructor)]
    pub fn new(client: JsValue, options: JsValue) -> Result<MemcachedBackend, JsValue> {
        let options = known_options(&options, "new MemcachedBackend()", &with_common(&[]))?;
        let client = JsMemcached::new(&client)?;
        let common = CommonOptions::read(&options)?;
        Ok(MemcachedBackend {
            parent: JsResultBackend::new(AnyStore::Memcached(MemcachedStore::new(client)), common)
                .into(),
        })
    }

    /// The Memcached client this backend was built over.
    #[wasm_bindgen(getter)]
    pub fn client(&self) -> JsValue {
        match self.parent.borrow().store() {
            AnyStore::Memcached(s) => s.client().target().clone(),
            _ => JsValue::UNDEFINED,
        }
    }
}

/// The common options' names followed by a backend's own.
fn with_common(own: &[&'static str]) -> Vec<&'static str> {
    let mut names = COMMON_OPTIONS.to_vec();
    names.extend_from_slice(own);
    names
}
