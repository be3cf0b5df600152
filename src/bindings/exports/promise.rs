//! Promises out of Rust futures, for every exported method that answers later.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen]
extern "C" {
    // `catch`: `Promise.resolve(p)` reads `p.constructor` when `p` is a Promise (a custom
    // decoder's answer, say), and a getter there may throw.
    #[wasm_bindgen(js_namespace = Promise, js_name = resolve, catch)]
    fn resolve(value: &JsValue) -> Result<js_sys::Promise, JsValue>;
}

/// A Promise resolved with `value` (adopting it when it is a thenable); rejected with what
/// reading it threw, if it threw.
pub(crate) fn resolved(value: &JsValue) -> js_sys::Promise {
    resolve(value).unwrap_or_else(|err| js_sys::Promise::reject(&err))
}

/// A Promise already resolved with `undefined` (nothing to adopt, so nothing can throw).
pub(crate) fn resolved_undefined() -> js_sys::Promise {
    js_sys::Promise::resolve(&JsValue::UNDEFINED)
}

/// A Promise already rejected with `err`.
pub(crate) fn reject(err: JsValue) -> js_sys::Promise {
    js_sys::Promise::reject(&err)
}

/// The Promise of `fut`, settled at once when `fut` completes on its first poll (a stub
/// read or write, a cached answer): this skips the executor's task queue, which is most of
/// the cost of a small call. Otherwise the executor drives it on; every future here
/// re-registers its waker on each poll, so the throwaway first one is never relied on.
pub(crate) fn promise_of<F>(fut: F) -> js_sys::Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let mut fut = Box::pin(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(value)) => resolved(&value),
        Poll::Ready(Err(err)) => js_sys::Promise::reject(&err),
        Poll::Pending => future_to_promise(fut),
    }
}
