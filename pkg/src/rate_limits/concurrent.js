// Dramatiq's `ConcurrentRateLimiter`: at most `limit` holders at once, counted under `key`.
import { RateLimiterCore } from "../../dist/dramatiq_results.js";
import { checkOptions } from "../internal/options.js";
import { checkKey, coreOf } from "./backends.js";
import { RateLimiter } from "./rate_limiter.js";

const WHAT = "ConcurrentRateLimiter";

/** At most `limit` (default 1: a distributed mutex) holders of `key` at once; the counter
 * expires `ttl` ms (default 900 000) after its last change, freeing slots a crashed holder
 * kept. */
export class ConcurrentRateLimiter extends RateLimiter {
  constructor(backend, key, options) {
    const { limit = 1, ttl = 900_000 } = checkOptions(`new ${WHAT}()`, options, { limit: "count", ttl: "count" });
    super(backend, RateLimiterCore.concurrent(coreOf(backend, WHAT), checkKey(key, WHAT), limit, ttl));
    /** The counter's TTL in ms. */
    this.ttl = ttl;
  }
}
