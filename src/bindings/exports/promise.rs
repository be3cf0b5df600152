//! Promises out of Rust futures, for every exported method that answers later.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

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
        Poll::Ready(Ok(value)) => js_sys::Promise::resolve(&value),
        Poll::Ready(Err(err)) => js_sys::Promise::reject(&err),
        Poll::Pending => future_to_promise(fut),
    }
}
