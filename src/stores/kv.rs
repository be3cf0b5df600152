//! A store over any key-value client: `get`, `put` with a TTL, `delete`.
//!
//! This is the base for custom stores (an HTTP endpoint, Deno KV, a `Map`): the client only
//! moves bytes. What the result API means by a TTL is decided here, once, so every client
//! behaves like Dramatiq's Redis backend:
//! - a TTL of 0 means "expired on arrival" (Redis's `PEXPIRE k 0`), so the key is deleted
//!   rather than handed to a client that might read 0 as "never expires";
//! - otherwise the client gets the exact TTL in milliseconds, and is trusted to honour it.

use crate::model::error::StoreError;
use crate::results::store::{check_batch, Store};

/// What a key-value client must do. The bindings implement it over a JS object; tests over
/// a map.
// Single-threaded by design (wasm), so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait KvClient {
    /// The bytes under `key`, or `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `value` under `key`, to expire after `ttl_ms` (never 0).
    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError>;
    /// Removes `key`; an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// The bytes under many keys, in order. The bindings send the `get`s concurrently (a
    /// network store answers a round of them in about one round trip); the default reads one
    /// key after another.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }
}

/// A [`Store`] over a [`KvClient`].
pub struct KvStore<C> {
    client: C,
}

impl<C: KvClient> KvStore<C> {
    /// A store over `client`.
    pub fn new(client: C) -> Self {
        KvStore { client }
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }
}

impl<C: KvClient> Store for KvStore<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.client.get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        if ttl_ms == 0 {
            self.client.delete(key).await
        } else {
            self.client.put(key, value, ttl_ms).await
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client.delete(key).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        check_batch(
            "the KV adapter",
            keys.len(),
            self.client.get_many(keys).await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Map {
        entries: RefCell<HashMap<String, (Vec<u8>, u64)>>,
        log: RefCell<Vec<String>>,
    }

    impl KvClient for Map {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.log.borrow_mut().push(format!("get {key}"));
            Ok(self.entries.borrow().get(key).map(|(v, _)| v.clone()))
        }
        async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
            self.log.borrow_mut().push(format!("put {key} {ttl_ms}"));
            self.entries
                .borrow_mut()
                .insert(key.to_owned(), (value, ttl_ms));
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.log.borrow_mut().push(format!("delete {key}"));
            self.entries.borrow_mut().remove(key);
            Ok(())
        }
    }

    fn now<F: std::future::Future>(f: F) -> F::Output {
        crate::wait::race::now_or_never(f).expect("the map client never waits")
    }

    #[test]
    fn ttl_passes_through_exactly() {
        let store = KvStore::new(Map::default());
        now(store.put("k", b"42".to_vec(), 1500)).unwrap();
        assert_eq!(now(store.get("k")).unwrap(), Some(b"42".to_vec()));
        assert_eq!(store.client().entries.borrow()["k"].1, 1500);
    }

    #[test]
    fn batch_reads_check_the_count_of_answers() {
        struct Short;
        impl KvClient for Short {
            async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(None)
            }
            async fn put(&self, _: &str, _: Vec<u8>, _: u64) -> Result<(), StoreError> {
                Ok(())
            }
            async fn delete(&self, _: &str) -> Result<(), StoreError> {
                Ok(())
            }
            async fn get_many(&self, _: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
                Ok(vec![None])
            }
        }
        let keys: Vec<String> = ["a", "b"].map(String::from).into();
        let e = now(KvStore::new(Short).get_many(&keys)).unwrap_err();
        assert!(e.to_string().contains("2 keys with 1 values"), "{e}");
        let store = KvStore::new(Map::default());
        now(store.put("b", b"2".to_vec(), 10)).unwrap();
        assert_eq!(
            now(store.get_many(&keys)).unwrap(),
            [None, Some(b"2".to_vec())]
        );
    }

    #[test]
    fn ttl_zero_deletes_instead_of_storing_forever() {
        let store = KvStore::new(Map::default());
        now(store.put("k", b"1".to_vec(), 60_000)).unwrap();
        now(store.put("k", b"2".to_vec(), 0)).unwrap();
        assert_eq!(now(store.get("k")).unwrap(), None);
        assert_eq!(
            *store.client().log.borrow(),
            ["put k 60000", "delete k", "get k"]
        );
    }
}
