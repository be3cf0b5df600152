//! What can go wrong between a Redis client and its server, each case with its cause in
//! words, so a failed connect or command says *why* (wrong password, not a Redis server,
//! reply cut mid-frame, value over the limit) instead of hanging or guessing.

use std::fmt;

use crate::model::error::StoreError;

/// An error of the RESP client: from the URL, the server, the byte stream or the socket.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RespError {
    /// The server answered this command with an error reply (`-ERR …`, `-WRONGTYPE …`,
    /// `-NOSCRIPT …`, or a RESP3 blob error). Displayed as the server's text exactly, as
    /// node-redis and ioredis do, so callers can match on its first word ([`Self::code`]).
    Server(String),
    /// A step of the connect handshake was refused: wrong password, unknown database,
    /// authentication required but not given.
    Handshake {
        /// The command that failed (`AUTH`, `HELLO`, `SELECT`, `CLIENT SETNAME`, `PING`).
        step: &'static str,
        /// The server's error text.
        text: String,
    },
    /// The bytes are not RESP: a non-Redis peer on the port, or a corrupted stream. The
    /// connection cannot be resynchronised and is closed.
    Protocol(String),
    /// A bulk string longer than the configured limit was announced; it is skipped without
    /// being stored, and only the command it answers fails.
    TooLarge {
        /// The length the server announced.
        size: u64,
        /// The limit (the backend's `maxValueBytes`, or the client's `maxBulkBytes`).
        limit: usize,
    },
    /// A reply's values together take more memory than the configured limit (each value
    /// may be under [`RespError::TooLarge`]'s); the rest of the reply is skipped without
    /// being stored, and only the command it answers fails.
    ReplyTooLarge {
        /// The memory the reply had reached (payloads plus the cost of each value).
        size: u64,
        /// The limit (the client's `maxReplyBytes`).
        limit: usize,
    },
    /// The connection is gone: closed by the server (possibly mid-reply), a socket error,
    /// or closed by the caller. Every pending command fails with the same cause.
    Closed(String),
    /// A command or the connect did not complete before its deadline.
    Timeout {
        /// What timed out (`connect`, or the command name).
        what: String,
        /// The deadline that passed, in milliseconds after the request.
        after_ms: f64,
    },
    /// The Redis URL or an option is invalid.
    Config(String),
    /// The host could not allocate memory for a large value it collects outside wasm
    /// (see `parser::HOLD_MIN_BYTES`); the value is read and dropped, and only the command
    /// it answers fails.
    NoMemory {
        /// The value's length.
        size: usize,
    },
}

impl RespError {
    /// The error code of a server error (its first word: `ERR`, `WRONGTYPE`, `NOSCRIPT`,
    /// `WRONGPASS`, …), or `None` for errors that did not come from the server.
    pub fn code(&self) -> Option<&str> {
        match self {
            RespError::Server(text) | RespError::Handshake { text, .. } => {
                text.split(' ').next().filter(|w| !w.is_empty())
            }
            _ => None,
        }
    }
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::Server(text) => f.write_str(text),
            RespError::Handshake { step, text } => {
                write!(f, "Redis refused {step} while connecting: {text}")
            }
            RespError::Protocol(why) => write!(f, "Redis protocol error: {why}"),
            RespError::TooLarge { size, limit } => write!(
                f,
                "Redis sent a value of {size} bytes, over the limit of {limit} bytes (maxValueBytes)"
            ),
            RespError::ReplyTooLarge { size, limit } => write!(
                f,
                "Redis sent a reply of at least {size} bytes, over the limit of {limit} bytes \
                 for one reply (maxReplyBytes)"
            ),
            RespError::Closed(why) => write!(f, "Redis connection closed: {why}"),
            RespError::Timeout { what, after_ms } => write!(
                f,
                "Redis {what} timed out after {} ms",
                crate::codec::Plain(*after_ms)
            ),
            RespError::Config(why) => write!(f, "invalid Redis connection options: {why}"),
            RespError::NoMemory { size } => write!(
                f,
                "could not allocate {size} bytes of memory for a value Redis sent"
            ),
        }
    }
}

impl std::error::Error for RespError {}

impl From<RespError> for StoreError {
    /// The store layer sees the same words (a server error stays the server's text, which
    /// is what `RedisStore` matches `unknown command` against). A server's error reply is
    /// its answer ([`StoreError::answered`]); every other failure is a failure to answer.
    fn from(error: RespError) -> Self {
        let answered = matches!(error, RespError::Server(_));
        let store = StoreError::new(error.to_string());
        if answered {
            store.answered()
        } else {
            store
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_error_is_the_stores_answer() {
        assert!(StoreError::from(RespError::Server("WRONGTYPE x".into())).answered);
        assert!(!StoreError::from(RespError::Closed("gone".into())).answered);
    }

    #[test]
    fn server_errors_keep_the_server_text_and_code() {
        let e = RespError::Server("WRONGTYPE Operation against a key".into());
        assert_eq!(e.to_string(), "WRONGTYPE Operation against a key");
        assert_eq!(e.code(), Some("WRONGTYPE"));
        assert_eq!(
            StoreError::from(e).message,
            "WRONGTYPE Operation against a key"
        );
        let h = RespError::Handshake {
            step: "AUTH",
            text: "WRONGPASS invalid username-password pair".into(),
        };
        assert_eq!(h.code(), Some("WRONGPASS"));
        assert!(h.to_string().contains("AUTH"));
        assert_eq!(RespError::Protocol("x".into()).code(), None);
        assert_eq!(RespError::Server(String::new()).code(), None);
    }

    #[test]
    fn timeouts_print_plain_milliseconds() {
        let e = RespError::Timeout {
            what: "connect".into(),
            after_ms: 1500.0,
        };
        assert_eq!(e.to_string(), "Redis connect timed out after 1500 ms");
    }
}
