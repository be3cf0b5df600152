// The global broker (Dramatiq's `set_broker` / `get_broker`). It lives in a module of
// the wasm glue so that `message.getResult()` (Rust) and `setBroker` (the package's
// broker.js, through a re-export of this very module) share one slot.

let current = null;

/** Makes `broker` the global broker; returns it. */
export function setGlobalBroker(broker) {
  current = broker;
  return broker;
}

/** The global broker, or null when none was set. */
export function globalBroker() {
  return current;
}

/** The global broker's results backend; throws when there is none. */
export function globalResultsBackend() {
  if (current === null) {
    throw new Error(
      "There is no global broker: call setBroker(broker) with a broker that has the Results middleware, or pass { backend } to getResult.",
    );
  }
  return current.getResultsBackend();
}
