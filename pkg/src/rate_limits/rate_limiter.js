// What every rate limiter does (Dramatiq's `RateLimiter.acquire`): take a slot, run the
// caller's function, give the slot back. The function runs here, in JS, never inside a
// wasm call: what it throws unwinds through JS frames only.
import { RateLimitExceeded } from "./errors.js";
import { checkOptions } from "./options.js";

const CORE = Symbol("core");

/** The base of `ConcurrentRateLimiter`, `WindowRateLimiter` and `BucketRateLimiter`. */
export class RateLimiter {
  constructor(backend, core) {
    Object.defineProperty(this, CORE, { value: core });
    /** The backend given to the constructor. */
    this.backend = backend;
  }

  /** The key the limit is on. */
  get key() {
    return this[CORE].key;
  }

  /** The limit. */
  get limit() {
    return this[CORE].limit;
  }

  /**
   * Takes a slot, calls `fn(acquired)` and answers what it answers, giving the slot back
   * afterwards (also when `fn` throws). Without a slot: throws `RateLimitExceeded` without
   * calling `fn`, or with `raiseOnFailure: false` calls `fn(false)`.
   */
  async acquire(fn, options) {
    if (typeof fn !== "function") throw new TypeError("acquire(fn, options): fn must be a function");
    const { raiseOnFailure = true } = checkOptions(options, ["raiseOnFailure"], "acquire options");
    if (typeof raiseOnFailure !== "boolean") throw new TypeError("acquire options: raiseOnFailure must be a boolean");
    const core = this[CORE];
    const acquired = await core.tryAcquire();
    try {
      if (raiseOnFailure && !acquired) throw new RateLimitExceeded(core.exceededMessage(), { key: core.key });
      return await fn(acquired);
    } finally {
      if (acquired) await core.release();
    }
  }
}
