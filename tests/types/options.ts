// Type-checked (never run) by tests/js/types.test.mjs: every public `*Options` type of
// pkg/src/index.d.ts in a typed usage case, accepting what the runtime reads and refusing a
// misspelled or mistyped option (the @ts-expect-error lines), as the runtime does.
import type {
  BackendOptions,
  GetResultOptions,
  GetResultsOptions,
  KvBackendOptions,
  CloudflareKvBackendOptions,
  IndexedDbBackendOptions,
  RedisBackendOptions,
  ConnectRedisOptions,
  ResultErrorOptions,
  RedisBrokerOptions,
  RabbitmqBrokerOptions,
  ActorOptions,
  NamedActorOptions,
  SendOptions,
  CompositionReadOptions,
  RedisClientLike,
  ShutdownNotificationsOptions,
} from "dramatiq-results";
import { JSONEncoder, StubBackend, StubBroker, Results, Retries, StubRateLimiterBackend, actor } from "dramatiq-results";

declare const client: RedisClientLike;

export const backend: BackendOptions = { namespace: "dramatiq-results", useNamespacePrefixKeys: false, encoder: new JSONEncoder(), maxValueBytes: 1 << 20 };
// @ts-expect-error a misspelled option
export const backendTypo: BackendOptions = { namespaces: "x" };

export const read: GetResultOptions = { block: true, timeout: 5000, signal: AbortSignal.timeout(1000) };
// @ts-expect-error timeout is a number of ms
export const readBad: GetResultOptions = { timeout: "5s" };

export const many: GetResultsOptions = { block: true, timeout: 5000, onProgress: (done: number, total: number) => void [done, total] };
// @ts-expect-error onProgress is a function
export const manyBad: GetResultsOptions = { onProgress: 1 };

export const kv: KvBackendOptions = { valueType: "bytes", namespace: "n" };
// @ts-expect-error valueType is "string" or "bytes"
export const kvBad: KvBackendOptions = { valueType: "json" };

export const cloudflare: CloudflareKvBackendOptions = { cacheTtl: 60 };
// @ts-expect-error a misspelled option
export const cloudflareTypo: CloudflareKvBackendOptions = { cacheTTL: 60 };

export const indexedDb: IndexedDbBackendOptions = { dbName: "results", storeName: "results" };
// @ts-expect-error dbName is a string
export const indexedDbBad: IndexedDbBackendOptions = { dbName: 1 };

export const redis: RedisBackendOptions = { blockingClient: client, namespace: "n" };
// @ts-expect-error a misspelled option
export const redisTypo: RedisBackendOptions = { blockingclient: client };

export const connect: ConnectRedisOptions = { connectTimeout: 1000, commandTimeout: 1000, maxValueBytes: 1 << 20, maxReplyBytes: 8 << 20, tls: true, name: "app" };
// @ts-expect-error tls is a boolean or the socket's TLS options
export const connectBad: ConnectRedisOptions = { tls: "yes" };

export const resultError: ResultErrorOptions = { messageKey: "k", code: "RESULT_MISSING", cause: new Error("x") };
// @ts-expect-error code is a string
export const resultErrorBad: ResultErrorOptions = { code: 1 };

export const redisBroker: RedisBrokerOptions = {
  namespace: "dramatiq",
  middleware: [new Results({ backend: new StubBackend() }), new Retries({ maxRetries: 3 })],
  logger: console,
  heartbeatTimeout: 60000,
  deadMessageTtl: 604800000,
  maintenanceChance: 1000,
  prefetchBytes: 64 << 20,
  maxMessageBytes: 64 << 20,
};
// @ts-expect-error a misspelled option
export const redisBrokerTypo: RedisBrokerOptions = { heartbeatTimout: 1 };

export const rabbitmqBroker: RabbitmqBrokerOptions = { confirmDelivery: true, maxPriority: 10, deadMessageTtl: 1000, logger: console };
// @ts-expect-error confirmDelivery is a boolean
export const rabbitmqBrokerBad: RabbitmqBrokerOptions = { confirmDelivery: "yes" };

export const actorOptions: ActorOptions = {
  actorName: "add",
  queueName: "default",
  priority: 0,
  broker: new StubBroker(),
  storeResults: true,
  resultTtl: 1000,
  maxRetries: null,
  minBackoff: 10,
  maxBackoff: 100,
  retryWhen: (retries: number, error: Error) => retries < 3 && error.name !== "TypeError",
  throws: [TypeError],
  maxAge: 1000,
  timeLimit: 1000,
  pipeIgnore: false,
  onSuccess: "record",
  onFailure: actor("alert", { broker: new StubBroker() }),
  onRetryExhausted: "give_up",
  notifyShutdown: true,
};
// @ts-expect-error storeResults is a boolean
export const actorOptionsBad: ActorOptions = { storeResults: "yes" };
// @ts-expect-error onSuccess is an actor or its name
export const actorOptionsBadCallback: ActorOptions = { onSuccess: 1 };

export const shutdownNotifications: ShutdownNotificationsOptions = { notifyShutdown: true };
// @ts-expect-error notifyShutdown is a boolean
export const shutdownNotificationsBad: ShutdownNotificationsOptions = { notifyShutdown: 1 };

export const named: NamedActorOptions = { actorName: "add", queueName: "q" };
// @ts-expect-error a named actor needs its name
export const namedBad: NamedActorOptions = { queueName: "q" };

export const send: SendOptions = { args: [1, 2], kwargs: { x: 1 }, delay: 100, pipe_ignore: true };
// @ts-expect-error delay is a number of ms
export const sendBad: SendOptions = { delay: "1s" };

export const compositionRead: CompositionReadOptions = { block: true, timeout: 1000, backend: new StubBackend() };
// @ts-expect-error backend is a result backend
export const compositionReadBad: CompositionReadOptions = { backend: "redis" };

import type {
  AcquireOptions,
  BarrierOptions,
  BarrierWaitOptions,
  BucketRateLimiterOptions,
  GroupCallbacksOptions,
  ConcurrentRateLimiterOptions,
  RedisRateLimiterBackendOptions,
  WindowRateLimiterOptions,
} from "dramatiq-results";

export const rlBackend: RedisRateLimiterBackendOptions = { blockingClient: client };
// @ts-expect-error a misspelled option
export const rlBackendTypo: RedisRateLimiterBackendOptions = { blocking: client };
export const acquire: AcquireOptions = { raiseOnFailure: false };
// @ts-expect-error Python's spelling is not the option's name
export const acquireTypo: AcquireOptions = { raise_on_failure: false };
export const concurrent: ConcurrentRateLimiterOptions = { limit: 2, ttl: 60_000 };
// @ts-expect-error ttl is a number of ms
export const concurrentBad: ConcurrentRateLimiterOptions = { ttl: "1m" };
export const windowed: WindowRateLimiterOptions = { limit: 10, window: 60 };
// @ts-expect-error a misspelled option
export const windowedTypo: WindowRateLimiterOptions = { windows: 60 };
export const bucket: BucketRateLimiterOptions = { limit: 10, bucket: 1000 };
// @ts-expect-error bucket is a number of ms
export const bucketBad: BucketRateLimiterOptions = { bucket: true };
export const barrier: BarrierOptions = { ttl: 86_400_000 };
// @ts-expect-error a misspelled option
export const barrierTypo: BarrierOptions = { ttls: 1 };
export const barrierWait: BarrierWaitOptions = { block: true, timeout: null };
// @ts-expect-error block is a boolean
export const barrierWaitBad: BarrierWaitOptions = { block: 1 };
export const groupCallbacks: GroupCallbacksOptions = { rateLimiterBackend: new StubRateLimiterBackend(), barrierTtl: 60_000 };
// @ts-expect-error rateLimiterBackend is required
export const groupCallbacksBad: GroupCallbacksOptions = { barrierTtl: 60_000 };
