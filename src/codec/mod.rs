//! The byte contract: Python's JSON values and the exact bytes Dramatiq writes for them.
//!
//! Everything stored or enqueued passes through here. [`writer`] writes what Python's
//! `json.dumps(x, separators=(",", ":"))` writes; [`parser`] reads what `json.loads` reads
//! (and, in its JS dialect, `JSON.stringify` text); [`float`] and [`decimal`] are the two
//! directions of number text; [`py_repr`] is Python's `repr`/`str` for messages and logs;
//! [`interchange`] is the text protocol values take across the JavaScript boundary.
//!
//! **Invariant:** together with `model::envelope` and `model::key`, this is the only code
//! that produces stored bytes or keys; changing its output needs new compat vectors.

pub mod decimal;
pub mod float;
pub mod interchange;
pub mod parser;
pub mod py_repr;
pub mod surrogates;
pub mod value;
pub mod writer;

pub use float::{float_repr, Plain};
pub use parser::{decode, DecodeError};
pub use py_repr::{py_repr, py_str};
pub use value::Value;
pub use writer::{encode, encode_into};

/// Dramatiq's `dramatiq.encoder.JSONEncoder`: [`encode`] and [`decode`] as one object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonEncoder;

impl JsonEncoder {
    /// The bytes Python stores for `value`.
    pub fn encode(&self, value: &Value) -> Vec<u8> {
        encode(value)
    }

    /// The value Python reads from `bytes`.
    pub fn decode(&self, bytes: &[u8]) -> Result<Value, DecodeError> {
        decode(bytes)
    }
}
