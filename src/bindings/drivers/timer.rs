//! The host's clock and timers, as the core's [`Timer`]: `performance.now()` for time, and
//! one `setTimeout` at a time serving every pending sleep (see [`crate::wait::timer_queue`]);
//! in workerd, one `setTimeout` per sleep, since there a timer belongs to the request that
//! set it (see [`JsTimer`]).

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Wake, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::wait::notify::set_waker_hop;
use crate::wait::timer::{Timer, MAX_SLEEP_MS};
use crate::wait::timer_queue::{Alarm, QueuedSleep, TimerQueue};

#[wasm_bindgen]
extern "C" {
    // `performance.now()` is monotonic and present in Node, browsers and workerd (where it
    // advances with I/O, which a timer is).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, delay_ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

#[wasm_bindgen(module = "/src/bindings/drivers/timer.js")]
extern "C" {
    #[wasm_bindgen(js_name = timerPerSleep)]
    fn timer_per_sleep() -> bool;

    #[wasm_bindgen(js_name = hopPromise)]
    fn hop_promise(wake: &JsValue) -> js_sys::Function;
}

/// A host timer: a `setTimeout` handle (a number, or Node's `Timeout` object) and the
/// callback every arming reuses; for a sleep's own timer, also that callback's closure,
/// freed with it.
pub struct JsAlarm {
    handle: RefCell<Option<JsValue>>,
    callback: js_sys::Function,
    _owned: Option<Closure<dyn FnMut()>>,
}

impl Drop for JsAlarm {
    fn drop(&mut self) {
        // A sleep's own timer goes with the sleep: its callback must never run after the
        // closure is freed.
        self.clear();
    }
}

impl Alarm for JsAlarm {
    fn set(&self, delay_ms: f64) {
        self.clear();
        // Round up: a timer that fires a fraction early would only re-arm for the rest.
        // Never past the host's limit (2³¹−1 ms): beyond it Node warns and fires at once.
        // An alarm that fires before the earliest sleep is due only re-arms for the rest.
        let handle = set_timeout(&self.callback, delay_ms.ceil().min(MAX_SLEEP_MS));
        *self.handle.borrow_mut() = Some(handle);
    }

    fn clear(&self) {
        if let Some(handle) = self.handle.borrow_mut().take() {
            clear_timeout(&handle);
        }
    }
}

thread_local! {
    static QUEUE: Rc<TimerQueue<JsAlarm>> = {
        // Lives as long as the module instance; the queue is the only user.
        let callback = Closure::<dyn FnMut()>::new(|| QUEUE.with(|q| q.fire(performance_now())));
        let function: js_sys::Function = callback.as_ref().unchecked_ref::<js_sys::Function>().clone();
        callback.forget();
        Rc::new(TimerQueue::new(JsAlarm {
            handle: RefCell::new(None),
            callback: function,
            _owned: None,
        }))
    };
    static PER_SLEEP: OnceCell<bool> = const { OnceCell::new() };
    /// The pending hops' resolve functions, by id (see [`hop_waker`]).
    static HOPS: RefCell<HashMap<u64, js_sys::Function>> = RefCell::new(HashMap::new());
    static NEXT_HOP: Cell<u64> = const { Cell::new(0) };
}

/// Whether the host runs timers and wake-ups per request (workerd).
fn per_request() -> bool {
    PER_SLEEP.with(|p| *p.get_or_init(timer_per_sleep))
}

/// Makes wake-ups by key (a store's own writes ending a wait) reach a waiter in its own
/// request where the host has requests (workerd); a no-op elsewhere, and after the first call.
pub fn install_wake_hops() {
    if per_request() {
        set_waker_hop(hop_waker);
    }
}

/// A wake-up through a promise made while the waiter polls: workerd runs what a promise's
/// settling calls in the request that made the promise, whoever settles it. Settled `true`
/// when woken, `false` when dropped unwoken (so its callback runs, and is freed, either way).
struct Hop(u64);

impl Hop {
    fn settle(&self, woken: bool) {
        if let Some(resolve) = HOPS.with(|h| h.borrow_mut().remove(&self.0)) {
            // A resolve function never throws.
            let _ = resolve.call1(&JsValue::NULL, &JsValue::from_bool(woken));
        }
    }
}

impl Wake for Hop {
    fn wake(self: Arc<Self>) {
        self.settle(true);
    }
}

impl Drop for Hop {
    fn drop(&mut self) {
        self.settle(false);
    }
}

/// The waker a write calls for the waiter polling with `waker` (see [`Hop`]).
fn hop_waker(waker: &Waker) -> Waker {
    let inner = waker.clone();
    let wake = Closure::once_into_js(move |woken: bool| {
        if woken {
            inner.wake();
        }
    });
    let resolve = hop_promise(&wake);
    let id = NEXT_HOP.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1));
        id
    });
    HOPS.with(|h| h.borrow_mut().insert(id, resolve));
    Waker::from(Arc::new(Hop(id)))
}

/// A queue holding one sleep, over a host timer of its own: what fires it runs in the
/// context (the workerd request) of whoever slept.
fn own_queue() -> Rc<TimerQueue<JsAlarm>> {
    Rc::new_cyclic(|queue: &Weak<TimerQueue<JsAlarm>>| {
        let queue = queue.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(queue) = queue.upgrade() {
                queue.fire(performance_now());
            }
        });
        let function: js_sys::Function = callback
            .as_ref()
            .unchecked_ref::<js_sys::Function>()
            .clone();
        TimerQueue::new(JsAlarm {
            handle: RefCell::new(None),
            callback: function,
            _owned: Some(callback),
        })
    })
}

/// `performance.now()` and the shared timer queue: dropping a sleep takes it out of the
/// queue, and the host timer is cleared once no sleep is left.
///
/// In workerd every sleep has a timer of its own instead: workerd runs a timer's callback
/// inside the request that set it, so one timer shared by several requests' sleeps woke a
/// request's wait inside another request, whose code may not touch the first one's socket
/// (its read never settled), and dropped the timer altogether when the request that set it
/// ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsTimer;

impl Timer for JsTimer {
    type Sleep = QueuedSleep<JsAlarm>;

    fn now_ms(&self) -> f64 {
        performance_now()
    }

    fn sleep_ms(&self, ms: f64) -> QueuedSleep<JsAlarm> {
        if per_request() {
            return own_queue().sleep(performance_now(), ms);
        }
        QUEUE.with(|q| q.sleep(performance_now(), ms))
    }
}

/// Wall-clock milliseconds since the Unix epoch (message timestamps).
pub fn epoch_ms() -> f64 {
    js_sys::Date::now()
}
