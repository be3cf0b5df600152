// The rate limiters' backends (Dramatiq's `dramatiq.rate_limits.backends`): each wraps the
// core's backend (src/rate_limits/, reached through RateLimitBackendCore), which decides
// every key, value and TTL. The core object is kept out of reach of user code (a WeakMap),
// so a limiter can only be built over a backend made here.
import { RateLimitBackendCore } from "../../dist/dramatiq_results.js";
import { describeValue } from "../internal/describe.js";
import { checkOptions } from "../internal/options.js";

const CORES = new WeakMap();

/** `key` checked to be a string, as Dramatiq's keys are. */
export function checkKey(key, what) {
  if (typeof key !== "string") throw new TypeError(`${what}: key must be a string, got ${describeValue(key)}`);
  return key;
}

/** The core of `backend`, or a TypeError naming `what` needs one. */
export function coreOf(backend, what) {
  const core = backend !== null && typeof backend === "object" ? CORES.get(backend) : undefined;
  if (core === undefined) {
    throw new TypeError(
      `${what}: backend must be a RedisRateLimiterBackend, MemcachedRateLimiterBackend or StubRateLimiterBackend`,
    );
  }
  return core;
}

/** Dramatiq's `RedisBackend` for rate limits, over a node-redis, ioredis or `connectRedis`
 * client. `blockingClient` (a second connection) lets `Barrier.wait` block on the server as
 * Dramatiq's does; without it a blocking wait polls. */
export class RedisRateLimiterBackend {
  constructor(client, options) {
    const checked = checkOptions("new RedisRateLimiterBackend()", options, { blockingClient: "object", blockingConnection: "object" });
    CORES.set(this, RateLimitBackendCore.redis(client, checked));
  }

  /** The client given to the constructor. */
  get client() {
    return CORES.get(this)?.client;
  }
}

/** Dramatiq's `MemcachedBackend` for rate limits, over a memjs client. Barrier waits
 * cannot block (as with Dramatiq's). */
export class MemcachedRateLimiterBackend {
  constructor(client) {
    CORES.set(this, RateLimitBackendCore.memcached(client));
  }

  /** The client given to the constructor. */
  get client() {
    return CORES.get(this)?.client;
  }
}

/** Dramatiq's `StubBackend` for rate limits: in memory, in this process. */
export class StubRateLimiterBackend {
  constructor() {
    CORES.set(this, RateLimitBackendCore.stub());
  }
}
