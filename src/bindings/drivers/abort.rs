//! `AbortSignal` as a future, so a wait can be raced against it and dropped on abort
//! (dropping the wait clears its timer and its wake-up subscription). The waits watching
//! one signal share one listener on it (`abort.js`).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::bindings::js::type_error;
use crate::bindings::js::{is_absent, prop};

#[wasm_bindgen(module = "/src/bindings/drivers/abort.js")]
extern "C" {
    /// Calls `callback` once when `signal` aborts, through the signal's one listener;
    /// returns the function that stops watching.
    #[wasm_bindgen(js_name = watchAbort, catch)]
    fn watch_abort(
        signal: &JsValue,
        add: &js_sys::Function,
        callback: &JsValue,
    ) -> Result<js_sys::Function, JsValue>;
}

#[derive(Default)]
struct State {
    fired: bool,
    waker: Option<Waker>,
}

/// Completes when the signal aborts; stops watching it when dropped.
pub struct Aborted {
    signal: JsValue,
    state: Rc<RefCell<State>>,
    /// The callback the signal's listener calls, and the function that unregisters it.
    listener: Option<(Closure<dyn FnMut()>, js_sys::Function)>,
}

impl Aborted {
    /// Watches `signal` (an `AbortSignal`, or anything with `aborted` and
    /// `addEventListener`); `None` when absent, `TypeError` when it is not a signal.
    pub fn watch(signal: &JsValue) -> Result<Option<Aborted>, JsValue> {
        if is_absent(signal) {
            return Ok(None);
        }
        let add = prop(signal, "addEventListener")?;
        let aborted = prop(signal, "aborted")?;
        let (Some(add), Some(aborted)) = (add.dyn_ref::<js_sys::Function>(), aborted.as_bool())
        else {
            return Err(type_error("signal must be an AbortSignal"));
        };
        let state = Rc::new(RefCell::new(State {
            fired: aborted,
            waker: None,
        }));
        let mut listener = None;
        if !aborted {
            let st = state.clone();
            let closure = Closure::<dyn FnMut()>::new(move || {
                let waker = {
                    let mut s = st.borrow_mut();
                    s.fired = true;
                    s.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            });
            let unwatch = watch_abort(signal, add, closure.as_ref())?;
            listener = Some((closure, unwatch));
        }
        Ok(Some(Aborted {
            signal: signal.clone(),
            state,
            listener,
        }))
    }

    /// Whether the signal has aborted.
    pub fn is_aborted(&self) -> bool {
        self.state.borrow().fired
    }

    /// Why the signal aborted: `signal.reason` (an `AbortError` by default); when reading
    /// it throws, the `TypeError` saying so (the caller rejects with it either way).
    pub fn reason(&self) -> JsValue {
        prop(&self.signal, "reason").unwrap_or_else(|error| error)
    }
}

impl Future for Aborted {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.state.borrow_mut();
        if s.fired {
            Poll::Ready(())
        } else {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for Aborted {
    fn drop(&mut self) {
        if let Some((_closure, unwatch)) = self.listener.take() {
            // It never throws (abort.js catches the signal's own errors); nothing useful
            // could be done if it did. The closure is freed after it is unregistered.
            let _ = unwatch.call0(&JsValue::UNDEFINED);
        }
    }
}
