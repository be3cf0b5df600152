//! Storage backends: each one a [`Store`](crate::store::Store) over some medium.
//!
//! The stub lives here in full; the others drive an injected JavaScript client through a
//! small trait their module defines, implemented in `bindings/`.

pub mod cloudflare_kv;
pub mod indexed_db;
pub mod kv;
pub mod memcached;
pub mod redis;
pub mod stub;
