// Dramatiq's `TimeLimit` middleware: from `beforeProcessMessage` on, an attempt has its
// limit; at the first check past it, the attempt's `signal` aborts and the worker fails the
// attempt.
import { builtinActorOptions, timeLimitFor } from "../../dist/dramatiq_results.js";
import { TimeLimitExceeded } from "../errors.js";
import { checkOptions } from "../internal/options.js";
import { kAbort, kAborted, kOverdue, kTimer } from "../internal/symbols.js";
import { Middleware, specOf } from "./middleware.js";

let optionNames;

/**
 * Fails actors that run past `timeLimit` ms (default 10 minutes; Dramatiq's `TimeLimit`),
 * message option `time_limit` over actor option over this default. Limits are checked
 * every `interval` ms (default 1 000), as Dramatiq's checker thread does, so an attempt is
 * stopped at the first check at or past its limit, up to `interval` later, and one that
 * returns before that check succeeds, as it would on a Python worker (`interval: 0` stops
 * it at the limit itself). When stopped, the attempt's `signal` (`currentSignal()`,
 * `CurrentMessage.getCurrentMessage().signal`) aborts with `TimeLimitExceeded` and an
 * async actor's attempt fails with it (retried as any failure is). Work that ignores the
 * signal goes on, its result ignored; a synchronous actor cannot be interrupted in the
 * worker's own thread, but one that returns after a check that would have stopped it
 * fails with `TimeLimitExceeded` all the same, its result ignored. The
 * `dramatiq-results worker` command runs actors on worker threads and terminates the
 * thread when the check stops it, which stops synchronous code too.
 */
export class TimeLimit extends Middleware {
  constructor(options) {
    super();
    const { timeLimit = 600000, interval = 1000 } = checkOptions("new TimeLimit()", options, { timeLimit: "ms", interval: "ms" });
    /** The default limit, in ms. */
    this.timeLimit = timeLimit;
    /** How often limits are checked, in ms (Dramatiq's `interval`). */
    this.interval = interval;
  }

  /** When the first check runs (`performance.now()`): Dramatiq's checker starts with its
   * worker; here with this middleware's first message. Checks follow every `interval`. */
  #firstCheck;

  /**
   * When a check first sees an attempt that was given its limit at `now` and is due at
   * `deadline`: the first check at or after both (a check before the limit was set sees
   * nothing, so a past deadline, from a negative limit, is seen by the next check).
   */
  #seenAt(now, deadline) {
    this.#firstCheck ??= now;
    const due = Math.max(now, deadline);
    if (this.interval === 0) return due;
    if (this.interval === Infinity) return Infinity;
    const checks = Math.ceil((due - this.#firstCheck) / this.interval);
    return this.#firstCheck + checks * this.interval;
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
    const now = performance.now();
    const seenAt = this.#seenAt(now, now + limit);
    if (!(seenAt - now <= 2_147_483_647)) return;
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
    message[kTimer] = setTimeout(expire, seenAt - now);
    // A synchronous actor holds the thread past the check with the timer unfired; the worker
    // asks once it returns, and the attempt fails as Python's would have been stopped.
    message[kOverdue] = () => (performance.now() >= seenAt ? expire() : undefined);
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
