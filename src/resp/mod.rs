//! The Redis protocol (RESP2 and RESP3), sans IO: bytes in, bytes out, no sockets and no
//! clock. The host's driver (Node `net`/`tls`, workerd `cloudflare:sockets`) moves bytes
//! between a socket and a [`Connection`]; everything that decides anything is here and is
//! tested natively, byte by byte.
//!
//! - [`url`]: Redis URLs into [`ConnectOptions`].
//! - [`command`]: commands into RESP bytes.
//! - [`parser`]: RESP bytes into replies, incrementally and within [`Limits`].
//! - [`conn`]: the connection's state machine: handshake, pipelining, failure, deadlines.
//! - [`error`]: [`RespError`], each failure with its cause.
//!
//! Replies are the store's [`Reply`](crate::backends::redis::Reply); RESP3's extra types
//! map onto it as a RESP2 client would see them (see [`parser`]).

pub mod command;
pub mod conn;
pub mod error;
pub mod parser;
pub mod url;

pub use conn::{Completion, Connection, Phase, Progress, RequestId};
pub use error::RespError;
pub use parser::{Frame, Limits, Parser};
pub use url::ConnectOptions;
