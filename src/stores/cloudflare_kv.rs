//! A store over a Cloudflare Workers KV namespace (the `KVNamespace` binding itself).
//!
//! KV differs from a plain key-value store in two ways that matter to results:
//! - it refuses an `expirationTtl` under [`MIN_EXPIRATION_TTL_S`] (60 s), while Dramatiq's
//!   TTLs are in milliseconds and may be shorter. So KV's own expiry is clamped up to 60 s,
//!   the exact expiry travels in the key's metadata as `{ expiresAt: <epoch ms> }`, and a
//!   read past it is absent. Each result is still one `put` (value, expiry and metadata
//!   together), so a writer never leaves a key half-written.
//! - it is eventually consistent: a write may take up to a minute to reach other locations,
//!   and a read that found nothing may be cached as absent (negative lookups). Waiters poll
//!   with Dramatiq's back-off; writes through the same store instance also wake its own
//!   waiters at once, which is only a best effort (another isolate's writes are not seen).
//!
//! The stored value stays exactly Dramatiq's bytes. A value written without our metadata
//! (say, by a Python process through the KV REST API) has only KV's own expiry, and is read
//! as it is.

use crate::codec::Plain;
use crate::model::error::StoreError;
use crate::results::store::{Store, Watch};
use crate::wait::notify::Notifier;

/// The smallest `expirationTtl` KV accepts, in seconds.
pub const MIN_EXPIRATION_TTL_S: u64 = 60;
/// The smallest `cacheTtl` KV accepts for reads, in seconds.
pub const MIN_CACHE_TTL_S: f64 = 30.0;

/// The `expirationTtl` to hand KV for a result TTL of `ttl_ms`: whole seconds, rounded up
/// (KV must never drop a value before its exact expiry), and at least 60.
pub fn expiration_ttl_s(ttl_ms: u64) -> u64 {
    ttl_ms.div_ceil(1000).max(MIN_EXPIRATION_TTL_S)
}

/// The exact expiry to keep in the metadata: `now_ms + ttl_ms`, in epoch milliseconds.
pub fn expires_at(now_ms: f64, ttl_ms: u64) -> f64 {
    now_ms + ttl_ms as f64
}

/// Whether a value whose metadata says `expires_at` (epoch ms; `None` when the value carries
/// none of ours) is still live at `now_ms`. Without our metadata, KV's own expiry is all
/// there is, and KV already hid the value if it passed.
pub fn is_live(expires_at: Option<f64>, now_ms: f64) -> bool {
    match expires_at {
        Some(at) => now_ms < at,
        None => true,
    }
}

/// Checks a `cacheTtl` (seconds) for reads: a finite number of at least 30, as KV demands.
pub fn check_cache_ttl(seconds: f64) -> Result<f64, String> {
    if seconds.is_finite() && seconds >= MIN_CACHE_TTL_S {
        Ok(seconds)
    } else {
        Err(format!(
            "cacheTtl must be a number of seconds of at least {}, got {}",
            Plain(MIN_CACHE_TTL_S),
            Plain(seconds)
        ))
    }
}

/// A value read from KV with the expiry our metadata gives it.
pub struct Entry {
    /// The stored bytes.
    pub bytes: Vec<u8>,
    /// `metadata.expiresAt` when it is a number; `None` for values written by others.
    pub expires_at: Option<f64>,
}

/// What a KV namespace must do. The bindings implement it over the `KVNamespace` binding.
// Single-threaded by design (wasm), so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait CloudflareKvClient {
    /// Wall-clock milliseconds since the Unix epoch: expiries are shared between isolates
    /// and processes, so they cannot be on a monotonic clock.
    fn epoch_ms(&self) -> f64;
    /// `getWithMetadata(key)`: the bytes and our expiry, `None` when KV has no value.
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;
    /// One `put(key, value, { expirationTtl, metadata: { expiresAt } })`.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expiration_ttl_s: u64,
        expires_at: f64,
    ) -> Result<(), StoreError>;
    /// `delete(key)`.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// A [`Store`] over a [`CloudflareKvClient`].
pub struct CloudflareKvStore<C> {
    client: C,
    notifier: Notifier,
}

impl<C: CloudflareKvClient> CloudflareKvStore<C> {
    /// A store over `client`.
    pub fn new(client: C) -> Self {
        CloudflareKvStore {
            client,
            notifier: Notifier::new(),
        }
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }
}

impl<C: CloudflareKvClient> Store for CloudflareKvStore<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let entry = self.client.get(key).await?;
        let now = self.client.epoch_ms();
        Ok(entry
            .filter(|e| is_live(e.expires_at, now))
            .map(|e| e.bytes))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        if ttl_ms == 0 {
            // Expired on arrival (Redis's `PEXPIRE k 0`): KV would keep it for 60 s.
            self.client.delete(key).await?;
        } else {
            let at = expires_at(self.client.epoch_ms(), ttl_ms);
            self.client
                .put(key, value, expiration_ttl_s(ttl_ms), at)
                .await?;
        }
        self.notifier.notify(key);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client.delete(key).await
    }

    fn watch(&self, key: &str) -> Watch {
        // Only this instance's writes fire it; writes from elsewhere are found by polling.
        Watch::BestEffort(self.notifier.subscribe(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    /// What KV holds for a key: the bytes, KV's own TTL (s) and our metadata's expiry.
    type Held = (Vec<u8>, u64, Option<f64>);

    /// KV as far as the rules care: values, the TTL and metadata of the last put, a clock.
    #[derive(Default)]
    struct FakeKv {
        now: Cell<f64>,
        entries: RefCell<HashMap<String, Held>>,
        puts: Cell<usize>,
    }

    impl CloudflareKvClient for FakeKv {
        fn epoch_ms(&self) -> f64 {
            self.now.get()
        }
        async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
            Ok(self.entries.borrow().get(key).map(|(b, _, at)| Entry {
                bytes: b.clone(),
                expires_at: *at,
            }))
        }
        async fn put(&self, key: &str, v: Vec<u8>, ttl_s: u64, at: f64) -> Result<(), StoreError> {
            self.puts.set(self.puts.get() + 1);
            self.entries
                .borrow_mut()
                .insert(key.to_owned(), (v, ttl_s, Some(at)));
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.entries.borrow_mut().remove(key);
            Ok(())
        }
    }

    fn now<F: std::future::Future>(f: F) -> F::Output {
        crate::wait::race::now_or_never(f).expect("the fake never waits")
    }

    #[test]
    fn kv_expiry_is_clamped_to_60_s_and_rounded_up() {
        assert_eq!(expiration_ttl_s(1), 60);
        assert_eq!(expiration_ttl_s(5_000), 60);
        assert_eq!(expiration_ttl_s(60_000), 60);
        assert_eq!(expiration_ttl_s(60_001), 61);
        assert_eq!(expiration_ttl_s(600_000), 600);
        assert_eq!(expiration_ttl_s(u64::MAX), u64::MAX.div_ceil(1000));
    }

    #[test]
    fn the_exact_expiry_is_honoured_on_read() {
        assert!(is_live(Some(1_000.0), 999.0));
        assert!(
            !is_live(Some(1_000.0), 1_000.0),
            "expired at the instant itself"
        );
        assert!(
            is_live(None, f64::MAX),
            "foreign values have only KV's expiry"
        );
    }

    #[test]
    fn cache_ttl_must_be_at_least_30_seconds() {
        assert_eq!(check_cache_ttl(30.0), Ok(30.0));
        assert_eq!(check_cache_ttl(3600.0), Ok(3600.0));
        for bad in [29.9, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(check_cache_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_5_s_result_is_one_put_kept_60_s_by_kv_and_gone_after_5_s() {
        let store = CloudflareKvStore::new(FakeKv::default());
        store.client().now.set(1_000_000.0);
        now(store.put("k", b"42".to_vec(), 5_000)).unwrap();
        assert_eq!(store.client().puts.get(), 1);
        assert_eq!(
            store.client().entries.borrow()["k"],
            (b"42".to_vec(), 60, Some(1_005_000.0))
        );
        store.client().now.set(1_004_999.0);
        assert_eq!(now(store.get("k")).unwrap(), Some(b"42".to_vec()));
        store.client().now.set(1_005_000.0);
        assert_eq!(now(store.get("k")).unwrap(), None);
        assert!(
            store.client().entries.borrow().contains_key("k"),
            "KV still has it"
        );
    }

    #[test]
    fn a_value_without_our_metadata_is_read_as_is() {
        let store = CloudflareKvStore::new(FakeKv::default());
        store
            .client()
            .entries
            .borrow_mut()
            .insert("k".into(), (b"\"py\"".to_vec(), 60, None));
        store.client().now.set(f64::MAX);
        assert_eq!(now(store.get("k")).unwrap(), Some(b"\"py\"".to_vec()));
    }

    #[test]
    fn ttl_zero_deletes_and_wakes_waiters() {
        let store = CloudflareKvStore::new(FakeKv::default());
        now(store.put("k", b"1".to_vec(), 60_000)).unwrap();
        let Watch::BestEffort(woken) = store.watch("k") else {
            panic!("KV wakes on its own writes, best effort");
        };
        now(store.put("k", b"2".to_vec(), 0)).unwrap();
        assert_eq!(now(store.get("k")).unwrap(), None);
        assert_eq!(store.client().puts.get(), 1);
        now(woken);
    }
}
