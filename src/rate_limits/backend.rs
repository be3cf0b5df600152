//! The contract a rate-limiter backend fulfils: Dramatiq's `RateLimiterBackend`, operation
//! for operation, so the limiters above it are written once.

use crate::model::error::StoreError;

/// Dramatiq's `RateLimiterBackend`. Every TTL is in milliseconds; every count an integer
/// stored as decimal text. Each operation is atomic on its backend (Redis: one script or
/// one command; Memcached: its own atomic `add` / `incr` / `decr`; the stub: one borrow).
// Single-threaded by design (wasm), so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait RateLimiterBackend {
    /// Sets `key` to `value` with `ttl_ms` only if `key` is absent; whether it did.
    async fn add(&self, key: &str, value: i64, ttl_ms: u64) -> Result<bool, StoreError>;

    /// Adds `amount` to `key` (absent counts as 0) and resets its TTL, unless the result
    /// would exceed `maximum`; whether it did.
    async fn incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError>;

    /// Dramatiq's "create, else count up": `add(key, amount)`, and if `key` existed,
    /// `incr(key, amount, maximum)`; whether either did. A backend may do both in one step
    /// (Redis: one script), with the same effect on the data.
    async fn add_or_incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        if self.add(key, amount, ttl_ms).await? {
            return Ok(true);
        }
        self.incr(key, amount, maximum, ttl_ms).await
    }

    /// Subtracts `amount` from `key` (absent counts as 0) and resets its TTL, unless the
    /// result would fall below `minimum`; whether it did.
    async fn decr(
        &self,
        key: &str,
        amount: i64,
        minimum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError>;

    /// Adds `amount` to `key` unless that takes `key` past `maximum` or `amount` plus the
    /// sum of `keys` (which include `key`) past `maximum`; whether it did.
    ///
    /// Dramatiq passes a function computing `keys` and calls it again inside its retry
    /// loop; here they are computed once, at the same instant as `key`, so the key
    /// incremented is always the newest of the keys summed.
    async fn incr_and_sum(
        &self,
        key: &str,
        keys: &[String],
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError>;

    /// Waits until an event is published on `key` or `timeout_ms` passes (`None`: no
    /// limit); whether an event came.
    async fn wait(&self, key: &str, timeout_ms: Option<f64>) -> Result<bool, StoreError>;

    /// Publishes an event on `key` that lasts `ttl_ms`, waking every `wait` on it.
    async fn wait_notify(&self, key: &str, ttl_ms: u64) -> Result<(), StoreError>;
}
