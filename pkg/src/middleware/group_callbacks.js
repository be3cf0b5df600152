// Dramatiq's `GroupCallbacks` middleware: a group member that finishes counts down the
// group's barrier, and the one that clears it enqueues the group's completion callbacks.
// What a member carries and what it completes is the core's (src/worker/group_callbacks.rs);
// the barrier is Dramatiq's (src/rate_limits/), so Python and JS members count down one.
import { groupCompletionOf } from "../../dist/dramatiq_results.js";
import { checkOptions } from "../internal/options.js";
import { freeIfCopied } from "../internal/owned.js";
import { Barrier } from "../rate_limits/barrier.js";
import { coreOf } from "../rate_limits/backends.js";
import { Middleware } from "./middleware.js";

/** Dramatiq's default barrier TTL for a group: one day. */
const DEFAULT_BARRIER_TTL = 86_400_000;

/**
 * Enables `group.addCompletionCallback(message)` (Dramatiq's `GroupCallbacks`): barriers
 * live in `rateLimiterBackend` (a `RedisRateLimiterBackend` on the Redis Python's
 * `GroupCallbacks` uses, to share groups with Python workers) for `barrierTtl` ms.
 */
export class GroupCallbacks extends Middleware {
  constructor(options) {
    const { rateLimiterBackend, barrierTtl = DEFAULT_BARRIER_TTL } = checkOptions("new GroupCallbacks()", options, {
      rateLimiterBackend: "object",
      barrierTtl: "count",
    });
    coreOf(rateLimiterBackend, "new GroupCallbacks(): option rateLimiterBackend");
    super();
    /** The backend the barriers live in. */
    this.rateLimiterBackend = rateLimiterBackend;
    /** How long a group's barrier lives, in ms. */
    this.barrierTtl = barrierTtl;
  }

  async afterProcessMessage(broker, message, { exception } = {}) {
    if (exception !== undefined) return;
    const completion = groupCompletionOf(message.message, Date.now());
    if (completion === undefined) return;
    const barrier = new Barrier(this.rateLimiterBackend, completion.uuid, { ttl: this.barrierTtl });
    if (!(await barrier.wait({ block: false }))) return;
    // Awaited, so a network broker's writes land before the member is acked.
    for (const callback of completion.callbacks) await freeIfCopied(broker, callback, broker.enqueue(callback));
    // Python reads each callback (`Message(**dict)`) only now, after the barrier: one it
    // cannot read fails the hook there, the ones before it sent, the rest never.
    if (completion.invalid !== undefined) throw new TypeError(completion.invalid);
  }
}
