//! What a Redis command is and what it answers, in the shape every Redis user in the crate
//! (the result store, the broker, the connection) speaks.

use std::rc::Rc;

use crate::results::store::HostBytes;

/// A Redis reply, as a RESP2 client sees it (RESP3's extra types map onto these; see
/// [`super::parser`]). An error reply is not a `Reply`: it fails its command, carrying the
/// server's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A nil (absent key, timed-out blocking command).
    Nil,
    /// A bulk or simple string.
    Bytes(Vec<u8>),
    /// An integer.
    Int(i64),
    /// An array (a script's table).
    Array(Vec<Reply>),
    /// A bulk string too large to enter wasm memory, which the host's driver collected
    /// (only for a command that asked for it: see [`super::Connection::submit_value`]).
    /// Boxed: every `Reply` in an array costs its size (see `parser::VALUE_COST`).
    Held(Box<Held>),
}

/// A bulk string of `len` bytes the driver collected outside wasm: the parser checked its
/// framing and counted it against the limits, and the driver hands its bytes in `bytes`.
#[derive(Clone)]
pub struct Held {
    /// Its number on its connection, as the parser's [`super::parser::HeldRange`]s name it.
    pub id: u64,
    /// Its length in bytes.
    pub len: usize,
    /// Its bytes, once the driver attached them (`None` straight out of the parser).
    pub bytes: Option<Rc<dyn HostBytes>>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held(#{}: {} bytes)", self.id, self.len)
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        self.id == other.id
            && self.len == other.len
            && match (&self.bytes, &other.bytes) {
                (None, None) => true,
                (Some(a), Some(b)) => Rc::ptr_eq(a, b),
                _ => false,
            }
    }
}

/// One argument of a command: text, or the stored bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    /// A command name, key, number or script.
    Text(&'a str),
    /// A value to store, as it is.
    Bytes(&'a [u8]),
}

impl Reply {
    /// The reply's kind, for error messages ("an integer", "nil", …).
    pub fn describe(&self) -> &'static str {
        match self {
            Reply::Nil => "nil",
            Reply::Bytes(_) | Reply::Held(_) => "a string",
            Reply::Int(_) => "an integer",
            Reply::Array(_) => "an array",
        }
    }
}
