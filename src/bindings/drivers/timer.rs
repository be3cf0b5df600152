//! The host's clock and timers, as the core's [`Timer`]: `performance.now()` for time, and
//! one `setTimeout` at a time serving every pending sleep (see [`crate::wait::timer_queue`]);
//! in workerd, one `setTimeout` per sleep, since there a timer belongs to the request that
//! set it (see [`JsTimer`]).

use std::cell::{OnceCell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

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
        let function: js_sys::Function = callback.as_ref().unchecked_ref::<js_sys::Function>().clone();
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
        if PER_SLEEP.with(|p| *p.get_or_init(timer_per_sleep)) {
            return own_queue().sleep(performance_now(), ms);
        }
        QUEUE.with(|q| q.sleep(performance_now(), ms))
    }
}

/// Wall-clock milliseconds since the Unix epoch (message timestamps).
pub fn epoch_ms() -> f64 {
    js_sys::Date::now()
}
