//! The errors of the result API, after `dramatiq.results.errors`.
//!
//! Every variant that concerns one message carries its store key, so an error seen in a log
//! or a dashboard says which result it is about. The bindings map each variant to a JS class
//! (`ResultMissing`, `ResultTimeout`, `ResultFailure`, all `ResultError`s).

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use crate::codec::value::Value;
use crate::codec::DecodeError;

/// A timeout's message; when the store kept failing, what it last said, so the reason is
/// readable without digging into `cause`.
fn timeout_text(key: &str, timeout_ms: f64, cause: Option<&StoreError>) -> String {
    let base = format!(
        "no result for message key {key} within {} ms",
        crate::codec::Plain(timeout_ms)
    );
    match cause {
        Some(cause) => format!("{base}; the store last failed: {}", cause.message),
        None => base,
    }
}

/// What went wrong in an operation on one message's result.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ResultError {
    /// No result is stored (or it expired) and the caller did not block.
    #[error("no result is stored for message key {key}")]
    Missing {
        /// The store key of the message.
        key: String,
    },
    /// The caller blocked and the deadline passed with no result stored.
    #[error("{}", timeout_text(key, *timeout_ms, cause.as_ref()))]
    Timeout {
        /// The store key of the message.
        key: String,
        /// The timeout the caller asked for, in milliseconds.
        timeout_ms: f64,
        /// Set when a store read was still pending at the deadline.
        cause: Option<StoreError>,
    },
    /// The actor raised: the stored value is Dramatiq's exception envelope.
    #[error("{failure}")]
    Failure {
        /// The store key of the message.
        key: String,
        /// What the actor raised.
        failure: Failure,
    },
    /// The store (the injected adapter) failed or answered something unusable.
    #[error("the result store failed for message key {key}: {source}")]
    Store {
        /// The store key of the message.
        key: String,
        /// What the store did.
        source: StoreError,
    },
    /// The stored bytes are not a value Dramatiq's encoder can read.
    #[error("the stored result for message key {key} could not be decoded: {source}")]
    Decode {
        /// The store key of the message.
        key: String,
        /// Why decoding failed.
        source: DecodeError,
    },
    /// The stored value is an exception envelope with missing parts (Python raises a bare
    /// `KeyError` here; we report it as a result error instead).
    #[error("the stored failure for message key {key} is malformed: {reason}")]
    MalformedFailure {
        /// The store key of the message.
        key: String,
        /// Which part is missing or wrong.
        reason: String,
    },
    /// The value to store cannot be encoded (Python raises `TypeError` in the same place).
    #[error("the result for message key {key} cannot be encoded: {reason}")]
    Encode {
        /// The store key of the message.
        key: String,
        /// Why the value cannot be encoded.
        reason: String,
    },
    /// The stored or offered value is larger than the backend's `max_value_bytes`: refused
    /// rather than decoded (or written), so one hostile value cannot exhaust memory.
    #[error("the result for message key {key} is {size} bytes, over the limit of {limit} bytes (maxValueBytes)")]
    TooLarge {
        /// The store key of the message.
        key: String,
        /// The value's size in bytes.
        size: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The wait was cancelled by the caller (an `AbortSignal`).
    #[error("the wait for message key {key} was aborted")]
    Aborted {
        /// The store key of the message.
        key: String,
    },
    /// An argument is out of range or of the wrong shape.
    #[error("{0}")]
    InvalidArgument(String),
}

impl ResultError {
    /// The store key this error concerns, when it concerns one message.
    pub fn key(&self) -> Option<&str> {
        match self {
            ResultError::Missing { key }
            | ResultError::Timeout { key, .. }
            | ResultError::Failure { key, .. }
            | ResultError::Store { key, .. }
            | ResultError::Decode { key, .. }
            | ResultError::MalformedFailure { key, .. }
            | ResultError::Encode { key, .. }
            | ResultError::TooLarge { key, .. }
            | ResultError::Aborted { key } => Some(key),
            ResultError::InvalidArgument(_) => None,
        }
    }
}

/// An exception stored by an actor, as read back: Dramatiq's `ResultFailure` payload.
///
/// `exc_type` and `exc_msg` are normally strings, but a producer may store any JSON there;
/// they are kept as stored (Python keeps them too) and formatted with Python's `%s` rules for
/// the message text.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// `orig_exc_type`: the exception's class name.
    pub exc_type: Value,
    /// `orig_exc_msg`: `str(exception)`.
    pub exc_msg: Value,
    /// A traceback, when the producer stored one (Python Dramatiq never does).
    pub traceback: Option<String>,
}

impl fmt::Display for Failure {
    /// Dramatiq's text: `actor raised <type>: <msg>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "actor raised {}: {}",
            crate::codec::py_str(&self.exc_type),
            crate::codec::py_str(&self.exc_msg)
        )
    }
}

/// A failure reported by a store or its adapter.
///
/// The core cannot name JavaScript types, so the adapter's original thrown value rides along
/// as an opaque `cause` that the bindings downcast and attach as the JS error's `cause`.
#[derive(Clone)]
pub struct StoreError {
    /// What failed, in words.
    pub message: String,
    /// The adapter's own error value, opaque to the core.
    pub cause: Option<Rc<dyn Any>>,
    /// Whether the store itself answered with this error (a server's error reply, an answer
    /// of the wrong shape), as opposed to not answering (a lost connection, an adapter that
    /// threw). Asking again cannot change an answer, so a blocking wait ends at once on one,
    /// where it waits out a failure to answer until its deadline.
    pub answered: bool,
}

impl StoreError {
    /// A store error with a message and no cause.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
            cause: None,
            answered: false,
        }
    }

    /// A store error carrying the adapter's original error value.
    pub fn with_cause(message: impl Into<String>, cause: Rc<dyn Any>) -> Self {
        StoreError {
            message: message.into(),
            cause: Some(cause),
            answered: false,
        }
    }

    /// The same error, marked as the store's own answer (see [`StoreError::answered`]).
    pub fn answered(mut self) -> Self {
        self.answered = true;
        self
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreError")
            .field("message", &self.message)
            .field("has_cause", &self.cause.is_some())
            .finish()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}
