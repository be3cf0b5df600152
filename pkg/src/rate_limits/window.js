// Dramatiq's `WindowRateLimiter`: at most `limit` acquisitions over a sliding window.
import { RateLimiterCore } from "../../dist/dramatiq_results.js";
import { checkOptions } from "../internal/options.js";
import { checkKey, coreOf } from "./backends.js";
import { RateLimiter } from "./rate_limiter.js";

const WHAT = "WindowRateLimiter";

/** At most `limit` (default 1) acquisitions over the last `window` **seconds** (default 1),
 * counted per second under `<key>@<unix second>`. Slots are spent, not given back. */
export class WindowRateLimiter extends RateLimiter {
  constructor(backend, key, options) {
    const { limit = 1, window = 1 } = checkOptions(`new ${WHAT}()`, options, { limit: "count", window: "count" });
    super(backend, RateLimiterCore.window(coreOf(backend, WHAT), checkKey(key, WHAT), limit, window));
    /** The window in seconds. */
    this.window = window;
  }
}
