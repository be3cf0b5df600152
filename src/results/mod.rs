//! Dramatiq's result API, written once over any store.
//!
//! [`store`] is the small contract a store fulfils (get / put with TTL / delete, optionally
//! `watch` and `get_many`); [`backend`] is `ResultBackend`: keys, encoding, the one decode
//! path, exceptions, and the waiting loop; [`collect`] waits for many results under one
//! deadline. The stores themselves live in `crate::stores`.

pub mod backend;
pub mod collect;
pub mod store;
