//! The small contract a storage backend fulfils: Dramatiq's `_get` / `_store`, plus delete
//! and an optional wake-up.
//!
//! Everything else (keys, encoding, the envelope, waiting) is written once in
//! [`crate::results::backend::ResultBackend`] on top of it.

use crate::model::error::StoreError;
use crate::wait::notify::{Notified, NotifiedSet};

/// How a store can end a wait early when a value is written.
pub enum Watch {
    /// It cannot: the waiter polls with back-off.
    None,
    /// Every write this store accepts fires the subscription: the waiter sleeps to its
    /// deadline unless woken, with no polling.
    Reliable(Notified),
    /// Some writes fire it (say, writes from other tabs over a broadcast channel): the
    /// waiter polls with back-off *and* wakes early when told.
    BestEffort(Notified),
}

/// Raw storage of encoded results under string keys, with a time to live.
///
/// Implementations may be synchronous underneath (the stub) or drive an injected
/// JavaScript client; all are single-threaded.
// The futures are !Send by design (single-threaded wasm), which is what this lint warns about.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The bytes stored under `key`, or `None` if absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Replaces the value under `key`; it expires after `ttl_ms` milliseconds.
    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError>;

    /// Removes the value under `key`; removing an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Subscribes to writes of `key`, if this store can see them. Called *before* the read
    /// it guards, so a write in between still fires it.
    fn watch(&self, key: &str) -> Watch {
        let _ = key;
        Watch::None
    }

    /// Subscribes to writes of many keys (each with a tag) when *every* write this store
    /// accepts fires them, as [`Watch::Reliable`]; `None` otherwise. Lets a collection of n
    /// keys wake for, and re-read, only the keys written instead of all n each time.
    fn watch_many(&self, keys: &[(usize, &str)]) -> Option<NotifiedSet> {
        let _ = keys;
        None
    }

    /// Whether [`Store::wait`] blocks on the server until a value arrives (Redis with a
    /// dedicated blocking connection). When it does, the waiting loop hands the rest of the
    /// deadline to it instead of polling.
    fn can_wait(&self) -> bool {
        false
    }

    /// Blocks up to `timeout_ms` for a value under `key` to appear, server side; `None` if
    /// none did. Only called when [`Store::can_wait`] says so; the default reads once.
    async fn wait(&self, key: &str, timeout_ms: f64) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = timeout_ms;
        self.get(key).await
    }

    /// The values of many keys, in order. Stores with a batch read (Redis pipelines,
    /// Memcached multi-get) override this; the default reads one key after another.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }
}

/// Checks that a batch read answered one item per key: a client that answers more or fewer
/// must not shift results onto the wrong messages.
pub fn check_batch<T>(who: &str, keys: usize, items: Vec<T>) -> Result<Vec<T>, StoreError> {
    if items.len() == keys {
        Ok(items)
    } else {
        Err(StoreError::new(format!(
            "{who} answered a read of {keys} keys with {} values",
            items.len()
        )))
    }
}
