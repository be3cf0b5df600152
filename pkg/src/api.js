// The public API, shared by every host entry. Each entry (node.js, browser.js, workerd.js)
// first instantiates the one .wasm in the way its host allows, then re-exports this.
import { ResultStream, Message } from "../dist/dramatiq_results.js";
import { IDENTITY, joinIdentity } from "../dist/identity.js";

// A Message never changes its identity: compute the joined form once per message, on first
// use, and keep it on the instance (see src/bindings/identity.js).
Object.defineProperty(Message.prototype, IDENTITY, {
  get() {
    const identity = joinIdentity(this.queueName, this.actorName, this.messageId);
    Object.defineProperty(this, IDENTITY, { value: identity });
    return identity;
  },
});

// `for await (const { message, value, error } of backend.iterResults(messages))`.
ResultStream.prototype[Symbol.asyncIterator] = function () {
  return this;
};

export {
  StubBackend,
  KvBackend,
  CloudflareKvBackend,
  IndexedDbBackend,
  RedisBackend,
  MemcachedBackend,
  Message,
  JSONEncoder,
} from "../dist/dramatiq_results.js";
export {
  ResultError,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
  DecodeError,
  Missing,
} from "../dist/errors.js";
export {
  Middleware,
  Results,
  Retries,
  AgeLimit,
  TimeLimit,
  Pipelines,
  SkipMessage,
  Retry,
  TimeLimitExceeded,
  defaultMiddleware,
} from "./middleware.js";
export {
  Broker,
  StubBroker,
  Actor,
  actor,
  setBroker,
  getBroker,
  setLogger,
  getLogger,
  ActorNotFound,
  QueueNotFound,
  QueueJoinTimeout,
} from "./broker.js";
export { Worker, WorkerMessage } from "./worker.js";
export { connectRedis } from "./redis_connect.js";
export { RedisBroker } from "./redis_broker.js";
export { pipeline, group, Pipeline, Group } from "./composition.js";
