//! The in-memory store: the embedded default, for tests, demos and in-process workers.
//!
//! Differences from Dramatiq's `StubBackend`, on purpose: entries belong to one instance
//! (Dramatiq shares one class-level dict between all instances), TTLs are exact to the
//! millisecond (Dramatiq truncates to whole seconds, so a 500 ms TTL is already expired),
//! expired entries are freed (Dramatiq never frees), and a store wakes its waiters at once
//! instead of leaving them to poll.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::model::error::StoreError;
use crate::results::store::{Store, Watch};
use crate::wait::notify::{NotifiedSet, Notifier};
use crate::wait::timer::Timer;

/// Sweep expired entries once per this many writes, so memory stays bounded by live data.
const SWEEP_EVERY: u32 = 1024;

/// What the stub keeps for an entry: the stored bytes themselves, or a host's form of them
/// that gives them back exactly. The store is in-process, so what it keeps is its own
/// affair; the JS bindings keep the text `JSON.stringify` wrote when it already is Python's
/// bytes, so a read can hand it to `JSON.parse` without copying the bytes out and decoding
/// them again. Every read through the [`Store`] contract still sees the bytes.
pub trait StubValue: From<Vec<u8>> {
    /// The stored bytes.
    fn to_bytes(&self) -> Vec<u8>;
}

impl StubValue for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }
}

struct Entry<V> {
    value: V,
    expires_at: f64,
}

/// An in-memory store with TTLs and wake-ups, keeping each entry as a `V`.
pub struct StubStore<T, V = Vec<u8>> {
    entries: RefCell<HashMap<String, Entry<V>>>,
    notifier: Notifier,
    timer: T,
    writes: Cell<u32>,
}

impl<T: Timer> StubStore<T> {
    /// An empty store of bytes whose TTLs run on `timer`.
    pub fn new(timer: T) -> Self {
        Self::keeping(timer)
    }
}

impl<T: Timer, V: StubValue> StubStore<T, V> {
    /// An empty store whose TTLs run on `timer`, keeping its entries as `V`s.
    pub fn keeping(timer: T) -> Self {
        StubStore {
            entries: RefCell::new(HashMap::new()),
            notifier: Notifier::new(),
            timer,
            writes: Cell::new(0),
        }
    }

    /// How many entries are held, expired or not (for memory checks).
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// How many waits are subscribed to writes (a finished wait leaves none).
    pub fn waiting(&self) -> usize {
        self.notifier.waiting()
    }

    /// Drops every expired entry.
    pub fn sweep(&self) {
        let now = self.timer.now_ms();
        self.entries.borrow_mut().retain(|_, e| e.expires_at > now);
    }

    /// What `read` makes of the live entry under `key`, as kept (an expired one is
    /// dropped): [`Store::get`] reads its bytes this way. `read` must not call back into
    /// this store.
    pub fn with_value<R>(&self, key: &str, read: impl FnOnce(&V) -> R) -> Option<R> {
        let mut entries = self.entries.borrow_mut();
        let entry = entries.get(key)?;
        if entry.expires_at > self.timer.now_ms() {
            return Some(read(&entry.value));
        }
        entries.remove(key);
        None
    }

    /// Stores `value` under `key` for `ttl_ms`, waking the key's waiters: what
    /// [`Store::put`] does with bytes.
    pub fn put_value(&self, key: &str, value: V, ttl_ms: u64) {
        let writes = self.writes.get().wrapping_add(1);
        self.writes.set(writes);
        if writes % SWEEP_EVERY == 0 {
            self.sweep();
        }
        if ttl_ms == 0 {
            // Expired on arrival, as Redis's `PEXPIRE k 0` and Dramatiq's stub both have it.
            self.entries.borrow_mut().remove(key);
        } else {
            let entry = Entry {
                value,
                expires_at: self.timer.now_ms() + ttl_ms as f64,
            };
            // In place when the key is there (no new key string); the old entry is dropped
            // once the map is released.
            let mut entries = self.entries.borrow_mut();
            let _old = match entries.get_mut(key) {
                Some(slot) => Some(std::mem::replace(slot, entry)),
                None => entries.insert(key.to_owned(), entry),
            };
            drop(entries);
        }
        self.notifier.notify(key);
    }
}

impl<T: Timer, V: StubValue> Store for StubStore<T, V> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with_value(key, V::to_bytes))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        self.put_value(key, value.into(), ttl_ms);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries.borrow_mut().remove(key);
        Ok(())
    }

    fn watch(&self, key: &str) -> Watch {
        Watch::Reliable(self.notifier.subscribe(key))
    }

    fn watch_many(&self, keys: &[(usize, &str)]) -> Option<NotifiedSet> {
        Some(self.notifier.subscribe_many(keys.iter().copied()))
    }
}
