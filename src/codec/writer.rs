//! Dramatiq's `JSONEncoder` output, byte-exact with Python.
//!
//! Python stores `json.dumps(value, separators=(",", ":")).encode("utf-8")`: ASCII only
//! (`\uXXXX` escapes, surrogate pairs beyond the BMP), bare `NaN` / `Infinity` tokens,
//! floats in `repr` form (`1.0`, `1e+16`, `1.5e-07`), integers of any size.

use super::float::{write_float_repr, write_i64};
use super::value::Value;

/// The bytes Python's `json.dumps(value, separators=(",", ":"))` writes.
///
/// # Example
/// ```
/// use dramatiq_results::codec::{encode, Value};
/// let v = Value::List(vec![Value::Float(1e16), Value::Str("é".into()), Value::Float(f64::NAN)]);
/// assert_eq!(encode(&v), br#"[1e+16,"\u00e9",NaN]"#);
/// ```
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, &mut out);
    out
}

/// [`encode`] into an existing buffer.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(n) => write_i64(*n, out),
        Value::BigInt(digits) => out.extend_from_slice(digits.as_bytes()),
        Value::Float(x) => write_json_float(*x, out),
        Value::Str(s) => write_ascii_string(s, out),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode_into(item, out);
            }
            out.push(b']');
        }
        Value::Dict(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_ascii_string(k, out);
                out.push(b':');
                encode_into(v, out);
            }
            out.push(b'}');
        }
    }
}

fn write_json_float(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x == f64::INFINITY {
        out.extend_from_slice(b"Infinity");
    } else if x == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Infinity");
    } else {
        write_float_repr(x, out);
    }
}

pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(unit: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\u");
    for shift in [12u32, 8, 4, 0] {
        let nibble = ((unit >> shift) & 0xf) as usize;
        out.push(HEX.get(nibble).copied().unwrap_or(b'0'));
    }
}

/// A JSON string with Python's `ensure_ascii=True` escaping.
fn write_ascii_string(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, ch) in s.char_indices() {
        let c = ch as u32;
        let plain = (0x20..0x7f).contains(&c) && ch != '"' && ch != '\\';
        if plain {
            continue;
        }
        out.extend_from_slice(bytes.get(run_start..i).unwrap_or_default());
        run_start = i + ch.len_utf8();
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            _ if c < 0x10000 => push_u_escape(c, out),
            _ => {
                let v = c - 0x10000;
                push_u_escape(0xd800 | (v >> 10), out);
                push_u_escape(0xdc00 | (v & 0x3ff), out);
            }
        }
    }
    out.extend_from_slice(bytes.get(run_start..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> String {
        String::from_utf8(encode(v)).unwrap()
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        let s = Value::Str(
            "h\u{e9}llo \u{2603} \u{1F600} \"q\" \\ / \u{7f} \u{1} \u{8}\u{c}\n\r\t".into(),
        );
        assert_eq!(
            enc(&s),
            r#""h\u00e9llo \u2603 \ud83d\ude00 \"q\" \\ / \u007f \u0001 \b\f\n\r\t""#
        );
    }
}
