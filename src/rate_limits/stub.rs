//! The in-memory rate-limiter backend (Dramatiq's `StubBackend`): counters with TTLs in
//! one process, for tests and single-process programs.
//!
//! As Dramatiq's: `incr_and_sum` first creates the current key at 0, a TTL runs on the
//! monotonic clock, and an event wakes only the waits already pending (nothing is stored
//! for later ones). Unlike Dramatiq's (whose entries live forever), expired counters are
//! freed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::backend::RateLimiterBackend;
use crate::model::error::StoreError;
use crate::wait::notify::Notifier;
use crate::wait::race::{race, Either};
use crate::wait::timer::Timer;

/// Sweep expired counters once per this many writes, so memory stays bounded by live ones.
const SWEEP_EVERY: u32 = 1024;

/// An in-memory [`RateLimiterBackend`].
pub struct StubRateLimiterBackend<T> {
    /// Value and expiry (on `timer`'s clock) by key.
    counters: RefCell<HashMap<String, (i64, f64)>>,
    notifier: Notifier,
    timer: T,
    writes: Cell<u32>,
}

impl<T: Timer> StubRateLimiterBackend<T> {
    /// An empty backend whose TTLs run on `timer`.
    pub fn new(timer: T) -> Self {
        StubRateLimiterBackend {
            counters: RefCell::new(HashMap::new()),
            notifier: Notifier::new(),
            timer,
            writes: Cell::new(0),
        }
    }

    /// The live value of `key`.
    pub fn get(&self, key: &str) -> Option<i64> {
        let now = self.timer.now_ms();
        self.counters
            .borrow()
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(v, _)| *v)
    }

    /// The milliseconds `key` has left, if it is live.
    pub fn ttl_ms(&self, key: &str) -> Option<f64> {
        let now = self.timer.now_ms();
        self.counters
            .borrow()
            .get(key)
            .map(|(_, expires)| expires - now)
            .filter(|left| *left > 0.0)
    }

    /// How many counters are held, expired or not yet swept.
    pub fn len(&self) -> usize {
        self.counters.borrow().len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.counters.borrow().is_empty()
    }

    fn put(&self, key: &str, value: i64, ttl_ms: u64) {
        let writes = self.writes.get().wrapping_add(1);
        self.writes.set(writes);
        let now = self.timer.now_ms();
        let mut counters = self.counters.borrow_mut();
        if writes % SWEEP_EVERY == 0 {
            counters.retain(|_, (_, expires)| *expires > now);
        }
        counters.insert(key.to_owned(), (value, now + ttl_ms as f64));
    }
}

impl<T: Timer> RateLimiterBackend for StubRateLimiterBackend<T> {
    async fn add(&self, key: &str, value: i64, ttl_ms: u64) -> Result<bool, StoreError> {
        if self.get(key).is_some() {
            return Ok(false);
        }
        self.put(key, value, ttl_ms);
        Ok(true)
    }

    async fn incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let value = self.get(key).unwrap_or(0).saturating_add(amount);
        if value > maximum {
            return Ok(false);
        }
        self.put(key, value, ttl_ms);
        Ok(true)
    }

    async fn decr(
        &self,
        key: &str,
        amount: i64,
        minimum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let value = self.get(key).unwrap_or(0).saturating_sub(amount);
        if value < minimum {
            return Ok(false);
        }
        self.put(key, value, ttl_ms);
        Ok(true)
    }

    async fn incr_and_sum(
        &self,
        key: &str,
        keys: &[String],
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        self.add(key, 0, ttl_ms).await?;
        let value = self.get(key).unwrap_or(0).saturating_add(amount);
        if value > maximum {
            return Ok(false);
        }
        let total = keys
            .iter()
            .filter_map(|k| self.get(k))
            .fold(amount, i64::saturating_add);
        if total > maximum {
            return Ok(false);
        }
        self.put(key, value, ttl_ms);
        Ok(true)
    }

    async fn wait(&self, key: &str, timeout_ms: Option<f64>) -> Result<bool, StoreError> {
        let event = self.notifier.subscribe(key);
        match timeout_ms {
            None => {
                event.await;
                Ok(true)
            }
            Some(ms) => Ok(matches!(
                race(event, self.timer.sleep_ms(ms.max(0.0))).await,
                Either::Left(_)
            )),
        }
    }

    async fn wait_notify(&self, key: &str, _ttl_ms: u64) -> Result<(), StoreError> {
        self.notifier.notify(key);
        Ok(())
    }
}
