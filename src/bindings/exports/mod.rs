//! What JavaScript sees: the exported classes and functions, one file per class or family.
//!
//! Every entry point validates its arguments (a `TypeError` for the wrong shape), turns core
//! errors into the classes of `errors.js`, and never panics. The stores' JS clients are
//! reached only through `super::drivers`.

pub mod any_store;
pub mod backend_state;
pub mod backends;
pub mod encoder;
pub mod errors;
pub mod interchange;
pub mod message;
pub mod promise;
pub mod rabbitmq;
pub mod rate_limits;
pub mod redis_broker;
pub mod redis_connection;
pub mod result_backend;
pub mod result_stream;
pub mod worker_rules;
