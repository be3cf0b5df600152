//! A virtual clock and single-threaded executor, for deterministic tests of waiting.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::wait::timer::Timer;

#[derive(Default)]
struct ClockState {
    now: f64,
    next_id: u64,
    timers: Vec<(u64, f64, Option<Waker>)>,
}

/// A virtual clock and single-threaded executor for deterministic tests of waiting.
///
/// # Example
/// ```
/// use dramatiq_results::{testing::ManualClock, wait::timer::Timer};
/// let clock = ManualClock::new();
/// let c = clock.clone();
/// let elapsed = clock.block_on(async move {
///     let start = c.now_ms();
///     c.sleep_ms(30_000.0).await;
///     c.now_ms() - start
/// });
/// assert_eq!(elapsed, Some(30_000.0));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    state: Rc<RefCell<ClockState>>,
    tasks: Rc<RefCell<Vec<Task>>>,
}

/// A spawned background task.
type Task = Pin<Box<dyn Future<Output = ()>>>;

impl ManualClock {
    /// A clock at time 0 with no timers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `ms` (timers due by then become ready on their next poll).
    pub fn advance(&self, ms: f64) {
        let mut st = self.state.borrow_mut();
        st.now += ms;
        let now = st.now;
        for (_, deadline, waker) in st.timers.iter_mut() {
            if *deadline <= now {
                if let Some(w) = waker.take() {
                    w.wake();
                }
            }
        }
    }

    /// How many sleeps are pending (a cancelled wait must leave none behind).
    pub fn pending_timers(&self) -> usize {
        self.state.borrow().timers.len()
    }

    /// Runs `fut` alongside the spawned tasks until it completes, jumping time to the next
    /// timer whenever nothing can progress. `None` if everything is stuck with no timer
    /// left: the future would never complete.
    pub fn block_on<F: Future>(&self, fut: F) -> Option<F::Output> {
        let flag = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            flag.0.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return Some(out);
            }
            let mut tasks = std::mem::take(&mut *self.tasks.borrow_mut());
            tasks.retain_mut(|t| t.as_mut().poll(&mut cx).is_pending());
            // Tasks spawned while polling were pushed into the emptied list.
            tasks.append(&mut self.tasks.borrow_mut());
            *self.tasks.borrow_mut() = tasks;
            if flag.0.load(Ordering::SeqCst) {
                continue;
            }
            let next = {
                let st = self.state.borrow();
                st.timers.iter().map(|t| t.1).fold(f64::INFINITY, f64::min)
            };
            if !next.is_finite() {
                return None;
            }
            let now = self.state.borrow().now;
            self.advance((next - now).max(0.0));
        }
    }

    /// Starts a background task, driven by [`ManualClock::block_on`].
    pub fn spawn<F: Future<Output = ()> + 'static>(&self, fut: F) {
        self.tasks.borrow_mut().push(Box::pin(fut));
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Timer for ManualClock {
    type Sleep = ManualSleep;

    fn now_ms(&self) -> f64 {
        self.state.borrow().now
    }

    fn sleep_ms(&self, ms: f64) -> ManualSleep {
        let mut st = self.state.borrow_mut();
        let id = st.next_id;
        st.next_id += 1;
        let deadline = st.now + ms.max(0.0);
        st.timers.push((id, deadline, None));
        ManualSleep {
            state: self.state.clone(),
            id,
            deadline,
        }
    }
}

/// A pending sleep on a [`ManualClock`]; dropping it removes the timer.
pub struct ManualSleep {
    state: Rc<RefCell<ClockState>>,
    id: u64,
    deadline: f64,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.state.borrow_mut();
        if st.now >= self.deadline {
            let id = self.id;
            st.timers.retain(|t| t.0 != id);
            return Poll::Ready(());
        }
        let id = self.id;
        if let Some(t) = st.timers.iter_mut().find(|t| t.0 == id) {
            t.2 = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        let id = self.id;
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.timers.retain(|t| t.0 != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn spawned_tasks_run_at_their_virtual_time() {
        let clock = ManualClock::new();
        let hit = Rc::new(Cell::new(None));
        let (c, h) = (clock.clone(), hit.clone());
        clock.spawn(async move {
            c.sleep_ms(150.0).await;
            h.set(Some(c.now_ms()));
        });
        let c = clock.clone();
        clock.block_on(async move { c.sleep_ms(1000.0).await });
        assert_eq!(hit.get(), Some(150.0));
        assert_eq!(clock.now_ms(), 1000.0);
        assert_eq!(clock.pending_timers(), 0);
    }

    #[test]
    fn dropped_sleep_leaves_no_timer() {
        let clock = ManualClock::new();
        let s = clock.sleep_ms(10.0);
        assert_eq!(clock.pending_timers(), 1);
        drop(s);
        assert_eq!(clock.pending_timers(), 0);
    }

    #[test]
    fn a_stuck_future_reports_none() {
        let clock = ManualClock::new();
        assert_eq!(clock.block_on(std::future::pending::<()>()), None);
    }
}
