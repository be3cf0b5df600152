//! The JavaScript boundary: the only code that names `wasm_bindgen`, `js_sys` or `web_sys`.
//!
//! Two halves, in the way `workers-rs` splits a typed API from its raw bindings:
//! - [`exports`]: what JavaScript sees: `ResultBackend` and the backend classes, `Message`,
//!   `JSONEncoder`, the error classes, the worker rules the JS broker calls.
//! - [`drivers`]: what wasm calls: the host's timer, abort signals and randomness, and one
//!   driver per store's JS client (KV adapters, IndexedDB, Redis, Memcached).
//!
//! [`js`] holds the small readers both use (properties, options, bytes, `TypeError`).
//! Every exported function turns bad input into a thrown `TypeError` or `ResultError` and
//! never panics: a panic would poison the whole module instance.

// Public only so the wasm test suite can reach the host timer; not part of the Rust API.
#[doc(hidden)]
pub mod drivers;
pub(crate) mod exports;
pub(crate) mod js;
