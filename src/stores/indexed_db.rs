//! A store in the browser's IndexedDB, shared by every page and worker of one origin.
//!
//! One object store holds records `{ key, value, expiresAt }` (`key` is the key path,
//! `expiresAt` is indexed so expired records can be swept without a full scan). Expiry is
//! decided on read: an expired record is never returned, whether or not a sweep removed it.
//! Expiries are wall-clock epoch milliseconds, since other tabs read them too.
//!
//! Waking: a write wakes the waiters of the same store at once (through the [`Notifier`]),
//! and the bindings also announce it to other pages of the origin (a `BroadcastChannel`),
//! whose stores fire their own notifier on hearing it. Announcements can be missed (a tab
//! closing mid-write, a page that does not run the bindings), so waiters keep polling with
//! back-off as well: [`Watch::BestEffort`].

use crate::model::error::StoreError;
use crate::results::store::{check_batch, Store, Watch};
use crate::wait::notify::Notifier;

/// The record field that is the key path.
pub const KEY_PATH: &str = "key";
/// The record field holding the stored bytes.
pub const VALUE_FIELD: &str = "value";
/// The record field holding the expiry, and the name of its index.
pub const EXPIRES_AT: &str = "expiresAt";

/// One stored result.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The message key.
    pub key: String,
    /// Dramatiq's bytes.
    pub value: Vec<u8>,
    /// When it expires, in epoch milliseconds.
    pub expires_at: f64,
}

impl Record {
    /// A record written at `now_ms` (epoch) to live `ttl_ms`.
    pub fn new(key: &str, value: Vec<u8>, ttl_ms: u64, now_ms: f64) -> Record {
        Record {
            key: key.to_owned(),
            value,
            expires_at: now_ms + ttl_ms as f64,
        }
    }

    /// Whether the record may still be returned at `now_ms`.
    pub fn is_live(&self, now_ms: f64) -> bool {
        now_ms < self.expires_at
    }

    /// A record read from the database, checked: `expiresAt` must be a number that is not
    /// NaN (`None` when it is anything else), the value bytes (`None` when the field held
    /// something else). Says what is wrong, for the error the bindings raise.
    pub fn checked(
        key: &str,
        value: Option<Vec<u8>>,
        expires_at: Option<f64>,
    ) -> Result<Record, String> {
        let value = value.ok_or_else(|| {
            format!("the record under {key} has no `{VALUE_FIELD}` string or bytes")
        })?;
        let expires_at = expires_at
            .filter(|at| !at.is_nan())
            .ok_or_else(|| format!("the record under {key} has no numeric `{EXPIRES_AT}`"))?;
        Ok(Record {
            key: key.to_owned(),
            value,
            expires_at,
        })
    }
}

/// What an IndexedDB object store (and the origin's broadcast channel) must do. The bindings
/// implement it with web-sys.
// Single-threaded by design (wasm), so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait IndexedDbClient {
    /// Wall-clock milliseconds since the Unix epoch.
    fn epoch_ms(&self) -> f64;
    /// The record under `key`, expired or not; a record of the wrong shape is an error.
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError>;
    /// The records under many keys, in order. Implementations read them in one transaction;
    /// the default reads one key after another.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Record>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }
    /// Writes `record`, replacing any under its key; resolves once the write is committed.
    async fn put(&self, record: Record) -> Result<(), StoreError>;
    /// Removes the record under `key`.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Removes every record with `expiresAt <= now_ms`; returns how many.
    async fn sweep(&self, now_ms: f64) -> Result<usize, StoreError>;
    /// Tells other pages of the origin that `key` was written.
    fn announce(&self, key: &str);
}

/// A [`Store`] over an [`IndexedDbClient`].
pub struct IndexedDbStore<C> {
    client: C,
    notifier: Notifier,
}

impl<C: IndexedDbClient> IndexedDbStore<C> {
    /// A store over `client`, waking the waiters registered with `notifier` on writes. The
    /// bindings keep a clone of `notifier` to fire it when another page announces a write.
    pub fn new(client: C, notifier: Notifier) -> Self {
        IndexedDbStore { client, notifier }
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// Deletes every expired record; returns how many.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        self.client.sweep(self.client.epoch_ms()).await
    }
}

impl<C: IndexedDbClient> Store for IndexedDbStore<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let record = self.client.get(key).await?;
        let now = self.client.epoch_ms();
        Ok(record.filter(|r| r.is_live(now)).map(|r| r.value))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let records = check_batch("IndexedDB", keys.len(), self.client.get_many(keys).await?)?;
        let now = self.client.epoch_ms();
        Ok(records
            .into_iter()
            .map(|r| r.filter(|r| r.is_live(now)).map(|r| r.value))
            .collect())
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        if ttl_ms == 0 {
            // Expired on arrival (Redis's `PEXPIRE k 0`): nothing to keep, nobody to wake.
            return self.client.delete(key).await;
        }
        let record = Record::new(key, value, ttl_ms, self.client.epoch_ms());
        self.client.put(record).await?;
        self.notifier.notify(key);
        self.client.announce(key);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client.delete(key).await
    }

    fn watch(&self, key: &str) -> Watch {
        Watch::BestEffort(self.notifier.subscribe(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    #[derive(Default)]
    struct Fake {
        now: Cell<f64>,
        records: RefCell<HashMap<String, Record>>,
        announced: RefCell<Vec<String>>,
    }

    impl IndexedDbClient for Fake {
        fn epoch_ms(&self) -> f64 {
            self.now.get()
        }
        async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
            Ok(self.records.borrow().get(key).cloned())
        }
        async fn put(&self, record: Record) -> Result<(), StoreError> {
            self.records.borrow_mut().insert(record.key.clone(), record);
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.records.borrow_mut().remove(key);
            Ok(())
        }
        async fn sweep(&self, now_ms: f64) -> Result<usize, StoreError> {
            let mut records = self.records.borrow_mut();
            let before = records.len();
            records.retain(|_, r| r.expires_at > now_ms);
            Ok(before - records.len())
        }
        fn announce(&self, key: &str) {
            self.announced.borrow_mut().push(key.to_owned());
        }
    }

    fn now<F: std::future::Future>(f: F) -> F::Output {
        crate::wait::race::now_or_never(f).expect("the fake never waits")
    }

    #[test]
    fn records_expire_at_their_instant() {
        let r = Record::new("k", b"1".to_vec(), 500, 1_000.0);
        assert_eq!(r.expires_at, 1_500.0);
        assert!(r.is_live(1_499.9));
        assert!(!r.is_live(1_500.0));
    }

    #[test]
    fn records_of_the_wrong_shape_say_what_is_wrong() {
        assert!(Record::checked("k", Some(b"1".to_vec()), Some(2.0)).is_ok());
        let no_value = Record::checked("k", None, Some(2.0)).unwrap_err();
        assert!(no_value.contains("`value`"), "{no_value}");
        for at in [None, Some(f64::NAN)] {
            let e = Record::checked("k", Some(vec![]), at).unwrap_err();
            assert!(e.contains("`expiresAt`"), "{e}");
        }
    }

    #[test]
    fn expired_records_are_never_returned_and_sweep_counts_them() {
        let store = IndexedDbStore::new(Fake::default(), Notifier::new());
        store.client().now.set(10_000.0);
        now(store.put("short", b"1".to_vec(), 100)).unwrap();
        now(store.put("long", b"2".to_vec(), 60_000)).unwrap();
        store.client().now.set(10_100.0);
        assert_eq!(now(store.get("short")).unwrap(), None);
        assert_eq!(now(store.get("long")).unwrap(), Some(b"2".to_vec()));
        assert_eq!(now(store.sweep()).unwrap(), 1);
        assert_eq!(now(store.sweep()).unwrap(), 0);
        assert_eq!(store.client().records.borrow().len(), 1);
    }

    #[test]
    fn a_write_wakes_local_waiters_and_is_announced() {
        let notifier = Notifier::new();
        let store = IndexedDbStore::new(Fake::default(), notifier.clone());
        store.client().now.set(1.0);
        let Watch::BestEffort(woken) = store.watch("k") else {
            panic!("other tabs' writes are best effort");
        };
        now(store.put("k", b"1".to_vec(), 1_000)).unwrap();
        now(woken);
        assert_eq!(*store.client().announced.borrow(), ["k"]);
        // A write another page announced fires the same notifier.
        let Watch::BestEffort(woken) = store.watch("k") else {
            panic!("best effort");
        };
        notifier.notify("k");
        now(woken);
    }

    #[test]
    fn ttl_zero_deletes_and_announces_nothing() {
        let store = IndexedDbStore::new(Fake::default(), Notifier::new());
        now(store.put("k", b"1".to_vec(), 1_000)).unwrap();
        now(store.put("k", b"2".to_vec(), 0)).unwrap();
        assert!(store.client().records.borrow().is_empty());
        assert_eq!(store.client().announced.borrow().len(), 1);
    }
}
