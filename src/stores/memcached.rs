//! Dramatiq's Memcached layout over any Memcached client (`get` / `set` / `delete`).
//!
//! The value is the encoded bytes as they are, with flags 0 (what pylibmc writes for
//! `bytes`, SPEC §4.2), so either side reads the other's results. Memcached expiries are
//! whole seconds, and two of Dramatiq's conversions lose results, so this store differs on
//! purpose:
//! - a sub-second TTL is rounded **up** to one second (Dramatiq truncates it to 0, which
//!   Memcached reads as "never expires");
//! - a TTL over 30 days is sent as an absolute Unix time (Dramatiq sends the seconds, which
//!   Memcached reads as a time in 1970: the result is expired on arrival);
//! - a TTL of 0 deletes the key, as on Redis (Dramatiq's Memcached keeps it forever).
//!
//! Keys must obey Memcached's rules (at most 250 bytes, no spaces or control characters);
//! the default MD5 keys always do, a namespace prefix key might not, and is refused with a
//! clear error rather than sent.

use crate::model::error::StoreError;
use crate::results::store::{check_batch, Store};

/// Memcached reads an expiry above this many seconds (30 days) as a Unix time.
pub const RELATIVE_EXPIRY_LIMIT_S: u64 = 30 * 24 * 3600;

/// The longest key Memcached accepts.
pub const MAX_KEY_BYTES: usize = 250;

/// What a Memcached client must do. The bindings implement it over memjs or any object
/// with `get` / `set` / `delete`.
// Single-threaded by design (wasm), so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait MemcachedClient {
    /// Wall-clock seconds since the Unix epoch, for expiries over 30 days.
    fn epoch_s(&self) -> u64;
    /// The bytes under `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key` with flags 0 and Memcached's `exptime` (never 0 here).
    async fn set(&self, key: &str, value: Vec<u8>, exptime: u64) -> Result<(), StoreError>;
    /// Removes `key`; an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// The values of many keys in one round trip, in order; `None` if the client has no
    /// multi-get (the store then reads them one by one).
    async fn get_multi(&self, keys: &[String]) -> Option<Result<Vec<Option<Vec<u8>>>, StoreError>> {
        let _ = keys;
        None
    }
}

/// Memcached's `exptime` for a TTL in milliseconds (`ttl_ms` > 0): whole seconds rounded
/// up, or an absolute Unix time past 30 days.
pub fn exptime(ttl_ms: u64, epoch_s: u64) -> u64 {
    let seconds = ttl_ms.div_ceil(1000);
    if seconds > RELATIVE_EXPIRY_LIMIT_S {
        epoch_s.saturating_add(seconds)
    } else {
        seconds
    }
}

/// Checks `key` against Memcached's key rules.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StoreError::new(format!(
            "Memcached keys are 1 to {MAX_KEY_BYTES} bytes; this one is {} bytes",
            key.len()
        )));
    }
    if let Some(c) = key.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(StoreError::new(format!(
            "Memcached keys cannot contain spaces or control characters; this one has {c:?}"
        )));
    }
    Ok(())
}

/// A [`Store`] in Dramatiq's Memcached layout over a [`MemcachedClient`].
pub struct MemcachedStore<C> {
    client: C,
}

impl<C: MemcachedClient> MemcachedStore<C> {
    /// A store over `client`.
    pub fn new(client: C) -> Self {
        MemcachedStore { client }
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }
}

impl<C: MemcachedClient> Store for MemcachedStore<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        self.client.get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        check_key(key)?;
        if ttl_ms == 0 {
            return self.client.delete(key).await;
        }
        let at = exptime(ttl_ms, self.client.epoch_s());
        self.client.set(key, value, at).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        self.client.delete(key).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        for key in keys {
            check_key(key)?;
        }
        if let Some(answer) = self.client.get_multi(keys).await {
            return check_batch("the Memcached client", keys.len(), answer?);
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.client.get(key).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    const NOW: u64 = 1_790_000_000;

    #[derive(Default)]
    struct FakeMemcached {
        items: RefCell<HashMap<String, (Vec<u8>, u64)>>,
        log: RefCell<Vec<String>>,
        multi: bool,
    }

    impl MemcachedClient for FakeMemcached {
        fn epoch_s(&self) -> u64 {
            NOW
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.log.borrow_mut().push(format!("get {key}"));
            Ok(self.items.borrow().get(key).map(|(v, _)| v.clone()))
        }
        async fn set(&self, key: &str, value: Vec<u8>, exptime: u64) -> Result<(), StoreError> {
            self.log.borrow_mut().push(format!("set {key} {exptime}"));
            self.items
                .borrow_mut()
                .insert(key.to_owned(), (value, exptime));
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.log.borrow_mut().push(format!("delete {key}"));
            self.items.borrow_mut().remove(key);
            Ok(())
        }
        async fn get_multi(
            &self,
            keys: &[String],
        ) -> Option<Result<Vec<Option<Vec<u8>>>, StoreError>> {
            if !self.multi {
                return None;
            }
            self.log
                .borrow_mut()
                .push(format!("gets {}", keys.join(" ")));
            let items = self.items.borrow();
            Some(Ok(keys
                .iter()
                .map(|k| items.get(k).map(|(v, _)| v.clone()))
                .collect()))
        }
    }

    fn now<F: std::future::Future>(f: F) -> F::Output {
        crate::wait::race::now_or_never(f).expect("the fake never waits")
    }

    #[test]
    fn expiry_is_whole_seconds_rounded_up() {
        assert_eq!(exptime(600_000, NOW), 600);
        assert_eq!(exptime(45_000, NOW), 45);
        assert_eq!(exptime(1500, NOW), 2);
        assert_eq!(exptime(500, NOW), 1);
        assert_eq!(exptime(1, NOW), 1);
    }

    #[test]
    fn expiry_past_30_days_is_an_absolute_unix_time() {
        assert_eq!(exptime(RELATIVE_EXPIRY_LIMIT_S * 1000, NOW), 2_592_000);
        assert_eq!(exptime(2_678_400_000, NOW), NOW + 2_678_400);
        assert_eq!(exptime(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn ttl_zero_deletes_and_others_set_with_the_expiry() {
        let store = MemcachedStore::new(FakeMemcached::default());
        now(store.put("k", b"1".to_vec(), 500)).unwrap();
        now(store.put("k", b"2".to_vec(), 0)).unwrap();
        assert_eq!(now(store.get("k")).unwrap(), None);
        assert_eq!(
            *store.client().log.borrow(),
            ["set k 1", "delete k", "get k"]
        );
    }

    #[test]
    fn keys_breaking_memcached_rules_are_refused_before_sending() {
        let store = MemcachedStore::new(FakeMemcached::default());
        let long = "k".repeat(251);
        for key in ["", long.as_str(), "with space", "tab\there", "nl\n"] {
            assert!(now(store.get(key)).is_err(), "{key:?}");
            assert!(now(store.put(key, b"1".to_vec(), 1000)).is_err(), "{key:?}");
            assert!(now(store.delete(key)).is_err(), "{key:?}");
        }
        assert!(store.client().log.borrow().is_empty());
        now(store.put(&"k".repeat(250), b"1".to_vec(), 1000)).unwrap();
    }

    #[test]
    fn batch_reads_use_the_multi_get_when_there_is_one() {
        let keys: Vec<String> = ["a", "b"].map(String::from).into();
        let store = MemcachedStore::new(FakeMemcached {
            multi: true,
            ..FakeMemcached::default()
        });
        now(store.put("b", b"2".to_vec(), 1000)).unwrap();
        assert_eq!(
            now(store.get_many(&keys)).unwrap(),
            [None, Some(b"2".to_vec())]
        );
        assert_eq!(store.client().log.borrow()[1], "gets a b");

        let store = MemcachedStore::new(FakeMemcached::default());
        now(store.get_many(&keys)).unwrap();
        assert_eq!(*store.client().log.borrow(), ["get a", "get b"]);
    }
}
