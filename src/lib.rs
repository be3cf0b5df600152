//! Dramatiq's task-result storage, in Rust, for WebAssembly hosts.
//!
//! A Python Dramatiq worker and JavaScript callers share one store; **the keys and the
//! stored bytes are the contract** (see `docs/compat-spec.md`). The core below is pure Rust
//! and tested natively; `bindings/` (`wasm32-unknown-unknown` only) is the one layer that
//! knows about JavaScript, and `component/` (`wasm32-wasip2` only) the one that knows about
//! the component model (`wit/`).
//!
//! Module map, in dependency order (each folder imports only from those above it):
//! - [`codec`]: the byte contract: Python's JSON values, written and read byte-exact, and
//!   the text form values take across the JavaScript boundary.
//! - [`model`]: Dramatiq's message, result keys, the exception envelope, the errors.
//! - [`wait`]: waiting without a runtime: timers, one host alarm, wake-ups, back-off.
//! - [`results`]: the store contract and `ResultBackend`, written once over any store.
//! - [`stores`]: the stores (the in-memory stub; Dramatiq's layouts over injected clients).
//! - [`worker`]: the rules the JavaScript broker and worker follow (the `Results` policy,
//!   retries, age limits, queue names, pipelines).
//! - [`brokers`]: Dramatiq's Redis and RabbitMQ broker protocols: the commands to send, the
//!   Lua script, queue declarations, and what each reply means.
//! - [`resp`]: the Redis protocol, sans IO: URLs, commands, replies, the connection.
//! - [`rate_limits`]: Dramatiq's rate limiters and barrier: keys, values, TTLs, the
//!   backend contract and its Redis, Memcached and in-memory backends.
//! - `bindings/` (`wasm32-unknown-unknown`): what JavaScript sees (`exports/`) and the
//!   drivers wasm calls (`drivers/`); `component/` (`wasm32-wasip2`): the WIT component.

// No input may reach a panic (inside wasm it poisons the module instance): library code
// may not unwrap, index or panic; tests may.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod brokers;
pub mod codec;
pub mod model;
pub mod rate_limits;
pub mod resp;
pub mod results;
pub mod stores;
pub mod wait;
pub mod worker;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[doc(hidden)]
pub mod bindings;

#[cfg(target_os = "wasi")]
#[doc(hidden)]
pub mod component;
