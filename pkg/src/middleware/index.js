// The middleware room: one file per middleware, and the list a broker starts with.
import { AgeLimit } from "./age_limit.js";
import { Pipelines } from "./pipelines.js";
import { Retries } from "./retries.js";
import { TimeLimit } from "./time_limit.js";

export { Middleware } from "./middleware.js";
export { Results } from "./results.js";
export { GroupCallbacks } from "./group_callbacks.js";
export { AgeLimit, Pipelines, Retries, TimeLimit };

/** The middleware a broker starts with, as in Dramatiq (minus Prometheus and shutdown hooks). */
export function defaultMiddleware() {
  return [new AgeLimit(), new TimeLimit(), new Pipelines(), new Retries()];
}
