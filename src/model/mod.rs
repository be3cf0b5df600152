//! Dramatiq's concepts, one per file: the message and its wire form ([`message`]), the
//! result key scheme ([`key`]), the `__t` exception envelope ([`envelope`]) and the errors
//! every result operation can end in ([`error`]), each carrying the message key.

pub mod envelope;
pub mod error;
pub mod key;
pub mod message;
