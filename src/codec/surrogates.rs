//! Lone surrogates through a re-encoding: Python's strings may hold one (`"\ud800"` reads
//! back as a one-character `str`, and `json.dumps` writes it as that same escape), but a
//! Rust [`String`], so a [`Value`], cannot: the parser makes it U+FFFD. Wherever text must
//! come out as it went in, each lone surrogate is carried through the tree as a stand-in
//! character and written back: as Python's escape by [`write_stand_ins_back`] (a message's
//! `encode`, the component's `store-result` through [`python_bytes_keeping_surrogates`]),
//! as the escape `JSON.parse` reads as a lone surrogate by [`json_text_with_lone_surrogates`]
//! (values handed to JS), and as Python's repr by [`repr_stand_ins_back`]. A reader learns
//! whether a value holds stand-ins from [`decode_marking_surrogates`]; a message keeps that
//! answer (`Message::lone_surrogates`).
//!
//! The stand-ins are the last 2 048 code points (U+10F800..=U+10FFFF, in Plane 16's
//! private use area), one per surrogate. A text that already holds one of them is left to
//! the plain path (its lone surrogates become U+FFFD, as before), so a stand-in in the
//! output always came from a lone surrogate in the input.

use super::parser::{decode, DecodeError};
use super::value::Value;
use super::writer::encode;

/// The first stand-in: U+D800 maps to it, U+DFFF to U+10FFFF.
const STAND_IN: u32 = 0x10_F800;

/// The code unit of the `\uXXXX` escape whose four hex digits start at `at`, if any.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

/// `bytes` with each lone surrogate escape replaced by its stand-in's escape pair, or `None`
/// when there is none. Only escapes count: outside a string a backslash is not JSON (the
/// parser refuses it), and inside one it always starts an escape, so no quote tracking.
fn with_stand_ins(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte != b'\\' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        let Some(unit) = hex4(bytes, i + 2) else {
            i += 2;
            continue;
        };
        let paired = (0xd800..0xdc00).contains(&unit)
            && bytes.get(i + 6..i + 8) == Some(b"\\u")
            && hex4(bytes, i + 8).is_some_and(|low| (0xdc00..0xe000).contains(&low));
        if paired {
            i += 12;
            continue;
        }
        if !(0xd800..0xe000).contains(&unit) {
            i += 6;
            continue;
        }
        let buf = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 16));
        buf.extend_from_slice(bytes.get(copied..i).unwrap_or_default());
        let c = STAND_IN + (unit - 0xd800) - 0x1_0000;
        let pair = format!(
            "\\u{:04x}\\u{:04x}",
            0xd800 + (c >> 10),
            0xdc00 + (c & 0x3ff)
        );
        buf.extend_from_slice(pair.as_bytes());
        i += 6;
        copied = i;
    }
    out.map(|mut buf| {
        buf.extend_from_slice(bytes.get(copied..).unwrap_or_default());
        buf
    })
}

/// Whether any string in `value` (keys included) holds a stand-in character.
pub fn has_stand_in(value: &Value) -> bool {
    let in_str = |s: &str| s.chars().any(|c| c as u32 >= STAND_IN);
    match value {
        Value::Str(s) => in_str(s),
        Value::List(items) => items.iter().any(has_stand_in),
        Value::Dict(entries) => entries.iter().any(|(k, v)| in_str(k) || has_stand_in(v)),
        _ => false,
    }
}

/// `units` (UTF-16, as a JS string holds them) as a [`String`] with each lone surrogate as
/// its stand-in, or `None` when there is no lone surrogate to keep or the text already holds
/// a stand-in (then the caller's plain conversion, U+FFFD, is the answer, as for bytes).
pub fn text_with_stand_ins(units: &[u16]) -> Option<String> {
    let mut lone = false;
    let mut out = String::with_capacity(units.len());
    for unit in char::decode_utf16(units.iter().copied()) {
        match unit {
            Ok(c) if c as u32 >= STAND_IN => return None,
            Ok(c) => out.push(c),
            Err(e) => {
                lone = true;
                let unit = u32::from(e.unpaired_surrogate());
                out.push(char::from_u32(STAND_IN + (unit - 0xd800))?);
            }
        }
    }
    lone.then_some(out)
}

/// `text` (from [`text_with_stand_ins`]) with each stand-in as U+FFFD: what a plain
/// conversion of the JS text gives, for a reader that is not the writer.
pub fn without_stand_ins(text: &str) -> String {
    text.chars()
        .map(|c| if c as u32 >= STAND_IN { '\u{FFFD}' } else { c })
        .collect()
}

/// `value` with each stand-in (keys included) as U+FFFD: what the plain reading of the
/// text it was read from gives.
pub fn value_without_stand_ins(value: Value) -> Value {
    match value {
        Value::Str(s) => Value::Str(without_stand_ins(&s)),
        Value::List(items) => Value::List(items.into_iter().map(value_without_stand_ins).collect()),
        Value::Dict(entries) => Value::Dict(entries_without_stand_ins(entries)),
        other => other,
    }
}

/// [`value_without_stand_ins`] of a dict's entries, keys included.
pub fn entries_without_stand_ins(entries: Vec<(String, Value)>) -> Vec<(String, Value)> {
    entries
        .into_iter()
        .map(|(k, v)| (without_stand_ins(&k), value_without_stand_ins(v)))
        .collect()
}

/// `encoded` (the writer's ASCII output for a value whose strings came from
/// [`text_with_stand_ins`]) with each stand-in written as Python writes the lone surrogate.
pub fn write_stand_ins_back(encoded: Vec<u8>) -> Vec<u8> {
    stand_ins_back(encoded)
}

/// Python's escape for each stand-in's escape pair in `encoded` (the writer's ASCII output).
fn stand_ins_back(encoded: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while let Some(&byte) = encoded.get(i) {
        if byte != b'\\' {
            out.push(byte);
            i += 1;
            continue;
        }
        if encoded.get(i + 1) == Some(&b'u') {
            let high = hex4(&encoded, i + 2);
            let low = hex4(&encoded, i + 8);
            if let (Some(high @ 0xdbfe..=0xdbff), Some(low @ 0xdc00..=0xdfff)) = (high, low) {
                if encoded.get(i + 6..i + 8) == Some(b"\\u") {
                    let c = 0x1_0000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                    if c >= STAND_IN {
                        let unit = 0xd800 + (c - STAND_IN);
                        out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                        i += 12;
                        continue;
                    }
                }
            }
        }
        // Any other escape is copied whole, so its second byte is never read as a start.
        let end = (i + 2).min(encoded.len());
        out.extend_from_slice(encoded.get(i..end).unwrap_or_default());
        i = end;
    }
    out
}

/// What [`decode`] reads from `bytes`, and whether each lone surrogate escape in them is
/// in it as its stand-in (`true`), for a writer to write back as Python's escape and a
/// reader whose strings can hold a lone surrogate (a JS string) as one. `false` when
/// `bytes` hold no lone surrogate, or already hold a stand-in (then the value is
/// [`decode`]'s, with U+FFFD). The common case costs one scan for `\u` escapes.
pub fn decode_marking_surrogates(bytes: &[u8]) -> Result<(Value, bool), DecodeError> {
    parse_marking_surrogates(bytes, decode)
}

/// [`decode_marking_surrogates`] with another parser of JSON text (the JS interchange's).
pub fn parse_marking_surrogates<E>(
    text: &[u8],
    parse: impl Fn(&[u8]) -> Result<Value, E>,
) -> Result<(Value, bool), E> {
    let Some(marked) = with_stand_ins(text) else {
        return Ok((parse(text)?, false));
    };
    let plain = parse(text)?;
    if has_stand_in(&plain) {
        return Ok((plain, false));
    }
    Ok(parse(&marked).map_or((plain, false), |value| (value, true)))
}

/// `repr` (Python's `repr` of values whose strings hold stand-ins, `py_repr`) with each
/// stand-in's escape (`\U0010f800` …) as Python's repr of the lone surrogate it stands for
/// (`\ud800` …).
pub fn repr_stand_ins_back(repr: &str) -> String {
    let mut out = String::with_capacity(repr.len());
    let mut rest = repr;
    // Every backslash in a repr starts an escape: step over each whole, so the `U` of an
    // escaped backslash followed by text (`\\U0010f800`) is never read as one.
    while let Some(at) = rest.find('\\') {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let stand_in = from
            .strip_prefix("\\U")
            .and_then(|hex| hex.get(..8))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .filter(|c| (STAND_IN..=0x10_ffff).contains(c));
        let len = match stand_in {
            Some(c) => {
                out.push_str(&format!("\\u{:04x}", 0xd800 + (c - STAND_IN)));
                10
            }
            None => {
                let len = from.chars().nth(1).map_or(1, |c| 1 + c.len_utf8());
                out.push_str(from.get(..len).unwrap_or_default());
                len
            }
        };
        rest = from.get(len..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// `text` (the writer's output, with `\u` escapes only for what is not printable ASCII)
/// with each stand-in character as the escape of the lone surrogate it stands for, for
/// `JSON.parse` to read as one.
pub fn json_text_with_lone_surrogates(text: &str) -> String {
    if !text.chars().any(|c| c as u32 >= STAND_IN) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c as u32 >= STAND_IN {
            out.push_str(&format!("\\u{:04x}", 0xd800 + (c as u32 - STAND_IN)));
        } else {
            out.push(c);
        }
    }
    out
}

/// The bytes Python's `json.dumps(json.loads(text), separators=(",", ":"))` writes for
/// `bytes`, given `value`, what [`decode`] read from them: [`encode`]`(value)`, except that
/// a lone surrogate escape in `bytes` is written as Python writes it instead of as U+FFFD.
pub fn python_bytes_keeping_surrogates(bytes: &[u8], value: &Value) -> Vec<u8> {
    match with_stand_ins(bytes) {
        Some(marked) if !has_stand_in(value) => match decode(&marked) {
            Ok(stand_in) => stand_ins_back(encode(&stand_in)),
            Err(_) => encode(value),
        },
        _ => encode(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value when it holds stand-ins, else `None`.
    fn marked(bytes: &[u8]) -> Option<Value> {
        match decode_marking_surrogates(bytes) {
            Ok((value, true)) => Some(value),
            _ => None,
        }
    }

    #[test]
    fn a_repr_of_stand_ins_reads_as_python_reprs_the_lone_surrogates() {
        let body = br#"["caf\udce9", "\ud800", "\\U0010f800 stays"]"#;
        let (value, marked) = decode_marking_surrogates(body).unwrap();
        assert!(marked);
        // Python: repr(["caf\udce9", "\ud800", "\\U0010f800 stays"]).
        assert_eq!(
            repr_stand_ins_back(&crate::codec::py_repr(&value)),
            r"['caf\udce9', '\ud800', '\\U0010f800 stays']"
        );
    }

    #[test]
    fn decoding_keeps_a_lone_surrogate_as_its_stand_in_and_leaves_pairs_and_stand_ins_alone() {
        let kept = marked(br#"{"msg":"a\udcffb","pair":"\ud83d\ude00"}"#).unwrap();
        assert_eq!(kept.get("msg"), Some(&Value::Str("a\u{10fcff}b".into())));
        assert_eq!(kept.get("pair"), Some(&Value::Str("\u{1f600}".into())));
        assert_eq!(marked(br#"{"msg":"plain \ud83d\ude00"}"#), None);
        // A text that already holds a stand-in is left to the plain decode.
        assert_eq!(marked("[\"\\udcff\",\"\u{10f800}\"]".as_bytes()), None);
        assert_eq!(marked(br#"["\udcff""#), None);
    }

    fn python(text: &str) -> String {
        let value = decode(text.as_bytes()).unwrap();
        String::from_utf8(python_bytes_keeping_surrogates(text.as_bytes(), &value)).unwrap()
    }

    #[test]
    fn lone_surrogates_come_out_as_python_writes_them() {
        // json.dumps(json.loads(t), separators=(",", ":")) in Python 3.11, for each t.
        assert_eq!(python(r#""\ud800x""#), r#""\ud800x""#);
        assert_eq!(python(r#""\uDFFF""#), r#""\udfff""#);
        assert_eq!(
            python(r#"["\udc00\ud800", {"\ud83d": 1}]"#),
            r#"["\udc00\ud800",{"\ud83d":1}]"#
        );
        // A high surrogate before a pair stands alone; the pair is one character.
        assert_eq!(python(r#""\ud800\ud83d\ude00""#), r#""\ud800\ud83d\ude00""#);
        // A pair is untouched, and so are an escaped backslash and raw non-ASCII.
        assert_eq!(
            python(r#""\\ud800 \u00e9 é""#),
            r#""\\ud800 \u00e9 \u00e9""#
        );
        assert_eq!(
            python(r#"{"a": [1.0, NaN, 100000000000000000000]}"#),
            r#"{"a":[1.0,NaN,100000000000000000000]}"#
        );
    }

    #[test]
    fn a_text_holding_a_stand_in_keeps_the_plain_path() {
        // U+10F800 itself, as a pair: the lone surrogate next to it becomes U+FFFD, as before.
        assert_eq!(python(r#""\udbfe\udc00\ud800""#), r#""\udbfe\udc00\ufffd""#);
    }

    #[test]
    fn a_js_text_keeps_its_lone_surrogates_through_the_writer() {
        let units: Vec<u16> = "cut "
            .encode_utf16()
            .chain([0xd83d, 0x41, 0xdc00])
            .collect();
        let marked = text_with_stand_ins(&units).unwrap();
        let bytes = write_stand_ins_back(encode(&Value::Str(marked.clone())));
        // Python 3.11: json.dumps("cut \ud83dA\udc00") == '"cut \\ud83dA\\udc00"'
        assert_eq!(String::from_utf8(bytes).unwrap(), r#""cut \ud83dA\udc00""#);
        // Well-formed text (a pair included) needs nothing; a stand-in already there
        // leaves the plain path.
        let pair: Vec<u16> = "😀".encode_utf16().collect();
        assert_eq!(text_with_stand_ins(&pair), None);
        assert_eq!(without_stand_ins(&marked), "cut \u{FFFD}A\u{FFFD}");
        let held: Vec<u16> = "\u{10F800}".encode_utf16().chain([0xd800]).collect();
        assert_eq!(text_with_stand_ins(&held), None);
    }

    #[test]
    fn stand_ins_cover_every_surrogate_once() {
        for unit in [0xd800u32, 0xdbff, 0xdc00, 0xdfff] {
            let text = format!("\"\\u{unit:04x}\"");
            assert_eq!(python(&text), text);
        }
    }
}
