//! Dramatiq's rate limiters and barrier (`dramatiq.rate_limits`), so a JavaScript process
//! and a Python one share one limit.
//!
//! What a limit *is* lives in the backend's keys and values, so they are Dramatiq's exactly:
//! - `ConcurrentRateLimiter`: one counter under `<key>` (the holders now), TTL `ttl` ms;
//! - `WindowRateLimiter`: one counter per second under `<key>@<unix second>`, each with a
//!   TTL of the whole window, summed over the last `window` seconds;
//! - `BucketRateLimiter`: one counter per bucket under `<key>@<bucket start, unix ms>`, TTL
//!   one bucket;
//! - `Barrier`: the parties still awaited under `<key>`, and a list `<key>@events` that gets
//!   an `x` when the barrier clears (what blocked waiters watch).
//!
//! Counters are decimal integer text (what redis-py writes for a Python `int`).
//!
//! - [`backend`]: the contract every backend fulfils (Dramatiq's `RateLimiterBackend`);
//! - [`limiters`]: the algorithms over it, the options' rules, the error texts;
//! - [`redis`], [`memcached`], [`stub`]: the backends.

pub mod backend;
pub mod limiters;
pub mod memcached;
pub mod redis;
pub mod stub;

pub use backend::RateLimiterBackend;
pub use limiters::{Barrier, CreateError, LimiterKind, OptionError, RateLimiter};

#[cfg(test)]
mod tests;
