//! What wasm calls: one driver per host facility (the timer, abort signals, randomness) and
//! one per store's JS client, each implementing the trait the core asks of it
//! (`wait::timer::Timer`, `stores::redis::RedisClient`, …), and `redis_socket`, the
//! package's own Redis client over a socket the host entry hands in (`connectRedis`).
//!
//! **Invariant:** drivers import nothing from `super::exports` (`tests/tidy.rs` checks it):
//! they turn every JS failure into a core `StoreError` carrying the original as its cause,
//! and the exported half decides how that reaches the caller.

pub mod abort;
pub mod adapter;
pub mod cloudflare_kv;
pub mod indexed_db;
pub mod kv;
pub mod memcached;
pub mod random;
pub mod redis;
pub mod redis_socket;
pub mod timer;
