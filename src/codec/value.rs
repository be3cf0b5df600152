//! The data model of a stored result: what Python's `json` module reads and writes.
//!
//! It is richer than JSON and richer than a JavaScript value in two ways that matter for
//! byte-exact round trips: integers are arbitrary-precision (Python `int`), and floats keep
//! being floats even when integral (`1.0` is not `1`). Objects keep insertion order, as a
//! Python `dict` does, because key order is part of the stored bytes.

/// The deepest nesting handled anywhere (decoding, transcoding, `repr`); deeper input is
/// refused rather than risking the stack (Python's own recursion limit is about as deep).
pub const MAX_DEPTH: usize = 512;

/// The largest integer a JS number holds with no neighbour rounding onto it
/// (`Number.MAX_SAFE_INTEGER`, 2^53 − 1).
pub const MAX_SAFE_INT: i64 = 9_007_199_254_740_991;

/// A decoded result value (Python's `json.loads` output, `json.dumps` input).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` (Python `None`).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// An integer beyond `i64`, kept exactly as canonical decimal text: an optional `-`
    /// followed by digits with no leading zero (`"1180591620717411303424"`).
    BigInt(String),
    /// A Python `float`, including `NaN`, `Infinity`, `-Infinity` and `-0.0`.
    Float(f64),
    /// A string.
    Str(String),
    /// A list (Python `list` or `tuple`).
    List(Vec<Value>),
    /// An object with string keys in insertion order; keys are unique (a duplicate key in
    /// the input replaces the earlier value in place, as Python's `dict` does).
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// Python truthiness (`bool(v)`), which Dramatiq's `or` fallbacks rely on.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null | Value::Bool(false) => false,
            Value::Bool(true) => true,
            Value::Int(n) => *n != 0,
            Value::BigInt(_) => true,
            Value::Float(x) => *x != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Dict(d) => !d.is_empty(),
        }
    }

    /// A whole number of milliseconds or a count: a non-negative integer, or an integral
    /// float below 2^53 (what a JS number or a Python float carries).
    pub fn as_count(&self) -> Option<u64> {
        match self {
            Value::Int(n) if *n >= 0 => Some(*n as u64),
            Value::Float(x) if *x >= 0.0 && x.fract() == 0.0 && *x < 9.007_199_254_740_992e15 => {
                Some(*x as u64)
            }
            _ => None,
        }
    }

    /// The number Python would compare this with (`retries >= max_retries`,
    /// `age >= max_age`): an int, a float (NaN included), a bool as 0 or 1, a big integer
    /// rounded to the nearest float (infinite beyond f64); `None` for anything else.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Int(n) => Some(*n as f64),
            Value::Float(x) => Some(*x),
            Value::BigInt(digits) => Some(crate::codec::decimal::parse_f64(digits).unwrap_or(
                if digits.starts_with('-') {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                },
            )),
            _ => None,
        }
    }

    /// The value stored under `key`, if this is a dict that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string inside a `Value::Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// An option by name in an ordered option list (message or actor options).
pub fn option<'a>(options: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    options.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Builds an option list from literal pairs (for tests).
#[cfg(test)]
pub(crate) fn opts(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
