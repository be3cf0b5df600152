//! Many sleeps over one host alarm.
//!
//! Ten thousand blocked waiters used to mean ten thousand host timers, each with its own
//! callback, handle and channel: most of a waiter's memory. Here every sleep is an entry in
//! one ordered queue, and the host keeps a single alarm armed for the earliest one. When it
//! fires, every sleep that is due wakes and the alarm is re-armed for the next; when the
//! last sleep is dropped, the alarm is cleared, so a host like Node that stays alive while a
//! timer is pending exits as soon as nothing waits.

use std::cell::{Cell, RefCell};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::wait::timer::MAX_SLEEP_MS;

/// The host's one timer.
pub trait Alarm {
    /// Arms the alarm to call [`TimerQueue::fire`] after `delay_ms`, replacing any earlier
    /// arming.
    fn set(&self, delay_ms: f64);
    /// Disarms it.
    fn clear(&self);
}

#[derive(Default)]
struct Slot {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// A queued sleep: due time in whole microseconds, creation order, and its slot. A sleep
/// dropped early leaves its entry behind with a dead slot (removing from the middle of a
/// heap is costly); dead entries are skipped when due and swept when they pile up.
struct Entry {
    due: u64,
    id: u64,
    slot: Weak<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.id) == (other.due, other.id)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.id).cmp(&(other.due, other.id))
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    heap: BinaryHeap<Reverse<Entry>>,
    /// Sleeps neither fired nor dropped.
    live: usize,
    /// When the alarm is armed for (µs), if it is.
    armed_for: Option<u64>,
}

impl State {
    /// The due time of the earliest live sleep, dropping dead entries on top.
    fn earliest(&mut self) -> Option<u64> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.slot.strong_count() > 0 {
                return Some(top.due);
            }
            self.heap.pop();
        }
        None
    }
}

/// How late an armed alarm may be before [`TimerQueue`] takes it as lost: far beyond a busy
/// event loop's lateness, far below what a waiter would notice.
pub const LOST_ALARM_MS: f64 = 1_000.0;

/// The queue of pending sleeps over one [`Alarm`].
pub struct TimerQueue<A> {
    state: RefCell<State>,
    alarm: A,
}

fn micros(ms: f64) -> u64 {
    // Due times are non-negative on a monotonic scale; `as` saturates anything else.
    (ms * 1000.0).ceil() as u64
}

impl<A: Alarm> TimerQueue<A> {
    /// An empty queue over `alarm`.
    pub fn new(alarm: A) -> Self {
        TimerQueue {
            state: RefCell::default(),
            alarm,
        }
    }

    /// How many sleeps are pending.
    pub fn len(&self) -> usize {
        self.state.borrow().live
    }

    /// Whether no sleep is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A sleep that completes once [`TimerQueue::fire`] is called at or after `now + ms`.
    pub fn sleep(self: &Rc<Self>, now: f64, ms: f64) -> QueuedSleep<A> {
        let due = micros(now + ms.clamp(0.0, MAX_SLEEP_MS));
        let slot = Rc::new(Slot::default());
        {
            let mut state = self.state.borrow_mut();
            state.next_id += 1;
            let id = state.next_id;
            state.heap.push(Reverse(Entry {
                due,
                id,
                slot: Rc::downgrade(&slot),
            }));
            state.live += 1;
        }
        self.arm(now);
        QueuedSleep {
            queue: self.clone(),
            slot: Some(slot),
        }
    }

    /// Called by the host when the alarm goes off: wakes every sleep due by `now` and
    /// re-arms the alarm for the next one.
    pub fn fire(&self, now: f64) {
        let now_us = micros(now);
        let mut woken = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            state.armed_for = None;
            while state
                .heap
                .peek()
                .is_some_and(|Reverse(top)| top.due <= now_us)
            {
                let Some(Reverse(entry)) = state.heap.pop() else {
                    break;
                };
                if let Some(slot) = entry.slot.upgrade() {
                    state.live = state.live.saturating_sub(1);
                    woken.push(slot);
                }
            }
        }
        // Wake outside the borrow: a waker may run code that sleeps again.
        for slot in woken {
            slot.fired.set(true);
            if let Some(waker) = slot.waker.borrow_mut().take() {
                waker.wake();
            }
        }
        self.arm(now);
    }

    /// Arms the alarm for the earliest sleep if it is not already armed for it (or earlier).
    ///
    /// An alarm that is overdue by more than [`LOST_ALARM_MS`] is taken as lost and armed
    /// again: a host may drop a timer without firing it (workerd drops the timers of a
    /// request that has ended), and then no later sleep would ever wake.
    fn arm(&self, now: f64) {
        let earliest = {
            let mut state = self.state.borrow_mut();
            let Some(due) = state.earliest() else {
                return;
            };
            let lost_before = micros((now - LOST_ALARM_MS).max(0.0));
            if state
                .armed_for
                .is_some_and(|armed| armed <= due && armed >= lost_before)
            {
                return;
            }
            state.armed_for = Some(due);
            due
        };
        // Capped: a due time rounded up to the microsecond may lie a fraction past the
        // longest sleep; the alarm re-arms for the rest if it fires before it.
        self.alarm
            .set((earliest as f64 / 1000.0 - now).clamp(0.0, MAX_SLEEP_MS));
    }

    /// A sleep was dropped before it fired (its slot is already dead).
    fn cancelled(&self) {
        let now_empty = {
            let mut state = self.state.borrow_mut();
            state.live = state.live.saturating_sub(1);
            // Sweep dead entries once they outnumber the live ones, so memory follows the
            // number of pending sleeps, not the number ever made.
            if state.heap.len() > 2 * state.live + 64 {
                state.heap.retain(|Reverse(e)| e.slot.strong_count() > 0);
            }
            if state.live == 0 {
                state.heap.clear();
                state.armed_for = None;
                true
            } else {
                false
            }
        };
        if now_empty {
            self.alarm.clear();
        }
    }
}

/// A pending sleep; dropping it before it fires takes it out of the queue.
pub struct QueuedSleep<A: Alarm> {
    queue: Rc<TimerQueue<A>>,
    /// `None` only while being dropped.
    slot: Option<Rc<Slot>>,
}

impl<A: Alarm> Future for QueuedSleep<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.slot {
            Some(slot) if !slot.fired.get() => {
                *slot.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    }
}

impl<A: Alarm> Drop for QueuedSleep<A> {
    fn drop(&mut self) {
        // Kill the slot first, so the sweep in `cancelled` sees this entry as dead.
        if let Some(slot) = self.slot.take() {
            if !slot.fired.get() {
                drop(slot);
                self.queue.cancelled();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    #[derive(Default)]
    struct FakeAlarm {
        armed: RefCell<Option<f64>>,
        sets: Cell<u32>,
    }

    impl Alarm for Rc<FakeAlarm> {
        fn set(&self, delay_ms: f64) {
            self.sets.set(self.sets.get() + 1);
            *self.armed.borrow_mut() = Some(delay_ms);
        }
        fn clear(&self) {
            *self.armed.borrow_mut() = None;
        }
    }

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(s: &mut QueuedSleep<Rc<FakeAlarm>>, waker: &Waker) -> bool {
        Pin::new(s).poll(&mut Context::from_waker(waker)).is_ready()
    }

    #[test]
    fn an_alarm_the_host_dropped_is_armed_again_by_the_next_sleep() {
        let alarm = Rc::new(FakeAlarm::default());
        let q = Rc::new(TimerQueue::new(alarm.clone()));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        // A sleep from an ended request: its alarm (due at 50 ms) never fires.
        let mut orphan = q.sleep(0.0, 50.0);
        assert!(!poll(&mut orphan, &waker));
        assert_eq!(alarm.sets.get(), 1);
        // Still within the lateness a busy host may show: not re-armed.
        let _soon = q.sleep(500.0, 300.0);
        assert_eq!(alarm.sets.get(), 1);
        // Long overdue: the next sleep arms the alarm again, at once for the overdue one.
        let mut next = q.sleep(5_000.0, 300.0);
        assert_eq!(alarm.sets.get(), 2);
        assert_eq!(*alarm.armed.borrow(), Some(0.0));
        q.fire(5_000.0);
        assert!(poll(&mut orphan, &waker));
        assert!(!poll(&mut next, &waker));
        q.fire(5_300.0);
        assert!(poll(&mut next, &waker));
    }

    #[test]
    fn one_alarm_for_many_sleeps_in_due_order() {
        let alarm = Rc::new(FakeAlarm::default());
        let q = Rc::new(TimerQueue::new(alarm.clone()));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut late = q.sleep(0.0, 300.0);
        let mut early = q.sleep(0.0, 100.0);
        let mut mid = q.sleep(0.0, 200.0);
        for s in [&mut late, &mut early, &mut mid] {
            assert!(!poll(s, &waker));
        }
        assert_eq!(*alarm.armed.borrow(), Some(100.0), "armed for the earliest");
        assert_eq!(q.len(), 3);

        q.fire(100.0);
        assert!(poll(&mut early, &waker));
        assert!(!poll(&mut mid, &waker));
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "only the due sleep woke");
        assert_eq!(
            *alarm.armed.borrow(),
            Some(100.0),
            "re-armed for the next, 200 ms"
        );

        // A host timer that fires a little early wakes nothing and re-arms for the rest.
        q.fire(199.5);
        assert!(!poll(&mut mid, &waker));
        assert_eq!(*alarm.armed.borrow(), Some(0.5));
        q.fire(300.0);
        assert!(poll(&mut mid, &waker) && poll(&mut late, &waker));
        assert!(q.is_empty());
    }

    #[test]
    fn dropping_the_last_sleep_clears_the_alarm() {
        let alarm = Rc::new(FakeAlarm::default());
        let q = Rc::new(TimerQueue::new(alarm.clone()));
        let a = q.sleep(0.0, 1000.0);
        let b = q.sleep(0.0, 50.0);
        drop(b);
        assert!(alarm.armed.borrow().is_some(), "a is still pending");
        assert_eq!(q.len(), 1);
        drop(a);
        assert_eq!(*alarm.armed.borrow(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn dropped_sleeps_do_not_pile_up() {
        let alarm = Rc::new(FakeAlarm::default());
        let q = Rc::new(TimerQueue::new(alarm.clone()));
        let keep = q.sleep(0.0, 60_000.0);
        for i in 0..10_000 {
            drop(q.sleep(0.0, 30_000.0 + f64::from(i)));
        }
        assert_eq!(q.len(), 1);
        assert!(q.state.borrow().heap.len() < 200, "dead entries are swept");
        drop(keep);
        assert_eq!(*alarm.armed.borrow(), None);
    }

    #[test]
    fn later_sleeps_do_not_rearm() {
        let alarm = Rc::new(FakeAlarm::default());
        let q = Rc::new(TimerQueue::new(alarm.clone()));
        let _first = q.sleep(0.0, 10.0);
        let sleeps: Vec<_> = (0..100)
            .map(|i| q.sleep(0.0, 20.0 + f64::from(i)))
            .collect();
        assert_eq!(alarm.sets.get(), 1, "one arming for 101 sleeps");
        assert_eq!(sleeps.len(), 100);
        let _sooner = q.sleep(0.0, 5.0);
        assert_eq!((alarm.sets.get(), *alarm.armed.borrow()), (2, Some(5.0)));
    }

    #[test]
    fn the_alarm_never_exceeds_the_hosts_limit() {
        let alarm = Rc::new(FakeAlarm::default());
        let q = Rc::new(TimerQueue::new(alarm.clone()));
        // A fractional "now" makes the due time round up past now + MAX_SLEEP_MS.
        let _forever = q.sleep(0.3, f64::INFINITY);
        let armed = alarm.armed.borrow().unwrap_or(f64::NAN);
        assert!(armed <= MAX_SLEEP_MS, "armed for {armed} ms");
        assert!(
            armed.ceil() <= MAX_SLEEP_MS,
            "the host rounds up: {armed} ms"
        );
    }
}
