//! Dramatiq's rate limiters and barrier, as the package's JavaScript reaches them: three
//! internal classes (`RateLimitBackendCore`, `RateLimiterCore`, `BarrierCore`) that the
//! public classes in `pkg/src/rate_limits/` wrap. The wrappers own what touches user code
//! (calling the function a limiter guards, releasing after it, throwing
//! `RateLimitExceeded`); every decision (keys, values, TTLs, what a reply means) is made
//! here, by `crate::rate_limits`.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::errors::rate_limit_error;
use super::promise::promise_of;
use crate::bindings::drivers::memcached::JsMemcachedCounters;
use crate::bindings::drivers::redis::JsRedis;
use crate::bindings::drivers::timer::{epoch_ms, install_wake_hops, JsTimer};
use crate::bindings::js::range_error;
use crate::model::error::StoreError;
use crate::rate_limits::memcached::MemcachedRateLimiterBackend;
use crate::rate_limits::redis::RedisRateLimiterBackend;
use crate::rate_limits::stub::StubRateLimiterBackend;
use crate::rate_limits::{
    Barrier, CreateError, LimiterKind, OptionError, RateLimiter, RateLimiterBackend,
};

/// Every backend the package offers, as one type the limiters hold.
enum AnyBackend {
    Redis(RedisRateLimiterBackend<JsRedis, JsTimer>),
    Memcached(MemcachedRateLimiterBackend<JsMemcachedCounters>),
    Stub(StubRateLimiterBackend<JsTimer>),
}

/// Calls the same method on whichever backend `AnyBackend` holds (static dispatch: the
/// trait's `async fn`s are not object-safe).
macro_rules! on_backend {
    ($any:expr, $b:ident => $call:expr) => {
        match $any {
            AnyBackend::Redis($b) => $call,
            AnyBackend::Memcached($b) => $call,
            AnyBackend::Stub($b) => $call,
        }
    };
}

impl RateLimiterBackend for AnyBackend {
    async fn add(&self, key: &str, value: i64, ttl_ms: u64) -> Result<bool, StoreError> {
        on_backend!(self, b => b.add(key, value, ttl_ms).await)
    }

    async fn incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, b => b.incr(key, amount, maximum, ttl).await)
    }

    async fn add_or_incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, b => b.add_or_incr(key, amount, maximum, ttl).await)
    }

    async fn decr(
        &self,
        key: &str,
        amount: i64,
        minimum: i64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, b => b.decr(key, amount, minimum, ttl).await)
    }

    async fn incr_and_sum(
        &self,
        key: &str,
        keys: &[String],
        amount: i64,
        maximum: i64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, b => b.incr_and_sum(key, keys, amount, maximum, ttl).await)
    }

    async fn wait(&self, key: &str, timeout_ms: Option<f64>) -> Result<bool, StoreError> {
        on_backend!(self, b => b.wait(key, timeout_ms).await)
    }

    async fn wait_notify(&self, key: &str, ttl_ms: u64) -> Result<(), StoreError> {
        on_backend!(self, b => b.wait_notify(key, ttl_ms).await)
    }
}

/// A rate-limiter backend: Redis, Memcached or in memory (internal; the public classes are
/// `RedisRateLimiterBackend`, `MemcachedRateLimiterBackend`, `StubRateLimiterBackend`).
#[wasm_bindgen]
pub struct RateLimitBackendCore {
    inner: Rc<AnyBackend>,
    client: JsValue,
}

#[wasm_bindgen]
impl RateLimitBackendCore {
    /// Over a node-redis, ioredis or `connectRedis` client; `options.blockingClient` (a
    /// second connection) lets barrier waits block on the server as Dramatiq's do.
    pub fn redis(client: JsValue, options: JsValue) -> Result<RateLimitBackendCore, JsValue> {
        let redis = JsRedis::new(&client, &options)?;
        Ok(RateLimitBackendCore {
            inner: Rc::new(AnyBackend::Redis(RedisRateLimiterBackend::new(
                redis, JsTimer,
            ))),
            client,
        })
    }

    /// Over a memjs client (or anything with its `get`, `add`, `increment`, `decrement`).
    pub fn memcached(client: JsValue) -> Result<RateLimitBackendCore, JsValue> {
        // Its waits are woken by releases, which may come from another workerd request.
        install_wake_hops();
        let counters = JsMemcachedCounters::new(&client)?;
        Ok(RateLimitBackendCore {
            inner: Rc::new(AnyBackend::Memcached(MemcachedRateLimiterBackend::new(
                counters,
            ))),
            client,
        })
    }

    /// In memory, in this process.
    pub fn stub() -> RateLimitBackendCore {
        // Its waits are woken by writes, which may come from another workerd request.
        install_wake_hops();
        RateLimitBackendCore {
            inner: Rc::new(AnyBackend::Stub(StubRateLimiterBackend::new(JsTimer))),
            client: JsValue::UNDEFINED,
        }
    }

    /// The client this backend was built over (`undefined` for the stub).
    #[wasm_bindgen(getter)]
    pub fn client(&self) -> JsValue {
        self.client.clone()
    }
}

fn option_error(e: &OptionError) -> JsValue {
    range_error(&e.0)
}

/// One of Dramatiq's rate limiters over a backend (internal; see `pkg/src/rate_limits/`).
#[wasm_bindgen]
pub struct RateLimiterCore {
    backend: Rc<AnyBackend>,
    limiter: Rc<RateLimiter>,
}

impl RateLimiterCore {
    fn new(
        backend: &RateLimitBackendCore,
        key: String,
        limit: f64,
        kind: Result<LimiterKind, OptionError>,
    ) -> Result<RateLimiterCore, JsValue> {
        let kind = kind.map_err(|e| option_error(&e))?;
        let limiter = RateLimiter::new(key, limit, kind).map_err(|e| option_error(&e))?;
        Ok(RateLimiterCore {
            backend: backend.inner.clone(),
            limiter: Rc::new(limiter),
        })
    }
}

/// A duration option as the whole number the kind holds.
fn whole(name: &str, value: f64) -> Result<u64, OptionError> {
    crate::rate_limits::limiters::positive_integer(name, value)
}

#[wasm_bindgen]
impl RateLimiterCore {
    /// `ConcurrentRateLimiter(backend, key, { limit, ttl })` (`ttl` in ms).
    pub fn concurrent(
        backend: &RateLimitBackendCore,
        key: String,
        limit: f64,
        ttl: f64,
    ) -> Result<RateLimiterCore, JsValue> {
        let kind = whole("ttl", ttl).map(|ttl_ms| LimiterKind::Concurrent { ttl_ms });
        Self::new(backend, key, limit, kind)
    }

    /// `WindowRateLimiter(backend, key, { limit, window })` (`window` in seconds).
    pub fn window(
        backend: &RateLimitBackendCore,
        key: String,
        limit: f64,
        window: f64,
    ) -> Result<RateLimiterCore, JsValue> {
        let kind = whole("window", window).map(|window_s| LimiterKind::Window { window_s });
        Self::new(backend, key, limit, kind)
    }

    /// `BucketRateLimiter(backend, key, { limit, bucket })` (`bucket` in ms).
    pub fn bucket(
        backend: &RateLimitBackendCore,
        key: String,
        limit: f64,
        bucket: f64,
    ) -> Result<RateLimiterCore, JsValue> {
        let kind = whole("bucket", bucket).map(|bucket_ms| LimiterKind::Bucket { bucket_ms });
        Self::new(backend, key, limit, kind)
    }

    /// Tries to take a slot now: a Promise of whether it got one.
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&self) -> js_sys::Promise {
        let (backend, limiter) = (self.backend.clone(), self.limiter.clone());
        promise_of(async move {
            limiter
                .try_acquire(&*backend, epoch_ms())
                .await
                .map(JsValue::from_bool)
                .map_err(|e| rate_limit_error(&e))
        })
    }

    /// Gives back a slot `tryAcquire` took.
    pub fn release(&self) -> js_sys::Promise {
        let (backend, limiter) = (self.backend.clone(), self.limiter.clone());
        promise_of(async move {
            limiter
                .release(&*backend)
                .await
                .map(|()| JsValue::UNDEFINED)
                .map_err(|e| rate_limit_error(&e))
        })
    }

    /// Dramatiq's words for a refused acquisition.
    #[wasm_bindgen(js_name = exceededMessage)]
    pub fn exceeded_message(&self) -> String {
        self.limiter.exceeded_message()
    }

    /// The key the limit is on.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> String {
        self.limiter.key().to_owned()
    }

    /// The limit.
    #[wasm_bindgen(getter)]
    pub fn limit(&self) -> f64 {
        self.limiter.limit() as f64
    }
}

/// Dramatiq's barrier over a backend (internal; see `pkg/src/rate_limits/barrier.js`).
#[wasm_bindgen]
pub struct BarrierCore {
    backend: Rc<AnyBackend>,
    barrier: Rc<Barrier>,
}

#[wasm_bindgen]
impl BarrierCore {
    /// `Barrier(backend, key, { ttl })` (`ttl` in ms).
    #[wasm_bindgen(constructor)]
    pub fn new(
        backend: &RateLimitBackendCore,
        key: String,
        ttl: f64,
    ) -> Result<BarrierCore, JsValue> {
        let barrier = Barrier::new(key, ttl).map_err(|e| option_error(&e))?;
        Ok(BarrierCore {
            backend: backend.inner.clone(),
            barrier: Rc::new(barrier),
        })
    }

    /// Creates the barrier for `parties`: a Promise of whether it was created.
    pub fn create(&self, parties: f64) -> js_sys::Promise {
        let (backend, barrier) = (self.backend.clone(), self.barrier.clone());
        promise_of(async move {
            match barrier.create(&*backend, parties).await {
                Ok(created) => Ok(JsValue::from_bool(created)),
                Err(CreateError::Option(e)) => Err(option_error(&e)),
                Err(CreateError::Store(e)) => Err(rate_limit_error(&e)),
            }
        })
    }

    /// Arrives at the barrier: a Promise of whether every party has.
    pub fn wait(&self, block: bool, timeout: Option<f64>) -> js_sys::Promise {
        let (backend, barrier) = (self.backend.clone(), self.barrier.clone());
        promise_of(async move {
            barrier
                .wait(&*backend, block, timeout)
                .await
                .map(JsValue::from_bool)
                .map_err(|e| rate_limit_error(&e))
        })
    }

    /// The counter's key.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> String {
        self.barrier.key().to_owned()
    }

    /// The event list's key.
    #[wasm_bindgen(getter, js_name = eventsKey)]
    pub fn events_key(&self) -> String {
        self.barrier.events_key().to_owned()
    }

    /// The keys' TTL in ms.
    #[wasm_bindgen(getter)]
    pub fn ttl(&self) -> f64 {
        self.barrier.ttl_ms() as f64
    }
}
