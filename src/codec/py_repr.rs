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
            c if !printable(c) => {
                let cp = c as u32;
                match cp {
                    0..=0xff => out.push_str(&format!("\\x{cp:02x}")),
                    0x100..=0xffff => out.push_str(&format!("\\u{cp:04x}")),
                    _ => out.push_str(&format!("\\U{cp:08x}")),
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// The characters beyond ASCII that Python's `str.isprintable` rejects and `repr` escapes,
/// other than unassigned ones: its separators (Zs, Zl, Zp), format (Cf) and private-use
/// (Co) characters, as Python 3.11's Unicode 14.0 assigns them (listed from
/// `unicodedata`, so a rate limiter's key with a no-break or zero-width space reads as it
/// does in Python's `RateLimitExceeded`).
const NOT_PRINTABLE: [(u32, u32); 27] = [
    (0xA0, 0xA0),
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200F),
    (0x2028, 0x202F),
    (0x205F, 0x2064),
    (0x2066, 0x206F),
    (0x3000, 0x3000),
    (0xE000, 0xF8FF),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xF0000, 0xFFFFD),
    (0x100000, 0x10FFFD),
];

/// Python's `str.isprintable` for one character: control characters, the ranges above and
/// the noncharacters (unassigned in every Unicode version) are not. Other unassigned code
/// points count as printable here (Python escapes them too; its table of them changes with
/// each Unicode version and would cost the module kilobytes).
fn printable(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x20 || (0x7f..0xa0).contains(&cp) {
        return false;
    }
    if cp < 0xa0 {
        return true;
    }
    let noncharacter = (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE;
    !noncharacter
        && NOT_PRINTABLE
            .binary_search_by(|&(lo, hi)| {
                if hi < cp {
                    std::cmp::Ordering::Less
                } else if lo > cp {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_err()
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

    #[test]
    fn repr_escapes_what_python_cannot_print() {
        // Python 3.11: repr("é\x01\x7f\x80\xa0\u200b\u2028😀\ufeff\ue000\U000e0041\ufffe")
        let s = "é\u{1}\u{7f}\u{80}\u{a0}\u{200b}\u{2028}😀\u{feff}\u{e000}\u{e0041}\u{fffe}";
        assert_eq!(
            py_repr(&Value::Str(s.into())),
            r"'é\x01\x7f\x80\xa0\u200b\u2028😀\ufeff\ue000\U000e0041\ufffe'"
        );
        assert!(printable(' ') && printable('~') && printable('é') && printable('\u{3042}'));
        assert!(!printable('\u{10fffd}') && !printable('\u{1fffe}') && !printable('\u{fdd0}'));
    }
}
