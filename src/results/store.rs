//! The small contract a storage backend fulfils: Dramatiq's `_get` / `_store`, plus delete
//! and an optional wake-up.
//!
//! Everything else (keys, encoding, the envelope, waiting) is written once in
//! [`crate::results::backend::ResultBackend`] on top of it.

use std::rc::Rc;

use crate::model::error::StoreError;
use crate::wait::notify::{Notified, NotifiedSet};

/// Bytes a store read that stayed in the host's memory (a large Redis value that
/// `connectRedis` collected outside wasm): wasm memory never shrinks, so a 60 MB value read
/// into it would pin 60 MB (and the buffers it grew through) for the life of the process.
/// The core looks at them only through bounded copies.
pub trait HostBytes {
    /// How many bytes.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `out.len()` bytes starting at `offset` into `out` (a range past the end
    /// copies what there is and leaves the rest of `out` as it was).
    fn copy_into(&self, offset: usize, out: &mut [u8]);

    /// For the host side, which knows its own type.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// What a store read: the bytes themselves, or bytes the host holds ([`HostBytes`]).
#[derive(Clone)]
pub enum Stored {
    /// In wasm memory, as every store but `connectRedis`'s large values gives them.
    Bytes(Vec<u8>),
    /// In the host's memory.
    Host(Rc<dyn HostBytes>),
}

impl Stored {
    /// How many bytes.
    pub fn len(&self) -> usize {
        match self {
            Stored::Bytes(b) => b.len(),
            Stored::Host(h) => h.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in wasm memory (host bytes are copied in, in one exact allocation): for
    /// the paths that need the whole value at once.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Stored::Bytes(b) => b,
            Stored::Host(h) => {
                let mut out = vec![0; h.len()];
                h.copy_into(0, &mut out);
                out
            }
        }
    }
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Bytes(b) => f.debug_tuple("Bytes").field(b).finish(),
            Stored::Host(h) => write!(f, "Host({} bytes)", h.len()),
        }
    }
}

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

    /// [`Store::get`], where the store may leave a large value in the host's memory
    /// ([`Stored::Host`]); the default reads the bytes.
    async fn get_stored(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        Ok(self.get(key).await?.map(Stored::Bytes))
    }

    /// [`Store::put`] of a value the host may hold ([`Stored::Host`]); the default copies it
    /// in.
    async fn put_stored(&self, key: &str, value: Stored, ttl_ms: u64) -> Result<(), StoreError> {
        self.put(key, value.into_bytes(), ttl_ms).await
    }

    /// [`Store::wait`], as [`Store::get_stored`] is to [`Store::get`].
    async fn wait_stored(&self, key: &str, timeout_ms: f64) -> Result<Option<Stored>, StoreError> {
        Ok(self.wait(key, timeout_ms).await?.map(Stored::Bytes))
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

/// Inside `impl Store for T`, where `T` has a store (or a pointer to one) in a field named
/// `inner`: the named methods (`get`, `put`, `delete`) passed to it unchanged, so a test
/// store spells out only the behaviour its test is about. Test-only (the `testing` feature).
#[cfg(any(test, feature = "testing"))]
#[macro_export]
macro_rules! forward_to_inner {
    (@one get) => {
        async fn get(
            &self,
            key: &str,
        ) -> Result<Option<Vec<u8>>, $crate::model::error::StoreError> {
            use $crate::results::store::Store as _;
            self.inner.get(key).await
        }
    };
    (@one put) => {
        async fn put(
            &self,
            key: &str,
            value: Vec<u8>,
            ttl_ms: u64,
        ) -> Result<(), $crate::model::error::StoreError> {
            use $crate::results::store::Store as _;
            self.inner.put(key, value, ttl_ms).await
        }
    };
    (@one delete) => {
        async fn delete(&self, key: &str) -> Result<(), $crate::model::error::StoreError> {
            use $crate::results::store::Store as _;
            self.inner.delete(key).await
        }
    };
    ($($method:ident),+ $(,)?) => {
        $($crate::forward_to_inner!(@one $method);)+
    };
}
