//! Python's `repr()` and `str()` of decoded values, for exception messages and logs.

use super::float::float_repr;
use super::value::{Value, MAX_DEPTH};

/// Python's `repr()` of a decoded value (`None`, `True`, `'text'`, `[1, 'a']`, …).
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out, 0);
    out
}

/// Python's `str()` of a decoded value: the text itself for a string, else its `repr`.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        other => py_repr(other),
    }
}

fn write_repr(value: &Value, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::BigInt(d) => out.push_str(d),
        Value::Float(x) => out.push_str(&float_repr(*x)),
        Value::Str(s) => write_str_repr(s, out),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Dict(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(k, out);
                out.push_str(": ");
                write_repr(v, out, depth + 1);
            }
            out.push('}');
        }
    }
}

fn write_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parser::decode;

    #[test]
    fn repr_and_str_follow_python() {
        let v = decode(br#"[null,true,1.0,"it's","a\"b",{"k":[1]},"x\ny"]"#).unwrap();
        assert_eq!(
            py_repr(&v),
            r#"[None, True, 1.0, "it's", 'a"b', {'k': [1]}, 'x\ny']"#
        );
        assert_eq!(py_str(&Value::Str("plain".into())), "plain");
        assert_eq!(py_str(&Value::Float(f64::NAN)), "nan");
        assert_eq!(py_str(&Value::Null), "None");
    }
}
