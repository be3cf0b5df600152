//! `ResultBackend`: the methods every backend class has (`getResult`, `storeResult`, …),
//! written once over [`AnyStore`]. The classes users construct (`StubBackend`,
//! `RedisBackend`, …, in `backends.rs`) extend it and only say which store they sit on.

use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::any_store::AnyStore;
use super::errors::{exception_info, missing, to_js};
use super::interchange::{parse_plain, python_bytes_from_js, value_from_js, value_to_js};
use super::message::Identity;
use super::result_stream::{abort_reason, already_aborted, Collection, ResultStream};
use crate::bindings::drivers::abort::Aborted;
use crate::bindings::drivers::random::random_seed;
use crate::bindings::drivers::timer::JsTimer;
use crate::bindings::js::{
    bytes_from_js, is_absent, opt_bool, opt_number, opt_string, options_object, prop, ttl_ms,
    type_error,
};
use crate::codec;
use crate::codec::interchange::{plain_json, small_int};
use crate::codec::value::Value;
use crate::model::envelope::{self, ExceptionInfo};
use crate::model::error::{ResultError, StoreError};
use crate::model::key::{KeyScheme, DEFAULT_NAMESPACE};
use crate::results::backend::{
    decode_result, exception_bytes, unwrap_result, ResultBackend, Wait, DEFAULT_MAX_VALUE_BYTES,
    DEFAULT_RESULT_TTL_MS,
};
use crate::wait::race::{race, Either};

/// How values become bytes: the built-in JSON encoder (native fast path) or a JS object
/// with `encode(value) → bytes` and `decode(bytes) → value`.
enum Codec {
    Json,
    Custom(JsValue),
}

/// What a read returns.
#[derive(Clone, Copy)]
enum Decode {
    /// The decoded value; `ResultMissing` when absent.
    Value,
    /// The decoded value; `Missing` when absent.
    OrMissing,
    /// The stored bytes as they are.
    Raw,
}

/// Options every backend takes: `{ namespace, useNamespacePrefixKeys, encoder }`.
pub(crate) struct CommonOptions {
    keys: KeyScheme,
    codec: Codec,
    encoder: JsValue,
    max_value_bytes: usize,
}

impl CommonOptions {
    /// Reads and validates the common options.
    pub(crate) fn read(options: &JsValue) -> Result<CommonOptions, JsValue> {
        let options = options_object(options, "backend options")?;
        let namespace =
            opt_string(&options, "namespace")?.unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        let use_namespace_prefix_keys =
            opt_bool(&options, "useNamespacePrefixKeys")?.unwrap_or(false);
        let encoder = prop(&options, "encoder");
        let codec = if is_absent(&encoder)
            || prop(&encoder, "isDramatiqJsonEncoder").as_bool() == Some(true)
        {
            Codec::Json
        } else if prop(&encoder, "encode").is_function() && prop(&encoder, "decode").is_function() {
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

fn reject(err: JsValue) -> js_sys::Promise {
    js_sys::Promise::reject(&err)
}

/// The Promise of `fut`, settled at once when `fut` completes on its first poll (a stub
/// read or write, a cached answer): this skips the executor's task queue, which is most of
/// the cost of a small call. Otherwise the executor drives it on; every future here
/// re-registers its waker on each poll, so the throwaway first one is never relied on.
pub(crate) fn promise_of<F>(fut: F) -> js_sys::Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let mut fut = Box::pin(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(value)) => js_sys::Promise::resolve(&value),
        Poll::Ready(Err(err)) => js_sys::Promise::reject(&err),
        Poll::Pending => future_to_promise(fut),
    }
}

/// What a backend holds: the core backend over its store, and how values become bytes.
/// Shared (`Rc`) with the reads and collections in flight, which outlive a call.
pub(crate) struct Shared {
    pub(crate) core: ResultBackend<AnyStore, JsTimer>,
    codec: Codec,
    encoder: JsValue,
}

impl Shared {
    fn key(&self, message: &JsValue) -> Result<String, JsValue> {
        let id = Identity::read(message)?;
        Ok(self
            .core
            .keys()
            .message_key(&id.queue_name, &id.actor_name, &id.message_id))
    }

    fn encode(&self, value: &JsValue) -> Result<Vec<u8>, JsValue> {
        match &self.codec {
            Codec::Json => python_bytes_from_js(value),
            Codec::Custom(enc) => {
                let f: js_sys::Function = prop(enc, "encode").unchecked_into();
                bytes_from_js(&f.call1(enc, value)?)
            }
        }
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
                let value = decode_result(key, bytes).map_err(|e| to_js(&e))?;
                value_to_js(&value)
            }
            Codec::Custom(enc) => {
                let f: js_sys::Function = prop(enc, "decode").unchecked_into();
                let decoded = f
                    .call1(enc, &js_sys::Uint8Array::from(bytes).into())
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
}

/// Reads a wait's options: `{ block, timeout, signal }`, `block` defaulting to `block`.
fn wait_options(options: &JsValue, block: bool) -> Result<(Wait, Option<Aborted>), JsValue> {
    // No options (the common non-blocking read): the defaults, without reading any.
    if is_absent(options) {
        return Ok((Wait::new(block, None).map_err(|e| to_js(&e))?, None));
    }
    let options = options_object(options, "options")?;
    let block = opt_bool(&options, "block")?.unwrap_or(block);
    let wait = Wait::new(block, opt_number(&options, "timeout")?).map_err(|e| to_js(&e))?;
    Ok((wait, Aborted::watch(&prop(&options, "signal"))?))
}

/// Dramatiq's `ResultBackend`: the base class of every backend. Not constructed directly:
/// `new StubBackend()`, `new RedisBackend(client)`, … each build one over their store.
#[wasm_bindgen(js_name = ResultBackend)]
pub struct JsResultBackend {
    shared: Rc<Shared>,
}

impl JsResultBackend {
    /// A backend over `store` with the common options.
    pub(crate) fn new(store: AnyStore, options: CommonOptions) -> JsResultBackend {
        JsResultBackend {
            shared: Rc::new(Shared {
                core: ResultBackend::new(store, JsTimer, options.keys, random_seed())
                    .with_max_value_bytes(options.max_value_bytes),
                codec: options.codec,
                encoder: options.encoder,
            }),
        }
    }

    /// The store this backend sits on.
    pub(crate) fn store(&self) -> &AnyStore {
        self.shared.core.store()
    }

    /// The state reads in flight share (for an extra that outlives the call).
    pub(crate) fn shared(&self) -> Rc<Shared> {
        self.shared.clone()
    }

    /// Reads `message`'s result under `options` and hands it back as `mode` says.
    fn read(&self, message: &JsValue, options: &JsValue, mode: Decode) -> js_sys::Promise {
        let prepared = self
            .shared
            .key(message)
            .and_then(|key| Ok((key, wait_options(options, false)?)));
        let (key, (wait, abort)) = match prepared {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        let shared = self.shared.clone();
        promise_of(async move {
            let read = shared.core.wait_for_bytes(&key, wait);
            let outcome = match abort {
                None => read.await,
                Some(mut abort) => {
                    if let Some(reason) = already_aborted(&abort) {
                        return Err(reason);
                    }
                    match race(read, &mut abort).await {
                        Either::Left(outcome) => outcome,
                        Either::Right(()) => return Err(abort_reason(&abort, &key)),
                    }
                }
            };
            match (outcome, mode) {
                (Ok(bytes), Decode::Raw) => Ok(js_sys::Uint8Array::from(bytes.as_slice()).into()),
                (Ok(bytes), _) => shared.decode(&key, &bytes),
                (Err(ResultError::Missing { .. }), Decode::OrMissing) => Ok(missing()),
                (Err(e), _) => Err(to_js(&e)),
            }
        })
    }

    /// Stores `bytes` under `message`'s key: everything is read before the call returns
    /// (the caller may mutate its arguments afterwards).
    fn put(&self, prepared: Result<(String, Vec<u8>, u64), JsValue>) -> js_sys::Promise {
        let (key, bytes, ttl) = match prepared {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        let shared = self.shared.clone();
        promise_of(async move {
            shared
                .core
                .store_bytes(&key, bytes, ttl)
                .await
                .map_err(|e| to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Reads `messages` (an array) and `{ block = true, timeout, signal, onProgress }`.
    fn collection(&self, messages: &JsValue, options: &JsValue) -> Result<Collection, JsValue> {
        if !js_sys::Array::is_array(messages) {
            return Err(type_error("messages must be an array of messages"));
        }
        let messages: Vec<JsValue> = js_sys::Array::from(messages).iter().collect();
        let keys = messages
            .iter()
            .map(|m| self.shared.key(m))
            .collect::<Result<Vec<_>, _>>()?;
        let (wait, abort) = wait_options(&options_object(options, "options")?, true)?;
        let on_progress = prop(options, "onProgress");
        let on_progress = if is_absent(&on_progress) {
            None
        } else {
            Some(
                on_progress
                    .dyn_into::<js_sys::Function>()
                    .map_err(|_| type_error("onProgress must be a function"))?,
            )
        };
        Ok(Collection::new(
            self.shared.clone(),
            messages,
            keys,
            wait,
            abort,
            on_progress,
        ))
    }
}

#[wasm_bindgen(js_class = ResultBackend)]
impl JsResultBackend {
    /// The store key of `message`'s result (Dramatiq's `build_message_key`).
    #[wasm_bindgen(js_name = buildMessageKey)]
    pub fn build_message_key(&self, message: JsValue) -> Result<String, JsValue> {
        self.shared.key(&message)
    }

    /// The result of `message`: `{ block = false, timeout = 10000, signal }`. Rejects with
    /// `ResultMissing`, `ResultTimeout`, `ResultFailure` or another `ResultError`; with
    /// `signal.reason` when aborted.
    #[wasm_bindgen(js_name = getResult)]
    pub fn get_result(&self, message: JsValue, options: JsValue) -> js_sys::Promise {
        self.read(&message, &options, Decode::Value)
    }

    /// Like `getResult`, but resolves with `Missing` where `getResult` would reject with
    /// `ResultMissing`.
    #[wasm_bindgen(js_name = tryGetResult)]
    pub fn try_get_result(&self, message: JsValue, options: JsValue) -> js_sys::Promise {
        self.read(&message, &options, Decode::OrMissing)
    }

    /// The stored bytes of `message`'s result, undecoded (same options as `getResult`).
    #[wasm_bindgen(js_name = getResultBytes)]
    pub fn get_result_bytes(&self, message: JsValue, options: JsValue) -> js_sys::Promise {
        self.read(&message, &options, Decode::Raw)
    }

    /// Stores `value` as `message`'s result for `ttlMs` (default 600 000).
    #[wasm_bindgen(js_name = storeResult)]
    pub fn store_result(
        &self,
        message: JsValue,
        value: JsValue,
        ttl_ms_: JsValue,
    ) -> js_sys::Promise {
        self.put((|| {
            Ok((
                self.shared.key(&message)?,
                self.shared.encode(&value)?,
                ttl_ms(&ttl_ms_, DEFAULT_RESULT_TTL_MS)?,
            ))
        })())
    }

    /// Stores `error` as `message`'s failure for `ttlMs` (default 600 000), in Dramatiq's
    /// envelope: `{ type: class name, msg: error.message }`.
    #[wasm_bindgen(js_name = storeException)]
    pub fn store_exception(
        &self,
        message: JsValue,
        error: JsValue,
        ttl_ms_: JsValue,
    ) -> js_sys::Promise {
        self.put((|| {
            let key = self.shared.key(&message)?;
            let ttl = ttl_ms(&ttl_ms_, DEFAULT_RESULT_TTL_MS)?;
            let info = exception_info(&error);
            let exc = ExceptionInfo::new(
                info.get(0).as_string().unwrap_or_else(|| "Error".into()),
                info.get(1).as_string().unwrap_or_default(),
            );
            let bytes = match &self.shared.codec {
                Codec::Json => exception_bytes(&exc),
                Codec::Custom(_) => self
                    .shared
                    .encode(&value_to_js(&envelope::wrap_exception(&exc))?)?,
            };
            Ok((key, bytes, ttl))
        })())
    }

    /// Stores already-encoded bytes as `message`'s result, as they are.
    #[wasm_bindgen(js_name = storeResultBytes)]
    pub fn store_result_bytes(
        &self,
        message: JsValue,
        bytes: JsValue,
        ttl_ms_: JsValue,
    ) -> js_sys::Promise {
        self.put((|| {
            Ok((
                self.shared.key(&message)?,
                bytes_from_js(&bytes)?,
                ttl_ms(&ttl_ms_, DEFAULT_RESULT_TTL_MS)?,
            ))
        })())
    }

    /// Removes `message`'s result (beyond Dramatiq, where results only expire).
    #[wasm_bindgen(js_name = deleteResult)]
    pub fn delete_result(&self, message: JsValue) -> js_sys::Promise {
        let key = match self.shared.key(&message) {
            Ok(k) => k,
            Err(e) => return reject(e),
        };
        let shared = self.shared.clone();
        promise_of(async move {
            shared
                .core
                .delete_result(&key)
                .await
                .map_err(|e| to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The results of many messages under one deadline: `{ block = true, timeout = 10000,
    /// signal, onProgress(done, total) }`. Resolves with the values in the order given;
    /// rejects with the first error to happen (the rest of the wait is cancelled).
    #[wasm_bindgen(js_name = getResults)]
    pub fn get_results(&self, messages: JsValue, options: JsValue) -> js_sys::Promise {
        let mut collection = match self.collection(&messages, &options) {
            Ok(c) => c,
            Err(e) => return reject(e),
        };
        promise_of(async move {
            let out = js_sys::Array::new_with_length(collection.len() as u32);
            while let Some((index, outcome)) = collection.next().await? {
                out.set(index as u32, outcome?);
            }
            Ok(out.into())
        })
    }

    /// Like `getResults`, as an async iterator of `{ message, value }` or
    /// `{ message, error }` in the order the results complete.
    #[wasm_bindgen(js_name = iterResults)]
    pub fn iter_results(
        &self,
        messages: JsValue,
        options: JsValue,
    ) -> Result<ResultStream, JsValue> {
        Ok(ResultStream::new(self.collection(&messages, &options)?))
    }

    /// The key namespace.
    #[wasm_bindgen(getter)]
    pub fn namespace(&self) -> String {
        self.shared.core.keys().namespace.clone()
    }

    /// Whether keys are the readable `namespace:queue:actor:id` strings.
    #[wasm_bindgen(getter, js_name = useNamespacePrefixKeys)]
    pub fn use_namespace_prefix_keys(&self) -> bool {
        self.shared.core.keys().use_namespace_prefix_keys
    }

    /// The encoder passed in the options, if any.
    #[wasm_bindgen(getter)]
    pub fn encoder(&self) -> JsValue {
        self.shared.encoder.clone()
    }
}
