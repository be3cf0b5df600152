// The middleware room: one file per middleware, and the list a broker starts with.
import { AgeLimit } from "./age_limit.js";
import { Callbacks } from "./callbacks.js";
import { Pipelines } from "./pipelines.js";
import { Retries } from "./retries.js";
import { ShutdownNotifications } from "./shutdown.js";
import { TimeLimit } from "./time_limit.js";

export { Middleware } from "./middleware.js";
export { Results } from "./results.js";
export { CurrentMessage, currentSignal } from "./current_message.js";
export { GroupCallbacks } from "./group_callbacks.js";
export { AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit };

/**
 * The middleware a broker starts with: Dramatiq's `default_middleware`, in its order
 * (`before*` hooks run in this order, `after*` in reverse, so Retries' re-enqueue is
 * written before a failure callback, as in Dramatiq).
 */
export function defaultMiddleware() {
  return [new AgeLimit(), new TimeLimit(), new ShutdownNotifications(), new Callbacks(), new Pipelines(), new Retries()];
}
