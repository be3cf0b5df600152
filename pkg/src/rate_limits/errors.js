// RateLimitExceeded (Dramatiq's `dramatiq.RateLimitExceeded`).

/** A rate limiter had no slot and `raiseOnFailure` was on. `code` is "RATE_LIMIT_EXCEEDED". */
export class RateLimitExceeded extends Error {
  constructor(message, options = {}) {
    super(message);
    /** A stable machine-readable code. */
    this.code = "RATE_LIMIT_EXCEEDED";
    /** The limiter's key. */
    this.key = options.key ?? null;
  }
}
RateLimitExceeded.prototype.name = "RateLimitExceeded";
