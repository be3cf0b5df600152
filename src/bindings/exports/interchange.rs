//! JS values ⇄ core [`Value`]s: the JS half of the text protocol in
//! `crate::codec::interchange`.
//!
//! Values travel as JSON text (see `interchange.js` for why); this module only moves the
//! text and reports what cannot be converted as a `TypeError`.

use wasm_bindgen::prelude::*;

use crate::bindings::js::type_error;
use crate::codec::interchange;
use crate::codec::interchange::transcode;
use crate::codec::interchange::transcode::Origin;
use crate::codec::surrogates::{json_text_with_lone_surrogates, parse_marking_surrogates};
use crate::codec::value::Value;

#[wasm_bindgen(module = "/src/bindings/exports/interchange.js")]
extern "C" {
    #[wasm_bindgen(js_name = toText, catch)]
    fn to_text(value: &JsValue) -> Result<String, JsValue>;
    #[wasm_bindgen(js_name = toText, catch)]
    fn to_text_handle(value: &JsValue) -> Result<js_sys::JsString, JsValue>;
    /// Whether the last `toText` text is of `transcode::Origin::PlainNumbersAlike`.
    #[wasm_bindgen(js_name = lastTextSimple)]
    fn last_text_simple() -> bool;
    /// `toText` that never throws: "" when it would have (see `lastTextInfo`).
    #[wasm_bindgen(js_name = toTextQuiet)]
    fn to_text_quiet(value: &JsValue) -> js_sys::JsString;
    /// The last `toTextQuiet` text's length in UTF-16 units, negated when its origin is not
    /// `PlainNumbersAlike`; 0 when `toText` threw.
    #[wasm_bindgen(js_name = lastTextInfo)]
    fn last_text_info() -> i32;
    #[wasm_bindgen(js_name = useMemory)]
    fn use_memory(memory: &JsValue);
    /// `encodeUtf8Into` into `len` bytes of wasm memory at `ptr` through a view the host
    /// keeps; -1 unless the text is ASCII (then it wrote `text.length()` bytes).
    #[wasm_bindgen(js_name = encodeUtf8IntoScratch)]
    fn encode_utf8_into_scratch(text: &js_sys::JsString, ptr: u32, len: u32) -> i32;
    /// What the last failed `toTextQuiet` caught.
    #[wasm_bindgen(js_name = takeTextError)]
    fn take_text_error() -> JsValue;
    #[wasm_bindgen(js_name = encodeUtf8Into)]
    fn encode_utf8_into(text: &js_sys::JsString, out: &mut [u8]) -> i32;
    #[wasm_bindgen(js_name = encodeUtf8)]
    fn encode_utf8(text: &js_sys::JsString) -> Vec<u8>;
    /// The same, left in JS memory (`Err` when the host cannot allocate it).
    #[wasm_bindgen(js_name = encodeUtf8, catch)]
    fn encode_utf8_host(text: &js_sys::JsString) -> Result<js_sys::Uint8Array, JsValue>;
    #[wasm_bindgen(js_name = fromText, catch)]
    fn from_text(text: &str, needs_reviver: bool) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = fromText, catch)]
    fn from_text_handle(text: &js_sys::JsString, needs_reviver: bool) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = parseBytes, catch)]
    fn parse_bytes(bytes: &js_sys::Uint8Array) -> Result<JsValue, JsValue>;
    /// UTF-8 bytes in JS memory as text, lossily (as `String::from_utf8_lossy`).
    #[wasm_bindgen(js_name = textOfBytes)]
    pub fn text_of_bytes(bytes: &js_sys::Uint8Array) -> JsValue;
}

/// A JS value as a core value; `TypeError` if it is not JSON-serializable.
pub fn value_from_js(value: &JsValue) -> Result<Value, JsValue> {
    let text = to_text(value)?;
    interchange::from_js_json(&text).map_err(|e| type_error(&format!("unsupported value: {e}")))
}

/// [`value_from_js`], and whether each lone surrogate in the value's strings (which
/// `JSON.stringify` escapes) is in it as its stand-in (`codec::surrogates`), for a
/// message to write back as Python's escape: `true` only when there is one.
pub fn value_from_js_keeping(value: &JsValue) -> Result<(Value, bool), JsValue> {
    let text = to_text(value)?;
    parse_marking_surrogates(text.as_bytes(), |t| {
        interchange::from_js_json(std::str::from_utf8(t).unwrap_or_default())
    })
    .map_err(|e| type_error(&format!("unsupported value: {e}")))
}

/// Texts shorter than this many UTF-16 units cross through wasm-bindgen's own string
/// passing; longer ones are encoded by the host's `TextEncoder.encodeInto` straight into
/// wasm memory, which beats the glue's per-character copy by far on large texts and loses on
/// tiny ones (one more call).
const ENCODE_INTO_MIN_UNITS: u32 = 256;

/// Python's bytes for a JS value, with its `JSON.stringify` text when they are that text.
pub struct Checked {
    /// What Python's `json.dumps` writes for the value.
    pub bytes: Vec<u8>,
    /// The text `bytes` were checked from, when they are that text unchanged (so it is
    /// ASCII), and whether `JSON.parse` alone reads it back as a read of `bytes` decodes
    /// them (see `transcode::Form`).
    pub text: Option<(js_sys::JsString, bool)>,
}

/// The bytes Python's `json.dumps` writes for a JS value, without building a tree (see
/// `transcode`); `TypeError` if it is not JSON-serializable. Every token is checked
/// (`Origin::Any`): `JSONEncoder.encode` is the reference the stores' faster check is
/// tested against.
pub fn python_bytes_from_js(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    python_checked_of_text(to_text_handle(value)?, Origin::Any).map(|checked| checked.bytes)
}

/// [`python_bytes_from_js`] for a store, keeping the text when the bytes are that text;
/// the text of a value the JS walk found plain with its numbers spelt alike is checked by
/// its bytes alone (`Origin::PlainNumbersAlike`), the store's hot path.
pub fn python_checked_from_js(value: &JsValue) -> Result<Checked, JsValue> {
    let (text, origin) = js_text(value)?;
    python_checked_of_text(text, origin)
}

/// A JS value's `JSON.stringify` text (with marker strings), left in JS, and what the JS
/// walk found of it; `TypeError` if it is not JSON-serializable.
pub fn js_text(value: &JsValue) -> Result<(js_sys::JsString, Origin), JsValue> {
    let text = to_text_handle(value)?;
    Ok((text, last_origin()))
}

/// The [`Origin`] of the text the last `toText` returned.
fn last_origin() -> Origin {
    if last_text_simple() {
        Origin::PlainNumbersAlike
    } else {
        Origin::Any
    }
}

/// How many UTF-16 units of a large text are checked at a time (into a buffer of as many
/// bytes: only ASCII text can pass).
const SCAN_UNITS: u32 = 256 * 1024;

/// A large text's UTF-8 bytes left in JS memory, when they already are Python's bytes
/// (`transcode::AlreadyPythonScan`, checked through a small buffer): then a large stored
/// value never enters wasm whole. `None` when they are not (non-ASCII, a marker, a number
/// JS spells differently…): the caller takes [`python_bytes_of_text`].
pub fn python_bytes_in_js(text: &js_sys::JsString) -> Option<js_sys::Uint8Array> {
    let units = text.length();
    let mut buf = vec![0u8; SCAN_UNITS.min(units) as usize];
    let mut scan = transcode::AlreadyPythonScan::new();
    let mut at = 0;
    while at < units {
        let end = (at + SCAN_UNITS).min(units);
        let piece = text.substring(at, end);
        // -1 when the piece does not fit one byte per unit: not ASCII, so not Python's.
        let written = usize::try_from(encode_utf8_into(&piece, &mut buf)).ok()?;
        if written != (end - at) as usize {
            return None;
        }
        scan.feed(buf.get(..written)?);
        at = end;
    }
    if !scan.finish() {
        return None;
    }
    encode_utf8_host(text).ok()
}

/// What a store that keeps the host's text (the stub) needs of a value: the text when it
/// is Python's bytes, else the bytes.
pub enum Kept {
    /// The `JSON.stringify` text is Python's bytes (so ASCII, `len` bytes): no bytes were
    /// made of it.
    Text {
        /// The text.
        text: js_sys::JsString,
        /// `JSON.parse(text)` is the value a read of its bytes decodes (`transcode::Form`).
        plain: bool,
        /// Its length in bytes (and in UTF-16 units).
        len: usize,
    },
    /// Python's bytes, which the text is not (or a text short enough to cross as bytes).
    Bytes {
        /// The bytes.
        bytes: Vec<u8>,
        /// The text, when the bytes are that text (see [`Checked`]).
        text: Option<(js_sys::JsString, bool)>,
    },
}

/// The largest text [`python_kept_from_js`] checks in its reused buffer, which stays
/// allocated (wasm memory never shrinks): larger ones take a buffer of their own.
const SCRATCH_MAX_UNITS: u32 = 256 * 1024;

thread_local! {
    /// The buffer texts a store keeps are checked in: the check reads the text's bytes
    /// once and a kept text needs none, so one buffer serves every store, and the host
    /// keeps one view of it instead of making one per call (bench/notes.md, issue 29's
    /// fifth pass).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Whether the host has the module's memory for [`encode_utf8_into_scratch`].
    static MEMORY_SHARED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// [`python_checked_from_js`] for a store that keeps the text when it is the bytes: a text
/// from [`ENCODE_INTO_MIN_UNITS`] to [`SCRATCH_MAX_UNITS`] units is encoded into a reused
/// buffer and checked there, and bytes are made of it only when it is not kept.
pub fn python_kept_from_js(value: &JsValue) -> Result<Kept, JsValue> {
    // One call for the text, one for its length and origin (no `length()` call, no caught
    // import): the stub's store is the hot path of the throughput bench.
    let text = to_text_quiet(value);
    let info = last_text_info();
    if info == 0 {
        return Err(take_text_error());
    }
    let units = info.unsigned_abs();
    let origin = if info > 0 {
        Origin::PlainNumbersAlike
    } else {
        Origin::Any
    };
    if (ENCODE_INTO_MIN_UNITS..=SCRATCH_MAX_UNITS).contains(&units) {
        let verdict = SCRATCH.with(|scratch| {
            let mut scratch = scratch.try_borrow_mut().ok()?;
            if scratch.len() < units as usize {
                scratch.resize(units as usize, 0);
            }
            if !MEMORY_SHARED.get() {
                use_memory(&wasm_bindgen::memory());
                MEMORY_SHARED.set(true);
            }
            // The whole buffer, so that the host's view of it stays the same across calls.
            let len = u32::try_from(scratch.len()).ok()?;
            // -1 when the text is not ASCII: not kept, and its bytes are the host's
            // `encode()` at their exact size.
            let written = encode_utf8_into_scratch(&text, scratch.as_mut_ptr() as u32, len);
            let Ok(written) = usize::try_from(written) else {
                return Some(Err(encode_utf8(&text)));
            };
            let bytes = scratch.get(..written)?;
            Some(match transcode::verbatim_as(bytes, origin) {
                Some(plain) => Ok((plain, written)),
                None => Err(bytes.to_vec()),
            })
        });
        match verdict {
            Some(Ok((plain, len))) => return Ok(Kept::Text { text, plain, len }),
            // Bytes to re-spell (or to judge token by token), as the usual path makes them.
            Some(Err(bytes)) => {
                let (bytes, form) = transcode::python_bytes_checked_as(bytes, origin)
                    .map_err(|e| type_error(&format!("unsupported value: {e}")))?;
                let text = match form {
                    transcode::Form::Verbatim { plain } => Some((text, plain)),
                    transcode::Form::Rewritten => None,
                };
                return Ok(Kept::Bytes { bytes, text });
            }
            None => {}
        }
    }
    let checked = python_checked_of_sized_text(text, units, origin)?;
    Ok(Kept::Bytes {
        bytes: checked.bytes,
        text: checked.text,
    })
}

/// [`python_bytes_from_js`] of a text already read from the value ([`js_text`]).
pub fn python_bytes_of_text(text: &js_sys::JsString, origin: Origin) -> Result<Vec<u8>, JsValue> {
    python_checked_of_text(text.clone(), origin).map(|checked| checked.bytes)
}

/// [`python_checked_from_js`] of a text already read from the value.
fn python_checked_of_text(handle: js_sys::JsString, origin: Origin) -> Result<Checked, JsValue> {
    let units = handle.length();
    python_checked_of_sized_text(handle, units, origin)
}

/// [`python_checked_of_text`] of a text whose length (`units`) is known.
fn python_checked_of_sized_text(
    handle: js_sys::JsString,
    units: u32,
    origin: Origin,
) -> Result<Checked, JsValue> {
    let checked = if units < ENCODE_INTO_MIN_UNITS {
        // Always a string (toText's contract); never unwrapped, so never a throw from wasm.
        let text = handle
            .as_string()
            .ok_or_else(|| type_error("unsupported value: its JSON text is not a string"))?;
        transcode::python_bytes_checked_as(text.into_bytes(), origin)
    } else {
        transcode::python_bytes_checked_as(utf8_bytes(&handle, units), origin)
    };
    let (bytes, form) = checked.map_err(|e| type_error(&format!("unsupported value: {e}")))?;
    let text = match form {
        transcode::Form::Verbatim { plain } => Some((handle, plain)),
        transcode::Form::Rewritten => None,
    };
    Ok(Checked { bytes, text })
}

/// `text` (of `units` UTF-16 units) as UTF-8: encoded by the host straight into a buffer of
/// one byte per unit, which holds it when it is ASCII (JSON text most often is); otherwise
/// by the host's `TextEncoder.encode` and copied in, at its exact size.
fn utf8_bytes(text: &js_sys::JsString, units: u32) -> Vec<u8> {
    let mut buf = vec![0u8; units as usize];
    match usize::try_from(encode_utf8_into(text, &mut buf)) {
        Ok(written) => {
            buf.truncate(written);
            buf
        }
        Err(_) => encode_utf8(text),
    }
}

/// The bytes of a text [`Checked`] kept (ASCII, so one byte per unit; any text is still
/// encoded whole).
pub fn text_bytes(text: &js_sys::JsString) -> Vec<u8> {
    utf8_bytes(text, text.length())
}

/// A text [`Checked`] kept as plain, as a JS value, by `JSON.parse` alone.
pub fn parse_text(text: &js_sys::JsString) -> Result<JsValue, JsValue> {
    from_text_handle(text, false)
}

/// A core value as a plain JS value (objects, arrays, numbers, strings, null; BigInt for
/// integers beyond 2^53 − 1).
pub fn value_to_js(value: &Value) -> Result<JsValue, JsValue> {
    let mut text = String::new();
    let needs_reviver = interchange::to_js_json(value, &mut text);
    from_text(&text, needs_reviver)
}

/// [`value_to_js`] for a value whose strings may hold stand-ins for lone surrogates
/// (`lone_surrogates`, as a message read from bytes says): each becomes the lone surrogate
/// it stands for, which a JS string can hold.
pub fn value_to_js_keeping(value: &Value, lone_surrogates: bool) -> Result<JsValue, JsValue> {
    if !lone_surrogates {
        return value_to_js(value);
    }
    let mut text = String::new();
    let needs_reviver = interchange::to_js_json(value, &mut text);
    from_text(&json_text_with_lone_surrogates(&text), needs_reviver)
}

/// Plain JSON text in JS memory (checked by `interchange::PlainScan`) as a JS value, by
/// `JSON.parse` alone: [`parse_plain`] for bytes that never entered wasm.
pub fn parse_plain_bytes(bytes: &js_sys::Uint8Array) -> Result<JsValue, JsValue> {
    parse_bytes(bytes)
}

/// Plain JSON text (see `interchange::plain_json`) as a JS value, by `JSON.parse` alone.
pub fn parse_plain(text: &str) -> Result<JsValue, JsValue> {
    from_text(text, false)
}
