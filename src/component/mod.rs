//! The WebAssembly component (`wasm32-wasip2`): the core behind the WIT world in `wit/`.
//!
//! **Invariant:** the only code that names `wit_bindgen` (`tests/tidy.rs` enforces it).
//! It turns WIT records into the core's types and the core's errors into the WIT
//! `result-error`, and never panics: a trap would poison the instance for every later call.
//! Values cross as JSON text: what a caller stores is decoded in Python's dialect and
//! re-encoded by `encoder.rs`, so the stored bytes are Python's whatever the caller's
//! spacing; what comes back is that same Python-exact text.

mod host;
mod timer;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use self::host::HostStore;
use self::timer::{block_on, WasiTimer};
use self::wit::exports::dramatiq::results::results as api;
use crate::codec;
use crate::codec::surrogates::python_bytes_keeping_surrogates;
use crate::model::envelope::ExceptionInfo;
use crate::model::error::{ResultError, StoreError};
use crate::model::key::KeyScheme;
use crate::model::message::MessageRef;
use crate::results::backend::{decode_result, ResultBackend, Wait};

// The generated code is not ours to document or lint.
#[allow(missing_docs, clippy::all)]
mod wit {
    wit_bindgen::generate!({
        path: "wit",
        world: "dramatiq-results",
    });
}

/// The component's entry point: `wit-bindgen`'s exports land here.
struct Component;

impl api::Guest for Component {
    type Backend = Backend;
}

wit::export!(Component with_types_in wit);

/// The exported `backend` resource: the core's [`ResultBackend`] over the host's store.
pub struct Backend {
    inner: ResultBackend<HostStore, WasiTimer>,
}

impl Backend {
    /// The store key of `msg`.
    fn key(&self, msg: &api::Message) -> String {
        self.inner.message_key(&MessageRef {
            queue_name: &msg.queue_name,
            actor_name: &msg.actor_name,
            message_id: &msg.message_id,
        })
    }

    /// Runs one core operation to completion inside this call.
    fn run<R>(
        &self,
        key: &str,
        fut: impl std::future::Future<Output = Result<R, ResultError>>,
    ) -> Result<R, api::ResultError> {
        let timer = self.inner.timer();
        let store = self.inner.store();
        block_on(timer, |until| store.idle(timer, until), fut)
            .unwrap_or_else(|| {
                // Cannot happen with this store (it answers synchronously and is only ever
                // watched best-effort); reported rather than hung on or trapped.
                Err(ResultError::Store {
                    key: key.to_owned(),
                    source: StoreError::new("the operation could not make progress"),
                })
            })
            .map_err(|e| to_wit(key, &e))
    }

    /// The stored bytes under `msg`'s key, waiting as `options` say.
    fn read(&self, key: &str, options: &api::GetOptions) -> Result<Vec<u8>, api::ResultError> {
        // `as` from u64 to f64 rounds beyond 2^53 ms, which is about 285 000 years.
        let wait = Wait::new(options.block, options.timeout_ms.map(|ms| ms as f64))
            .map_err(|e| to_wit(key, &e))?;
        self.inner.store().begin_read();
        self.run(key, self.inner.wait_for_bytes(key, wait))
    }
}

impl api::GuestBackend for Backend {
    fn new(options: api::BackendOptions) -> Self {
        let keys = KeyScheme {
            namespace: options.namespace,
            use_namespace_prefix_keys: options.use_namespace_prefix_keys,
        };
        // A random seed for the back-off jitter, so that many waiters do not poll in step;
        // RandomState draws it from WASI's random source.
        let seed = RandomState::new().hash_one("dramatiq-results");
        Backend {
            inner: ResultBackend::new(HostStore::default(), WasiTimer::new(), keys, seed),
        }
    }

    fn build_message_key(&self, msg: api::Message) -> String {
        self.key(&msg)
    }

    fn store_result(
        &self,
        msg: api::Message,
        result_json: String,
        ttl_ms: u64,
    ) -> Result<(), api::ResultError> {
        let key = self.key(&msg);
        let value = codec::decode(result_json.as_bytes()).map_err(|e| {
            invalid(
                &key,
                format!("result-json is not JSON as Python reads it: {e}"),
            )
        })?;
        // Python's bytes for the text, lone surrogates included (a `Value` cannot hold one).
        let bytes = python_bytes_keeping_surrogates(result_json.as_bytes(), &value);
        self.run(&key, self.inner.store_bytes(&key, bytes, ttl_ms))
    }

    fn store_exception(
        &self,
        msg: api::Message,
        exception: api::Exception,
        ttl_ms: u64,
    ) -> Result<(), api::ResultError> {
        let key = self.key(&msg);
        let info = ExceptionInfo {
            exc_type: exception.exception_type,
            message: exception.exception_message,
            traceback: exception.traceback,
        };
        self.run(&key, self.inner.store_exception(&key, &info, ttl_ms))
    }

    fn get_result(
        &self,
        msg: api::Message,
        options: api::GetOptions,
    ) -> Result<String, api::ResultError> {
        let key = self.key(&msg);
        let bytes = self.read(&key, &options)?;
        let value = decode_result(&key, &bytes).map_err(|e| to_wit(&key, &e))?;
        // The encoder writes ASCII only, so the lossy conversion never replaces anything.
        // A lone surrogate Python stored comes back as its escape, as Python writes it.
        let text = python_bytes_keeping_surrogates(&bytes, &value);
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    fn get_result_bytes(
        &self,
        msg: api::Message,
        options: api::GetOptions,
    ) -> Result<Vec<u8>, api::ResultError> {
        let key = self.key(&msg);
        self.read(&key, &options)
    }

    fn store_result_bytes(
        &self,
        msg: api::Message,
        bytes: Vec<u8>,
        ttl_ms: u64,
    ) -> Result<(), api::ResultError> {
        let key = self.key(&msg);
        self.run(&key, self.inner.store_bytes(&key, bytes, ttl_ms))
    }

    fn delete_result(&self, msg: api::Message) -> Result<(), api::ResultError> {
        let key = self.key(&msg);
        self.run(&key, self.inner.delete_result(&key))
    }
}

/// An `invalid-argument` error about `key`'s message.
fn invalid(key: &str, message: String) -> api::ResultError {
    api::ResultError::InvalidArgument(api::Problem {
        message_key: key.to_owned(),
        message,
    })
}

/// The WIT error for a core error about `key`'s message.
fn to_wit(key: &str, err: &ResultError) -> api::ResultError {
    let problem = || api::Problem {
        message_key: err.key().unwrap_or(key).to_owned(),
        message: err.to_string(),
    };
    match err {
        ResultError::Missing { .. } => api::ResultError::Missing(problem()),
        ResultError::Timeout { .. } => api::ResultError::Timeout(problem()),
        ResultError::Failure { failure, .. } => api::ResultError::Failure(api::Failure {
            message_key: err.key().unwrap_or(key).to_owned(),
            message: err.to_string(),
            exception_type: codec::py_str(&failure.exc_type),
            exception_message: codec::py_str(&failure.exc_msg),
            traceback: failure.traceback.clone(),
        }),
        // Nothing aborts a component call; were it to happen, the store was interrupted.
        ResultError::Store { .. } | ResultError::Aborted { .. } => {
            api::ResultError::Store(problem())
        }
        ResultError::Decode { .. } => api::ResultError::Decode(problem()),
        ResultError::TooLarge { .. } => api::ResultError::TooLarge(problem()),
        ResultError::MalformedFailure { .. } => api::ResultError::MalformedFailure(problem()),
        ResultError::Encode { .. } | ResultError::InvalidArgument(_) => {
            api::ResultError::InvalidArgument(problem())
        }
    }
}
