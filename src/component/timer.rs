//! Time and a tiny executor for the component, over WASI's monotonic clock.
//!
//! A component call is synchronous: the host calls an export and waits for its return, so
//! the core's async waiting loop is driven to completion inside the call by [`block_on`].
//! Nothing else runs meanwhile, which keeps the executor small: poll the one future, and
//! when it cannot progress, block the instance until the earliest pending sleep is due,
//! in the host's `wait` when it can wake on a write, otherwise in WASI's sleep.
//! `std::time::Instant` and `std::thread::sleep` are WASI's `monotonic-clock` on wasip2.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::wait::timer::Timer;

#[derive(Default)]
struct Sleeps {
    next_id: u64,
    /// Pending sleeps: id and due time in ms on the timer's scale.
    due: Vec<(u64, f64)>,
}

/// The component's [`Timer`]: milliseconds since the timer was made, and sleeps that
/// [`block_on`] serves. Cloning shares the pending sleeps.
#[derive(Clone)]
pub struct WasiTimer {
    origin: Instant,
    sleeps: Rc<RefCell<Sleeps>>,
}

impl Default for WasiTimer {
    fn default() -> Self {
        WasiTimer {
            origin: Instant::now(),
            sleeps: Rc::default(),
        }
    }
}

impl WasiTimer {
    /// A timer whose scale starts now.
    pub fn new() -> Self {
        Self::default()
    }

    /// When the earliest pending sleep is due, if any sleep is pending.
    pub fn next_due(&self) -> Option<f64> {
        self.sleeps
            .borrow()
            .due
            .iter()
            .map(|&(_, due)| due)
            .reduce(f64::min)
    }

    /// Blocks the instance until `until_ms` on this timer's scale (at once if it passed).
    pub fn sleep_until(&self, until_ms: f64) {
        let left_ms = until_ms - self.now_ms();
        if left_ms > 0.0 {
            // Rounded up to whole microseconds, so the sleep never ends short of `until_ms`
            // by rounding; `as` saturates, so no duration can overflow.
            std::thread::sleep(Duration::from_micros((left_ms * 1000.0).ceil() as u64));
        }
    }
}

impl Timer for WasiTimer {
    type Sleep = WasiSleep;

    fn now_ms(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * 1000.0
    }

    fn sleep_ms(&self, ms: f64) -> WasiSleep {
        let due = self.now_ms() + ms.max(0.0);
        let mut sleeps = self.sleeps.borrow_mut();
        let id = sleeps.next_id;
        sleeps.next_id += 1;
        sleeps.due.push((id, due));
        WasiSleep {
            timer: self.clone(),
            id,
            due,
        }
    }
}

/// A pending sleep on a [`WasiTimer`]; dropping it withdraws it.
pub struct WasiSleep {
    timer: WasiTimer,
    id: u64,
    due: f64,
}

impl Future for WasiSleep {
    type Output = ();

    // No waker is kept: `block_on` re-polls after every idle period, and the idle period
    // ends no later than the earliest due sleep.
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.timer.now_ms() >= self.due {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for WasiSleep {
    fn drop(&mut self) {
        let id = self.id;
        if let Ok(mut sleeps) = self.timer.sleeps.try_borrow_mut() {
            sleeps.due.retain(|&(i, _)| i != id);
        }
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `fut` to completion on the calling thread.
///
/// Whenever `fut` is pending and nothing woke it, `idle(until)` is called with the due time
/// of the earliest pending sleep on `timer`; it must return by then (earlier when something
/// it knows of may let `fut` progress). `None` if `fut` is pending with no sleep pending
/// and nothing woke it: it could never complete, and is reported rather than hung on.
pub fn block_on<F: Future>(
    timer: &WasiTimer,
    mut idle: impl FnMut(f64),
    fut: F,
) -> Option<F::Output> {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        flag.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        if flag.0.load(Ordering::SeqCst) {
            continue;
        }
        idle(timer.next_due()?);
    }
}
