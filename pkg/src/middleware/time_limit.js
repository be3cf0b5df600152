// Dramatiq's `TimeLimit` middleware: the limit is this file's; the worker enforces it.
import { checkOptions } from "../internal/options.js";
import { Middleware } from "./middleware.js";

/**
 * Fails actors whose Promise has not settled within `timeLimit` ms (default 10 minutes;
 * Dramatiq's `TimeLimit`). A synchronous actor cannot be interrupted in JavaScript; an
 * async one is abandoned (its work goes on, its result is ignored).
 */
export class TimeLimit extends Middleware {
  constructor(options) {
    super();
    const { timeLimit = 600000 } = checkOptions("new TimeLimit()", options, { timeLimit: "ms" });
    /** The default limit, in ms. */
    this.timeLimit = timeLimit;
  }

  get actorOptions() {
    return new Set(["time_limit"]);
  }

  /** The limit for `message`, in ms: message option, actor option, then the default. */
  limitFor(broker, message) {
    const actor = broker.actors.get(message.actorName);
    return message.options.time_limit || actor?.options.time_limit || this.timeLimit;
  }
}
