//! The stores: each one a [`Store`](crate::results::store::Store) over some medium, in
//! Dramatiq's layout for it.
//!
//! The stub lives here in full; the others drive an injected client through a small trait
//! their module defines (what they need of it), implemented by a driver in
//! `bindings/drivers/` (JavaScript) or `component/` (WIT).

pub mod cloudflare_kv;
pub mod indexed_db;
pub mod kv;
pub mod memcached;
pub mod redis;
pub mod stub;
