//! `IndexedDbBackend`: results in the browser's IndexedDB (pages and workers), with writes
//! announced to the origin's other pages over a `BroadcastChannel`. The rules (record
//! shape, expiry, who is woken) are in `stores::indexed_db`; this file speaks IndexedDB.
//!
//! The database is opened lazily by the first operation, once, and shared by the
//! operations that arrive while it opens. A failed open is not remembered: the next
//! operation tries again (the user may close the tab that blocked an upgrade).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{
    BroadcastChannel, IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore,
    IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
    MessageEvent,
};

use super::adapter::ValueType;
use super::timer::epoch_ms;
use crate::bindings::js::type_error;
use crate::bindings::js::{bytes_of, prop};
use crate::model::error::StoreError;
use crate::stores::indexed_db::{IndexedDbClient, Record, EXPIRES_AT, KEY_PATH, VALUE_FIELD};
use crate::wait::notify::Notifier;

#[wasm_bindgen(module = "/src/bindings/drivers/indexed_db.js")]
extern "C" {
    fn settled(request: &IdbRequest) -> js_sys::Promise;
    #[wasm_bindgen(js_name = allSettled)]
    fn all_settled(requests: &js_sys::Array) -> js_sys::Promise;
    fn committed(tx: &IdbTransaction) -> js_sys::Promise;
    fn opened(request: &IdbOpenDbRequest, upgrade: &js_sys::Function) -> js_sys::Promise;
    #[wasm_bindgen(js_name = findIndexedDb)]
    fn find_indexed_db() -> JsValue;
    #[wasm_bindgen(js_name = hasBroadcastChannel)]
    fn has_broadcast_channel() -> bool;
    fn unref(channel: &BroadcastChannel);
    #[wasm_bindgen(js_name = errorText)]
    fn error_text(error: &JsValue) -> String;
}

/// The default database name.
pub const DEFAULT_DB_NAME: &str = "dramatiq-results";
/// The default object store name.
pub const DEFAULT_STORE_NAME: &str = "results";

/// A store error saying `what` failed, with IndexedDB's own error as the cause.
fn failed(what: &str, cause: JsValue) -> StoreError {
    StoreError::with_cause(
        format!("IndexedDB {what} failed: {}", error_text(&cause)),
        Rc::new(cause),
    )
}

/// Awaits a promise from the helpers, naming what failed.
async fn wait(what: &str, promise: js_sys::Promise) -> Result<JsValue, StoreError> {
    JsFuture::from(promise).await.map_err(|e| failed(what, e))
}

/// The database's schema step: the object store keyed by `key`, with the `expiresAt` index.
/// Also adds the index to a store that someone created without it.
fn upgrade(db: &IdbDatabase, tx: &IdbTransaction, store_name: &str) -> Result<(), JsValue> {
    let store = if db.object_store_names().contains(store_name) {
        tx.object_store(store_name)?
    } else {
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&KEY_PATH.into());
        db.create_object_store_with_optional_parameters(store_name, &params)?
    };
    if !store.index_names().contains(EXPIRES_AT) {
        store.create_index_with_str(EXPIRES_AT, EXPIRES_AT)?;
    }
    Ok(())
}

/// Opens `name` (at `version` when given), running [`upgrade`] if asked to.
async fn open_once(
    factory: &IdbFactory,
    name: &str,
    version: Option<f64>,
    upgrade: &js_sys::Function,
) -> Result<IdbDatabase, JsValue> {
    let request = match version {
        Some(v) => factory.open_with_f64(name, v)?,
        None => factory.open(name)?,
    };
    Ok(JsFuture::from(opened(&request, upgrade))
        .await?
        .unchecked_into())
}

/// One object store of one database, opened lazily, and the origin's channel for it.
pub struct JsIndexedDb {
    db_name: String,
    store_name: String,
    db: RefCell<Option<IdbDatabase>>,
    /// The open under way, shared by every operation that needs the database meanwhile.
    opening: RefCell<Option<js_sys::Promise>>,
    /// Calls [`upgrade`] for this store; kept alive for as long as opens may call it.
    upgrade: Closure<dyn FnMut(IdbDatabase, IdbTransaction) -> Result<(), JsValue>>,
    channel: Option<BroadcastChannel>,
    /// Fires the notifier on other pages' announcements; kept alive with the channel.
    _on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
}

impl JsIndexedDb {
    /// A client for `store_name` in `db_name` that fires `notifier` when another page of the
    /// origin announces a write. Opens nothing yet.
    pub fn new(db_name: String, store_name: String, notifier: Notifier) -> JsIndexedDb {
        let name = store_name.clone();
        let upgrade =
            Closure::new(move |db: IdbDatabase, tx: IdbTransaction| upgrade(&db, &tx, &name));
        let channel = if has_broadcast_channel() {
            BroadcastChannel::new(&format!("dramatiq-results:{db_name}/{store_name}")).ok()
        } else {
            None
        };
        let on_message = channel.as_ref().map(|channel| {
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                if let Some(key) = e.data().as_string() {
                    notifier.notify(&key);
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            unref(channel);
            on_message
        });
        JsIndexedDb {
            db_name,
            store_name,
            db: RefCell::new(None),
            opening: RefCell::new(None),
            upgrade,
            channel,
            _on_message: on_message,
        }
    }

    /// Opens the database: as it is, or one version up when our object store is missing
    /// (another store of the same database was created first).
    fn start_open(&self) -> js_sys::Promise {
        let factory = find_indexed_db();
        let name = self.db_name.clone();
        let store_name = self.store_name.clone();
        let upgrade: js_sys::Function = self.upgrade.as_ref().clone().unchecked_into();
        future_to_promise(async move {
            if !factory.is_object() {
                return Err(js_sys::Error::new(
                    "IndexedDB is not available here (globalThis.indexedDB is undefined)",
                )
                .into());
            }
            let factory: IdbFactory = factory.unchecked_into();
            let db = open_once(&factory, &name, None, &upgrade).await?;
            if db.object_store_names().contains(&store_name) {
                return Ok(db.into());
            }
            let next = db.version() + 1.0;
            db.close();
            Ok(open_once(&factory, &name, Some(next), &upgrade)
                .await?
                .into())
        })
    }

    /// The open database, opening it if need be.
    async fn database(&self) -> Result<IdbDatabase, StoreError> {
        if let Some(db) = self.db.borrow().as_ref() {
            return Ok(db.clone());
        }
        let promise = self
            .opening
            .borrow_mut()
            .get_or_insert_with(|| self.start_open())
            .clone();
        let result = JsFuture::from(promise).await;
        self.opening.borrow_mut().take();
        match result {
            Ok(db) => {
                let db: IdbDatabase = db.unchecked_into();
                *self.db.borrow_mut() = Some(db.clone());
                Ok(db)
            }
            Err(e) => Err(failed(&format!("open of database {}", self.db_name), e)),
        }
    }

    /// A transaction on our object store. A connection closed under us (another page
    /// upgraded the database) is reopened once.
    async fn transaction(
        &self,
        mode: IdbTransactionMode,
    ) -> Result<(IdbTransaction, IdbObjectStore), StoreError> {
        let mut retried = false;
        loop {
            let db = self.database().await?;
            let begun = db
                .transaction_with_str_and_mode(&self.store_name, mode)
                .and_then(|tx| Ok((tx.object_store(&self.store_name)?, tx)));
            match begun {
                Ok((store, tx)) => return Ok((tx, store)),
                Err(_) if !retried => {
                    retried = true;
                    db.close();
                    self.db.borrow_mut().take();
                }
                Err(e) => return Err(failed("transaction", e)),
            }
        }
    }

    /// Closes the database connection and the channel; a later operation reopens the database.
    pub fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
    }

    /// The database name.
    pub fn db_name(&self) -> &str {
        &self.db_name
    }

    /// The object store name.
    pub fn store_name(&self) -> &str {
        &self.store_name
    }
}

impl Drop for JsIndexedDb {
    /// A freed backend must not leave its message handler on the channel: the closure behind
    /// it is freed with us, and a later message would call into freed memory's stub and throw.
    fn drop(&mut self) {
        self.close();
    }
}

/// A stored record read back: `None` when absent, an error when it has the wrong shape.
fn record_of(key: &str, found: &JsValue) -> Result<Option<Record>, StoreError> {
    if found.is_undefined() {
        return Ok(None);
    }
    let shape = |cause: JsValue| {
        StoreError::with_cause(
            format!("IndexedDB get: reading the record of {key} threw"),
            Rc::new(cause),
        )
    };
    let value = bytes_of(&prop(found, VALUE_FIELD).map_err(shape)?).map_err(shape)?;
    let expires_at = prop(found, EXPIRES_AT).map_err(shape)?.as_f64();
    Record::checked(key, value, expires_at)
        .map(Some)
        .map_err(|message| {
            let cause = type_error(&message);
            StoreError::with_cause(format!("IndexedDB get: {message}"), Rc::new(cause))
        })
}

/// `obj[name] = value` on a fresh plain object (cannot fail there).
fn set(obj: &js_sys::Object, name: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &name.into(), value);
}

impl IndexedDbClient for JsIndexedDb {
    fn epoch_ms(&self) -> f64 {
        epoch_ms()
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let (_tx, store) = self.transaction(IdbTransactionMode::Readonly).await?;
        let request = store.get(&key.into()).map_err(|e| failed("get", e))?;
        let found = wait("get", settled(&request)).await?;
        record_of(key, &found)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Record>>, StoreError> {
        // One transaction, every request issued before the first answer: IndexedDB serves
        // them together, where a transaction per key would pay its set-up each time.
        let (_tx, store) = self.transaction(IdbTransactionMode::Readonly).await?;
        let requests = js_sys::Array::new();
        for key in keys {
            let request = store
                .get(&key.as_str().into())
                .map_err(|e| failed("get", e))?;
            requests.push(&request);
        }
        let found = js_sys::Array::from(&wait("get", all_settled(&requests)).await?);
        keys.iter()
            .zip(found.iter())
            .map(|(key, found)| record_of(key, &found))
            .collect()
    }

    async fn put(&self, record: Record) -> Result<(), StoreError> {
        let (tx, store) = self.transaction(IdbTransactionMode::Readwrite).await?;
        let done = committed(&tx);
        let obj = js_sys::Object::new();
        set(&obj, KEY_PATH, &record.key.as_str().into());
        set(&obj, VALUE_FIELD, &ValueType::Text.to_js(&record.value));
        set(&obj, EXPIRES_AT, &record.expires_at.into());
        store.put(&obj).map_err(|e| failed("put", e))?;
        wait("put", done).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (tx, store) = self.transaction(IdbTransactionMode::Readwrite).await?;
        let done = committed(&tx);
        store.delete(&key.into()).map_err(|e| failed("delete", e))?;
        wait("delete", done).await?;
        Ok(())
    }

    async fn sweep(&self, now_ms: f64) -> Result<usize, StoreError> {
        let (tx, store) = self.transaction(IdbTransactionMode::Readwrite).await?;
        let done = committed(&tx);
        // Expired means `expiresAt <= now`, so the bound is closed.
        let expired = IdbKeyRange::upper_bound(&now_ms.into())
            .and_then(|range| store.index(EXPIRES_AT)?.get_all_keys_with_key(&range))
            .map_err(|e| failed("sweep", e))?;
        let keys = wait("sweep", settled(&expired)).await?;
        let keys: js_sys::Array = keys.dyn_into().map_err(|v| failed("sweep", v))?;
        // Still inside the same transaction: the keys are deleted only if nothing rewrote
        // them since they were read.
        for key in keys.iter() {
            store.delete(&key).map_err(|e| failed("sweep", e))?;
        }
        wait("sweep", done).await?;
        Ok(keys.length() as usize)
    }

    fn announce(&self, key: &str) {
        if let Some(channel) = &self.channel {
            // Best effort by design: a closed channel only means nobody is told.
            let _ = channel.post_message(&key.into());
        }
    }
}
