//! Per-key wake-ups: how a store that sees its own writes ends a wait at once.
//!
//! A waiter subscribes *before* it reads, so a write landing between the read and the
//! sleep is not missed; a write to the key fires every subscription to it. Dropping a
//! subscription unregisters it, so abandoned waits leave nothing behind.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Waiter {
    id: u64,
    fired: bool,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    /// Waiters by key. Per key a list, not a map: a key rarely has more than a few, and
    /// one `HashMap` instantiation fewer is ~1.6 KB less wasm. The key is shared with the
    /// subscriptions (`Rc<str>`), so a pending wait holds one copy of it, not two.
    keys: HashMap<Rc<str>, Vec<Waiter>>,
}

/// A registry of waiters by key. Cloning shares the registry.
#[derive(Clone, Default)]
pub struct Notifier {
    inner: Rc<RefCell<Registry>>,
}

impl Notifier {
    /// A registry with no waiters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to the next write of `key`.
    #[must_use = "the subscription is dropped at once, and with it the wake-up"]
    pub fn subscribe(&self, key: &str) -> Notified {
        let mut reg = self.inner.borrow_mut();
        let id = reg.next_id;
        reg.next_id += 1;
        let waiter = Waiter {
            id,
            fired: false,
            waker: None,
        };
        let key = match reg.keys.get_key_value(key) {
            Some((shared, _)) => shared.clone(),
            None => Rc::from(key),
        };
        reg.keys
            .entry(key.clone())
            // Most keys have one waiter: room for one, not Vec's default four.
            .or_insert_with(|| Vec::with_capacity(1))
            .push(waiter);
        Notified {
            registry: self.inner.clone(),
            key,
            id,
        }
    }

    /// Fires every subscription to `key`; returns how many there were.
    pub fn notify(&self, key: &str) -> usize {
        let mut wakers = Vec::new();
        {
            let mut reg = self.inner.borrow_mut();
            let Some(waiters) = reg.keys.get_mut(key) else {
                return 0;
            };
            for w in waiters.iter_mut() {
                w.fired = true;
                if let Some(waker) = w.waker.take() {
                    wakers.push(waker);
                }
            }
        }
        let n = wakers.len();
        // Wake outside the borrow: a waker may poll synchronously on some executors.
        for w in wakers {
            w.wake();
        }
        n
    }

    /// How many subscriptions are registered (for tests and leak checks).
    pub fn waiting(&self) -> usize {
        self.inner.borrow().keys.values().map(Vec::len).sum()
    }
}

/// A subscription to the next write of one key; completes when it happens.
pub struct Notified {
    registry: Rc<RefCell<Registry>>,
    key: Rc<str>,
    id: u64,
}

impl Future for Notified {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut reg = self.registry.borrow_mut();
        match reg
            .keys
            .get_mut(&*self.key)
            .and_then(|w| w.iter_mut().find(|w| w.id == self.id))
        {
            Some(w) if w.fired => Poll::Ready(()),
            Some(w) => {
                w.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            // Unregistered cannot happen while we live; treat it as fired rather than hang.
            None => Poll::Ready(()),
        }
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        if let Ok(mut reg) = self.registry.try_borrow_mut() {
            if let Some(waiters) = reg.keys.get_mut(&*self.key) {
                waiters.retain(|w| w.id != self.id);
                if waiters.is_empty() {
                    reg.keys.remove(&*self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ManualClock;

    #[test]
    fn a_write_before_the_first_poll_is_not_missed() {
        let n = Notifier::new();
        let sub = n.subscribe("k");
        assert_eq!(n.notify("k"), 0, "nobody polled yet, but the flag is set");
        assert_eq!(ManualClock::new().block_on(sub), Some(()));
        assert_eq!(n.waiting(), 0);
    }

    #[test]
    fn other_keys_do_not_fire() {
        let n = Notifier::new();
        let sub = n.subscribe("a");
        n.notify("b");
        assert_eq!(ManualClock::new().block_on(sub), None);
        assert_eq!(n.waiting(), 0, "dropped subscriptions unregister");
    }
}
