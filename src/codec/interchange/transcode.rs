//! The store fast path: the JSON text `JSON.stringify` wrote → the bytes Python's
//! `json.dumps` writes for the same value, in one pass and without building a tree.
//!
//! The two texts differ in few places, so most bytes are copied as they are:
//! - non-ASCII characters, which Python escapes as `\uXXXX` (surrogate pairs beyond the BMP),
//!   and DEL (`\u007f`), which JS leaves raw;
//! - floats outside Python's fixed-notation range (`1e-05`, not `0.00001`; `1e-07`, not
//!   `1e-7`) and integers beyond 2^53, which JS only holds as doubles;
//! - the marker strings of [`super`] (the JS text protocol) (NaN, ±Infinity, -0, BigInt), which are
//!   rare and take the tree path for their one token.
//!
//! The output equals `writer::encode(interchange::from_js_json(text))` for every text
//! `JSON.stringify` can write, with one improvement: a lone surrogate escape (`"\ud800"`,
//! which a JS string may hold) is written as Python writes that string, instead of becoming
//! U+FFFD. Input of another shape gives an error or safe, unspecified bytes, never a panic.

use super::InterchangeError;
use crate::codec::decimal::parse_f64;
use crate::codec::float::write_float_repr;
use crate::codec::parser::{DecodeError, JS_EXACT};
use crate::codec::value::MAX_DEPTH;
use crate::codec::writer::{encode_into, HEX};

/// Integers with at most this many digits are exact in a double, so JS wrote them exactly.
const EXACT_DIGITS: usize = 15;

fn syntax(position: usize, reason: &'static str) -> InterchangeError {
    InterchangeError(DecodeError::Syntax { position, reason })
}

/// [`python_bytes`] of a text the caller owns: when it already is Python's bytes (most
/// texts), they are returned without a copy.
pub fn python_bytes_owned(text: String) -> Result<Vec<u8>, InterchangeError> {
    python_bytes_checked(text).map(|(bytes, _)| bytes)
}

/// What the check of a `JSON.stringify` text found, besides Python's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Python's bytes differ from the text: it was re-spelt.
    Rewritten,
    /// Python's bytes are the text itself, so it is pure ASCII (one byte per UTF-16 unit).
    /// `plain` when `JSON.parse` also reads it exactly as a reader of the stored bytes
    /// would (`super::plain_json` of them is `Some`): no possible exception envelope at the
    /// top. A store that keeps the host's text may then answer a read with `JSON.parse`
    /// alone, skipping the read-side check and the copy back out.
    Verbatim {
        /// `JSON.parse(text)` is the value a read of these bytes decodes to.
        plain: bool,
    },
}

/// [`python_bytes_owned`], and whether the bytes are the text itself ([`Form`]), found in
/// the same pass.
pub fn python_bytes_checked(text: String) -> Result<(Vec<u8>, Form), InterchangeError> {
    python_bytes_checked_utf8(text.into_bytes())
}

/// [`python_bytes_checked`] of a text as UTF-8 bytes the host wrote, not yet validated: a
/// text kept as it is is ASCII (the check admits nothing else), so only a text to re-spell
/// is validated, which spares the common case a pass.
pub fn python_bytes_checked_utf8(bytes: Vec<u8>) -> Result<(Vec<u8>, Form), InterchangeError> {
    python_bytes_checked_as(bytes, Origin::Any)
}

/// What the host knows of a text it hands to [`python_bytes_checked_as`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Any `JSON.stringify` text, markers included: every token is looked at.
    Any,
    /// `JSON.stringify`'s text of a value the JS walk found plain: no marker string, nesting
    /// far under [`MAX_DEPTH`], and every number one JS and Python spell alike (an integer
    /// under 1e15 in magnitude, or a fraction from 0.001 up to 1e15). Then only its bytes
    /// decide, which a word-at-a-time pass reads several times faster than the token scan
    /// (see [`verbatim_bytes`]).
    PlainNumbersAlike,
}

/// [`python_bytes_checked_utf8`] of a text whose [`Origin`] the host vouches for.
pub fn python_bytes_checked_as(
    bytes: Vec<u8>,
    origin: Origin,
) -> Result<(Vec<u8>, Form), InterchangeError> {
    if let Some(plain) = verbatim_as(&bytes, origin) {
        return Ok((bytes, Form::Verbatim { plain }));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        InterchangeError(DecodeError::InvalidUtf8 {
            valid_up_to: e.utf8_error().valid_up_to(),
        })
    })?;
    python_bytes(&text).map(|bytes| (bytes, Form::Rewritten))
}

/// Whether the UTF-8 `bytes` of a text of `origin` already are Python's bytes, and then
/// whether `JSON.parse` alone reads them as a read of them decodes them (`Form::Verbatim`'s
/// `plain`): the verdict of [`python_bytes_checked_as`] without taking the bytes, for a
/// caller that keeps the host's text and needs no bytes of its own when they are.
pub fn verbatim_as(bytes: &[u8], origin: Origin) -> Option<bool> {
    match origin {
        Origin::Any => verbatim_text(bytes),
        Origin::PlainNumbersAlike => verbatim_bytes(bytes),
    }
}

/// Python's stored bytes for the value whose `JSON.stringify` text (with marker strings) is
/// `text`.
pub fn python_bytes(text: &str) -> Result<Vec<u8>, InterchangeError> {
    let bytes = text.as_bytes();
    if verbatim_text(bytes).is_some() {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16 + 8);
    // One bit per open container: is it an object? Keys are never marker strings.
    let mut in_object: Vec<bool> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' | b'[' => {
                in_object.push(b == b'{');
                if in_object.len() > MAX_DEPTH {
                    return Err(InterchangeError(DecodeError::TooDeep { max: MAX_DEPTH }));
                }
                expect_key = b == b'{';
                out.push(b);
                i += 1;
            }
            b'}' | b']' => {
                in_object.pop();
                expect_key = false;
                out.push(b);
                i += 1;
            }
            b',' => {
                expect_key = in_object.last() == Some(&true);
                out.push(b);
                i += 1;
            }
            b':' => {
                expect_key = false;
                out.push(b);
                i += 1;
            }
            b'"' => {
                if !expect_key && bytes.get(i + 1..i + 13) == Some(br"\u0000\u0001") {
                    let end = string_end(bytes, i)?;
                    let token = text
                        .get(i..end)
                        .ok_or_else(|| syntax(i, "Invalid string"))?;
                    let value = super::from_js_json(token)?;
                    encode_into(&value, &mut out);
                    i = end;
                } else {
                    i = write_string(text, i, &mut out)?;
                }
            }
            b'-' | b'0'..=b'9' => i = write_number(text, i, &mut out)?,
            b't' | b'f' | b'n' => {
                let literal = literal_at(bytes, i).ok_or_else(|| syntax(i, "Expecting value"))?;
                out.extend_from_slice(literal);
                i += literal.len();
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => return Err(syntax(i, "Expecting value")),
        }
    }
    if !in_object.is_empty() || out.is_empty() {
        return Err(syntax(bytes.len(), "Expecting value"));
    }
    Ok(out)
}

/// The literal (`true`, `false`, `null`) at `i`, whose first byte is `t`, `f` or `n`.
fn literal_at(bytes: &[u8], i: usize) -> Option<&'static [u8]> {
    let literal: &'static [u8] = match bytes.get(i)? {
        b't' => b"true",
        b'f' => b"false",
        _ => b"null",
    };
    (bytes.get(i..i + literal.len()) == Some(literal)).then_some(literal)
}

/// Whether `JSON.stringify`'s text is byte for byte what Python writes, as it is for most
/// values: only ASCII, no marker string, no number JS and Python spell differently (an
/// exponent, a fraction under 1e-4, an integer long enough to be inexact), nesting within
/// [`MAX_DEPTH`]. One tight pass with no writes, so the common case is a copy; anything
/// else (including text that is not `JSON.stringify`'s) takes the full transcoder, which
/// also reports errors. `Some(plain)` when it is, `plain` saying whether `plain_json` would
/// pass the bytes too: for such a text the only difference is a string directly inside a
/// top-level object that is `__t` or holds an escape (a possible exception envelope), which
/// the same pass notes at no cost.
fn verbatim_text(bytes: &[u8]) -> Option<bool> {
    let top_object = bytes.first() == Some(&b'{');
    let mut plain = true;
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let (end, escaped) = verbatim_string_end(bytes, i)?;
                if top_object && depth == 1 {
                    plain &= !escaped && (end - i != 5 || bytes.get(i..end) != Some(b"\"__t\""));
                }
                i = end;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b',' | b':' => i += 1,
            b't' | b'f' | b'n' => i += literal_at(bytes, i)?.len(),
            b'-' | b'0'..=b'9' => i = verbatim_number_end(bytes, i)?,
            _ => return None,
        }
    }
    (depth == 0 && !bytes.is_empty()).then_some(plain)
}

/// [`verbatim_text`] for a text of [`Origin::PlainNumbersAlike`]: its numbers and markers
/// are settled, so what is left is its bytes: printable ASCII only (JS leaves non-ASCII and
/// DEL raw, Python escapes them), and no backslash (an escape to judge: then the token scan
/// decides). Eight bytes at a time, a word with none of the bytes of interest costs a few
/// operations; whole-text words beat per-string ones because JSON strings are short.
/// `plain` is conservative: false when a `"__t"` string stands anywhere in a top-level
/// object, where `verbatim_text` looks only at the object's own level.
fn verbatim_bytes(bytes: &[u8]) -> Option<bool> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = ONES * 0x80;
    // Whether any byte of `w` is zero (exact as a yes/no, not per byte).
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS != 0;
    let top_object = bytes.first() == Some(&b'{');
    let underscores = ONES * u64::from(b'_');
    let mut plain = true;
    let mut at = 0;
    // A byte that needs a look: under 0x20 or over 0x7e (both exact tests, the second
    // because a byte that carries has its own top bit set), a backslash, or (in a top-level
    // object) an underscore, which could start `__t`.
    let mut look = |at: usize, b: u8| -> Result<(), Option<bool>> {
        match b {
            b'\\' => Err(verbatim_text(bytes)),
            0..=0x1f | 0x7f..=0xff => Err(None),
            b'_' if top_object && at > 0 && bytes.get(at - 1..at + 4) == Some(b"\"__t\"") => {
                plain = false;
                Ok(())
            }
            _ => Ok(()),
        }
    };
    for word in bytes.chunks_exact(8) {
        let w = u64::from_le_bytes(word.try_into().ok()?);
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0;
        let high = (w.wrapping_add(ONES) | w) & HIGHS != 0;
        let special =
            has_zero(w ^ (ONES * u64::from(b'\\'))) || (top_object && has_zero(w ^ underscores));
        if control || high || special {
            for (k, &b) in word.iter().enumerate() {
                if let Err(verdict) = look(at + k, b) {
                    return verdict;
                }
            }
        }
        at += 8;
    }
    for (k, &b) in bytes.get(at..).unwrap_or_default().iter().enumerate() {
        if let Err(verdict) = look(at + k, b) {
            return verdict;
        }
    }
    (!bytes.is_empty()).then_some(plain)
}

/// [`verbatim_text`] over a text that arrives in pieces (a large value's `JSON.stringify`
/// text, read through a small buffer): feed every piece in order, then
/// [`AlreadyPythonScan::finish`] says what `verbatim_text` says of them all together. Then
/// the text itself is Python's bytes, and a large value need not enter wasm memory whole.
#[derive(Debug, Default)]
pub struct AlreadyPythonScan {
    failed: bool,
    seen: bool,
    depth: usize,
    /// In a string token: where its escape stands, and whether its first byte is next.
    string: Option<(Escape, bool)>,
    /// A number or literal token cut by the end of the last piece.
    carry: Vec<u8>,
}

/// Where a string's escape stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After a backslash; `true` when it was the string's first byte.
    Backslash(bool),
    /// After `\u`: how many hex digits, which ones, and whether the escape came first.
    Hex(usize, [u8; 4], bool),
}

impl AlreadyPythonScan {
    /// A scan at the start of the text.
    pub fn new() -> Self {
        AlreadyPythonScan::default()
    }

    /// Reads the next piece.
    pub fn feed(&mut self, piece: &[u8]) {
        if self.failed || piece.is_empty() {
            return;
        }
        self.seen = true;
        if self.carry.is_empty() {
            self.scan(piece, false);
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(piece);
            self.scan(&joined, false);
        }
    }

    /// Whether `verbatim_text` passes the whole text.
    pub fn finish(mut self) -> bool {
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            self.scan(&carry, true);
        }
        !self.failed && self.seen && self.string.is_none() && self.depth == 0
    }

    fn scan(&mut self, bytes: &[u8], last: bool) {
        let mut i = 0;
        while i < bytes.len() {
            if let Some((escape, first)) = &mut self.string {
                // One byte of a string token (see `verbatim_string_end`).
                let Some(&b) = bytes.get(i) else { break };
                i += 1;
                let at_start = std::mem::replace(first, false);
                match *escape {
                    Escape::None => match b {
                        b'"' => self.string = None,
                        b'\\' => *escape = Escape::Backslash(at_start),
                        0x20..=0x7e => {
                            // The rest of the plain run in one tight scan.
                            let run = bytes
                                .get(i..)
                                .unwrap_or_default()
                                .iter()
                                .position(|&c| {
                                    c == b'"' || c == b'\\' || !(0x20..=0x7e).contains(&c)
                                })
                                .unwrap_or(bytes.len() - i);
                            i += run;
                        }
                        _ => return self.fail(),
                    },
                    Escape::Backslash(at) => match b {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => *escape = Escape::None,
                        b'u' => *escape = Escape::Hex(0, [0; 4], at),
                        _ => return self.fail(),
                    },
                    Escape::Hex(n, mut hex, at) => {
                        if let Some(h) = hex.get_mut(n) {
                            *h = b;
                        }
                        if n + 1 < 4 {
                            *escape = Escape::Hex(n + 1, hex, at);
                            continue;
                        }
                        let control = hex.starts_with(b"00")
                            && matches!(hex.get(2), Some(b'0' | b'1'))
                            && matches!(hex.get(3), Some(b'0'..=b'9' | b'a'..=b'f'));
                        if !control || (&hex == b"0000" && at) {
                            return self.fail();
                        }
                        *escape = Escape::None;
                    }
                }
                continue;
            }
            let Some(&b) = bytes.get(i) else { break };
            let rest = bytes.get(i..).unwrap_or_default();
            match b {
                b'"' => {
                    self.string = Some((Escape::None, true));
                    i += 1;
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return self.fail();
                    }
                    i += 1;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    i += 1;
                }
                b',' | b':' => i += 1,
                b't' | b'f' | b'n' => {
                    let literal: &[u8] = match b {
                        b't' => b"true",
                        b'f' => b"false",
                        _ => b"null",
                    };
                    if !last && rest.len() < literal.len() && literal.starts_with(rest) {
                        self.carry = rest.to_vec();
                        return;
                    }
                    match literal_at(bytes, i) {
                        Some(l) => i += l.len(),
                        None => return self.fail(),
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let extent = rest
                        .iter()
                        .position(|c| !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                        .unwrap_or(rest.len());
                    if !last && extent == rest.len() {
                        self.carry = rest.to_vec();
                        return;
                    }
                    match verbatim_number_end(bytes, i) {
                        Some(end) => i = end,
                        None => return self.fail(),
                    }
                }
                _ => return self.fail(),
            }
        }
    }

    fn fail(&mut self) {
        self.failed = true;
        self.carry = Vec::new();
    }
}

/// The end of the string token at `start` if Python writes it as it is: ASCII only, no
/// marker, and only the escapes Python writes the same way (`\"`, `\\`, `\b` `\f` `\n`
/// `\r` `\t`, and `\u00XX` in lowercase for other control characters); and whether it
/// holds an escape.
fn verbatim_string_end(bytes: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut i = start + 1;
    let mut escaped = false;
    loop {
        match *bytes.get(i)? {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => match *bytes.get(i + 1)? {
                b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => {
                    escaped = true;
                    i += 2;
                }
                b'u' => {
                    let hex = bytes.get(i + 2..i + 6)?;
                    // A control character other than the named ones; not `\u0000\u0001…`,
                    // the marker prefix, which the full transcoder decodes.
                    let control = hex.starts_with(b"00")
                        && matches!(hex.get(2), Some(b'0' | b'1'))
                        && hex
                            .get(3)
                            .is_some_and(|h| matches!(h, b'0'..=b'9' | b'a'..=b'f'));
                    if !control || (hex == b"0000" && i == start + 1) {
                        return None;
                    }
                    escaped = true;
                    i += 6;
                }
                _ => return None,
            },
            0x20..=0x7e => i += 1,
            _ => return None,
        }
    }
}

/// The end of the number token at `start` if Python writes it as it is: JSON's grammar
/// without an exponent (`1e-7` is Python's `1e-07`), not a fraction under 1e-4 (which Python
/// writes with an exponent), and not an integer long enough to be inexact in a double.
fn verbatim_number_end(bytes: &[u8], start: usize) -> Option<usize> {
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let int_start = start + usize::from(bytes.get(start) == Some(&b'-'));
    let int_end = match bytes.get(int_start)? {
        b'0' => int_start + 1,
        b'1'..=b'9' => digits_from(int_start + 1),
        _ => return None,
    };
    let mut end = int_end;
    if bytes.get(end) == Some(&b'.') {
        let frac_end = digits_from(end + 1);
        if frac_end == end + 1 {
            return None;
        }
        if bytes.get(int_start..int_end) == Some(b"0")
            && bytes.get(end + 1..end + 4) == Some(b"000")
        {
            return None;
        }
        end = frac_end;
    } else if int_end - int_start > EXACT_DIGITS
        || (int_start > start && int_end - int_start == 1 && bytes.get(int_start) == Some(&b'0'))
    {
        // Too long to be exact, or `-0`, which Python's int writes as `0`.
        return None;
    }
    match bytes.get(end) {
        Some(b'e' | b'E' | b'.' | b'0'..=b'9') => None,
        _ => Some(end),
    }
}

/// The index just past the string token starting at `start` (its opening quote).
fn string_end(bytes: &[u8], start: usize) -> Result<usize, InterchangeError> {
    let mut i = start + 1;
    loop {
        match bytes.get(i) {
            None => return Err(syntax(start, "Unterminated string starting")),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
        }
    }
}

fn push_u_escape(unit: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\u");
    for shift in [12u32, 8, 4, 0] {
        out.push(
            HEX.get(((unit >> shift) & 0xf) as usize)
                .copied()
                .unwrap_or(b'0'),
        );
    }
}

/// Writes one code unit (or, for `\uXXXX` escapes, one UTF-16 unit) as Python escapes it.
fn write_unit(unit: u32, out: &mut Vec<u8>) {
    match unit {
        0x22 => out.extend_from_slice(b"\\\""),
        0x5c => out.extend_from_slice(b"\\\\"),
        0x0a => out.extend_from_slice(b"\\n"),
        0x0d => out.extend_from_slice(b"\\r"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        0x20..=0x7e => out.push(unit as u8),
        _ => push_u_escape(unit, out),
    }
}

/// Bytes a string can copy as they are: printable ASCII but `"` and `\`.
fn verbatim(b: u8) -> bool {
    matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\'
}

/// Re-escapes the JSON string token starting at `start` (its opening quote) with Python's
/// `ensure_ascii` rules, in one pass; returns the index just past its closing quote.
fn write_string(text: &str, start: usize, out: &mut Vec<u8>) -> Result<usize, InterchangeError> {
    let bytes = text.as_bytes();
    let bad = |at: usize| syntax(at, "Invalid string");
    out.push(b'"');
    let mut i = start + 1;
    loop {
        let run = i;
        while bytes.get(i).copied().is_some_and(verbatim) {
            i += 1;
        }
        out.extend_from_slice(bytes.get(run..i).unwrap_or_default());
        let Some(&b) = bytes.get(i) else {
            return Err(syntax(start, "Unterminated string starting"));
        };
        match b {
            b'"' => {
                out.push(b'"');
                return Ok(i + 1);
            }
            b'\\' => {
                let unit = match bytes.get(i + 1).copied().ok_or_else(|| bad(i))? {
                    b'u' => {
                        let hex = text.get(i + 2..i + 6).ok_or_else(|| bad(i))?;
                        if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                            return Err(bad(i));
                        }
                        i += 4;
                        u32::from_str_radix(hex, 16).map_err(|_| bad(i))?
                    }
                    b'"' => 0x22,
                    b'\\' => 0x5c,
                    b'/' => 0x2f,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => 0x0a,
                    b'r' => 0x0d,
                    b't' => 0x09,
                    _ => return Err(bad(i)),
                };
                write_unit(unit, out);
                i += 2;
            }
            0x7f => {
                write_unit(0x7f, out);
                i += 1;
            }
            0x80.. => {
                let ch = text
                    .get(i..)
                    .and_then(|s| s.chars().next())
                    .ok_or_else(|| bad(i))?;
                let c = ch as u32;
                if c < 0x10000 {
                    push_u_escape(c, out);
                } else {
                    let v = c - 0x10000;
                    push_u_escape(0xd800 | (v >> 10), out);
                    push_u_escape(0xdc00 | (v & 0x3ff), out);
                }
                i += ch.len_utf8();
            }
            // A raw control character: not JSON.stringify output.
            _ => return Err(bad(i)),
        }
    }
}

/// Writes the number token starting at `start` as Python writes the same value, in one
/// pass over it; returns the index just past it. The token must follow JSON's grammar,
/// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn write_number(text: &str, start: usize, out: &mut Vec<u8>) -> Result<usize, InterchangeError> {
    let bytes = text.as_bytes();
    let bad = || syntax(start, "Invalid number");
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    i = match bytes.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits_from(i + 1),
        _ => return Err(bad()),
    };
    let int_len = i - int_start;
    let mut fraction_zeros = None;
    if bytes.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        i = digits_from(frac_start);
        if i == frac_start {
            return Err(bad());
        }
        let zeros = bytes.get(frac_start..i).unwrap_or_default();
        fraction_zeros = Some(zeros.iter().take_while(|&&b| b == b'0').count());
    }
    let mut exponent = false;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        exponent = true;
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        i = digits_from(i);
        if i == exp_start {
            return Err(bad());
        }
    }
    // A number runs into the next token only in malformed text ("01", "1.5.2").
    if matches!(
        bytes.get(i),
        Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
    ) {
        return Err(bad());
    }
    let token = text.get(start..i).ok_or_else(bad)?;
    let same = match (exponent, fraction_zeros) {
        // Integers: JS wrote them exactly up to 2^53 (the JS dialect's integer range).
        (false, None) => {
            int_len <= EXACT_DIGITS || token.parse::<i64>().is_ok_and(|n| JS_EXACT.contains(&n))
        }
        // Both languages print the shortest round-trip digits; they agree on the fixed
        // notation whenever the decimal exponent is in Python's range, -4..16.
        (false, Some(zeros)) => {
            if bytes.get(int_start) == Some(&b'0') {
                zeros <= 3
            } else {
                int_len <= 16
            }
        }
        (true, _) => false,
    };
    if same {
        out.extend_from_slice(token.as_bytes());
    } else {
        write_float_repr(parse_f64(token).ok_or_else(bad)?, out);
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::interchange::from_js_json;
    use crate::codec::interchange::plain_json;
    use crate::codec::writer::encode;

    fn tree_path(text: &str) -> Vec<u8> {
        encode(&from_js_json(text).unwrap())
    }

    fn check(text: &str) {
        let fast = python_bytes(text).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&tree_path(text)),
            "for {text}"
        );
    }

    /// What [`AlreadyPythonScan`] says of `bytes` cut at `cuts`.
    fn scan_in_pieces(bytes: &[u8], cuts: &[usize]) -> bool {
        let mut scan = AlreadyPythonScan::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([bytes.len()].iter()) {
            scan.feed(&bytes[at..cut]);
            at = cut;
        }
        scan.finish()
    }

    #[test]
    fn already_python_in_pieces_decides_as_in_one() {
        let mut cases: Vec<Vec<u8>> = [
            r#"{"a":[1,2.5,-3,0.001,0.0001,true,false,null,"x\"y\\z\n\u001f"],"b":{}}"#,
            r#""\u0000\u0001n1""#,
            r#"["\u0000x","\u0001"]"#,
            r#""\u00e9""#,
            r#""\u007f""#,
            r#""\u001F""#,
            r#"[1e5,1E5,1.5e-7,-0,0,-0.5,00,01,1.,.5,-,--1]"#,
            "1234567890123456",
            "123456789012345",
            "[123456789012345,-123456789012345]",
            "0.00001",
            "0.0001",
            "[tru]",
            "[true,fals]",
            "nul",
            "null",
            "true",
            "\"unterminated",
            "\"ends in \\",
            "\"\\u00",
            "[[[]]]",
            "[[[]]",
            "[]]",
            "",
            " ",
            "\"tab\there\"",
            "\"é\"",
            "[\"\\q\"]",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        cases.push("[".repeat(MAX_DEPTH + 1).into_bytes());
        cases.push(format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)).into_bytes());
        cases.push(format!("\"{}\"", "x".repeat(3000)).into_bytes());
        crate::codec::interchange::cut_checks::agrees_at_every_cut(
            &cases,
            |b| verbatim_text(b).is_some(),
            scan_in_pieces,
        );
    }

    #[test]
    fn numbers_take_python_form() {
        for text in [
            "0",
            "-7",
            "42",
            "1.5",
            "-0.25",
            "0.0001",
            "0.00001",
            "1e-7",
            "1.5e-7",
            "1e+21",
            "123456789012345680000",
            "9007199254740992",
            "9007199254740993",
            "-9007199254740993",
            "1234567890123456.8",
            "5e-324",
            "1.7976931348623157e+308",
            "100000000000000000000",
            "[1,2.5,-3e-5]",
        ] {
            check(text);
        }
        assert_eq!(python_bytes("0.00001").unwrap(), b"1e-05");
        assert_eq!(python_bytes("1e+21").unwrap(), b"1e+21");
        assert_eq!(python_bytes("10000000000000000").unwrap(), b"1e+16");
    }

    #[test]
    fn strings_take_python_escapes() {
        for text in [
            r#""plain""#,
            r#""é ü 漢 😀""#,
            "\"del \u{7f}\"",
            r#""\"quoted\" \\ back \/ slash \b\f\n\r\t \u001f \u0041""#,
            r#"{"é":"\u00e9","k":[true,false,null]}"#,
        ] {
            check(text);
        }
        assert_eq!(python_bytes("\"😀\"").unwrap(), br#""\ud83d\ude00""#);
    }

    #[test]
    fn markers_become_their_values_in_value_position_only() {
        for text in [
            r#""\u0000\u0001NaN""#,
            r#"["\u0000\u0001Infinity","\u0000\u0001-Infinity","\u0000\u0001-0"]"#,
            r#"{"\u0000\u0001NaN":"\u0000\u0001n123456789012345678901234567890"}"#,
            r#""\u0000\u0001s\u0000\u0001NaN""#,
        ] {
            check(text);
        }
        assert_eq!(python_bytes(r#"["\u0000\u0001NaN"]"#).unwrap(), b"[NaN]");
        assert!(python_bytes(r#""\u0000\u0001bogus""#).is_err());
    }

    #[test]
    fn lone_surrogates_are_kept_as_python_writes_them() {
        assert_eq!(python_bytes(r#""a\ud800b""#).unwrap(), br#""a\ud800b""#);
    }

    #[test]
    fn the_copy_path_takes_what_python_writes_the_same_and_only_that() {
        for same in [
            r#"{"a":[1,-2,3.25,0.001,123456789012345,true,false,null],"b":"x\"\\\n\u001f"}"#,
            "[]",
            "{}",
            r#""plain""#,
            "0",
            "-0.5",
        ] {
            assert!(verbatim_text(same.as_bytes()).is_some(), "{same}");
            check(same);
        }
        for different in [
            r#""caf\u00e9""#,
            "\"caf\u{e9}\"",
            "\"\u{7f}\"",
            "0.00001",
            "1e-7",
            "1e+21",
            "1234567890123456",
            r#""\u0000\u0001NaN""#,
            r#""\/""#,
            r#""\u0041""#,
        ] {
            assert!(verbatim_text(different.as_bytes()).is_none(), "{different}");
            check(different);
        }
        // Not JSON.stringify's (it writes -0 as 0), but not to be copied either.
        assert!(verbatim_text(b"-0").is_none());
        // A lone surrogate goes the full way, which writes it as Python does (see above).
        assert!(verbatim_text(br#""\ud800""#).is_none());
    }

    #[test]
    fn a_verbatim_text_is_plain_exactly_when_plain_json_passes_it() {
        for text in [
            r#"{"a":1,"b":"__t"}"#,
            r#"{"__t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}"#,
            r#"{"x":1,"__t":2}"#,
            r#"{"a":"x\ny"}"#,
            r#"{"a":{"__t":1,"b":"\""}}"#,
            r#"[{"__t":"dramatiq.results.Result"}]"#,
            r#"["__t"]"#,
            r#""__t""#,
            r#"{"__tt":1,"_t":2}"#,
            "{}",
            "42",
        ] {
            let plain = verbatim_text(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(plain, plain_json(text.as_bytes()).is_some(), "{text}");
            assert_eq!(
                python_bytes_checked(text.to_owned()).ok(),
                Some((text.as_bytes().to_vec(), Form::Verbatim { plain })),
                "{text}"
            );
        }
        assert_eq!(
            python_bytes_checked("1e-7".to_owned()).ok(),
            Some((b"1e-07".to_vec(), Form::Rewritten))
        );
        // Unvalidated bytes: what is not kept as it is must be UTF-8.
        assert_eq!(
            python_bytes_checked_utf8("\"é\"".as_bytes().to_vec()).ok(),
            Some((br#""\u00e9""#.to_vec(), Form::Rewritten))
        );
        assert!(python_bytes_checked_utf8(b"\"\xff\"".to_vec()).is_err());
    }

    #[test]
    fn the_byte_only_check_sees_every_byte_and_every_top_level_t() {
        // Each byte of interest at every offset around the eight-byte words.
        for at in 0..20 {
            let pad = "a".repeat(at);
            for (odd, verbatim) in [("é", false), ("\u{7f}", false), ("~", true)] {
                let text = format!(r#"["{pad}{odd}{pad}"]"#);
                let quick = verbatim_bytes(text.as_bytes());
                assert_eq!(quick.is_some(), verbatim, "{text:?}");
                assert_eq!(quick, verbatim_text(text.as_bytes()), "{text:?}");
            }
            // A backslash hands the text to the token scan, escapes and all.
            for escape in [r"\n", r"\u0000", r"\u001f", r"\ud800"] {
                let text = format!(r#"{{"{pad}":"{escape}{pad}"}}"#);
                assert_eq!(
                    verbatim_bytes(text.as_bytes()),
                    verbatim_text(text.as_bytes()),
                    "{text}"
                );
            }
            let key = format!(r#"{{"{pad}":1,"__t":2}}"#);
            assert_eq!(verbatim_bytes(key.as_bytes()), Some(false), "{key}");
            let value = format!(r#"{{"{pad}":"__t"}}"#);
            assert_eq!(verbatim_bytes(value.as_bytes()), Some(false), "{value}");
            let near = format!(r#"{{"{pad}":"__tt","_t":"___t"}}"#);
            assert_eq!(verbatim_bytes(near.as_bytes()), Some(true), "{near}");
            // Deeper than the top level: the check says not plain where the scan says plain
            // (conservative), never the other way.
            let deep = format!(r#"{{"{pad}":{{"__t":1}}}}"#);
            assert_eq!(verbatim_bytes(deep.as_bytes()), Some(false), "{deep}");
            assert_eq!(verbatim_text(deep.as_bytes()), Some(true), "{deep}");
        }
        // Not in an object at the top: `__t` means nothing there.
        assert_eq!(verbatim_bytes(br#"["__t"]"#), Some(true));
        assert_eq!(verbatim_bytes(b""), None);
    }

    #[test]
    fn depth_and_garbage_are_errors_not_panics() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(python_bytes(&deep).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(python_bytes(&ok).is_ok());
        for bad in [
            "",
            "[",
            "\"",
            "\"\\",
            "\"\\u12",
            "\"\\x\"",
            "tru",
            "nul",
            "-",
            "1.",
            "1.e5",
            "--1",
            "01",
            "1e",
            "\"\u{1}\"",
            "@",
            "\"\\ud800",
        ] {
            assert!(python_bytes(bad).is_err(), "{bad:?}");
        }
    }
}
