//! Waiting for many results at once, under one deadline.
//!
//! Dramatiq's `group.get_results()` waits for each child in turn, and each wait can run
//! its full timeout. Here every pending key is read in one batch per round (`get_many`:
//! one Redis pipeline, one Memcached multi-get), outcomes are handed out in the order
//! they complete, and the whole collection ends at a single deadline. Between rounds it
//! sleeps like [`ResultBackend::wait_for_bytes`]: until any key is written where the
//! store can tell, otherwise with Dramatiq's back-off, never past the deadline.

use std::collections::VecDeque;

use crate::model::error::{ResultError, StoreError};
use crate::results::backend::{Op, ResultBackend, Wait};
use crate::results::store::{Store, Watch};
use crate::wait::backoff::Backoff;
use crate::wait::notify::{Notified, NotifiedSet};
use crate::wait::race::{first, race};
use crate::wait::timer::Timer;

/// One finished key: its index in the list given, and its bytes or error.
pub type Outcome = (usize, Result<Vec<u8>, ResultError>);

/// A collection in progress over a fixed list of keys.
pub struct Collect {
    keys: Vec<String>,
    /// Which keys have an outcome (handed out or in `ready`); `left` counts the others.
    done: Vec<bool>,
    left: usize,
    ready: VecDeque<Outcome>,
    wait: Wait,
    deadline: Option<f64>,
    backoff: Option<Backoff>,
    /// On a store whose every write wakes (the stub): one subscription to every key, kept
    /// across rounds, so a round re-reads only the keys written since the last one. Without
    /// it each of n results arriving one by one cost a read and a watch of all n pending
    /// keys: O(n²) (10 000 results took 94 s on the stub).
    set: Option<NotifiedSet>,
    /// Whether the next round must read every pending key (the first round, after a failed
    /// read, and at the deadline); otherwise a round with a set reads the written keys only.
    read_all: bool,
    /// The last store error of a blocked wait: it is retried until the deadline, and a
    /// timeout then carries it as its cause.
    last_error: Option<StoreError>,
}

impl Collect {
    /// Starts collecting `keys`; the deadline is `wait.timeout_ms` from the first
    /// [`Collect::next`].
    pub fn new(keys: Vec<String>, wait: Wait) -> Collect {
        Collect {
            done: vec![false; keys.len()],
            left: keys.len(),
            keys,
            ready: VecDeque::new(),
            wait,
            deadline: None,
            backoff: None,
            set: None,
            read_all: true,
            last_error: None,
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
    /// round come out in list order; without blocking, every key (found or missing) does.
    /// Cancel-safe between rounds: dropping the future loses no finished outcome.
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
            if self.left == 0 {
                return None;
            }
            self.round(backend, deadline).await;
        }
    }

    /// The indices of the keys with no outcome yet.
    fn pending(&self) -> Vec<usize> {
        (0..self.keys.len())
            .filter(|&i| !self.done.get(i).copied().unwrap_or(true))
            .collect()
    }

    /// Records `index`'s outcome (once).
    fn finish(&mut self, index: usize, outcome: Result<Vec<u8>, ResultError>) {
        if let Some(done) = self.done.get_mut(index) {
            if !*done {
                *done = true;
                self.left -= 1;
                self.ready.push_back((index, outcome));
            }
        }
    }

    /// One read of the pending keys that may have changed, then (if nothing finished) one
    /// sleep.
    async fn round<S: Store, T: Timer>(&mut self, backend: &ResultBackend<S, T>, deadline: f64) {
        let store = backend.store();
        // Subscribe before reading, so a write between the read and the sleep wakes us.
        if self.wait.block && self.set.is_none() && self.read_all && self.last_error.is_none() {
            let pending = self.pending();
            let pairs: Vec<(usize, &str)> = pending.iter().map(|&i| (i, self.key(i))).collect();
            self.set = store.watch_many(&pairs);
        }
        let watches: Vec<Watch> = if self.wait.block && self.set.is_none() {
            self.pending()
                .iter()
                .map(|&i| store.watch(self.key(i)))
                .collect()
        } else {
            Vec::new()
        };
        let to_read: Vec<usize> = match &self.set {
            Some(set) if !self.read_all => {
                let mut fired = set.take_fired();
                fired.sort_unstable();
                fired.dedup();
                fired.retain(|&i| !self.done.get(i).copied().unwrap_or(true));
                fired
            }
            _ => {
                if let Some(set) = &self.set {
                    set.take_fired();
                }
                self.pending()
            }
        };
        self.read_all = false;
        if !to_read.is_empty() {
            let keys: Vec<String> = to_read.iter().map(|&i| self.key(i).to_owned()).collect();
            match backend
                .bounded(deadline, "get", store.get_many(&keys))
                .await
            {
                Ok(values) => {
                    self.last_error = None;
                    for (&i, value) in to_read
                        .iter()
                        .zip(values.into_iter().chain(std::iter::repeat(None)))
                    {
                        match value {
                            Some(bytes) => {
                                let outcome = backend.within_limit(self.key(i), bytes);
                                self.finish(i, outcome);
                            }
                            // Not blocking, one read settles every key, in list order: a
                            // missing key ahead of a stored failure is the error reported
                            // first, as Dramatiq's `group.get_results()` raises it (a
                            // second round would also read the missing keys again).
                            None if !self.wait.block => {
                                let key = self.key(i).to_owned();
                                self.finish(i, Err(ResultError::Missing { key }));
                            }
                            None => {}
                        }
                    }
                }
                Err(Op::Overdue(source)) if self.wait.block => {
                    let timeout_ms = self.wait.timeout_ms;
                    let cause = self.last_error.take().unwrap_or(source);
                    self.finish_all(|key| ResultError::Timeout {
                        key,
                        timeout_ms,
                        cause: Some(cause.clone()),
                    });
                    return;
                }
                // A blocked wait outlasts a store that fails (a server restarting): it
                // retries with back-off until its deadline, where the last error becomes
                // the timeout's cause. The keys not read are read again next round. An
                // error the store answered with (Redis's WRONGTYPE) would only be answered
                // again: it ends the collection at once, as it ends a single wait.
                Err(Op::Failed(source)) if self.wait.block && !source.answered => {
                    self.last_error = Some(source);
                    self.read_all = true;
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
        }
        if !self.ready.is_empty() || self.left == 0 {
            return;
        }
        if !self.wait.block {
            self.finish_all(|key| ResultError::Missing { key });
            return;
        }
        let now = backend.timer().now_ms();
        if now >= deadline {
            let timeout_ms = self.wait.timeout_ms;
            let cause = self.last_error.take();
            self.finish_all(|key| ResultError::Timeout {
                key,
                timeout_ms,
                cause: cause.clone(),
            });
            return;
        }
        let remaining = deadline - now;
        let failing = self.last_error.is_some();
        let next_poll = |this: &mut Self| {
            let b = this.backoff.get_or_insert_with(|| backend.backoff());
            b.next_delay_ms().min(remaining)
        };
        if self.set.is_some() {
            // Every write wakes the set: sleep to the deadline unless one lands (after a
            // failed read, only until the next retry).
            let nap = if failing { next_poll(self) } else { remaining };
            if let Some(set) = &self.set {
                race(set.written(), backend.sleep(nap)).await;
            }
            if backend.timer().now_ms() >= deadline {
                // One last read of everything at the deadline, as a single wait does.
                self.read_all = true;
            }
            return;
        }
        let mut reliable = !failing;
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
        let nap = if reliable { remaining } else { next_poll(self) };
        if wakes.is_empty() {
            backend.sleep(nap).await;
        } else {
            race(first(&mut wakes), backend.sleep(nap)).await;
        }
    }

    /// Ends every pending key with the error `make` builds from its key.
    fn finish_all(&mut self, make: impl Fn(String) -> ResultError) {
        for i in self.pending() {
            let key = self.key(i).to_owned();
            self.finish(i, Err(make(key)));
        }
    }
}
