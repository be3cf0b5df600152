// The global broker (Dramatiq's `set_broker` / `get_broker`). The slot itself lives in the
// wasm glue (dist/global.js), so Rust (a `Message`'s `getResult`) and JS share one.
import { globalBroker, setGlobalBroker } from "../../dist/global.js";
import { StubBroker } from "./stub.js";

/** Makes `broker` the global broker (Dramatiq's `set_broker`); returns it. */
export function setBroker(broker) {
  if (!broker || typeof broker.getResultsBackend !== "function") throw new TypeError("setBroker needs a broker");
  return setGlobalBroker(broker);
}

/** The global broker (Dramatiq's `get_broker`); a new `StubBroker` is made global when none was set
 * (Python's makes a `RabbitmqBroker` on localhost: docs/python-users.md). */
export function getBroker() {
  return globalBroker() ?? setGlobalBroker(new StubBroker());
}
