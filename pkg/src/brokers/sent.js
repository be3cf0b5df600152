// Which broker a message went through. Dramatiq's `Message.get_result()` reads from the
// global broker's backend; here a message that a broker enqueued (by `actor.send()`,
// `broker.enqueue(message)` or a pipeline) reads from *that* broker's backend when no
// `backend` is given, so `broker.enqueue(actor.message(…))` then `message.getResult()` works
// without a global broker, as `send()` does (issue 31). A WeakMap, so a message keeps no
// broker alive and the wasm class gains no field.
import { Message } from "../../dist/dramatiq_results.js";

const brokerOf = new WeakMap();

/** Records that `broker` enqueued `message` (the last broker wins). */
export function rememberBroker(message, broker) {
  if (message !== null && typeof message === "object") brokerOf.set(message, broker);
}

// Message.prototype.getResult is Rust's (options.backend, else the global broker's backend);
// this runs first and fills in the enqueuing broker's backend. A broker without a results
// backend leaves the global broker's to Rust, as before.
const getResult = Message.prototype.getResult;
Object.defineProperty(Message.prototype, "getResult", {
  configurable: true,
  writable: true,
  value: function getResult_(options) {
    const broker = brokerOf.get(this);
    if (broker !== undefined && (options === undefined || options === null || (typeof options === "object" && options.backend == null))) {
      try {
        options = { ...options, backend: broker.getResultsBackend() };
      } catch {}
    }
    return getResult.call(this, options);
  },
});
