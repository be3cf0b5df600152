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

struct Entry {
    bytes: Vec<u8>,
    expires_at: f64,
}

/// An in-memory store with TTLs and wake-ups.
pub struct StubStore<T> {
    entries: RefCell<HashMap<String, Entry>>,
    notifier: Notifier,
    timer: T,
    writes: Cell<u32>,
}

impl<T: Timer> StubStore<T> {
    /// An empty store whose TTLs run on `timer`.
    pub fn new(timer: T) -> Self {
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

    fn read(&self, key: &str) -> Option<Vec<u8>> {
        let now = self.timer.now_ms();
        let mut entries = self.entries.borrow_mut();
        match entries.get(key) {
            Some(e) if e.expires_at > now => Some(e.bytes.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn write(&self, key: &str, bytes: Vec<u8>, ttl_ms: u64) {
        let writes = self.writes.get().wrapping_add(1);
        self.writes.set(writes);
        if writes % SWEEP_EVERY == 0 {
            self.sweep();
        }
        if ttl_ms == 0 {
            // Expired on arrival, as Redis's `PEXPIRE k 0` and Dramatiq's stub both have it.
            self.entries.borrow_mut().remove(key);
        } else {
            let expires_at = self.timer.now_ms() + ttl_ms as f64;
            self.entries
                .borrow_mut()
                .insert(key.to_owned(), Entry { bytes, expires_at });
        }
        self.notifier.notify(key);
    }
}

impl<T: Timer> Store for StubStore<T> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read(key))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        self.write(key, value, ttl_ms);
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
