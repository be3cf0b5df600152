// One "abort" listener per signal, however many waits watch it. A request's signal handed to
// every read it makes, or a service's shutdown signal handed to all its waits, would
// otherwise carry one listener per wait: past 10, Node warns of a leak ("Possible
// EventTarget memory leak detected"), and each wait costs the signal a listener.

/** signal → the callbacks of the waits watching it (and the one listener calling them). */
const watching = new WeakMap();

/**
 * Calls `callback` once when `signal` aborts; `add` is the signal's own
 * `addEventListener` (read, and checked a function, by the caller). Returns the function
 * that stops watching (removing the signal's listener with the last watcher). Throws what
 * adding the listener throws.
 */
export function watchAbort(signal, add, callback) {
  let callbacks = watching.get(signal);
  if (callbacks === undefined) {
    const fresh = new Set();
    const listener = () => {
      if (watching.get(signal) === fresh) watching.delete(signal);
      for (const f of [...fresh]) {
        // One that stopped watching meanwhile is skipped; a callback never throws, and
        // nothing may unwind into wasm frames either way.
        if (!fresh.delete(f)) continue;
        try {
          f();
        } catch {}
      }
    };
    add.call(signal, "abort", listener, { once: true });
    fresh.listener = listener;
    watching.set(signal, fresh);
    callbacks = fresh;
  }
  callbacks.add(callback);
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return;
    if (watching.get(signal) === callbacks) watching.delete(signal);
    try {
      signal.removeEventListener("abort", callbacks.listener);
    } catch {
      // A signal whose removal throws keeps its listener, which then calls no one.
    }
  };
}
