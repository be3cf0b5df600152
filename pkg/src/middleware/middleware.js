// The base class of middleware, and what the built-in ones share.
import { ActorSpec } from "../../dist/dramatiq_results.js";
import { kSpec } from "../internal/symbols.js";

/**
 * Base class of middleware. Hooks are optional methods, sync or async, named as in
 * Dramatiq in camelCase: `beforeProcessMessage(broker, message)`,
 * `afterProcessMessage(broker, message, { result, exception })`,
 * `afterSkipMessage(broker, message)`, `beforeAck` / `afterAck` / `beforeNack` /
 * `afterNack(broker, message)`, `beforeWorkerShutdown` / `afterWorkerShutdown(broker,
 * worker)` (around `worker.stop()`), `beforeEnqueue` / `afterEnqueue(broker, message,
 * delay)` (these two synchronous). Throwing `SkipMessage` from `beforeProcessMessage` skips the
 * message; any other failure of a hook is logged (naming the message) and does not stop
 * the others, nor the message, as in Dramatiq.
 */
export class Middleware {
  /** The actor options this middleware adds to the broker (snake_case names). */
  get actorOptions() {
    return new Set();
  }
}

const UNKNOWN = new Map();
/** The broker's spec of the message's actor, or the "unknown actor" stand-in. */
export function specOf(broker, message) {
  const actor = broker.actors.get(message.actorName);
  if (actor) return actor[kSpec];
  let spec = UNKNOWN.get(message.actorName);
  if (!spec) {
    spec = ActorSpec.unknown(message.actorName);
    UNKNOWN.set(message.actorName, spec);
  }
  return spec;
}
