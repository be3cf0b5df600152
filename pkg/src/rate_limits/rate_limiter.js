// What every rate limiter does (Dramatiq's `RateLimiter.acquire`): take a slot, run the
// caller's function, give the slot back. The function runs here, in JS, never inside a
// wasm call: what it throws unwinds through JS frames only.
import { RateLimitExceeded } from "../errors.js";
import { checkOptions } from "../internal/options.js";

/** The base of `ConcurrentRateLimiter`, `WindowRateLimiter` and `BucketRateLimiter`. */
export class RateLimiter {
  #core;
  #backend;

  /** Called by the subclasses with the core they built (internal). */
  constructor(backend, core) {
    this.#core = core;
    this.#backend = backend;
  }

  /** The backend given to the constructor. */
  get backend() {
    return this.#backend;
  }

  /** The key the limit is on. */
  get key() {
    return this.#core.key;
  }

  /** The limit. */
  get limit() {
    return this.#core.limit;
  }

  /**
   * Takes a slot, calls `fn(acquired)` and answers what it answers, giving the slot back
   * afterwards (also when `fn` throws). Without a slot: throws `RateLimitExceeded` without
   * calling `fn`, or with `raiseOnFailure: false` calls `fn(false)`.
   */
  async acquire(fn, options) {
    if (typeof fn !== "function") throw new TypeError("acquire(fn, options): fn must be a function");
    const { raiseOnFailure = true } = checkOptions("acquire()", options, { raiseOnFailure: "boolean" });
    const core = this.#core;
    const acquired = await core.tryAcquire();
    try {
      if (raiseOnFailure && !acquired) throw new RateLimitExceeded(core.exceededMessage(), { key: core.key });
      return await fn(acquired);
    } finally {
      if (acquired) await core.release();
    }
  }
}
