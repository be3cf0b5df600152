// Dramatiq's `BucketRateLimiter`: at most `limit` acquisitions per fixed bucket of time.
import { RateLimiterCore } from "../../dist/dramatiq_results.js";
import { checkOptions } from "../internal/options.js";
import { checkKey, coreOf } from "./backends.js";
import { RateLimiter } from "./rate_limiter.js";

const WHAT = "BucketRateLimiter";

/** At most `limit` (default 1) acquisitions per `bucket` ms (default 1 000), buckets
 * aligned on the Unix epoch and counted under `<key>@<bucket start ms>`. Cheap, but a burst
 * can take `limit` at the end of one bucket and `limit` more at the start of the next. */
export class BucketRateLimiter extends RateLimiter {
  constructor(backend, key, options) {
    const { limit = 1, bucket = 1000 } = checkOptions(`new ${WHAT}()`, options, { limit: "count", bucket: "count" });
    super(backend, RateLimiterCore.bucket(coreOf(backend, WHAT), checkKey(key, WHAT), limit, bucket));
    /** The bucket in ms. */
    this.bucket = bucket;
  }
}
