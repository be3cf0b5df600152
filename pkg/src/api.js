// The public API, shared by every host entry. Each entry (node.js, browser.js, workerd.js)
// first instantiates the one .wasm in the way its host allows, then re-exports this.
import { ResultStream } from "../dist/dramatiq_results.js";

// `for await (const { message, value, error } of backend.iterResults(messages))`.
ResultStream.prototype[Symbol.asyncIterator] = function () {
  return this;
};

export { StubBackend, KvBackend, CloudflareKvBackend, IndexedDbBackend, Message, JSONEncoder } from "../dist/dramatiq_results.js";
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
export { pipeline, group, Pipeline, Group } from "./composition.js";
