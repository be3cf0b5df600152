//! Dramatiq's task-result storage, in Rust, for WebAssembly hosts.
//!
//! A Python Dramatiq worker and JavaScript callers share one store; **the keys and the
//! stored bytes are the contract** (see `docs/compat-spec.md`). The core below is pure Rust
//! and tested natively; `bindings/` (`wasm32-unknown-unknown` only) is the one layer that
//! knows about JavaScript, and `component/` (`wasm32-wasip2` only) the one that knows about
//! the component model (`wit/`).
//!
//! Module map, in dependency order:
//! - [`value`]: the data model (Python's JSON values, big ints and all).
//! - [`decimal`]: decimal text to the nearest float, without core's large tables.
//! - [`encoder`]: Dramatiq's `JSONEncoder`, byte-exact with Python's `json.dumps`.
//! - [`interchange`]: the text form values take across the JavaScript boundary.
//! - [`transcode`]: `JSON.stringify` text straight to Python's bytes (the store fast path).
//! - [`key`]: message keys (MD5 or namespace-prefixed).
//! - [`message`]: Dramatiq's message and its wire form.
//! - [`envelope`]: the `__t` canary that marks a stored exception.
//! - [`error`]: `ResultMissing`, `ResultTimeout`, `ResultFailure` and friends.
//! - [`backoff`], [`clock`], [`timers`], [`notify`], [`future`]: waiting without a runtime
//!   (one host alarm serves every pending sleep).
//! - [`store`]: the small contract a backend fulfils.
//! - [`backend`]: `ResultBackend`, written once over any store.
//! - [`middleware`]: the `Results` middleware's decisions (which options apply, what each
//!   worker hook stores).
//! - [`broker`], [`retries`], [`age_limit`], [`composition`]: the rules the in-process
//!   broker and worker follow (queue names, actor options, delays, retries and back-off,
//!   age limits, pipelines).
//! - [`collect`]: waiting for many results under one deadline.
//! - [`backends`]: the stores (the in-memory stub; adapters for JS clients).
//! - [`resp`]: the Redis protocol, sans IO (URLs, commands, replies, the connection).

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

pub mod age_limit;
pub mod backend;
pub mod backends;
pub mod backoff;
pub mod broker;
pub mod clock;
pub mod collect;
pub mod composition;
pub mod decimal;
pub mod encoder;
pub mod envelope;
pub mod error;
pub mod future;
pub mod interchange;
pub mod key;
pub mod message;
pub mod middleware;
pub mod notify;
pub mod resp;
pub mod retries;
pub mod store;
pub mod timers;
pub mod transcode;
pub mod value;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[doc(hidden)]
pub mod bindings;

#[cfg(target_os = "wasi")]
#[doc(hidden)]
pub mod component;
