//! What a backend holds and shares with the reads in flight: the core `ResultBackend` over
//! its store, the codec, and the options every backend class reads.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::any_store::{AnyStore, StubEntry};
use super::errors::{error_to_js, to_js};
use super::interchange::{
    js_text, parse_plain, parse_plain_bytes, parse_text, python_bytes_in_js, python_bytes_of_text,
    python_checked_from_js, python_kept_from_js, value_from_js, value_to_js_keeping, Kept,
};
use super::message::Identity;
use crate::bindings::drivers::abort::Aborted;
use crate::bindings::drivers::random::random_seed;
use crate::bindings::drivers::redis_socket::{js_held, JsHeld};
use crate::bindings::drivers::timer::{install_wake_hops, JsTimer};
use crate::bindings::js::{
    bytes_from_js, is_absent, opt_bool, opt_number, opt_string, options_object, prop, type_error,
};
use crate::codec;
use crate::codec::interchange::{plain_json, small_int, PlainScan};
use crate::codec::surrogates::decode_marking_surrogates;
use crate::codec::value::Value;
use crate::model::error::{ResultError, StoreError};
use crate::model::key::{KeyScheme, DEFAULT_NAMESPACE};
use crate::resp::command::DIRECT_MIN_BYTES;
use crate::results::backend::{unwrap_result, ResultBackend, Wait, DEFAULT_MAX_VALUE_BYTES};
use crate::results::store::{HostBytes, Stored};
use crate::stores::stub::{StubStore, StubValue};

/// How much of a value kept in JS memory is copied into wasm at a time to be checked.
const SCAN_CHUNK: usize = 256 * 1024;

/// Whether bytes kept in JS memory are plain JSON (`interchange::plain_json`), checked
/// through one small buffer.
fn host_is_plain(bytes: &dyn HostBytes) -> bool {
    let len = bytes.len();
    let mut buf = vec![0; SCAN_CHUNK.min(len)];
    let mut scan = PlainScan::new();
    let mut at = 0;
    while at < len {
        let n = SCAN_CHUNK.min(len - at);
        let Some(piece) = buf.get_mut(..n) else {
            return false;
        };
        bytes.copy_into(at, piece);
        scan.feed(piece);
        at += n;
    }
    scan.finish()
}

/// How values become bytes: the built-in JSON encoder (native fast path) or a JS object
/// with `encode(value) → bytes` and `decode(bytes) → value`.
pub(crate) enum Codec {
    Json,
    Custom(JsValue),
}

/// The names of the options every backend takes.
pub(crate) const COMMON_OPTIONS: [&str; 4] = [
    "namespace",
    "useNamespacePrefixKeys",
    "encoder",
    "maxValueBytes",
];

/// Options every backend takes: `{ namespace, useNamespacePrefixKeys, encoder, maxValueBytes }`.
pub(crate) struct CommonOptions {
    keys: KeyScheme,
    codec: Codec,
    encoder: JsValue,
    max_value_bytes: usize,
}

impl CommonOptions {
    /// The options of a backend made without any (`new StubBackend()`): what `read` makes of
    /// an empty object, without reading one, so a first `new StubBackend()` (an edge
    /// function's start) compiles none of the option checks (bench/notes.md, start-up).
    pub(crate) fn defaults() -> CommonOptions {
        CommonOptions {
            keys: KeyScheme {
                namespace: DEFAULT_NAMESPACE.into(),
                use_namespace_prefix_keys: false,
            },
            codec: Codec::Json,
            encoder: JsValue::UNDEFINED,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }

    /// Reads and validates the common options.
    pub(crate) fn read(options: &JsValue) -> Result<CommonOptions, JsValue> {
        let options = options_object(options, "backend options")?;
        let namespace =
            opt_string(&options, "namespace")?.unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        let use_namespace_prefix_keys =
            opt_bool(&options, "useNamespacePrefixKeys")?.unwrap_or(false);
        let encoder = prop(&options, "encoder")?;
        let codec = if is_absent(&encoder)
            || prop(&encoder, "isDramatiqJsonEncoder")?.as_bool() == Some(true)
        {
            Codec::Json
        } else if prop(&encoder, "encode")?.is_function() && prop(&encoder, "decode")?.is_function()
        {
            Codec::Custom(encoder.clone())
        } else {
            return Err(type_error(
                "encoder must be a JSONEncoder or an object with encode(value) and decode(bytes) methods",
            ));
        };
        let max_value_bytes = match opt_number(&options, "maxValueBytes")? {
            None => DEFAULT_MAX_VALUE_BYTES,
            Some(n) if n == f64::INFINITY => usize::MAX,
            Some(n) if n >= 0.0 && n.fract() == 0.0 => n as usize,
            Some(n) => {
                return Err(type_error(&format!(
                    "option maxValueBytes must be a non-negative integer or Infinity, got {}",
                    codec::Plain(n)
                )))
            }
        };
        Ok(CommonOptions {
            keys: KeyScheme {
                namespace,
                use_namespace_prefix_keys,
            },
            codec,
            encoder,
            max_value_bytes,
        })
    }
}

/// What a backend holds: the core backend over its store, and how values become bytes.
/// Shared (`Rc`) with the reads and collections in flight, which outlive a call.
pub(crate) struct Shared {
    pub(crate) core: ResultBackend<AnyStore, JsTimer>,
    pub(crate) codec: Codec,
    pub(crate) encoder: JsValue,
    /// The last identity string a key was derived from, and that key (see [`Shared::key`]).
    last_key: RefCell<Option<(JsValue, String)>>,
}

impl Shared {
    /// The result key of `message`. The last key derived is kept with the identity string
    /// it came from: consecutive calls often name one message (a store and its read, the
    /// polls of one result), and comparing the string JS holds (for a `Message`, the very
    /// same string each time) spares copying it in and hashing it again.
    pub(crate) fn key(&self, message: &JsValue) -> Result<String, JsValue> {
        let joined = Identity::joined(message)?;
        if let Some((last, key)) = &*self.last_key.borrow() {
            // `===`: only a string is ever kept, and a string equals only an equal string.
            if *last == joined {
                return Ok(key.clone());
            }
        }
        // The joined string (a `Message`, a valid plain object): its parts as they are.
        if let Some(text) = joined.as_string() {
            if let Some((queue, actor, id)) = Identity::split(&text) {
                let key = self.core.keys().message_key(queue, actor, id);
                *self.last_key.borrow_mut() = Some((joined, key.clone()));
                return Ok(key);
            }
        }
        let id = Identity::from_joined(message, &joined)?;
        Ok(self
            .core
            .keys()
            .message_key(&id.queue_name, &id.actor_name, &id.message_id))
    }

    pub(crate) fn encode(&self, value: &JsValue) -> Result<Vec<u8>, JsValue> {
        match &self.codec {
            Codec::Json => python_checked_from_js(value).map(|checked| checked.bytes),
            Codec::Custom(enc) => {
                // `call` is caught by the glue even when `encode` is no longer a function.
                let f: js_sys::Function = prop(enc, "encode")?.unchecked_into();
                bytes_from_js(&f.call1(enc, value)?)
            }
        }
    }

    /// [`Shared::encode`] for a store that keeps the built-in codec's text when the bytes
    /// are that text (the stub).
    pub(crate) fn encode_kept(&self, value: &JsValue) -> Result<Kept, JsValue> {
        match &self.codec {
            Codec::Json => python_kept_from_js(value),
            Codec::Custom(_) => Ok(Kept::Bytes {
                bytes: self.encode(value)?,
                text: None,
            }),
        }
    }

    /// Stores `kept` under `key` in `stub`, which answers at once: no future, no task,
    /// and the text kept when it is the bytes (see [`StubEntry`]).
    pub(crate) fn stub_put(
        &self,
        stub: &StubStore<JsTimer, StubEntry>,
        key: &str,
        kept: Kept,
        ttl_ms: u64,
    ) -> Result<(), JsValue> {
        let entry = match kept {
            Kept::Text { text, plain, len } => {
                // Never a small integer: those cross as bytes (short texts).
                self.core
                    .size_within_limit(key, len)
                    .map_err(|e| to_js(&e))?;
                StubEntry::Text { text, plain }
            }
            Kept::Bytes { bytes, text } => {
                let bytes = self.core.within_limit(key, bytes).map_err(|e| to_js(&e))?;
                match text {
                    // A small integer reads fastest from its bytes (no text, no `JSON.parse`).
                    Some((text, plain)) if small_int(&bytes).is_none() => {
                        StubEntry::Text { text, plain }
                    }
                    _ => StubEntry::Bytes(bytes),
                }
            }
        };
        stub.put_value(key, entry, ttl_ms);
        Ok(())
    }

    /// What a read of `key` answers at once when the store is the stub and holds the key
    /// (no future, no task: there is nothing to wait for); `None` sends the read the usual
    /// way (another store, an absent or expired key).
    pub(crate) fn stub_read(&self, key: &str, raw: bool) -> Option<StubRead> {
        let AnyStore::Stub(stub) = self.core.store() else {
            return None;
        };
        let found = stub.with_value(key, |entry| match entry {
            // `JSON.parse` of a string runs no code of anyone's, so it may run in place.
            StubEntry::Text { text, plain: true } if !raw => {
                parse_text(text).map_err(|_| entry.to_bytes())
            }
            other => Err(other.to_bytes()),
        })?;
        // Out of the entry: decoding may call a custom decoder, which may use the store.
        Some(match found {
            Ok(value) => StubRead::Parsed(value),
            Err(bytes) if raw => {
                StubRead::Decoded(Ok(js_sys::Uint8Array::from(bytes.as_slice()).into()))
            }
            Err(bytes) => StubRead::Decoded(self.decode(key, &bytes)),
        })
    }

    /// [`Shared::encode`], where a large value for a Redis store whose `JSON.stringify` text
    /// already is Python's bytes (ASCII, no marker, no number spelt differently) stays in JS
    /// memory: checked through a small buffer, it never enters wasm whole (wasm memory never
    /// shrinks), and `connectRedis` writes it from there. Every other value is
    /// [`Shared::encode`]'s bytes.
    pub(crate) fn encode_stored(&self, value: &JsValue) -> Result<Stored, JsValue> {
        if !matches!(
            (&self.codec, self.core.store()),
            (Codec::Json, AnyStore::Redis(_))
        ) {
            return self.encode(value).map(Stored::Bytes);
        }
        let (text, origin) = js_text(value)?;
        if text.length() as usize >= DIRECT_MIN_BYTES {
            if let Some(bytes) = python_bytes_in_js(&text) {
                return Ok(Stored::Host(Rc::new(JsHeld(bytes))));
            }
        }
        python_bytes_of_text(&text, origin).map(Stored::Bytes)
    }

    /// The JS value of stored bytes, or the error they stand for (the core's decode path;
    /// the built-in codec adds fast paths that skip building a tree).
    pub(crate) fn decode(&self, key: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        match &self.codec {
            Codec::Json => {
                // Fastest path: a small integer (a common result) needs no text at all.
                if let Some(n) = small_int(bytes) {
                    return Ok(JsValue::from_f64(n));
                }
                // Fast path: text JSON.parse reads exactly as Python does crosses as is.
                if let Some(text) = plain_json(bytes) {
                    if let Ok(value) = parse_plain(text) {
                        return Ok(value);
                    }
                }
                // Lone surrogates (Python's `str` holds them) kept: JS strings hold them too.
                let (value, lone) = decode_marking_surrogates(bytes).map_err(|source| {
                    to_js(&ResultError::Decode {
                        key: key.to_owned(),
                        source,
                    })
                })?;
                match unwrap_result(key, value) {
                    Ok(value) => value_to_js_keeping(&value, lone),
                    Err(e) => Err(error_to_js(&e, lone)),
                }
            }
            Codec::Custom(_) => self.decode_custom(key, &js_sys::Uint8Array::from(bytes)),
        }
    }

    /// [`Shared::decode`] for what a store read. A value the store left in JS memory
    /// (`connectRedis`'s large values) is checked there through a small buffer and, when
    /// plain JSON, parsed from there: it never enters wasm whole, so it pins no wasm memory
    /// (which never shrinks). Anything else takes [`Shared::decode`], which decides every
    /// byte as before.
    pub(crate) fn decode_stored(&self, key: &str, stored: Stored) -> Result<JsValue, JsValue> {
        if let Stored::Host(host) = &stored {
            if let Some(js) = js_held(host.as_ref()) {
                match &self.codec {
                    Codec::Json => {
                        if host_is_plain(host.as_ref()) {
                            if let Ok(value) = parse_plain_bytes(js) {
                                return Ok(value);
                            }
                        }
                    }
                    // The custom decoder gets a buffer of its own, as always.
                    Codec::Custom(_) => return self.decode_custom(key, js),
                }
            }
        }
        self.decode(key, &stored.into_bytes())
    }

    /// The custom encoder's `decode(bytes)`, and the envelope check of its value.
    fn decode_custom(&self, key: &str, bytes: &js_sys::Uint8Array) -> Result<JsValue, JsValue> {
        match &self.codec {
            Codec::Json => Err(type_error("no custom encoder")),
            Codec::Custom(enc) => {
                let decoded = prop(enc, "decode")
                    .and_then(|f| {
                        f.unchecked_into::<js_sys::Function>()
                            .call1(enc, bytes.as_ref())
                    })
                    .map_err(|cause| {
                        to_js(&ResultError::Store {
                            key: key.to_owned(),
                            source: StoreError::with_cause(
                                "the custom encoder's decode() threw",
                                Rc::new(cause),
                            ),
                        })
                    })?;
                // The envelope check needs the value's shape; the data stays the JS value.
                let shape = value_from_js(&decoded).unwrap_or(Value::Null);
                unwrap_result(key, shape).map_err(|e| to_js(&e))?;
                Ok(decoded)
            }
        }
    }

    /// A backend state over `store` with the common options.
    pub(crate) fn new(store: AnyStore, options: CommonOptions) -> Shared {
        install_wake_hops();
        Shared {
            core: ResultBackend::new(store, JsTimer, options.keys, random_seed())
                .with_max_value_bytes(options.max_value_bytes),
            codec: options.codec,
            encoder: options.encoder,
            last_key: RefCell::new(None),
        }
    }
}

/// What the stub answers a read at once (see [`Shared::stub_read`]).
pub(crate) enum StubRead {
    /// A value `JSON.parse` made: never a Promise, so `Promise.resolve` of it cannot throw.
    Parsed(JsValue),
    /// What the usual decode made of the bytes: a value (a custom decoder's may be a
    /// Promise) or the error they stand for; or the bytes themselves.
    Decoded(Result<JsValue, JsValue>),
}

/// Reads a wait's options: `{ block, timeout, signal }`, `block` defaulting to `block`.
pub(crate) fn wait_options(
    options: &JsValue,
    block: bool,
) -> Result<(Wait, Option<Aborted>), JsValue> {
    // No options (the common non-blocking read): the defaults, without reading any.
    if is_absent(options) {
        return Ok((Wait::new(block, None).map_err(|e| to_js(&e))?, None));
    }
    let options = options_object(options, "options")?;
    let block = opt_bool(&options, "block")?.unwrap_or(block);
    let wait = Wait::new(block, opt_number(&options, "timeout")?).map_err(|e| to_js(&e))?;
    Ok((wait, Aborted::watch(&prop(&options, "signal")?)?))
}
