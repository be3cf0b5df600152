//! The core's [`Store`] over the host's imported `kv-store`, and how a blocked read idles:
//! in the host's `wait` while the host can wake on writes, otherwise in a plain sleep.

use std::cell::{Cell, RefCell};

use super::timer::WasiTimer;
use super::wit::dramatiq::results::kv_store::{self, KvError};
use crate::model::error::StoreError;
use crate::results::store::{Store, Watch};
use crate::wait::notify::Notifier;
use crate::wait::timer::Timer;

/// The imported store, seen by the core.
#[derive(Default)]
pub struct HostStore {
    /// Fired when the host's `wait` reports a value, so the core's loop reads at once.
    notifier: Notifier,
    /// The key the current blocked read waits for (one read runs at a time).
    watched: RefCell<Option<String>>,
    /// Whether the host's `wait` has been seen to return at once empty-handed during the
    /// current read: it cannot wait, so the rest of the read polls with plain sleeps.
    wait_unsupported: Cell<bool>,
    /// Whether the host's last `wait` woke with a value during the current read. Should the
    /// core then idle again, its confirming read found nothing: the wake was spurious (an
    /// eventually consistent store, a buggy host), and waiting again at once could spin on
    /// the store until the deadline, so that idle sleeps its back-off step instead.
    woke_unconfirmed: Cell<bool>,
}

impl HostStore {
    /// Forgets what the previous read learned about the host's `wait`.
    pub fn begin_read(&self) {
        self.wait_unsupported.set(false);
        self.woke_unconfirmed.set(false);
        self.watched.replace(None);
    }

    /// Blocks until `until_ms` on `timer`'s scale, or earlier when the host's `wait` sees
    /// the watched key written. Never later than `until_ms`, as far as the host keeps to
    /// the `timeout-ms` it is given.
    pub fn idle(&self, timer: &WasiTimer, until_ms: f64) {
        let key = self.watched.borrow().clone();
        if let Some(key) = key.filter(|_| self.notifier.waiting() > 0) {
            if !self.wait_unsupported.get() && !self.woke_unconfirmed.replace(false) {
                let start = timer.now_ms();
                // Whole milliseconds, rounded down so the host never overshoots the due time;
                // the sub-millisecond rest is slept below. Under a millisecond, a `wait(0)`
                // answered at once would wrongly mark the host as unable to wait.
                let asked = (until_ms - start).floor();
                if asked < 1.0 {
                    timer.sleep_until(until_ms);
                    return;
                }
                match kv_store::wait(&key, asked as u64) {
                    Ok(Some(_)) => {
                        // The core confirms with its own read; the bytes are not trusted here.
                        self.woke_unconfirmed.set(true);
                        self.notifier.notify(&key);
                        return;
                    }
                    // A store that cannot wait answers at once; one that failed is treated
                    // the same way (the core's next read reports real store failures).
                    Ok(None) | Err(_) => {
                        if timer.now_ms() - start < asked / 2.0 {
                            self.wait_unsupported.set(true);
                        }
                    }
                }
            }
        }
        timer.sleep_until(until_ms);
    }
}

/// A store error from the host's `kv-error`, keeping its kind in the words. A refusal is
/// the store's answer, which asking again cannot change ([`StoreError::answered`]); a store
/// that could not be reached, or anything else, may answer on the next try.
fn store_error(op: &str, err: KvError) -> StoreError {
    let (kind, text, answered) = match err {
        KvError::Unavailable(text) => ("unavailable", text, false),
        KvError::Rejected(text) => ("rejected", text, true),
        KvError::Other(text) => ("other", text, false),
    };
    let error = StoreError::new(format!("the host store's {op} failed ({kind}): {text}"));
    if answered {
        error.answered()
    } else {
        error
    }
}

impl Store for HostStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        kv_store::get(key).map_err(|e| store_error("get", e))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        kv_store::put(key, &value, ttl_ms).map_err(|e| store_error("put", e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        kv_store::delete(key).map_err(|e| store_error("delete", e))
    }

    // Best effort: the host's `wait` is optional, so the core keeps polling with back-off
    // and is woken early when `idle` sees a write.
    fn watch(&self, key: &str) -> Watch {
        if self.wait_unsupported.get() {
            return Watch::None;
        }
        self.watched.replace(Some(key.to_owned()));
        Watch::BestEffort(self.notifier.subscribe(key))
    }
}
