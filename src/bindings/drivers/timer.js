// Which way the host's timers are shared.

/** Whether each sleep needs a host timer of its own: in workerd (Cloudflare Workers) a
 * timer's callback runs inside the request that set it, and what it wakes does its I/O there,
 * where another request's socket cannot be used; elsewhere one timer serves every sleep. */
export function timerPerSleep() {
  try {
    // `navigator` needs a compatibility date from 2022-03-21 on; `WebSocketPair` is
    // workerd's own global, there whatever the date.
    return globalThis.navigator?.userAgent === "Cloudflare-Workers" || typeof globalThis.WebSocketPair === "function";
  } catch {
    return false;
  }
}

/** A promise made now, whose settling calls `wake(woken)`; returns its resolve function.
 * workerd runs what a promise's settling calls in the request that made the promise, so a
 * wake-up resolved from another request reaches the waiter in its own. */
export function hopPromise(wake) {
  let resolve;
  new Promise((r) => {
    resolve = r;
  }).then((woken) => {
    try {
      wake(woken === true);
    } catch {
      // A waker never throws; nothing may unwind into wasm frames either way.
    }
  });
  return resolve;
}
