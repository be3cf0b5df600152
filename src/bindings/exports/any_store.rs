//! The store under a backend class: one enum over every store the JS classes can sit on
//! (enum dispatch: no `dyn`, no boxing of the store itself).

use std::future::Future;
use std::pin::Pin;

use crate::bindings::drivers::cloudflare_kv::JsCloudflareKv;
use crate::bindings::drivers::indexed_db::JsIndexedDb;
use crate::bindings::drivers::kv::JsKv;
use crate::bindings::drivers::memcached::JsMemcached;
use crate::bindings::drivers::redis::JsRedis;
use crate::bindings::drivers::timer::JsTimer;
use crate::model::error::StoreError;
use crate::results::store::{Store, Stored, Watch};
use crate::stores::cloudflare_kv::CloudflareKvStore;
use crate::stores::indexed_db::IndexedDbStore;
use crate::stores::kv::KvStore;
use crate::stores::memcached::MemcachedStore;
use crate::stores::redis::RedisStore;
use crate::stores::stub::{StubStore, StubValue};
use crate::wait::notify::NotifiedSet;

use super::interchange::text_bytes;

/// What the JS `StubBackend` keeps per entry. The stub is in-process, so it may keep the
/// host's text: when `storeResult`'s `JSON.stringify` text already is Python's bytes (the
/// core's check says so, and then it is ASCII), the text itself, so a read hands it to
/// `JSON.parse` with no copy out of wasm memory, no read-side check and no decoded copy;
/// the bytes are written out of it again for whatever reads bytes.
pub enum StubEntry {
    /// Stored bytes (`storeResultBytes`, `storeException`, a custom encoder's, a text that
    /// was re-spelt).
    Bytes(Vec<u8>),
    /// A text that is its stored bytes; `plain` when `JSON.parse` alone reads it as the
    /// decoder reads those bytes (`transcode::Form::Verbatim`).
    Text {
        /// The text, which is the stored bytes.
        text: js_sys::JsString,
        /// `JSON.parse(text)` is the value a read decodes.
        plain: bool,
    },
}

impl From<Vec<u8>> for StubEntry {
    fn from(bytes: Vec<u8>) -> Self {
        StubEntry::Bytes(bytes)
    }
}

impl StubValue for StubEntry {
    fn to_bytes(&self) -> Vec<u8> {
        match self {
            StubEntry::Bytes(bytes) => bytes.clone(),
            StubEntry::Text { text, .. } => text_bytes(text),
        }
    }
}

/// Every store a JS backend class can sit on.
pub enum AnyStore {
    /// In memory.
    Stub(StubStore<JsTimer, StubEntry>),
    /// Any key-value adapter.
    Kv(KvStore<JsKv>),
    /// A Cloudflare Workers KV namespace.
    CloudflareKv(CloudflareKvStore<JsCloudflareKv>),
    /// The browser's IndexedDB.
    IndexedDb(IndexedDbStore<JsIndexedDb>),
    /// Redis, in Dramatiq's layout.
    Redis(RedisStore<JsRedis>),
    /// Memcached, in Dramatiq's layout.
    Memcached(MemcachedStore<JsMemcached>),
}

/// Calls `$call` on whichever store `$self` is.
macro_rules! each_store {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Stub($s) => $call,
            AnyStore::Kv($s) => $call,
            AnyStore::CloudflareKv($s) => $call,
            AnyStore::IndexedDb($s) => $call,
            AnyStore::Redis($s) => $call,
            AnyStore::Memcached($s) => $call,
        }
    };
}

/// Like `each_store!` for an operation that awaits: the stub's future runs in place (it is
/// tiny and answers at once), every other store's is boxed behind `dyn`. A future that stays
/// in place is as large as the largest store's, and every pending wait carries it, sleeping
/// or not; a JS-backed operation allocates anyway, so one more box costs little. `dyn`, not
/// the concrete boxed type: polled through a vtable, no store's state machine is inlined into
/// the shared ones (`store_bytes`, `wait_for_bytes`), so a process using one store never
/// compiles the others' code (wasm is compiled per function on first call: bench/notes.md,
/// start-up).
macro_rules! each_store_await {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Stub($s) => $call.await,
            AnyStore::Kv($s) => boxed($call).await,
            AnyStore::CloudflareKv($s) => boxed($call).await,
            AnyStore::IndexedDb($s) => boxed($call).await,
            AnyStore::Redis($s) => boxed($call).await,
            AnyStore::Memcached($s) => boxed($call).await,
        }
    };
}

/// `future` on the heap, polled through its vtable.
fn boxed<'a, T>(future: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}

impl Store for AnyStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        each_store_await!(self, s => s.get(key))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        each_store_await!(self, s => s.put(key, value, ttl_ms))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        each_store_await!(self, s => s.delete(key))
    }

    fn watch(&self, key: &str) -> Watch {
        each_store!(self, s => s.watch(key))
    }

    fn watch_many(&self, keys: &[(usize, &str)]) -> Option<NotifiedSet> {
        each_store!(self, s => s.watch_many(keys))
    }

    fn can_wait(&self) -> bool {
        each_store!(self, s => s.can_wait())
    }

    async fn wait(&self, key: &str, timeout_ms: f64) -> Result<Option<Vec<u8>>, StoreError> {
        each_store_await!(self, s => s.wait(key, timeout_ms))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        each_store_await!(self, s => s.get_many(keys))
    }

    async fn put_stored(&self, key: &str, value: Stored, ttl_ms: u64) -> Result<(), StoreError> {
        each_store_await!(self, s => s.put_stored(key, value, ttl_ms))
    }

    async fn get_stored(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        each_store_await!(self, s => s.get_stored(key))
    }

    async fn wait_stored(&self, key: &str, timeout_ms: f64) -> Result<Option<Stored>, StoreError> {
        each_store_await!(self, s => s.wait_stored(key, timeout_ms))
    }
}
