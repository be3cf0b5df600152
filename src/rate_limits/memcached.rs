//! Dramatiq's Memcached rate-limiter backend over any [`MemcachedCounterClient`].
//!
//! The operations are Dramatiq's: `add` creates a counter (decimal text) with an expiry in
//! whole seconds, `incr` / `decr` are Memcached's own atomic counters (which never touch
//! the expiry, and never take a counter below 0), so a Python process and this one count
//! on the same items. Three differences, on purpose:
//! - an `incr` that went past the maximum is taken back (`decr`). Dramatiq leaves it, so
//!   every refused acquisition of a concurrent limiter holds a slot until the counter
//!   expires (with the default `ttl`, 15 minutes); here a refusal leaves the count as it
//!   was, which is also what the other backends do.
//! - `incr_and_sum` (the window limiter) increments first, then sums the window, then takes
//!   the increment back if the sum is past the maximum. Dramatiq uses `gets` / `cas`, which
//!   memjs does not offer; increment-then-check is as safe (an acquisition that succeeds
//!   has seen every increment made before its own), and can only refuse more, never admit
//!   more. Concurrent attempts would see each other's passing increments and could all
//!   refuse, so this process runs its attempts on one key one at a time (other processes'
//!   attempts still only ever make it refuse more).
//! - a sub-second TTL is one second, not 0 (Dramatiq truncates, and Memcached reads 0 as
//!   "never expires": a 500 ms bucket would stay forever); past 30 days the expiry is
//!   sent as a Unix time, as Memcached requires.
//!
//! An `incr` or `decr` of an absent counter (expired between two operations) is a refusal
//! here, where pylibmc raises `NotFound`. Memcached has no events, so a blocking barrier
//! wait is refused, as Dramatiq's `MemcachedBackend` refuses it (`NotImplementedError`).

use std::cell::RefCell;
use std::collections::HashSet;

use super::backend::RateLimiterBackend;
use crate::model::error::StoreError;
use crate::stores::memcached::RELATIVE_EXPIRY_LIMIT_S;
use crate::wait::notify::Notifier;

/// What the Memcached client must do: Memcached's `add`, `incr`, `decr` and a multi-get.
// Single-threaded by design (wasm), so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait MemcachedCounterClient {
    /// Wall-clock seconds since the Unix epoch, for expiries over 30 days.
    fn epoch_s(&self) -> u64;
    /// Stores `value` under `key` with `exptime` only if `key` is absent; whether it did.
    async fn add(&self, key: &str, value: &str, exptime: u64) -> Result<bool, StoreError>;
    /// Memcached `incr` of an existing counter (never creating one): the new value, or
    /// `None` if `key` is absent.
    async fn incr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError>;
    /// Memcached `decr` (stopping at 0, never creating a counter): the new value, or `None`
    /// if `key` is absent.
    async fn decr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError>;
    /// The values of `keys`, in order (`None` for an absent one).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
}

/// Memcached's `exptime` for a counter's TTL: Dramatiq's whole seconds (truncated), at
/// least one, and past 30 days a Unix time.
pub fn counter_exptime(ttl_ms: u64, epoch_s: u64) -> u64 {
    let seconds = (ttl_ms / 1000).max(1);
    if seconds > RELATIVE_EXPIRY_LIMIT_S {
        epoch_s.saturating_add(seconds)
    } else {
        seconds
    }
}

/// A stored counter's value: decimal digits, possibly space-padded (Memcached pads a
/// counter whose `decr` shortened it); anything else counts as nothing, as it does for
/// Dramatiq's `sum`, which skips what is absent.
pub fn counter_value(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// Dramatiq's Memcached rate-limiter backend.
pub struct MemcachedRateLimiterBackend<C> {
    client: C,
    /// Keys with an `incr_and_sum` in flight here, and who waits for them.
    busy: RefCell<HashSet<String>>,
    freed: Notifier,
}

/// One key's turn in `incr_and_sum`; dropping it (done or cancelled) passes the turn on.
struct Turn<'a> {
    key: &'a str,
    busy: &'a RefCell<HashSet<String>>,
    freed: &'a Notifier,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.busy.borrow_mut().remove(self.key);
        self.freed.notify(self.key);
    }
}

impl<C: MemcachedCounterClient> MemcachedRateLimiterBackend<C> {
    /// A backend over `client`.
    pub fn new(client: C) -> Self {
        MemcachedRateLimiterBackend {
            client,
            busy: RefCell::new(HashSet::new()),
            freed: Notifier::new(),
        }
    }

    /// Waits for `key`'s turn (single-threaded: nothing runs between the check and the
    /// subscription, so no release is missed).
    async fn turn<'a>(&'a self, key: &'a str) -> Turn<'a> {
        loop {
            if self.busy.borrow_mut().insert(key.to_owned()) {
                return Turn {
                    key,
                    busy: &self.busy,
                    freed: &self.freed,
                };
            }
            self.freed.subscribe(key).await;
        }
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }
}

/// A count as Memcached's unsigned amount; a negative one is refused before it is sent.
fn amount_of(amount: i64) -> Result<u64, StoreError> {
    u64::try_from(amount)
        .map_err(|_| StoreError::new("Memcached counters take amounts of 0 or more"))
}

impl<C: MemcachedCounterClient> RateLimiterBackend for MemcachedRateLimiterBackend<C> {
    async fn add(&self, key: &str, value: i64, ttl_ms: u64) -> Result<bool, StoreError> {
        let exptime = counter_exptime(ttl_ms, self.client.epoch_s());
        self.client.add(key, &value.to_string(), exptime).await
    }

    async fn incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        _ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let amount = amount_of(amount)?;
        let Some(value) = self.client.incr(key, amount).await? else {
            return Ok(false);
        };
        if value > maximum.max(0) as u64 {
            self.client.decr(key, amount).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn decr(
        &self,
        key: &str,
        amount: i64,
        minimum: i64,
        _ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let amount = amount_of(amount)?;
        let Some(value) = self.client.decr(key, amount).await? else {
            return Ok(false);
        };
        Ok(i64::try_from(value).unwrap_or(i64::MAX) >= minimum)
    }

    async fn incr_and_sum(
        &self,
        key: &str,
        keys: &[String],
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let step = amount_of(amount)?;
        let _turn = self.turn(key).await;
        self.add(key, 0, ttl_ms).await?;
        let Some(value) = self.client.incr(key, step).await? else {
            return Ok(false);
        };
        let over = if value > maximum.max(0) as u64 {
            true
        } else {
            // The sum includes this increment: Dramatiq's `amount + sum(before)`.
            let values = self.client.get_many(keys).await?;
            let total = values
                .iter()
                .flatten()
                .filter_map(|v| counter_value(v))
                .fold(0i64, i64::saturating_add);
            total > maximum
        };
        if over {
            self.client.decr(key, step).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn wait(&self, _key: &str, _timeout_ms: Option<f64>) -> Result<bool, StoreError> {
        Err(StoreError::new(
            "Memcached cannot wait for a barrier (nor can Dramatiq's MemcachedBackend): \
             use wait({ block: false }), or a Redis or stub backend",
        )
        .answered())
    }

    async fn wait_notify(&self, _key: &str, _ttl_ms: u64) -> Result<(), StoreError> {
        // Nobody can be waiting (see `wait`), as in Dramatiq, where this is a no-op.
        Ok(())
    }
}
