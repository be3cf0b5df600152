//! The text form values take across the JavaScript boundary.
//!
//! JS turns a value into text with `JSON.stringify(value, replacer)` and back with
//! `JSON.parse(text, reviver?)`: both are native and fast, and `JSON.parse` creates
//! `__proto__` as an own data property. What plain JSON cannot carry travels as a *marker
//! string* in value position, starting with [`MARKER`]:
//!
//! | marker + tag | value |
//! |---|---|
//! | `NaN`, `Infinity`, `-Infinity` | those floats |
//! | `-0` | `-0.0` (JS → Rust only; JSON.parse reads `-0.0` itself) |
//! | `n<digits>` | an integer JS holds as a `BigInt` |
//! | `s<text>` | the string `text`, which itself starts with the marker (escaped real data) |
//!
//! `src/bindings/exports/interchange.js` is the other half of this protocol.

use super::float::{write_float_repr, write_i64};
use super::parser::{parse, DecodeError, Dialect};
use super::value::{Value, MAX_DEPTH, MAX_SAFE_INT};

pub mod transcode;

/// The prefix of a marker string: two control characters no ordinary text starts with.
pub const MARKER: &str = "\u{0}\u{1}";

/// Why JS text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InterchangeError(pub DecodeError);

/// Reads the text `JSON.stringify(value, replacer)` produced.
pub fn from_js_json(text: &str) -> Result<Value, InterchangeError> {
    parse(text, Dialect::Js(unmark)).map_err(InterchangeError)
}

/// Interprets a string in value position (called by the parser in the JS dialect).
fn unmark(s: String) -> Result<Value, &'static str> {
    let Some(tag) = s.strip_prefix(MARKER) else {
        return Ok(Value::Str(s));
    };
    Ok(match tag {
        "NaN" => Value::Float(f64::NAN),
        "Infinity" => Value::Float(f64::INFINITY),
        "-Infinity" => Value::Float(f64::NEG_INFINITY),
        "-0" => Value::Float(-0.0),
        _ => {
            if let Some(text) = tag.strip_prefix('s') {
                Value::Str(text.to_owned())
            } else if let Some(digits) = tag.strip_prefix('n') {
                integer(digits).ok_or("invalid BigInt marker")?
            } else {
                return Err("unknown marker string");
            }
        }
    })
}

/// A canonical integer from decimal text (`-?[0-9]+`, as `BigInt.prototype.toString`).
fn integer(text: &str) -> Option<Value> {
    let body = text.strip_prefix('-').unwrap_or(text);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(Value::Int(n));
    }
    let trimmed = body.trim_start_matches('0');
    if trimmed.is_empty() {
        return Some(Value::Int(0));
    }
    let sign = if text.starts_with('-') { "-" } else { "" };
    Some(Value::BigInt(format!("{sign}{trimmed}")))
}

/// Writes `value` as JSON text for `JSON.parse`; returns whether the text holds marker
/// strings, so the JS side parses with its reviver only when needed.
pub fn to_js_json(value: &Value, out: &mut String) -> bool {
    let mut marked = false;
    let mut buf = Vec::with_capacity(64);
    write(value, &mut buf, &mut marked);
    // Only valid UTF-8 is ever written (whole `str`s and ASCII).
    out.push_str(&String::from_utf8_lossy(&buf));
    marked
}

fn write(value: &Value, out: &mut Vec<u8>, marked: &mut bool) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(n) if (-MAX_SAFE_INT..=MAX_SAFE_INT).contains(n) => write_i64(*n, out),
        Value::Int(n) => write_marker(&format!("n{n}"), out, marked),
        Value::BigInt(d) => write_marker(&format!("n{d}"), out, marked),
        Value::Float(x) if x.is_nan() => write_marker("NaN", out, marked),
        Value::Float(x) if *x == f64::INFINITY => write_marker("Infinity", out, marked),
        Value::Float(x) if *x == f64::NEG_INFINITY => write_marker("-Infinity", out, marked),
        Value::Float(x) => write_float_repr(*x, out),
        Value::Str(s) if s.starts_with(MARKER) => write_marker(&format!("s{s}"), out, marked),
        Value::Str(s) => write_string(s, out),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out, marked);
            }
            out.push(b']');
        }
        Value::Dict(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write(v, out, marked);
            }
            out.push(b'}');
        }
    }
}

fn write_marker(tag: &str, out: &mut Vec<u8>, marked: &mut bool) {
    *marked = true;
    write_string(&format!("{MARKER}{tag}"), out);
}

/// A JSON string as JS reads it: UTF-8 kept, only quotes, backslashes and control
/// characters escaped.
fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(run_start..i).unwrap_or_default());
        run_start = i + 1;
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        } else {
            out.extend_from_slice(esc);
        }
    }
    out.extend_from_slice(bytes.get(run_start..).unwrap_or_default());
    out.push(b'"');
}

/// The stored text itself, when `JSON.parse` reads it exactly as Python's `json.loads`
/// does, so it can cross the boundary untouched: valid UTF-8, no `NaN` / `Infinity`, no
/// integer too long for a JS number, no string starting with a marker-like `\u0000`, no
/// nesting beyond [`MAX_DEPTH`], and no possible exception envelope at the top.
/// One pass, no allocation. `None` means "take the full decoder", which also reports
/// errors; a text `JSON.parse` then refuses goes the same way.
pub fn plain_json(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let top_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                if bytes
                    .get(i + 1..i + 7)
                    .is_some_and(|u| u.eq_ignore_ascii_case(b"\\u0000"))
                {
                    return None;
                }
                i += 1;
                let start = i;
                let mut escaped = false;
                loop {
                    // Skip to the next quote or backslash in one tight scan.
                    i += bytes
                        .get(i..)?
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\')?;
                    if bytes.get(i) == Some(&b'"') {
                        break;
                    }
                    escaped = true;
                    i += 2;
                }
                // A possible exception envelope: a `__t` key at the top (an escape could
                // spell it too, so any escaped string there takes the full decoder).
                if top_object
                    && depth == 1
                    && (escaped || (i - start == 3 && bytes.get(start..i) == Some(b"__t")))
                {
                    return None;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'N' | b'I' => return None,
            b'-' | b'0'..=b'9' => {
                let start = i;
                let mut digits = 0;
                let mut integral = true;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'0'..=b'9' => digits += 1,
                        b'.' | b'e' | b'E' => integral = false,
                        b'-' | b'+' => {}
                        _ => break,
                    }
                    i += 1;
                }
                // 15 digits always fit a double exactly; longer integers may not.
                if integral && digits > 15 || i == start {
                    return None;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Some(text)
}

/// [`plain_json`]'s decision over bytes that arrive in pieces: feed every piece in order,
/// then [`PlainScan::finish`] says what `plain_json` says of them all together. For a large
/// value kept outside wasm memory, checked through a small buffer (the bytes then cross to
/// `JSON.parse` without entering wasm whole).
#[derive(Debug, Default)]
pub struct PlainScan {
    failed: bool,
    /// An incomplete UTF-8 sequence at the end of the last piece.
    carry: Vec<u8>,
    /// Whether a non-whitespace byte was seen, and whether the first was `{`.
    started: bool,
    top_object: bool,
    depth: usize,
    at: ScanAt,
}

#[derive(Debug, Default, Clone, Copy)]
enum ScanAt {
    #[default]
    Between,
    /// In a string: how much of a `\u0000` prefix matched (`None` once it cannot), its
    /// raw length so far, whether it held an escape, whether it is `__t` so far, and
    /// whether the last byte began an escape.
    Text {
        prefix: Option<u8>,
        raw: usize,
        escaped: bool,
        dunder_t: bool,
        in_escape: bool,
    },
    /// In a number: its digits so far, and whether it is integral so far.
    Number { digits: usize, integral: bool },
}

impl PlainScan {
    /// A scan at the start of the bytes.
    pub fn new() -> Self {
        PlainScan::default()
    }

    /// Reads the next piece.
    pub fn feed(&mut self, piece: &[u8]) {
        if self.failed || !self.utf8(piece) {
            self.failed = true;
            return;
        }
        let mut i = 0;
        while let Some(&b) = piece.get(i) {
            match &mut self.at {
                ScanAt::Text {
                    prefix,
                    raw,
                    escaped,
                    dunder_t,
                    in_escape,
                } => {
                    if let Some(p) = *prefix {
                        let want = b"\\u0000".get(usize::from(p)).copied().unwrap_or(0);
                        if b.eq_ignore_ascii_case(&want) {
                            *prefix = Some(p + 1);
                            if p + 1 == 6 {
                                self.failed = true;
                                return;
                            }
                        } else {
                            *prefix = None;
                        }
                    }
                    if *in_escape {
                        *in_escape = false;
                        *raw += 1;
                        i += 1;
                        continue;
                    }
                    if b == b'"' {
                        let (raw, escaped, dunder_t) = (*raw, *escaped, *dunder_t);
                        self.at = ScanAt::Between;
                        if self.top_object && self.depth == 1 && (escaped || raw == 3 && dunder_t) {
                            self.failed = true;
                            return;
                        }
                        i += 1;
                        continue;
                    }
                    if b == b'\\' {
                        *escaped = true;
                        *in_escape = true;
                    }
                    *dunder_t &= b"__t".get(*raw) == Some(&b);
                    *raw += 1;
                    i += 1;
                    // Once the prefix is settled, skip plain text in one tight scan.
                    if prefix.is_none() && !*in_escape {
                        let rest = piece.get(i..).unwrap_or_default();
                        let skip = rest
                            .iter()
                            .position(|&c| c == b'"' || c == b'\\')
                            .unwrap_or(rest.len());
                        if skip > 0 {
                            *dunder_t &= b"__t".get(*raw..*raw + skip) == rest.get(..skip);
                            *raw += skip;
                            i += skip;
                        }
                    }
                }
                ScanAt::Number { digits, integral } => match b {
                    b'0'..=b'9' => {
                        *digits += 1;
                        i += 1;
                    }
                    b'.' | b'e' | b'E' => {
                        *integral = false;
                        i += 1;
                    }
                    b'-' | b'+' => i += 1,
                    _ => {
                        if !self.end_number() {
                            return;
                        }
                    }
                },
                ScanAt::Between => {
                    if !self.started && !b.is_ascii_whitespace() {
                        self.started = true;
                        self.top_object = b == b'{';
                    }
                    match b {
                        b'"' => {
                            self.at = ScanAt::Text {
                                prefix: Some(0),
                                raw: 0,
                                escaped: false,
                                dunder_t: true,
                                in_escape: false,
                            };
                        }
                        b'[' | b'{' => {
                            self.depth += 1;
                            if self.depth > MAX_DEPTH {
                                self.failed = true;
                                return;
                            }
                        }
                        b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                        b'N' | b'I' => {
                            self.failed = true;
                            return;
                        }
                        b'-' | b'0'..=b'9' => {
                            self.at = ScanAt::Number {
                                digits: 0,
                                integral: true,
                            };
                            // Read again as the number's first byte.
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
        }
    }

    /// A number ended: whether it may stay.
    fn end_number(&mut self) -> bool {
        if let ScanAt::Number { digits, integral } = self.at {
            self.at = ScanAt::Between;
            // 15 digits always fit a double exactly; longer integers may not.
            if integral && digits > 15 {
                self.failed = true;
                return false;
            }
        }
        true
    }

    /// Whether `piece` continues valid UTF-8 (an incomplete sequence at its end is kept
    /// for the next piece).
    fn utf8(&mut self, piece: &[u8]) -> bool {
        let mut piece = piece;
        if let Some(&lead) = self.carry.first() {
            let need = match lead {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let take = (need - self.carry.len()).min(piece.len());
            self.carry
                .extend_from_slice(piece.get(..take).unwrap_or_default());
            piece = piece.get(take..).unwrap_or_default();
            if self.carry.len() < need {
                return true;
            }
            if std::str::from_utf8(&self.carry).is_err() {
                return false;
            }
            self.carry.clear();
        }
        match std::str::from_utf8(piece) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                self.carry = piece.get(e.valid_up_to()..).unwrap_or_default().to_vec();
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `plain_json` would pass all the bytes fed.
    pub fn finish(mut self) -> bool {
        if self.failed || !self.carry.is_empty() {
            return false;
        }
        match self.at {
            ScanAt::Text { .. } => false,
            ScanAt::Number { .. } => self.end_number(),
            ScanAt::Between => true,
        }
    }
}

/// The value of stored bytes that are exactly a JSON integer of at most 15 digits (always
/// exact in a double), as Python's `json.loads` reads it; `None` for anything else. Lets a
/// small integer result skip the text round trip through `JSON.parse`.
pub fn small_int(bytes: &[u8]) -> Option<f64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let valid = matches!(digits.len(), 1..=15)
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits.first() != Some(&b'0'));
    if !valid {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0.0, |n, d| n * 10.0 + f64::from(d - b'0'));
    // `-0` is Python's int 0, not the float -0.0.
    Some(if digits.len() < bytes.len() && magnitude != 0.0 {
        -magnitude
    } else {
        magnitude
    })
}

/// The tests' check that a scanner fed in pieces decides as the whole-text function does.
#[cfg(test)]
pub(crate) mod cut_checks {
    /// Asserts that `scan(bytes, cuts)` answers `want(bytes)` for each case cut nowhere, at
    /// every offset, at every pair of offsets (short cases), and one byte at a time.
    pub(crate) fn agrees_at_every_cut(
        cases: &[Vec<u8>],
        want: impl Fn(&[u8]) -> bool,
        scan: impl Fn(&[u8], &[usize]) -> bool,
    ) {
        for bytes in cases {
            let want = want(bytes);
            assert_eq!(scan(bytes, &[]), want, "{bytes:?} whole");
            for a in 0..=bytes.len() {
                assert_eq!(scan(bytes, &[a]), want, "{bytes:?} at {a}");
                if bytes.len() < 80 {
                    for b in a..=bytes.len() {
                        assert_eq!(scan(bytes, &[a, b]), want, "{bytes:?} at {a},{b}");
                    }
                }
            }
            let all: Vec<usize> = (1..bytes.len()).collect();
            assert_eq!(scan(bytes, &all), want, "{bytes:?} bytewise");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) -> Value {
        let mut text = String::new();
        to_js_json(v, &mut text);
        // JS would JSON.parse then JSON.stringify with the replacer: for everything but
        // markers that is the identity on this text, so parse it back directly.
        from_js_json(&text).unwrap()
    }

    #[test]
    fn special_values_survive_the_boundary() {
        let v = Value::List(vec![
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::BigInt("1180591620717411303424".into()),
            Value::Int(i64::MAX),
            Value::Int(9_007_199_254_740_991),
            Value::Str(format!("{MARKER}tricky")),
            Value::Str("plain \u{e9} \"q\" \u{1}".into()),
            Value::Float(1.5),
            Value::Float(1e21),
            Value::Dict(vec![("__proto__".into(), Value::Int(1))]),
        ]);
        assert_eq!(round_trip(&v), v);
        let mut text = String::new();
        assert!(to_js_json(&Value::Float(f64::NAN), &mut text));
        assert_eq!(text, "\"\\u0000\\u0001NaN\"");
        assert!(!to_js_json(&Value::Float(-0.0), &mut String::new()));
    }

    #[test]
    fn reads_js_number_forms() {
        let v = from_js_json(r#"[1,1.5,1e+21,5e-7,100000000000000000000,9007199254740993,"\u0000\u0001-0","\u0000\u0001n-12345678901234567890"]"#).unwrap();
        let Value::List(items) = v else { panic!() };
        assert_eq!(items[0], Value::Int(1));
        assert_eq!(items[1], Value::Float(1.5));
        assert_eq!(items[2], Value::Float(1e21));
        assert_eq!(items[3], Value::Float(5e-7));
        assert_eq!(items[4], Value::Float(1e20));
        assert_eq!(items[5], Value::Float(9007199254740992.0));
        assert!(matches!(items[6], Value::Float(x) if x == 0.0 && x.is_sign_negative()));
        assert_eq!(items[7], Value::BigInt("-12345678901234567890".into()));
    }

    #[test]
    fn small_ints_are_read_without_text_and_nothing_else_is() {
        for (bytes, n) in [
            ("0", 0.0),
            ("42", 42.0),
            ("-7", -7.0),
            ("-0", 0.0),
            ("999999999999999", 999_999_999_999_999.0),
        ] {
            let got = small_int(bytes.as_bytes());
            assert_eq!(got, Some(n), "{bytes}");
            assert!(
                got.is_some_and(|g| g.is_sign_positive() == (n >= 0.0)),
                "{bytes}"
            );
        }
        for other in [
            "",
            "-",
            "01",
            "1.0",
            "1e3",
            " 1",
            "1 ",
            "NaN",
            "\"1\"",
            "1000000000000000",
            "+1",
            "--1",
        ] {
            assert_eq!(small_int(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn plain_json_passes_only_what_json_parse_reads_alike() {
        for plain in [
            "42",
            r#"{"a":[1,2.5,-0.0,1e+16,"x\"y",null,true,{"z":[]}],"b":"NaN"}"#,
            "0.30000000000000004",
            "123456789012345",
            r#"["\u00e9\ud83d\ude00"]"#,
            r#"[{"__t":"dramatiq.results.Result"}]"#,
        ] {
            assert_eq!(plain_json(plain.as_bytes()), Some(plain), "{plain}");
        }
        for special in [
            "NaN",
            "[Infinity]",
            "-Infinity",
            "9007199254740993",
            "[1180591620717411303424]",
            r#"{"__t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}"#,
            r#"  {"x":1,"__t":2}"#,
            r#"{"\u005f_t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}"#,
            r#""\u0000\u0001n1""#,
            "\"unterminated",
        ] {
            assert_eq!(plain_json(special.as_bytes()), None, "{special}");
        }
        assert_eq!(plain_json(b"\xff"), None);
        assert_eq!(plain_json("[".repeat(MAX_DEPTH + 1).as_bytes()), None);
    }

    /// What [`PlainScan`] says of `bytes` cut at `cuts` (sorted offsets).
    fn scan_in_pieces(bytes: &[u8], cuts: &[usize]) -> bool {
        let mut scan = PlainScan::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([bytes.len()].iter()) {
            scan.feed(&bytes[at..cut]);
            at = cut;
        }
        scan.finish()
    }

    #[test]
    fn plain_scan_in_pieces_decides_as_plain_json() {
        let mut cases: Vec<Vec<u8>> = [
            "42",
            r#"{"a":[1,2.5,-0.0,1e+16,"x\"y",null,true,{"z":[]}],"b":"NaN"}"#,
            "0.30000000000000004",
            "123456789012345",
            "1234567890123456",
            "-1234567890123456",
            "12345678901234567.5",
            r#"["\u00e9\ud83d\ude00"]"#,
            r#"[{"__t":"dramatiq.results.Result"}]"#,
            "NaN",
            "[Infinity]",
            "-Infinity",
            "9007199254740993",
            "[1180591620717411303424]",
            r#"{"__t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}"#,
            r#"  {"x":1,"__t":2}"#,
            r#"  {"x":1,"__t_":2,"_t":3,"__":4}"#,
            r#"{"x":"__t"}"#,
            r#"{"x":{"__t":1}}"#,
            r#"{"\u005f_t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}"#,
            r#"{"a\\b":1}"#,
            r#"["a\\b"]"#,
            r#""\u0000\u0001n1""#,
            r#""\U0000x""#,
            r#""\u000""#,
            r#""\u00001""#,
            r#"["x","\u0000"]"#,
            r#""\\u0000""#,
            "\"unterminated",
            "\"ends in escape\\",
            "\"é😀 text\"",
            "\u{feff}\"bom\"",
            "[1-2e5,3]",
            "",
            "   ",
            "{",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        cases.push(b"\xff".to_vec());
        cases.push(b"\"\xe9\"".to_vec());
        cases.push(b"\"\xf0\x9f\x98\"".to_vec());
        cases.push(b"\"\xed\xa0\x80\"".to_vec());
        cases.push("[".repeat(MAX_DEPTH + 1).into_bytes());
        cases.push("[".repeat(MAX_DEPTH).into_bytes());
        cases.push(format!("\"{}\"", "x".repeat(5000)).into_bytes());
        super::cut_checks::agrees_at_every_cut(&cases, |b| plain_json(b).is_some(), scan_in_pieces);
    }

    #[test]
    fn refuses_bad_markers_and_python_tokens() {
        assert!(from_js_json("\"\\u0000\\u0001what\"").is_err());
        assert!(from_js_json("\"\\u0000\\u0001n12x\"").is_err());
        assert!(from_js_json("NaN").is_err());
        assert!(from_js_json("Infinity").is_err());
        // Keys are never markers.
        let v = from_js_json("{\"\\u0000\\u0001NaN\":1}").unwrap();
        assert_eq!(v.get("\u{0}\u{1}NaN"), Some(&Value::Int(1)));
    }
}
