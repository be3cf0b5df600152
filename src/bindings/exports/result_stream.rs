//! Many results under one deadline, as `getResults` / `iterResults` hand them out: a
//! [`Collection`] drives the core's `Collect` and decodes each outcome; [`ResultStream`] is
//! the async iterator over it.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::backend_state::Shared;
use super::errors::to_js;
use super::promise::promise_of;
use crate::bindings::drivers::abort::Aborted;
use crate::model::error::ResultError;
use crate::results::collect::Collect;
use crate::wait::race::{race, Either};
use crate::wait::turns::Turns;

/// A collection in progress with what the JS side gave for it.
pub(crate) struct Collection {
    shared: Rc<Shared>,
    collect: Option<Collect>,
    messages: Vec<JsValue>,
    abort: Option<Aborted>,
    on_progress: Option<js_sys::Function>,
    done: usize,
}

impl Collection {
    /// A collection of `messages` (whose keys are `keys`) under `wait`.
    pub(crate) fn new(
        shared: Rc<Shared>,
        messages: Vec<JsValue>,
        keys: Vec<String>,
        wait: crate::results::backend::Wait,
        abort: Option<Aborted>,
        on_progress: Option<js_sys::Function>,
    ) -> Collection {
        Collection {
            shared,
            collect: Some(Collect::new(keys, wait)),
            messages,
            abort,
            on_progress,
            done: 0,
        }
    }

    /// How many messages were asked for.
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    /// The next finished message: its index and its decoded value or error; `None` once
    /// all are done. Rejects with the abort reason when the signal fires.
    pub(crate) async fn next(
        &mut self,
    ) -> Result<Option<(usize, Result<JsValue, JsValue>)>, JsValue> {
        let Some(collect) = self.collect.as_mut() else {
            return Ok(None);
        };
        let core = &self.shared.core;
        let next = match self.abort.as_mut() {
            None => collect.next(core).await,
            Some(abort) => {
                if let Some(reason) = already_aborted(abort) {
                    self.collect = None;
                    return Err(reason);
                }
                match race(collect.next(core), &mut *abort).await {
                    Either::Left(next) => next,
                    Either::Right(()) => {
                        self.collect = None;
                        return Err(abort_reason(abort, ""));
                    }
                }
            }
        };
        let Some((index, outcome)) = next else {
            self.collect = None;
            return Ok(None);
        };
        let key = collect.key(index).to_owned();
        let decoded = match outcome {
            Ok(bytes) => self.shared.decode(&key, &bytes),
            Err(e) => Err(to_js(&e)),
        };
        self.done += 1;
        if let Some(f) = &self.on_progress {
            let total = self.messages.len() as f64;
            // A throwing progress callback is the caller's bug; it must not end the wait.
            let _ = f.call2(
                &JsValue::UNDEFINED,
                &(self.done as f64).into(),
                &total.into(),
            );
        }
        Ok(Some((index, decoded)))
    }
}

/// The async iterator `iterResults` returns: each `next()` resolves with the next
/// message to finish, as `{ message, value }` or `{ message, error }`. Calls made before
/// the last one settled wait their turn, as an async generator's do.
#[wasm_bindgen]
pub struct ResultStream {
    state: Rc<RefCell<Option<Collection>>>,
    turns: Turns,
}

impl ResultStream {
    /// The iterator over `collection`.
    pub(crate) fn new(collection: Collection) -> ResultStream {
        ResultStream {
            state: Rc::new(RefCell::new(Some(collection))),
            turns: Turns::new(),
        }
    }
}

fn step(done: bool, value: &JsValue) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"done".into(), &done.into())?;
    js_sys::Reflect::set(&out, &"value".into(), value)?;
    Ok(out.into())
}

#[wasm_bindgen]
impl ResultStream {
    /// The next outcome (`{ done, value }`, the async-iterator protocol).
    pub fn next(&self) -> js_sys::Promise {
        let state = self.state.clone();
        // Taken now, so calls are served in the order they were made; the turn passes on
        // when this call's future ends, however it ends.
        let ticket = self.turns.ticket();
        promise_of(async move {
            ticket.turn().await;
            // Take the collection out while waiting: `return()` may end it meanwhile.
            let taken = state.borrow_mut().take();
            let Some(mut collection) = taken else {
                return step(true, &JsValue::UNDEFINED);
            };
            let next = collection.next().await;
            let (index, outcome) = match next {
                Ok(Some(found)) => found,
                Ok(None) => return step(true, &JsValue::UNDEFINED),
                Err(reason) => return Err(reason),
            };
            let item = js_sys::Object::new();
            let message = collection.messages.get(index).cloned().unwrap_or_default();
            js_sys::Reflect::set(&item, &"message".into(), &message)?;
            match outcome {
                Ok(value) => js_sys::Reflect::set(&item, &"value".into(), &value)?,
                Err(error) => js_sys::Reflect::set(&item, &"error".into(), &error)?,
            };
            *state.borrow_mut() = Some(collection);
            step(false, &item)
        })
    }

    /// Stops early (what `break` in `for await` calls): the wait ends, timers cleared.
    #[wasm_bindgen(js_name = "return")]
    pub fn stop(&self) -> js_sys::Promise {
        self.state.borrow_mut().take();
        js_sys::Promise::resolve(&step(true, &JsValue::UNDEFINED).unwrap_or(JsValue::UNDEFINED))
    }
}

pub(crate) fn already_aborted(abort: &Aborted) -> Option<JsValue> {
    if abort.is_aborted() {
        Some(abort_reason(abort, ""))
    } else {
        None
    }
}

pub(crate) fn abort_reason(abort: &Aborted, key: &str) -> JsValue {
    let reason = abort.reason();
    if reason.is_undefined() {
        to_js(&ResultError::Aborted {
            key: key.to_owned(),
        })
    } else {
        reason
    }
}
