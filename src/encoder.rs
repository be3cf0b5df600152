//! Dramatiq's `JSONEncoder`, byte-exact with Python.
//!
//! Python stores `json.dumps(value, separators=(",", ":")).encode("utf-8")`: ASCII only
//! (`\uXXXX` escapes, surrogate pairs beyond the BMP), bare `NaN` / `Infinity` tokens,
//! floats in `repr` form (`1.0`, `1e+16`, `1.5e-07`), integers of any size. Decoding is
//! `json.loads`: it accepts all of that back, plus surrounding whitespace and duplicate
//! keys (the last value wins, at the first key's position, as in a Python dict).
//!
//! One documented loss: a lone surrogate escape (`"\ud800"`), which Python reads into a
//! `str`, cannot live in a Rust `String` and decodes to U+FFFD.

use std::collections::HashMap;

use crate::value::Value;

/// The deepest nesting decoded; deeper input is refused rather than risking the stack
/// (Python's own recursion limit is about as deep).
pub const MAX_DEPTH: usize = 512;

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

/// Dramatiq's `dramatiq.encoder.JSONEncoder`.
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

/// The bytes Python's `json.dumps(value, separators=(",", ":"))` writes.
///
/// # Example
/// ```
/// use dramatiq_results::{encoder::encode, value::Value};
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

const HEX: &[u8; 16] = b"0123456789abcdef";

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

/// Python's `repr(float)`: shortest round-trip digits, fixed notation when the decimal
/// exponent is in `-4..16` (with `.0` for integral values), otherwise `d.ddde±XX`.
/// Non-finite values give `nan`, `inf`, `-inf` (Python's repr, not JSON).
pub fn float_repr(x: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_float_repr(x, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the decimal form of `n` without allocating.
pub(crate) fn write_i64(n: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (m % 10) as u8;
        }
        m /= 10;
        if m == 0 || i == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

/// The shortest decimal digits that read back as a finite, non-zero float, and the decimal
/// exponent of the first: `-1.5e-7` is `-`, `15`, `-7`.
///
/// From Ryū with its small tables rather than core's `{:e}`: core's float formatting links
/// Grisu, Dragon4 and their fixed-precision modes, several times the size. Both give the
/// shortest round-trip digits, nearest the exact value (the test below checks they agree).
struct Shortest {
    negative: bool,
    digits: [u8; 17],
    len: usize,
    exp: i32,
}

impl Shortest {
    fn of(x: f64) -> Shortest {
        let mut buf = ryu::Buffer::new();
        // Ryū writes `123.45`, `0.000123`, `100.0` or `1.5e-7`; read the digits back out.
        let text = buf.format_finite(x).as_bytes();
        let split = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
        let (mantissa, exp_part) = text.split_at(split);
        let mut out = Shortest {
            negative: false,
            digits: [0; 17],
            len: 0,
            exp: 0,
        };
        let (mut int_digits, mut leading_zeros, mut seen_point) = (0i32, 0i32, false);
        for &b in mantissa {
            match b {
                b'-' => out.negative = true,
                b'.' => seen_point = true,
                b'0'..=b'9' => {
                    if !seen_point {
                        int_digits += 1;
                    }
                    if b == b'0' && out.len == 0 {
                        leading_zeros += 1;
                    } else if let Some(slot) = out.digits.get_mut(out.len) {
                        *slot = b;
                        out.len += 1;
                    }
                }
                _ => {}
            }
        }
        while out.len > 1 && out.digits.get(out.len - 1) == Some(&b'0') {
            out.len -= 1;
        }
        let (exp_negative, exp_digits) = match exp_part.get(1..).unwrap_or_default() {
            [b'-', rest @ ..] => (true, rest),
            rest => (false, rest),
        };
        let magnitude = exp_digits
            .iter()
            .fold(0i32, |n, &d| n * 10 + i32::from(d.wrapping_sub(b'0')));
        let exp = if exp_negative { -magnitude } else { magnitude };
        out.exp = int_digits - 1 - leading_zeros + exp;
        out
    }

    fn digits(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or_default()
    }

    /// The digits in plain positional form (`0.00015`, `1500`, `1.5`), no exponent.
    fn write_positional(&self, integral_suffix: &[u8], out: &mut Vec<u8>) {
        let (digits, exp) = (self.digits(), self.exp);
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(integral_suffix);
            } else {
                let (int_part, frac) = digits.split_at(int_len);
                out.extend_from_slice(int_part);
                out.push(b'.');
                out.extend_from_slice(frac);
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(digits);
        }
    }
}

/// Whether `x`'s shortest round-trip digits are `digits` (values 0..=9) with the decimal
/// point at `dp`, i.e. `0.d₁d₂… × 10^dp` (see [`crate::decimal`]).
pub(crate) fn shortest_digits_are(x: f64, digits: &[u8], dp: i32) -> bool {
    let s = Shortest::of(x);
    s.exp + 1 == dp
        && s.digits().len() == digits.len()
        && s.digits()
            .iter()
            .zip(digits)
            .all(|(a, b)| a.wrapping_sub(b'0') == *b)
}

/// An `f64` displayed exactly as Rust's `{}` shows it (`1.5`, `-0`, `NaN`, `inf`, never an
/// exponent), for error messages, without linking core's float formatting.
pub struct Plain(pub f64);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("NaN");
        }
        let sign = if x.is_sign_negative() { "-" } else { "" };
        if x.is_infinite() || x == 0.0 {
            f.write_str(sign)?;
            return f.write_str(if x == 0.0 { "0" } else { "inf" });
        }
        let mut out = Vec::with_capacity(24);
        let shortest = Shortest::of(x);
        if shortest.negative {
            out.push(b'-');
        }
        shortest.write_positional(b"", &mut out);
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

/// [`float_repr`] appended to `out`.
pub(crate) fn write_float_repr(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        return out.extend_from_slice(b"nan");
    }
    if x.is_infinite() {
        return out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
    }
    if x == 0.0 {
        return out.extend_from_slice(if x.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
    }
    // Fast path: integral values below 1e15 are exact as i64 and print as `n.0`.
    if x.fract() == 0.0 && x.abs() < 1e15 {
        write_i64(x as i64, out);
        return out.extend_from_slice(b".0");
    }
    let shortest = Shortest::of(x);
    if shortest.negative {
        out.push(b'-');
    }
    let (digits, exp) = (shortest.digits(), shortest.exp);
    if (-4..16).contains(&exp) {
        shortest.write_positional(b".0", out);
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        out.extend_from_slice(first);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let magnitude = exp.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        write_i64(i64::from(magnitude), out);
    }
}

/// The value Python's `json.loads(bytes.decode("utf-8"))` returns.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    parse(text, Dialect::Python)
}

/// Which flavour of JSON text a parse reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Python's `json.loads`: `NaN` / `Infinity` tokens, integers of any size.
    Python,
    /// JS `JSON.stringify` output with marker strings (see `interchange`): integer tokens
    /// beyond 2^53 are doubles, marker strings in value position are special values.
    Js,
}

/// Parses a whole JSON text into a value.
pub(crate) fn parse(text: &str, dialect: Dialect) -> Result<Value, DecodeError> {
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

/// The largest integer a JS number holds exactly.
const MAX_SAFE: i64 = 9_007_199_254_740_992;

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
                if self.dialect == Dialect::Js {
                    crate::interchange::unmark(s).map_err(|reason| DecodeError::Syntax {
                        position: self.pos,
                        reason,
                    })
                } else {
                    Ok(Value::Str(s))
                }
            }
            Some(b't') if self.eat_literal(b"true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat_literal(b"false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat_literal(b"null") => Ok(Value::Null),
            Some(b'N') if self.dialect == Dialect::Python && self.eat_literal(b"NaN") => {
                Ok(Value::Float(f64::NAN))
            }
            Some(b'I') if self.dialect == Dialect::Python && self.eat_literal(b"Infinity") => {
                Ok(Value::Float(f64::INFINITY))
            }
            Some(b'-')
                if self.dialect == Dialect::Python
                    && self.bytes.get(self.pos + 1) == Some(&b'I') =>
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
            return Ok(Value::Float(
                crate::decimal::parse_f64(token).unwrap_or(f64::NAN),
            ));
        }
        match token.parse::<i64>() {
            Ok(n) if self.dialect == Dialect::Js && !(-MAX_SAFE..=MAX_SAFE).contains(&n) => {
                Ok(Value::Float(n as f64))
            }
            Ok(n) => Ok(Value::Int(n)),
            Err(_) if self.dialect == Dialect::Js => Ok(Value::Float(
                crate::decimal::parse_f64(token).unwrap_or(f64::NAN),
            )),
            Err(_) => Ok(Value::BigInt(token.to_owned())),
        }
    }
}

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

    fn enc(v: &Value) -> String {
        String::from_utf8(encode(v)).unwrap()
    }

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1.0, "1.0"),
            // Exact ties between two shortest neighbours: Python rounds half to even.
            (1_658_206_780_088_562.2, "1658206780088562.2"),
            (-163_559_682_789_802.62, "-163559682789802.62"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.23456, "1.23456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345.6, "123456789012345.6"),
            (1.5e-7, "1.5e-07"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.00012, "0.00012"),
            (100.0, "100.0"),
            (2.5, "2.5"),
            (-1.5e300, "-1.5e+300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (1e22, "1e+22"),
            (9007199254740993.0, "9007199254740992.0"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
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

    /// A deterministic stream of bit patterns (xorshift), covering every exponent.
    fn float_samples() -> impl Iterator<Item = f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let specials = [
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            0.1,
            1e15,
            1e16,
            1e-5,
            1e-4,
            9_007_199_254_740_993.0,
            123_456_789_012_345_680.0,
        ];
        specials.into_iter().chain((0..400_000).map(move |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            f64::from_bits(state)
        }))
    }

    /// Core's `{:e}` digits and exponent: the shortest digits too, but ties round up.
    fn core_shortest(x: f64) -> (String, i32) {
        let core = format!("{x:e}");
        let (mantissa, exp) = core.split_once('e').unwrap();
        let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
        (digits, exp.parse().unwrap())
    }

    #[test]
    fn ryu_digits_match_core_but_round_ties_to_even_as_python_does() {
        for x in float_samples().filter(|x| x.is_finite() && *x != 0.0) {
            let (core, exp) = core_shortest(x);
            let s = Shortest::of(x);
            let ours = std::str::from_utf8(s.digits()).unwrap();
            assert_eq!((s.exp, s.negative), (exp, x < 0.0), "{x:e}");
            if ours != core {
                let (a, b): (u64, u64) = (ours.parse().unwrap(), core.parse().unwrap());
                assert_eq!((b - a, a % 2, ours.len()), (1, 0, core.len()), "{x:e}");
            }
        }
    }

    #[test]
    fn plain_matches_core_display() {
        let edges = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0,
            -1.5,
            30.0,
        ];
        let samples = float_samples().step_by(40).filter(|&x| {
            !x.is_finite() || x == 0.0 || core_shortest(x).0.as_bytes() == Shortest::of(x).digits()
        });
        for x in edges.into_iter().chain(samples) {
            assert_eq!(Plain(x).to_string(), format!("{x}"), "{x:e}");
        }
    }
}
