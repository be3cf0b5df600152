//! Per-key wake-ups: how a store that sees its own writes ends a wait at once.
//!
//! A waiter subscribes *before* it reads, so a write landing between the read and the
//! sleep is not missed; a write to the key fires every subscription to it. Dropping a
//! subscription unregisters it, so abandoned waits leave nothing behind.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// How a waiter's waker is kept for a write to call (see [`set_waker_hop`]).
pub type WakerHop = fn(&Waker) -> Waker;

thread_local! {
    /// The hop every subscription uses; `None`: the waker as it is.
    static HOP: Cell<Option<WakerHop>> = const { Cell::new(None) };
}

/// Sets how every subscription keeps its waiter's waker from now on: `hop` is given the
/// waker while the waiter polls, and returns the one a write calls.
///
/// A write may come from code running on behalf of someone else than the waiter: in workerd,
/// another request, inside which the waiter's code must not run (its I/O there would belong
/// to that request, and the waiter's own request would be taken as hung). The bindings pass
/// a `hop` there that wakes the waiter through a promise its own request made, so the
/// waiter runs in its own request again.
pub fn set_waker_hop(hop: WakerHop) {
    HOP.with(|h| h.set(Some(hop)));
}

/// The waker to keep for the waiter polling with `waker`.
fn keep(waker: &Waker) -> Waker {
    match HOP.with(Cell::get) {
        Some(hop) => hop(waker),
        None => waker.clone(),
    }
}

struct Waiter {
    id: u64,
    fired: bool,
    waker: Option<Waker>,
    /// For a member of a [`NotifiedSet`]: the set and this key's tag in it.
    group: Option<(Rc<RefCell<Group>>, usize)>,
}

/// What a [`NotifiedSet`] shares with its registrations: the tags written so far and the
/// one waker to call.
#[derive(Default)]
struct Group {
    fired: Vec<usize>,
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
            group: None,
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

    /// Subscribes to writes of many keys at once, each with a tag; one waker serves them
    /// all and a write hands over only its own key's tags, so a collection of n keys
    /// costs O(1) per write instead of a poll of all n subscriptions.
    #[must_use = "the subscriptions are dropped at once, and with them the wake-ups"]
    pub fn subscribe_many<'a>(
        &self,
        keys: impl IntoIterator<Item = (usize, &'a str)>,
    ) -> NotifiedSet {
        let group = Rc::new(RefCell::new(Group::default()));
        let mut entries = Vec::new();
        let mut reg = self.inner.borrow_mut();
        for (tag, key) in keys {
            let id = reg.next_id;
            reg.next_id += 1;
            let key = match reg.keys.get_key_value(key) {
                Some((shared, _)) => shared.clone(),
                None => Rc::from(key),
            };
            reg.keys
                .entry(key.clone())
                .or_insert_with(|| Vec::with_capacity(1))
                .push(Waiter {
                    id,
                    fired: false,
                    waker: None,
                    group: Some((group.clone(), tag)),
                });
            entries.push((key, id));
        }
        NotifiedSet {
            registry: self.inner.clone(),
            group,
            entries,
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
                if let Some((group, tag)) = &w.group {
                    let mut g = group.borrow_mut();
                    g.fired.push(*tag);
                    if let Some(waker) = g.waker.take() {
                        wakers.push(waker);
                    }
                } else if let Some(waker) = w.waker.take() {
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
                w.waker = Some(keep(cx.waker()));
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

/// Subscriptions to many keys with one waker (see [`Notifier::subscribe_many`]).
/// Dropping it unregisters every one.
pub struct NotifiedSet {
    registry: Rc<RefCell<Registry>>,
    group: Rc<RefCell<Group>>,
    entries: Vec<(Rc<str>, u64)>,
}

impl NotifiedSet {
    /// The tags of the keys written since the last call (a tag may repeat).
    pub fn take_fired(&self) -> Vec<usize> {
        std::mem::take(&mut self.group.borrow_mut().fired)
    }

    /// Completes once some key of the set has been written since the last
    /// [`NotifiedSet::take_fired`].
    pub fn written(&self) -> Written<'_> {
        Written { set: self }
    }
}

/// The future of [`NotifiedSet::written`].
pub struct Written<'a> {
    set: &'a NotifiedSet,
}

impl Future for Written<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.set.group.borrow_mut();
        if g.fired.is_empty() {
            g.waker = Some(keep(cx.waker()));
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl Drop for NotifiedSet {
    fn drop(&mut self) {
        if let Ok(mut reg) = self.registry.try_borrow_mut() {
            for (key, id) in &self.entries {
                if let Some(waiters) = reg.keys.get_mut(&**key) {
                    waiters.retain(|w| w.id != *id);
                    if waiters.is_empty() {
                        reg.keys.remove(&**key);
                    }
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
    fn a_set_hands_over_only_the_written_keys_tags() {
        let n = Notifier::new();
        let set = n.subscribe_many([(0, "a"), (1, "b"), (2, "a")]);
        assert_eq!(n.waiting(), 3);
        n.notify("a");
        let mut fired = set.take_fired();
        fired.sort_unstable();
        assert_eq!(fired, [0, 2]);
        assert_eq!(
            ManualClock::new().block_on(set.written()),
            None,
            "nothing new"
        );
        n.notify("b");
        assert_eq!(ManualClock::new().block_on(set.written()), Some(()));
        assert_eq!(set.take_fired(), [1]);
        drop(set);
        assert_eq!(n.waiting(), 0, "dropping the set unregisters every key");
    }

    #[test]
    fn other_keys_do_not_fire() {
        let n = Notifier::new();
        let sub = n.subscribe("a");
        n.notify("b");
        assert_eq!(ManualClock::new().block_on(sub), None);
        assert_eq!(n.waiting(), 0, "dropped subscriptions unregister");
    }

    #[test]
    fn a_write_calls_the_waker_the_hop_made_not_the_waiters_own() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::task::Wake;

        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        thread_local! {
            static HOPPED: Arc<Count> = Arc::new(Count(AtomicUsize::new(0)));
        }
        fn hop(_: &Waker) -> Waker {
            HOPPED.with(|h| Waker::from(h.clone()))
        }
        // Set for this test's thread only (the hop is per thread).
        set_waker_hop(hop);
        let own = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(own.clone());
        let n = Notifier::new();
        let mut sub = n.subscribe("k");
        let set = n.subscribe_many([(0, "k")]);
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut sub).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut set.written()).poll(&mut cx).is_pending());
        assert_eq!(n.notify("k"), 2);
        assert_eq!(HOPPED.with(|h| h.0.load(Ordering::SeqCst)), 2);
        assert_eq!(
            own.0.load(Ordering::SeqCst),
            0,
            "never the waiter's own waker"
        );
    }
}
