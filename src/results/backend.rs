//! `ResultBackend`: Dramatiq's result API written once over any [`Store`].
//!
//! It derives keys, encodes values and exceptions, decodes and unwraps what it reads, and
//! implements waiting: read, and if absent either give up (`ResultMissing`) or wait —
//! woken by the store when it can tell, otherwise polling with Dramatiq's back-off — until
//! the deadline, where one last read decides between the value and `ResultTimeout`.
//! Unlike Dramatiq it never gives up before the deadline, and unlike a naive loop it never
//! sleeps past it.
//!
//! **One rule for store errors during a blocking wait, on every store:** the wait retries
//! (a read after Dramatiq's back-off) until its deadline, and then rejects with a
//! `ResultTimeout` whose cause is the last error. A server killed mid-wait and back before
//! the deadline yields the value; one that stays down yields the timeout, never earlier. A
//! non-blocking read, a store or a delete fails at once with the store's error.

use std::cell::RefCell;
use std::future::Future;

use crate::codec;
use crate::codec::value::Value;
use crate::model::envelope::{self, ExceptionInfo, Unwrapped};
use crate::model::error::{ResultError, StoreError};
use crate::model::key::KeyScheme;
use crate::model::message::MessageRef;
use crate::results::store::{Store, Stored, Watch};
use crate::wait::backoff::{Backoff, Jitter};
use crate::wait::race::{race, Either};
use crate::wait::timer::{Timer, MAX_SLEEP_MS};

/// Dramatiq's `DEFAULT_TIMEOUT`: how long a wait lasts when no timeout is given, in ms.
pub const DEFAULT_TIMEOUT_MS: f64 = 10_000.0;
/// How long past a deadline a store operation already under way may take to settle, in ms.
/// Small, so a wait ends promptly; non-zero, so the last read at the deadline can finish.
pub const SETTLE_GRACE_MS: f64 = 10.0;
/// The largest stored value read or written by default, in bytes (64 MiB): far above any
/// sane result, low enough that one hostile value cannot take a browser tab down.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 64 << 20;
/// Dramatiq's `DEFAULT_RESULT_TTL`, in ms.
pub const DEFAULT_RESULT_TTL_MS: u64 = 600_000;

/// How to read a result: at once, or blocking up to a timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wait {
    /// Wait for the result to appear instead of failing with `ResultMissing`.
    pub block: bool,
    /// The deadline, in milliseconds from the call. When not blocking it still bounds how
    /// long the store may take to answer. `f64::INFINITY` waits without end.
    pub timeout_ms: f64,
}

impl Wait {
    /// A non-blocking read (the default timeout bounds the store's answer).
    pub const NOW: Wait = Wait {
        block: false,
        timeout_ms: DEFAULT_TIMEOUT_MS,
    };

    /// A validated wait: `timeout_ms` defaults to 10 000 and must be a non-negative number
    /// (NaN and negatives are refused rather than cast).
    pub fn new(block: bool, timeout_ms: Option<f64>) -> Result<Wait, ResultError> {
        let timeout_ms = timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms.is_nan() || timeout_ms < 0.0 {
            return Err(ResultError::InvalidArgument(format!(
                "timeout must be a non-negative number of milliseconds, got {}",
                crate::codec::Plain(timeout_ms)
            )));
        }
        Ok(Wait { block, timeout_ms })
    }

    /// A blocking wait of `timeout_ms`.
    pub fn block(timeout_ms: f64) -> Result<Wait, ResultError> {
        Wait::new(true, Some(timeout_ms))
    }
}

/// The result backend: a key scheme and a store, with a clock to wait by.
pub struct ResultBackend<S, T> {
    keys: KeyScheme,
    store: S,
    timer: T,
    jitter: RefCell<Jitter>,
    max_value_bytes: usize,
}

impl<S: Store, T: Timer> ResultBackend<S, T> {
    /// A backend over `store`, keyed by `keys`, timed by `timer`; `seed` seeds the back-off
    /// jitter.
    pub fn new(store: S, timer: T, keys: KeyScheme, seed: u64) -> Self {
        ResultBackend {
            keys,
            store,
            timer,
            jitter: RefCell::new(Jitter::new(seed)),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }

    /// The same backend with another limit on the size of values read and written.
    pub fn with_max_value_bytes(mut self, limit: usize) -> Self {
        self.max_value_bytes = limit;
        self
    }

    /// `bytes` under `key` if they are within the size limit, else `TooLarge`.
    pub fn within_limit(&self, key: &str, bytes: Vec<u8>) -> Result<Vec<u8>, ResultError> {
        self.size_within_limit(key, bytes.len())?;
        Ok(bytes)
    }

    /// [`ResultBackend::within_limit`] for a value of `size` bytes held elsewhere (a store
    /// that keeps the host's text, which is its bytes).
    pub fn size_within_limit(&self, key: &str, size: usize) -> Result<(), ResultError> {
        if size > self.max_value_bytes {
            return Err(ResultError::TooLarge {
                key: key.to_owned(),
                size,
                limit: self.max_value_bytes,
            });
        }
        Ok(())
    }

    /// [`ResultBackend::within_limit`] for a [`Stored`] value.
    pub fn stored_within_limit(&self, key: &str, stored: Stored) -> Result<Stored, ResultError> {
        if stored.len() > self.max_value_bytes {
            return Err(ResultError::TooLarge {
                key: key.to_owned(),
                size: stored.len(),
                limit: self.max_value_bytes,
            });
        }
        Ok(stored)
    }

    /// The key scheme (namespace, prefix keys).
    pub fn keys(&self) -> &KeyScheme {
        &self.keys
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock this backend waits by.
    pub fn timer(&self) -> &T {
        &self.timer
    }

    /// Dramatiq's `build_message_key`.
    pub fn message_key(&self, message: &MessageRef<'_>) -> String {
        self.keys
            .message_key(message.queue_name, message.actor_name, message.message_id)
    }

    /// A fresh polling back-off with its own jitter.
    pub(crate) fn backoff(&self) -> Backoff {
        Backoff::new(self.jitter.borrow_mut().split())
    }

    /// Dramatiq's `get_result`: the value, or the error Dramatiq would raise.
    pub async fn get_result(
        &self,
        message: &MessageRef<'_>,
        wait: Wait,
    ) -> Result<Value, ResultError> {
        let key = self.message_key(message);
        self.get_result_by_key(&key, wait).await
    }

    /// [`ResultBackend::get_result`] for an already derived key.
    pub async fn get_result_by_key(&self, key: &str, wait: Wait) -> Result<Value, ResultError> {
        let bytes = self.wait_for_bytes(key, wait).await?;
        decode_result(key, &bytes)
    }

    /// The stored bytes under `key` without waiting for them: one read, bounded by
    /// `timeout_ms`; what [`ResultBackend::wait_for_bytes`] does when `wait.block` is false.
    /// Its own small function so that a first non-blocking read (an edge function reading
    /// one result) compiles none of the waiting machinery: V8 compiles each wasm function on
    /// its first call, and the waiting loop's state machine is the largest function a first
    /// store + get would otherwise reach (bench/notes.md, start-up).
    pub async fn read_bytes_now(&self, key: &str, timeout_ms: f64) -> Result<Vec<u8>, ResultError> {
        Ok(self.read_stored_now(key, timeout_ms).await?.into_bytes())
    }

    /// [`ResultBackend::read_bytes_now`], where a store may leave a large value in the host's
    /// memory ([`Stored::Host`]).
    pub async fn read_stored_now(&self, key: &str, timeout_ms: f64) -> Result<Stored, ResultError> {
        let deadline = self.timer.now_ms() + timeout_ms;
        match self
            .bounded(deadline, "get", self.store.get_stored(key))
            .await
        {
            Ok(Some(stored)) => self.stored_within_limit(key, stored),
            Ok(None) => Err(ResultError::Missing {
                key: key.to_owned(),
            }),
            Err(Op::Overdue(source) | Op::Failed(source)) => Err(ResultError::Store {
                key: key.to_owned(),
                source,
            }),
        }
    }

    /// The stored bytes under `key`, waiting as `wait` says. This is the whole waiting
    /// algorithm; decoding is separate so callers may keep the raw bytes.
    pub async fn wait_for_bytes(&self, key: &str, wait: Wait) -> Result<Vec<u8>, ResultError> {
        Ok(self.wait_for_stored(key, wait).await?.into_bytes())
    }

    /// [`ResultBackend::wait_for_bytes`], where a store may leave a large value in the
    /// host's memory ([`Stored::Host`]) for a caller that can read it there.
    pub async fn wait_for_stored(&self, key: &str, wait: Wait) -> Result<Stored, ResultError> {
        let start = self.timer.now_ms();
        let deadline = start + wait.timeout_ms;
        let mut backoff: Option<Backoff> = None;
        // The last store error of a blocked wait: it retries until the deadline (a server
        // restarting is an outage to wait out, as polling waiters always did), and the
        // timeout then carries it as its cause.
        let mut last_error: Option<StoreError> = None;
        // A blocked read on a store that waits server side starts with that wait, as
        // Dramatiq's does (`BRPOPLPUSH` at once): the wait answers at once when the value is
        // there, so a read first only delays posting it by a round trip, and a value stored
        // in that round trip costs another one (bench/notes.md, issue 29's RabbitMQ tail).
        // Every later round reads first, so the last read at the deadline still decides.
        let mut skip_read = wait.block && wait.timeout_ms > 0.0 && self.store.can_wait();
        // Set when the server's own wait just came back empty: a last read that then cannot
        // finish in what is left of the deadline says nothing about the store.
        let mut server_said_none = false;
        loop {
            // Subscribe before reading, so a write between the read and the sleep wakes us.
            let watch = if wait.block {
                self.store.watch(key)
            } else {
                Watch::None
            };
            let read_now = !std::mem::take(&mut skip_read);
            // Boxed, like the server-side wait below: in place, the read's future (the store
            // call racing its timer) would stay in every pending wait's memory while it sleeps.
            let read = if !read_now {
                None
            } else {
                match Box::pin(self.bounded(deadline, "get", self.store.get_stored(key))).await {
                    Ok(read) => {
                        last_error = None;
                        read
                    }
                    // A blocked wait whose read is still pending at the deadline ends as a
                    // timeout (no result arrived in time), with the store's state as the cause.
                    Err(Op::Overdue(source)) if wait.block => {
                        let cause = match last_error {
                            Some(error) => Some(error),
                            None if server_said_none => None,
                            None => Some(source),
                        };
                        return Err(ResultError::Timeout {
                            key: key.to_owned(),
                            timeout_ms: wait.timeout_ms,
                            cause,
                        });
                    }
                    // A failure to answer is waited out; the store's own error answer is final.
                    Err(Op::Failed(source)) if wait.block && !source.answered => {
                        last_error = Some(source);
                        None
                    }
                    Err(Op::Overdue(source) | Op::Failed(source)) => {
                        return Err(ResultError::Store {
                            key: key.to_owned(),
                            source,
                        })
                    }
                }
            };
            if let Some(stored) = read {
                return self.stored_within_limit(key, stored);
            }
            if !wait.block {
                return Err(ResultError::Missing {
                    key: key.to_owned(),
                });
            }
            let now = self.timer.now_ms();
            if now >= deadline {
                if !read_now {
                    // The deadline passed before the first wait was posted: read once.
                    continue;
                }
                return Err(ResultError::Timeout {
                    key: key.to_owned(),
                    timeout_ms: wait.timeout_ms,
                    cause: last_error,
                });
            }
            let remaining = deadline - now;
            let mut next_poll = |this: &Self| {
                let b = backoff.get_or_insert_with(|| this.backoff());
                b.next_delay_ms().min(remaining)
            };
            if last_error.is_some() {
                // The store failed: retry after a back-off, whatever it could watch.
                self.sleep(next_poll(self)).await;
                continue;
            }
            if self.store.can_wait() {
                // The server holds the wait; a value it hands back ends it, and `None` (its
                // timeout) loops to the last read at the deadline.
                // Boxed: only stores that wait server side take this path, and in place its
                // future would grow every pending wait, of every store, by its size.
                match Box::pin(self.bounded(
                    deadline,
                    "wait",
                    self.store.wait_stored(key, remaining),
                ))
                .await
                {
                    Ok(Some(stored)) => return self.stored_within_limit(key, stored),
                    Ok(None) => {
                        server_said_none = true;
                        continue;
                    }
                    // The server's own timeout answers late as a rule (Redis checks blocked
                    // clients' deadlines on its event loop's ticks, up to 100 ms apart), so
                    // a wait still pending at the deadline is a plain timeout: no store
                    // failed, and the error must not say one did.
                    Err(Op::Overdue(_)) => {
                        return Err(ResultError::Timeout {
                            key: key.to_owned(),
                            timeout_ms: wait.timeout_ms,
                            cause: None,
                        })
                    }
                    Err(Op::Failed(source)) if source.answered => {
                        return Err(ResultError::Store {
                            key: key.to_owned(),
                            source,
                        })
                    }
                    // The blocking connection failed (the server went away): retry after a
                    // back-off, reading first, until the deadline.
                    Err(Op::Failed(source)) => {
                        last_error = Some(source);
                        self.sleep(next_poll(self)).await;
                        continue;
                    }
                }
            }
            if !read_now {
                // The blocking connection was taken meanwhile: read before sleeping.
                continue;
            }
            match watch {
                Watch::None => self.sleep(next_poll(self)).await,
                Watch::Reliable(notified) => {
                    race(notified, self.sleep(remaining)).await;
                }
                Watch::BestEffort(notified) => {
                    let nap = next_poll(self);
                    race(notified, self.sleep(nap)).await;
                }
            }
        }
    }

    /// Dramatiq's `store_result`: encodes `value` and stores it under `key` for `ttl_ms`.
    pub async fn store_result(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: u64,
    ) -> Result<(), ResultError> {
        self.store_bytes(key, codec::encode(value), ttl_ms).await
    }

    /// Dramatiq's `store_exception`: stores the exception envelope under `key`.
    pub async fn store_exception(
        &self,
        key: &str,
        exception: &ExceptionInfo,
        ttl_ms: u64,
    ) -> Result<(), ResultError> {
        self.store_bytes(key, exception_bytes(exception), ttl_ms)
            .await
    }

    /// Stores already-encoded bytes under `key` for `ttl_ms`.
    pub async fn store_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        ttl_ms: u64,
    ) -> Result<(), ResultError> {
        let bytes = self.within_limit(key, bytes)?;
        let deadline = self.timer.now_ms() + DEFAULT_TIMEOUT_MS;
        self.bounded(deadline, "put", self.store.put(key, bytes, ttl_ms))
            .await
            .map_err(|op| ResultError::Store {
                key: key.to_owned(),
                source: op.into_source(),
            })
    }

    /// [`ResultBackend::store_bytes`] of a value the host may hold ([`Stored::Host`]).
    pub async fn store_stored(
        &self,
        key: &str,
        value: Stored,
        ttl_ms: u64,
    ) -> Result<(), ResultError> {
        let value = self.stored_within_limit(key, value)?;
        let deadline = self.timer.now_ms() + DEFAULT_TIMEOUT_MS;
        self.bounded(deadline, "put", self.store.put_stored(key, value, ttl_ms))
            .await
            .map_err(|op| ResultError::Store {
                key: key.to_owned(),
                source: op.into_source(),
            })
    }

    /// Removes the result under `key` (beyond Dramatiq, which only lets results expire).
    pub async fn delete_result(&self, key: &str) -> Result<(), ResultError> {
        let deadline = self.timer.now_ms() + DEFAULT_TIMEOUT_MS;
        self.bounded(deadline, "delete", self.store.delete(key))
            .await
            .map_err(|op| ResultError::Store {
                key: key.to_owned(),
                source: op.into_source(),
            })
    }

    /// Sleeps `ms` (in steps no longer than the host allows).
    pub(crate) async fn sleep(&self, ms: f64) {
        let end = self.timer.now_ms() + ms;
        loop {
            let left = end - self.timer.now_ms();
            if left <= 0.0 {
                return;
            }
            self.timer.sleep_ms(left.min(MAX_SLEEP_MS)).await;
        }
    }

    /// Runs a store operation, failing it if it has not settled [`SETTLE_GRACE_MS`] after
    /// `deadline` (an operation started just before the deadline gets to finish).
    /// The timer is armed only if the operation does not complete on its first poll, so
    /// synchronous stores pay nothing for it.
    pub(crate) async fn bounded<R>(
        &self,
        deadline: f64,
        what: &str,
        op: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, Op> {
        let timer = async {
            let left = deadline + SETTLE_GRACE_MS - self.timer.now_ms();
            self.sleep(left).await;
        };
        match race(op, timer).await {
            Either::Left(result) => result.map_err(Op::Failed),
            Either::Right(()) => Err(Op::Overdue(StoreError::new(format!(
                "the store's {what} had not settled by the deadline"
            )))),
        }
    }
}

/// How a bounded store operation failed.
pub(crate) enum Op {
    /// The store reported an error.
    Failed(StoreError),
    /// The store had not answered by the deadline.
    Overdue(StoreError),
}

impl Op {
    pub(crate) fn into_source(self) -> StoreError {
        match self {
            Op::Failed(e) | Op::Overdue(e) => e,
        }
    }
}

/// The bytes Dramatiq stores for a failure: the exception envelope, encoded.
pub fn exception_bytes(exception: &ExceptionInfo) -> Vec<u8> {
    codec::encode(&envelope::wrap_exception(exception))
}

/// Decodes stored bytes and unwraps the envelope: the value, or the matching error.
pub fn decode_result(key: &str, bytes: &[u8]) -> Result<Value, ResultError> {
    let value = codec::decode(bytes).map_err(|source| ResultError::Decode {
        key: key.to_owned(),
        source,
    })?;
    unwrap_result(key, value)
}

/// Unwraps a decoded value: the value itself, or the `ResultFailure` (or malformed-failure
/// error) its exception envelope stands for. A custom encoder's decoded value goes through
/// here too, so every codec reads failures the same way.
pub fn unwrap_result(key: &str, value: Value) -> Result<Value, ResultError> {
    envelope::unwrap(value).map_err(|u| match u {
        Unwrapped::Failure(failure) => ResultError::Failure {
            key: key.to_owned(),
            failure,
        },
        Unwrapped::Malformed(reason) => ResultError::MalformedFailure {
            key: key.to_owned(),
            reason,
        },
    })
}
