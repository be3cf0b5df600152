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
//! - [`reply`]: [`Arg`] and [`Reply`], what a command is and answers.
//!
//! A driver's loop, whatever the host:
//!
//! 1. [`ConnectOptions::from_url`], open the socket (`host`, `port`, `tls`,
//!    [`ConnectOptions::servername`], `connect_timeout_ms`), then [`Connection::new`] and
//!    write [`Connection::start`]'s bytes.
//! 2. For each command, [`Connection::submit`] and write the bytes it returns.
//! 3. For each chunk read, [`Connection::feed`]; for a socket close or error,
//!    [`Connection::socket_closed`]; when [`Connection::next_deadline`] passes,
//!    [`Connection::expire`]. Each returns a [`Progress`]: write its `write` bytes, settle
//!    its `completed` commands, resolve the connect on `ready`, close the socket on
//!    `closed`.
//!
//! Commands are [`Arg`] lists and replies are [`Reply`]s ([`reply`]), the one shape the
//! result store, the broker and the connection share; RESP3's extra types map onto it as a
//! RESP2 client would see them (see [`parser`]).

pub mod command;
pub mod conn;
pub mod error;
pub mod parser;
pub mod reply;
pub mod url;

pub use conn::{Completion, Connection, Phase, Progress, RequestId};
pub use error::RespError;
pub use parser::{Frame, Limits, Parser};
pub use reply::{Arg, Reply};
pub use url::ConnectOptions;
