//! `ResultBackend`: the methods every backend class has (`getResult`, `storeResult`, …),
//! written once over [`AnyStore`]. The classes users construct (`StubBackend`,
//! `RedisBackend`, …, in `backends.rs`) extend it and only say which store they sit on.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::any_store::AnyStore;
use super::backend_state::{wait_options, Codec, CommonOptions, Shared, StubRead};
use super::errors::{exception_info_keeping_surrogates, missing, to_js};
use super::interchange::value_to_js;
use super::promise::{promise_of, reject, resolved, resolved_undefined};
use super::result_stream::{abort_reason, already_aborted, Collection, ResultStream};
use crate::bindings::drivers::redis_socket::js_held;
use crate::bindings::js::{
    array_of, bytes_from_js, is_absent, options_object, prop, ttl_ms, type_error,
};
use crate::codec::surrogates::{without_stand_ins, write_stand_ins_back};
use crate::model::envelope::{self, ExceptionInfo};
use crate::model::error::ResultError;
use crate::results::backend::{exception_bytes, Wait, DEFAULT_RESULT_TTL_MS};
use crate::results::store::Stored;
use crate::wait::race::{race, Either};

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
            shared: Rc::new(Shared::new(store, options)),
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
        // No options: a read that does not wait, decided here, so that the first read (an
        // edge function's) does not compile the reading of options (bench/notes.md, start-up).
        let prepared = self.shared.key(message).and_then(|key| {
            let wait = if is_absent(options) {
                (Wait::NOW, None)
            } else {
                wait_options(options, false)?
            };
            Ok((key, wait))
        });
        let (key, (wait, abort)) = match prepared {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        // The stub answers a key it holds at once, with no waiting loop and no future (a
        // value kept as plain text by `JSON.parse` alone). An abort signal takes the usual
        // way (an aborted one rejects even when a value is there).
        if abort.is_none() {
            if let Some(read) = self.shared.stub_read(&key, matches!(mode, Decode::Raw)) {
                return match read {
                    // Nothing to adopt: `Promise.resolve` cannot throw here.
                    StubRead::Parsed(value) => js_sys::Promise::resolve(&value),
                    StubRead::Decoded(Ok(value)) => resolved(&value),
                    StubRead::Decoded(Err(e)) => reject(e),
                };
            }
        }
        let shared = self.shared.clone();
        promise_of(async move {
            let outcome = match abort {
                // A read that does not wait skips the waiting loop's code altogether.
                None if !wait.block => shared.core.read_stored_now(&key, wait.timeout_ms).await,
                None => shared.core.wait_for_stored(&key, wait).await,
                Some(mut abort) => {
                    let read = shared.core.wait_for_stored(&key, wait);
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
                (Ok(stored), Decode::Raw) => Ok(raw_bytes(stored).into()),
                (Ok(stored), _) => shared.decode_stored(&key, stored),
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

    /// [`JsResultBackend::put`] of a value the host may hold.
    fn put_stored(&self, prepared: Result<(String, Stored, u64), JsValue>) -> js_sys::Promise {
        let (key, value, ttl) = match prepared {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        let shared = self.shared.clone();
        promise_of(async move {
            shared
                .core
                .store_stored(&key, value, ttl)
                .await
                .map_err(|e| to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Reads `messages` (an array) and `{ block = true, timeout, signal, onProgress }`.
    fn collection(&self, messages: &JsValue, options: &JsValue) -> Result<Collection, JsValue> {
        let Some(messages) = array_of(messages)? else {
            return Err(type_error("messages must be an array of messages"));
        };
        let keys = messages
            .iter()
            .map(|m| self.shared.key(m))
            .collect::<Result<Vec<_>, _>>()?;
        let (wait, abort) = wait_options(&options_object(options, "options")?, true)?;
        let on_progress = prop(options, "onProgress")?;
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
        // The stub stores at once, keeping the text when it is the bytes.
        if let AnyStore::Stub(stub) = self.store() {
            let stored = (|| {
                let key = self.shared.key(&message)?;
                let kept = self.shared.encode_kept(&value)?;
                let ttl = ttl_ms(&ttl_ms_, DEFAULT_RESULT_TTL_MS)?;
                self.shared.stub_put(stub, &key, kept, ttl)
            })();
            return match stored {
                Ok(()) => resolved_undefined(),
                Err(e) => reject(e),
            };
        }
        self.put_stored((|| {
            Ok((
                self.shared.key(&message)?,
                self.shared.encode_stored(&value)?,
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
            // The error is read once (its getters are the caller's).
            let (exc_type, exc_msg, stand_ins) = exception_info_keeping_surrogates(&error);
            let bytes = match &self.shared.codec {
                // A message cut inside a surrogate pair is stored as Python writes such a
                // `str`.
                Codec::Json => {
                    let bytes = exception_bytes(&ExceptionInfo::new(exc_type, exc_msg));
                    if stand_ins {
                        write_stand_ins_back(bytes)
                    } else {
                        bytes
                    }
                }
                // A custom encoder gets a JS value, whose text the stand-ins must not reach.
                Codec::Custom(_) => {
                    let exc_msg = if stand_ins {
                        without_stand_ins(&exc_msg)
                    } else {
                        exc_msg
                    };
                    let exc = ExceptionInfo::new(exc_type, exc_msg);
                    self.shared
                        .encode(&value_to_js(&envelope::wrap_exception(&exc))?)?
                }
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

/// What `getResultBytes` hands back: a new `Uint8Array` of the stored bytes (a value kept
/// in JS memory is that buffer itself, which nobody else holds).
fn raw_bytes(stored: Stored) -> js_sys::Uint8Array {
    if let Stored::Host(host) = &stored {
        if let Some(js) = js_held(host.as_ref()) {
            return js.clone();
        }
    }
    js_sys::Uint8Array::from(stored.into_bytes().as_slice())
}
