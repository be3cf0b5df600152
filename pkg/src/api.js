// The public API, shared by every host entry. Each entry (node.js, browser.js, workerd.js,
// slim.js) first instantiates the one .wasm in the way its host allows, then re-exports this.
// Every name here is declared in index.d.ts (tests/js/types-exports.test.mjs checks both ways).
import "./wasm/guards.js";
import { Missing } from "../dist/errors.js";

export {
  StubBackend,
  KvBackend,
  CloudflareKvBackend,
  IndexedDbBackend,
  RedisBackend,
  MemcachedBackend,
  Message,
  JSONEncoder,
  RedisBrokerKeys,
} from "../dist/dramatiq_results.js";

/** Whether `value` is the `Missing` sentinel (`tryGetResult`'s "no result"). */
export function isMissing(value) {
  return value === Missing;
}

export {
  ResultError,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
  DecodeError,
  Missing,
  ActorNotFound,
  QueueNotFound,
  QueueJoinTimeout,
  ConnectionClosed,
  SkipMessage,
  Retry,
  TimeLimitExceeded,
  Shutdown,
  RateLimitExceeded,
} from "./errors.js";
export {
  Middleware,
  Results,
  Retries,
  AgeLimit,
  TimeLimit,
  Pipelines,
  Callbacks,
  CurrentMessage,
  currentSignal,
  ShutdownNotifications,
  GroupCallbacks,
  defaultMiddleware,
} from "./middleware/index.js";
export { setLogger, getLogger } from "./internal/logger.js";
export { Broker } from "./brokers/broker.js";
export { StubBroker } from "./brokers/stub.js";
export { setBroker, getBroker } from "./brokers/global.js";
export { Actor, actor } from "./actor.js";
export { Worker } from "./worker/worker.js";
export { WorkerMessage } from "./worker/message.js";
export { connectRedis } from "./net/redis_connect.js";
export { RedisBroker } from "./brokers/redis/broker.js";
// Node only at run time (amqplib needs Node's `net`); it imports nothing host-specific, so
// every entry can carry it.
export { RabbitmqBroker } from "./brokers/rabbitmq/broker.js";
export { pipeline, group, Pipeline, Group } from "./composition.js";
export {
  RedisRateLimiterBackend,
  MemcachedRateLimiterBackend,
  StubRateLimiterBackend,
} from "./rate_limits/backends.js";
export { RateLimiter } from "./rate_limits/rate_limiter.js";
export { ConcurrentRateLimiter } from "./rate_limits/concurrent.js";
export { WindowRateLimiter } from "./rate_limits/window.js";
export { BucketRateLimiter } from "./rate_limits/bucket.js";
export { Barrier } from "./rate_limits/barrier.js";
