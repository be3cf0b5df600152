//! Waiting for many results at once, under one deadline.
//!
//! Dramatiq's `group.get_results()` waits for each child in turn, and each wait can run
//! its full timeout. Here every pending key is read in one batch per round (`get_many`:
//! one Redis pipeline, one Memcached multi-get), outcomes are handed out in the order
//! they complete, and the whole collection ends at a single deadline. Between rounds it
//! sleeps like [`ResultBackend::wait_for_bytes`]: until any key is written where the
//! store can tell, otherwise with Dramatiq's back-off, never past the deadline.

use std::collections::VecDeque;

use crate::model::error::ResultError;
use crate::results::backend::{Op, ResultBackend, Wait};
use crate::results::store::{Store, Watch};
use crate::wait::backoff::Backoff;
use crate::wait::notify::Notified;
use crate::wait::race::{first, race};
use crate::wait::timer::Timer;

/// One finished key: its index in the list given, and its bytes or error.
pub type Outcome = (usize, Result<Vec<u8>, ResultError>);

/// A collection in progress over a fixed list of keys.
pub struct Collect {
    keys: Vec<String>,
    pending: Vec<usize>,
    ready: VecDeque<Outcome>,
    wait: Wait,
    deadline: Option<f64>,
    backoff: Option<Backoff>,
}

impl Collect {
    /// Starts collecting `keys`; the deadline is `wait.timeout_ms` from the first
    /// [`Collect::next`].
    pub fn new(keys: Vec<String>, wait: Wait) -> Collect {
        Collect {
            pending: (0..keys.len()).collect(),
            keys,
            ready: VecDeque::new(),
            wait,
            deadline: None,
            backoff: None,
        }
    }

    /// How many keys were given.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no keys were given.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key at `index`.
    pub fn key(&self, index: usize) -> &str {
        self.keys.get(index).map_or("", String::as_str)
    }

    /// The next key to finish, or `None` once every key has. Keys found in the same
    /// round come out in list order. Cancel-safe between rounds: dropping the future
    /// loses no finished outcome.
    pub async fn next<S: Store, T: Timer>(
        &mut self,
        backend: &ResultBackend<S, T>,
    ) -> Option<Outcome> {
        let deadline = *self
            .deadline
            .get_or_insert_with(|| backend.timer().now_ms() + self.wait.timeout_ms);
        loop {
            if let Some(done) = self.ready.pop_front() {
                return Some(done);
            }
            if self.pending.is_empty() {
                return None;
            }
            self.round(backend, deadline).await;
        }
    }

    /// One read of every pending key, then (if nothing finished) one sleep.
    async fn round<S: Store, T: Timer>(&mut self, backend: &ResultBackend<S, T>, deadline: f64) {
        let store = backend.store();
        // Subscribe before reading, so a write between the read and the sleep wakes us.
        let watches: Vec<Watch> = if self.wait.block {
            self.pending
                .iter()
                .map(|&i| store.watch(self.key(i)))
                .collect()
        } else {
            Vec::new()
        };
        let keys: Vec<String> = self
            .pending
            .iter()
            .map(|&i| self.key(i).to_owned())
            .collect();
        match backend
            .bounded(deadline, "get", store.get_many(&keys))
            .await
        {
            Ok(values) => {
                let mut still = Vec::with_capacity(self.pending.len());
                for (&i, value) in self
                    .pending
                    .iter()
                    .zip(values.into_iter().chain(std::iter::repeat(None)))
                {
                    match value {
                        Some(bytes) => {
                            let outcome = backend.within_limit(self.key(i), bytes);
                            self.ready.push_back((i, outcome));
                        }
                        None => still.push(i),
                    }
                }
                self.pending = still;
            }
            Err(Op::Overdue(source)) if self.wait.block => {
                let timeout_ms = self.wait.timeout_ms;
                self.finish_all(|key| ResultError::Timeout {
                    key,
                    timeout_ms,
                    cause: Some(source.clone()),
                });
                return;
            }
            Err(op) => {
                let source = op.into_source();
                self.finish_all(|key| ResultError::Store {
                    key,
                    source: source.clone(),
                });
                return;
            }
        }
        if !self.ready.is_empty() || self.pending.is_empty() {
            return;
        }
        if !self.wait.block {
            self.finish_all(|key| ResultError::Missing { key });
            return;
        }
        let now = backend.timer().now_ms();
        if now >= deadline {
            let timeout_ms = self.wait.timeout_ms;
            self.finish_all(|key| ResultError::Timeout {
                key,
                timeout_ms,
                cause: None,
            });
            return;
        }
        let remaining = deadline - now;
        let mut reliable = true;
        let mut wakes: Vec<Notified> = Vec::new();
        for watch in watches {
            match watch {
                Watch::Reliable(n) => wakes.push(n),
                Watch::BestEffort(n) => {
                    reliable = false;
                    wakes.push(n);
                }
                Watch::None => reliable = false,
            }
        }
        let nap = if reliable {
            remaining
        } else {
            let b = self.backoff.get_or_insert_with(|| backend.backoff());
            b.next_delay_ms().min(remaining)
        };
        if wakes.is_empty() {
            backend.sleep(nap).await;
        } else {
            race(first(&mut wakes), backend.sleep(nap)).await;
        }
    }

    /// Ends every pending key with the error `make` builds from its key.
    fn finish_all(&mut self, make: impl Fn(String) -> ResultError) {
        for i in std::mem::take(&mut self.pending) {
            let key = self.key(i).to_owned();
            self.ready.push_back((i, Err(make(key))));
        }
    }
}
