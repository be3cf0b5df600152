//! Dramatiq's three rate limiters and its barrier over any [`RateLimiterBackend`]: which
//! keys an acquisition touches, with which values and TTLs, and what the answer means.
//!
//! Time is an argument (`epoch_ms`, wall-clock milliseconds since the Unix epoch), not read
//! here: the window and bucket keys name wall-clock seconds and milliseconds, which every
//! process sharing the limit must agree on, and tests pick the instant.

use std::fmt;

use super::backend::RateLimiterBackend;
use crate::codec::{py_repr, Value};
use crate::model::error::StoreError;

/// Dramatiq's default `ttl` of a concurrent limiter's counter and of a barrier: 15 minutes.
pub const DEFAULT_TTL_MS: u64 = 900_000;

/// Dramatiq's default bucket: one second.
pub const DEFAULT_BUCKET_MS: u64 = 1000;

/// The largest count accepted: beyond 2^53 a JavaScript number (and Redis's Lua, whose
/// numbers are doubles) stops being exact.
pub const MAX_COUNT: f64 = 9_007_199_254_740_991.0;

/// An option outside what Dramatiq accepts (Dramatiq asserts; here it is an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError(pub String);

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `value` as a whole number from 1 up to [`MAX_COUNT`], or why not.
pub fn positive_integer(name: &str, value: f64) -> Result<u64, OptionError> {
    if value.is_finite() && value.fract() == 0.0 && (1.0..=MAX_COUNT).contains(&value) {
        Ok(value as u64)
    } else {
        Err(OptionError(format!(
            "{name} must be a positive integer, got {}",
            crate::codec::Plain(value)
        )))
    }
}

/// Which of Dramatiq's limiters, with its own option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimiterKind {
    /// At most `limit` holders at once; the counter lives `ttl_ms` after its last change.
    Concurrent {
        /// The counter's TTL (Dramatiq's `ttl`, milliseconds).
        ttl_ms: u64,
    },
    /// At most `limit` acquisitions over the last `window_s` seconds.
    Window {
        /// The window (Dramatiq's `window`, **seconds**).
        window_s: u64,
    },
    /// At most `limit` acquisitions per bucket of `bucket_ms`, buckets aligned on the epoch.
    Bucket {
        /// The bucket (Dramatiq's `bucket`, milliseconds).
        bucket_ms: u64,
    },
}

/// One of Dramatiq's rate limiters: a key, a limit and a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiter {
    key: String,
    limit: i64,
    kind: LimiterKind,
}

impl RateLimiter {
    /// A limiter on `key` allowing `limit` (checked: a positive integer), as `kind` says
    /// (its duration checked likewise).
    pub fn new(key: impl Into<String>, limit: f64, kind: LimiterKind) -> Result<Self, OptionError> {
        let limit = positive_integer("limit", limit)? as i64;
        let duration = match kind {
            LimiterKind::Concurrent { ttl_ms } => ("ttl", ttl_ms),
            LimiterKind::Window { window_s } => ("window", window_s),
            LimiterKind::Bucket { bucket_ms } => ("bucket", bucket_ms),
        };
        positive_integer(duration.0, duration.1 as f64)?;
        Ok(RateLimiter {
            key: key.into(),
            limit,
            kind,
        })
    }

    /// The key the limit is on.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The limit.
    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// The kind and its option.
    pub fn kind(&self) -> LimiterKind {
        self.kind
    }

    /// The window limiter's keys at `epoch_ms`, newest first: `<key>@<second>` for each of
    /// the last `window_s` whole Unix seconds.
    pub fn window_keys(&self, window_s: u64, epoch_ms: f64) -> Vec<String> {
        let now_s = (epoch_ms / 1000.0).floor() as i64;
        (0..window_s as i64)
            .map(|i| format!("{}@{}", self.key, now_s - i))
            .collect()
    }

    /// The bucket limiter's key at `epoch_ms`: `<key>@<start of the bucket, Unix ms>`.
    pub fn bucket_key(&self, bucket_ms: u64, epoch_ms: f64) -> String {
        let now = epoch_ms.floor() as i64;
        let start = now - now.rem_euclid(bucket_ms as i64);
        format!("{}@{}", self.key, start)
    }

    /// Tries to take a slot at `epoch_ms`; whether it got one. A `true` must be followed by
    /// one [`RateLimiter::release`].
    pub async fn try_acquire<B: RateLimiterBackend>(
        &self,
        backend: &B,
        epoch_ms: f64,
    ) -> Result<bool, StoreError> {
        match self.kind {
            // The first holder creates the counter; later ones count up to the limit.
            LimiterKind::Concurrent { ttl_ms } => {
                backend.add_or_incr(&self.key, 1, self.limit, ttl_ms).await
            }
            LimiterKind::Window { window_s } => {
                let keys = self.window_keys(window_s, epoch_ms);
                let Some(current) = keys.first() else {
                    return Ok(false);
                };
                backend
                    .incr_and_sum(current, &keys, 1, self.limit, window_s * 1000)
                    .await
            }
            LimiterKind::Bucket { bucket_ms } => {
                let key = self.bucket_key(bucket_ms, epoch_ms);
                backend.add_or_incr(&key, 1, self.limit, bucket_ms).await
            }
        }
    }

    /// Gives back a slot [`RateLimiter::try_acquire`] took. Only the concurrent limiter has
    /// anything to give back; window and bucket slots are spent.
    pub async fn release<B: RateLimiterBackend>(&self, backend: &B) -> Result<(), StoreError> {
        if let LimiterKind::Concurrent { ttl_ms } = self.kind {
            backend.decr(&self.key, 1, 0, ttl_ms).await?;
        }
        Ok(())
    }

    /// The message of the `RateLimitExceeded` a failed acquisition raises (Dramatiq's
    /// words: `rate limit exceeded for key 'k'`).
    pub fn exceeded_message(&self) -> String {
        format!(
            "rate limit exceeded for key {}",
            py_repr(&Value::Str(self.key.clone()))
        )
    }
}

/// Dramatiq's distributed barrier: `create(parties)`, then each party `wait`s; the last one
/// through clears it and wakes the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barrier {
    key: String,
    events_key: String,
    ttl_ms: u64,
}

impl Barrier {
    /// A barrier under `key` whose keys live `ttl_ms` (checked: a positive integer).
    pub fn new(key: impl Into<String>, ttl_ms: f64) -> Result<Self, OptionError> {
        let key = key.into();
        let ttl_ms = positive_integer("ttl", ttl_ms)?;
        Ok(Barrier {
            events_key: format!("{key}@events"),
            key,
            ttl_ms,
        })
    }

    /// The key of the remaining-parties counter.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key of the event list (`<key>@events`).
    pub fn events_key(&self) -> &str {
        &self.events_key
    }

    /// The keys' TTL.
    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    /// Creates the barrier for `parties` (checked: a positive integer); `false` if it
    /// already exists.
    pub async fn create<B: RateLimiterBackend>(
        &self,
        backend: &B,
        parties: f64,
    ) -> Result<bool, CreateError> {
        let parties = positive_integer("parties", parties).map_err(CreateError::Option)? as i64;
        backend
            .add(&self.key, parties, self.ttl_ms)
            .await
            .map_err(CreateError::Store)
    }

    /// Arrives at the barrier; `true` once every party has. The arrival that takes the
    /// count below 1 clears it (the counter is left as it is, which is how Dramatiq tells
    /// the last party: its decrement is the one refused) and publishes the event; the
    /// others return `false` at once, or with `block`, wait for that event up to
    /// `timeout_ms` (`None`: no limit).
    ///
    /// An absent barrier (never created, or expired) counts as cleared, as in Dramatiq.
    pub async fn wait<B: RateLimiterBackend>(
        &self,
        backend: &B,
        block: bool,
        timeout_ms: Option<f64>,
    ) -> Result<bool, StoreError> {
        let cleared = !backend.decr(&self.key, 1, 1, self.ttl_ms).await?;
        if cleared {
            backend.wait_notify(&self.events_key, self.ttl_ms).await?;
            return Ok(true);
        }
        if block {
            return backend.wait(&self.events_key, timeout_ms).await;
        }
        Ok(false)
    }
}

/// What can go wrong creating a barrier: a bad `parties`, or the backend.
#[derive(Debug, Clone)]
pub enum CreateError {
    /// `parties` was not a positive integer.
    Option(OptionError),
    /// The backend failed.
    Store(StoreError),
}
