// Dramatiq's `TimeLimit` middleware: from `beforeProcessMessage` on, an attempt has its
// limit; past it, the attempt's `signal` aborts and the worker fails the attempt.
import { builtinActorOptions, timeLimitFor } from "../../dist/dramatiq_results.js";
import { TimeLimitExceeded } from "../errors.js";
import { checkOptions } from "../internal/options.js";
import { kAbort, kAborted, kOverdue, kTimer } from "../internal/symbols.js";
import { Middleware, specOf } from "./middleware.js";

let optionNames;

/**
 * Fails actors that run past `timeLimit` ms (default 10 minutes; Dramatiq's `TimeLimit`),
 * message option `time_limit` over actor option over this default. At the limit the
 * attempt's `signal` (`currentSignal()`, `CurrentMessage.getCurrentMessage().signal`)
 * aborts with `TimeLimitExceeded` and an async actor's attempt fails with it (retried as
 * any failure is). Work that ignores the signal goes on, its result ignored; a
 * synchronous actor cannot be interrupted in the worker's own thread, but one that returns
 * past its limit fails with `TimeLimitExceeded` all the same, its result ignored. The
 * `dramatiq-results worker` command runs actors on worker threads and terminates the
 * thread at the limit, which stops synchronous code too.
 */
export class TimeLimit extends Middleware {
  constructor(options) {
    super();
    const { timeLimit = 600000 } = checkOptions("new TimeLimit()", options, { timeLimit: "ms" });
    /** The default limit, in ms. */
    this.timeLimit = timeLimit;
  }

  get actorOptions() {
    optionNames ??= builtinActorOptions().TimeLimit;
    return new Set(optionNames);
  }

  /**
   * The limit for `message`, in ms, as Python reads it: its `time_limit` option when
   * truthy, else its actor's when set, else this middleware's.
   */
  limitFor(broker, message) {
    return timeLimitFor(message.message, specOf(broker, message), this.timeLimit);
  }

  beforeProcessMessage(broker, message) {
    const limit = this.limitFor(broker, message);
    // Past setTimeout's range (about 24.8 days) is no limit a timer can keep.
    if (typeof limit !== "number" || !(limit <= 2_147_483_647) || typeof message[kAbort] !== "function") return;
    clearTimeout(message[kTimer]);
    const deadline = Date.now() + limit;
    const expire = () => {
      clearTimeout(message[kTimer]);
      message[kTimer] = undefined;
      message[kOverdue] = undefined;
      // In a timer, where a throw would end the process: the actor may have replaced its message.
      let id;
      try {
        id = message.messageId;
      } catch {
        id = "(replaced by its actor)";
      }
      broker.logger.warn(`Time limit exceeded. Aborting message ${id} after ${limit} ms.`);
      // Python raises TimeLimitExceeded() with no message: the same text is stored.
      message[kAbort](new TimeLimitExceeded(""));
      return message[kAborted]?.reason;
    };
    message[kTimer] = setTimeout(expire, limit);
    // A synchronous actor holds the thread past its limit with the timer unfired; the worker
    // asks once it returns, and the attempt fails as Python's would have been stopped.
    message[kOverdue] = () => (Date.now() >= deadline ? expire() : undefined);
  }

  afterProcessMessage(broker, message) {
    clearTimeout(message[kTimer]);
    message[kTimer] = undefined;
    message[kOverdue] = undefined;
  }

  afterSkipMessage(broker, message) {
    this.afterProcessMessage(broker, message);
  }
}
