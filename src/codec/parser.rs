//! Reading JSON text as Python's `json.loads` does, in two dialects.
//!
//! Decoding accepts what Python writes, plus surrounding whitespace and duplicate keys (the
//! last value wins, at the first key's position, as in a Python dict). The JS dialect reads
//! `JSON.stringify` text: its caller passes a hook for strings in value position, which is
//! how the JS text protocol ([`super::interchange`]) gives marker strings their meaning
//! without the parser knowing about it.

use std::collections::HashMap;

use super::decimal::parse_f64;
use super::value::{Value, MAX_DEPTH, MAX_SAFE_INT};

/// Why bytes could not be decoded, after Python's `DecodeError` messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not UTF-8.
    #[error("failed to decode data: invalid UTF-8 at byte {valid_up_to}")]
    InvalidUtf8 {
        /// How many leading bytes were valid.
        valid_up_to: usize,
    },
    /// The text is not JSON as Python's `json.loads` reads it.
    #[error("failed to decode message: {reason} at byte {position}")]
    Syntax {
        /// Byte offset of the problem.
        position: usize,
        /// What was expected or found.
        reason: &'static str,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("failed to decode message: nested deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
}

/// The value Python's `json.loads(bytes.decode("utf-8"))` returns.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    parse(text, Dialect::Python)
}

/// What a string in value position means in the JS dialect: the hook returns the value it
/// stands for, or why it is malformed.
pub type StringHook = fn(String) -> Result<Value, &'static str>;

/// Which flavour of JSON text a parse reads.
#[derive(Debug, Clone, Copy)]
pub enum Dialect {
    /// Python's `json.loads`: `NaN` / `Infinity` tokens, integers of any size.
    Python,
    /// JS `JSON.stringify` output: integer tokens beyond 2^53 are doubles, and every string
    /// in value position goes through the hook (the JS text protocol's marker strings).
    Js(StringHook),
}

impl Dialect {
    fn is_python(self) -> bool {
        matches!(self, Dialect::Python)
    }
}

/// Parses a whole JSON text into a value.
pub fn parse(text: &str, dialect: Dialect) -> Result<Value, DecodeError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        dialect,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.err("Extra data"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    dialect: Dialect,
}

/// Integer tokens in this range stay integers in the JS dialect: `JSON.stringify` wrote
/// them from a number that held them exactly (2^53 itself is exact, though not "safe").
pub(crate) const JS_EXACT: std::ops::RangeInclusive<i64> = -(MAX_SAFE_INT + 1)..=MAX_SAFE_INT + 1;

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError::Syntax {
            position: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, lit: &[u8]) -> bool {
        if self.bytes.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => {
                let s = self.string()?;
                match self.dialect {
                    Dialect::Js(hook) => hook(s).map_err(|reason| DecodeError::Syntax {
                        position: self.pos,
                        reason,
                    }),
                    Dialect::Python => Ok(Value::Str(s)),
                }
            }
            Some(b't') if self.eat_literal(b"true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat_literal(b"false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat_literal(b"null") => Ok(Value::Null),
            Some(b'N') if self.dialect.is_python() && self.eat_literal(b"NaN") => {
                Ok(Value::Float(f64::NAN))
            }
            Some(b'I') if self.dialect.is_python() && self.eat_literal(b"Infinity") => {
                Ok(Value::Float(f64::INFINITY))
            }
            Some(b'-')
                if self.dialect.is_python() && self.bytes.get(self.pos + 1) == Some(&b'I') =>
            {
                if self.eat_literal(b"-Infinity") {
                    Ok(Value::Float(f64::NEG_INFINITY))
                } else {
                    Err(self.err("Expecting value"))
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("Expecting value")),
        }
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Value, DecodeError>,
    ) -> Result<Value, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep { max: MAX_DEPTH });
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn array(&mut self) -> Result<Value, DecodeError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                _ => return Err(self.err("Expecting ',' delimiter")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, DecodeError> {
        self.pos += 1; // '{'
        let mut entries: Vec<(String, Value)> = Vec::new();
        // Built only for large objects, so duplicate-key checks stay linear overall.
        let mut index: Option<HashMap<String, usize>> = None;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Dict(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("Expecting property name enclosed in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("Expecting ':' delimiter"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            let existing = match &index {
                Some(map) => map.get(&key).copied(),
                None => entries.iter().position(|(k, _)| *k == key),
            };
            match existing.and_then(|i| entries.get_mut(i)) {
                Some(slot) => slot.1 = value,
                None => {
                    if let Some(map) = &mut index {
                        map.insert(key.clone(), entries.len());
                    }
                    entries.push((key, value));
                    if index.is_none() && entries.len() > 32 {
                        index = Some(
                            entries
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.clone(), i))
                                .collect(),
                        );
                    }
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Dict(entries));
                }
                _ => return Err(self.err("Expecting ',' delimiter")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("Invalid \\uXXXX escape"))?;
        let mut v = 0u32;
        for d in digits {
            let n = (*d as char)
                .to_digit(16)
                .ok_or_else(|| self.err("Invalid \\uXXXX escape"))?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let mut out: Option<String> = None;
        let mut run_start = self.pos;
        loop {
            let Some(b) = self.peek() else {
                self.pos = start;
                return Err(self.err("Unterminated string starting"));
            };
            match b {
                b'"' => {
                    let run = self.text.get(run_start..self.pos).unwrap_or_default();
                    self.pos += 1;
                    return Ok(match out {
                        Some(mut s) => {
                            s.push_str(run);
                            s
                        }
                        None => run.to_owned(),
                    });
                }
                b'\\' => {
                    let s = out.get_or_insert_with(String::new);
                    s.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
                    self.pos += 1;
                    let esc = self.peek().ok_or_else(|| self.err("Unterminated string"))?;
                    self.pos += 1;
                    let ch = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let unit = self.hex4()?;
                            if (0xd800..0xdc00).contains(&unit)
                                && self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let low = self.hex4()?;
                                if (0xdc00..0xe000).contains(&low) {
                                    let c = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                                    char::from_u32(c).unwrap_or('\u{fffd}')
                                } else {
                                    // Not a pair: the high surrogate stands alone.
                                    self.pos = save;
                                    '\u{fffd}'
                                }
                            } else {
                                char::from_u32(unit).unwrap_or('\u{fffd}')
                            }
                        }
                        _ => {
                            self.pos -= 2;
                            return Err(self.err("Invalid \\escape"));
                        }
                    };
                    if let Some(s) = out.as_mut() {
                        s.push(ch);
                    }
                    run_start = self.pos;
                }
                0..=0x1f => return Err(self.err("Invalid control character")),
                _ => self.pos += 1,
            }
        }
    }

    fn number(&mut self) -> Result<Value, DecodeError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            _ => {
                self.pos = start;
                return Err(self.err("Expecting value"));
            }
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            is_float = true;
            self.pos += 1;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                is_float = true;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            } else {
                // Python stops the number before a dangling exponent.
                self.pos = save;
            }
        }
        let token = self.text.get(start..self.pos).unwrap_or_default();
        if is_float {
            return Ok(Value::Float(parse_f64(token).unwrap_or(f64::NAN)));
        }
        match token.parse::<i64>() {
            Ok(n) if !self.dialect.is_python() && !JS_EXACT.contains(&n) => {
                Ok(Value::Float(n as f64))
            }
            Ok(n) => Ok(Value::Int(n)),
            Err(_) if !self.dialect.is_python() => {
                Ok(Value::Float(parse_f64(token).unwrap_or(f64::NAN)))
            }
            Err(_) => Ok(Value::BigInt(token.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::writer::encode;

    fn enc(v: &Value) -> String {
        String::from_utf8(encode(v)).unwrap()
    }

    #[test]
    fn decode_reads_python_output() {
        let v = decode(
            br#" {"a":[1,2.5,NaN,-Infinity,Infinity,1180591620717411303424,-0,"\ud83d\ude00"]} "#,
        )
        .unwrap();
        let list = v.get("a").unwrap();
        let Value::List(items) = list else { panic!() };
        assert_eq!(items[0], Value::Int(1));
        assert_eq!(items[5], Value::BigInt("1180591620717411303424".into()));
        assert_eq!(items[6], Value::Int(0));
        assert_eq!(items[7], Value::Str("\u{1F600}".into()));
        assert!(matches!(items[2], Value::Float(x) if x.is_nan()));
    }

    #[test]
    fn duplicate_keys_keep_first_position_last_value() {
        let v = decode(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(enc(&v), r#"{"a":3,"b":2}"#);
        let many: String = (0..100).map(|i| format!("\"k{i}\":{i},")).collect();
        let v = decode(format!("{{{many}\"k5\":-1}}").as_bytes()).unwrap();
        assert_eq!(v.get("k5"), Some(&Value::Int(-1)));
        let Value::Dict(entries) = v else { panic!() };
        assert_eq!(entries.len(), 100);
        assert_eq!(entries[5].0, "k5");
    }

    #[test]
    fn lone_surrogates_become_replacement_chars() {
        assert_eq!(
            decode(br#""\ud800x""#).unwrap(),
            Value::Str("\u{fffd}x".into())
        );
        assert_eq!(
            decode(br#""\udc00""#).unwrap(),
            Value::Str("\u{fffd}".into())
        );
        assert_eq!(
            decode(br#""\ud800\u0041""#).unwrap(),
            Value::Str("\u{fffd}A".into())
        );
    }

    #[test]
    fn refuses_what_python_refuses() {
        for bad in [
            &b""[..],
            b"not json",
            b"[1,]",
            b"{'a':1}",
            b"[1] x",
            b"\"a\x01\"",
            b"01",
            b"[",
            b"\"abc",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"{\"a\" 1}",
            b"\xef\xbb\xbf1",
            b"-",
            b"nul",
            b"[1 2]",
            b"{\"a\":1,}",
            b"-Inf",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(
            decode(b"\xff\xfe"),
            Err(DecodeError::InvalidUtf8 { valid_up_to: 0 })
        ));
        assert_eq!(decode(b"1e5").unwrap(), Value::Float(100000.0));
        assert_eq!(decode(b"1e400").unwrap(), Value::Float(f64::INFINITY));
    }

    #[test]
    fn depth_is_limited() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(decode(ok.as_bytes()).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            decode(deep.as_bytes()),
            Err(DecodeError::TooDeep { max: MAX_DEPTH })
        );
        let deep = "{\"a\":".repeat(200_000);
        assert!(decode(deep.as_bytes()).is_err());
    }
}
