//! What a Redis command is and what it answers, in the shape every Redis user in the crate
//! (the result store, the broker, the connection) speaks.

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
            Reply::Bytes(_) => "a string",
            Reply::Int(_) => "an integer",
            Reply::Array(_) => "an array",
        }
    }
}
