//! The JavaScript boundary: the only code that names `wasm_bindgen` or `js_sys`.
//!
//! Each submodule wraps one concern: values (`convert`), errors (`errors`), time (`time`),
//! cancellation (`abort`), and the exported classes (`message`, `encoder`, `backend`).
//! Every exported function turns bad input into a thrown `TypeError` or `ResultError` and
//! never panics: a panic would poison the whole module instance.

// Public only so the wasm test suite can reach the host timer; not part of the Rust API.
#[doc(hidden)]
pub mod time;

mod abort;
mod adapter;
pub(crate) mod backend;
mod cloudflare_kv;
mod convert;
mod encoder;
mod errors;
mod indexed_db;
mod kv;
mod memcached;
mod message;
mod redis;
mod rules;
