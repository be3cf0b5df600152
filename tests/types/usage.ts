// Type-checked (never run) by tests/js/types.test.mjs: the declarations in pkg/src/index.d.ts
// must accept real usage and reject misuse (the @ts-expect-error lines).
import {
  StubBackend,
  KvBackend,
  CloudflareKvBackend,
  IndexedDbBackend,
  RedisBackend,
  MemcachedBackend,
  connectRedis,
  type RedisConnection,
  type KvNamespaceLike,
  type RedisClientLike,
  Message,
  JSONEncoder,
  ResultError,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
  DecodeError,
  Missing,
  type ResultBackend,
  type ResultValue,
} from "dramatiq-results";

async function main(): Promise<void> {
  const backend: ResultBackend = new StubBackend({ namespace: "ns", useNamespacePrefixKeys: true, encoder: new JSONEncoder() });
  const message = new Message({ actorName: "add", args: [1, 2] });
  const key: string = backend.buildMessageKey(message);
  await backend.storeResult(message, { a: 1 }, 60_000);
  await backend.storeException(message, new Error("boom"));
  const value: ResultValue = await backend.getResult(message, { block: true, timeout: 1000, signal: AbortSignal.timeout(5000) });
  const maybe = await backend.tryGetResult({ queueName: "default", actorName: "add", messageId: key });
  if (maybe === Missing) console.log("absent");
  const bytes: Uint8Array = await backend.getResultBytes({ queue_name: "q", actor_name: "a", message_id: "i" });
  await backend.storeResultBytes(message, bytes);
  await backend.deleteResult(message);
  const stub = new StubBackend();
  const size: number = stub.size;
  const kv = new KvBackend({ get: (k: string) => null, put: async () => {}, delete: () => {} }, { valueType: "bytes" });
  await kv.getResult(message, { block: true, timeout: 10 }).catch(() => size);
  // @ts-expect-error an adapter needs get, put and delete
  new KvBackend({ get: () => null });
  const kvNamespace: KvNamespaceLike = {
    getWithMetadata: async () => ({ value: null, metadata: null }),
    put: async () => {},
    delete: async () => {},
  };
  const cf = new CloudflareKvBackend(kvNamespace, { namespace: "ns", cacheTtl: 60 });
  const same: KvNamespaceLike = cf.kvNamespace;
  await cf.storeResult(message, 1, 5_000);
  // @ts-expect-error: cacheTtl is a number of seconds
  new CloudflareKvBackend(same, { cacheTtl: "1m" });
  const idb = new IndexedDbBackend({ dbName: "app", storeName: "results", namespace: "ns" });
  const swept: number = await idb.sweep();
  const names: string = `${idb.dbName}/${idb.storeName}/${swept}`;
  idb.close();
  // @ts-expect-error: the database is named by a string
  new IndexedDbBackend({ dbName: 1, names });
  const redisClient: RedisClientLike = { sendCommand: async (argv: Array<string | Uint8Array>) => argv.length };
  const ioredisLike: RedisClientLike = { call: async (command: string) => command };
  const redis = new RedisBackend(redisClient, { blockingClient: ioredisLike, namespace: "ns" });
  const sameClient: RedisClientLike = redis.client;
  const blocking: RedisClientLike | undefined = redis.blockingClient;
  await redis.getResults([message], { timeout: 1000, onProgress: (done: number, total: number) => done / total });
  // @ts-expect-error a Redis client needs a raw-command method
  new RedisBackend({ get: () => null });
  const own: RedisConnection = await connectRedis("rediss://:pw@redis.example:6380/1", { connectTimeout: 2000, tls: { ca: "…" } });
  const ownBackend = new RedisBackend(own, { blockingClient: await own.duplicate() });
  const pong: string = await own.sendCommand(["PING"]);
  await ownBackend.getResult(message, { block: true, timeout: 500 });
  await own.close();
  void [pong, own.isOpen, own.isReady];
  // @ts-expect-error connectRedis takes a URL string
  void connectRedis({ host: "h" });
  const memcached = new MemcachedBackend({ get: async () => ({ value: null }), set: async () => true, delete: async () => true });
  await memcached.storeResult(message, [sameClient, blocking].length, 1500);
  // @ts-expect-error a Memcached client needs set and delete
  new MemcachedBackend({ get: async () => null });
  const dict = message.asDict();
  const again: Message = Message.fromDict(dict);
  const copy = again.copy({ messageId: "x" });
  console.log(copy.messageId, value, String(copy), new JSONEncoder().decode(new JSONEncoder().encode(2n ** 70n)));
  await message.getResult({ backend, block: true });
  try {
    await backend.getResult(message);
  } catch (e) {
    if (e instanceof ResultFailure) console.log(e.exceptionType, e.exceptionValue, e.traceback, e.messageKey);
    else if (e instanceof ResultTimeout || e instanceof ResultMissing || e instanceof DecodeError) console.log(e.code);
    else if (e instanceof ResultError) console.log(e.cause);
  }
  // @ts-expect-error: timeout is a number of milliseconds
  await backend.getResult(message, { timeout: "10s" });
  // @ts-expect-error: a message needs an actorName
  new Message({ queueName: "q" });
  // @ts-expect-error: not a message
  backend.buildMessageKey({ id: 1 });
}
void main;

// Brokers, actors, workers and composition.
import { StubBroker, Results, Worker, actor, setBroker, pipeline, group, Middleware, SkipMessage, RedisBroker } from "dramatiq-results";
async function brokers(): Promise<void> {
  const broker = setBroker(new StubBroker({ logger: console }));
  broker.addMiddleware(new Results({ backend: new StubBackend(), storeResults: true, resultTtl: 60000 }));
  const add = actor((x: number, y: number) => x + y, { actorName: "add", maxRetries: 0 });
  const worker = new Worker(broker, { concurrency: 2 }).start();
  const m: Message = add.send(1, 2);
  const n: ResultValue = await m.getResult({ block: true, timeout: 1000 });
  const all: ResultValue[] = await new StubBackend().getResults([m], { timeout: 10, onProgress: (d: number, t: number) => void (d + t) });
  for await (const item of new StubBackend().iterResults([m])) {
    if (item.error) console.log(item.error.messageKey);
    else console.log(item.value);
  }
  const p = pipeline([add.message(1, 2), add.messageWithOptions({ args: [3], pipeIgnore: true })]).run();
  const last: ResultValue = await p.getResult({ block: true });
  const g = group([add.message(1, 1), p]).run({ delay: 10 });
  const done: boolean = await g.completed();
  class Skip extends Middleware {
    beforeProcessMessage(): void {
      throw new SkipMessage("no");
    }
  }
  broker.addMiddleware(new Skip());
  await broker.join("default", { timeout: 100 });
  await worker.stop();
  // @ts-expect-error concurrency is a number
  new Worker(broker, { concurrency: "2" });
  void [n, all, last, done];
}
void brokers;

// RedisBroker: remote actors, sent messages, a JS worker on Redis.
async function redisBrokerUsage(client: RedisClientLike) {
  const redisBroker = new RedisBroker(client, { namespace: "dramatiq", heartbeatTimeout: 60_000 });
  redisBroker.addMiddleware(new Results({ backend: new RedisBackend(client) }));
  const remoteAdd = actor<[number, number], number>("add", { broker: redisBroker, queueName: "default", storeResults: true });
  const sent: Message = remoteAdd.send(1, 2);
  const landed: Message = await redisBroker.send(remoteAdd.message(1, 2)).enqueued;
  const low: Message = await redisBroker.enqueue(remoteAdd.message(3, 4), { delay: 100 });
  const redisWorker = new Worker(redisBroker, { queues: ["default"], concurrency: 8 }).start();
  await redisWorker.stop({ timeout: 30_000 });
  const remote: boolean = remoteAdd.remote;
  // @ts-expect-error a RedisBroker needs a client
  new RedisBroker();
  return [sent, landed, low, remote, redisBroker.brokerId];
}
void redisBrokerUsage;
// Result types flow from an actor; Missing narrows with isMissing; actors must be named.
import { isMissing, init, ready, type MissingType } from "dramatiq-results";
async function typed(): Promise<void> {
  await init();
  await ready;
  const backend = new StubBackend();
  const add = actor((x: number, y: number) => x + y, { actorName: "add" });
  const upper = actor(async (s: string) => s.toUpperCase(), { actorName: "upper" });
  const sum: number = await backend.getResult(add.message(1, 2));
  const text: string = await upper.message("a").getResult();
  const maybe = await backend.tryGetResult(add.message(1, 2));
  if (isMissing(maybe)) {
    const m: MissingType = maybe;
    void m;
  } else {
    const n: number = maybe;
    void n;
  }
  const both: [number, string] = await group([add.message(1, 2), upper.message("b")]).getResults();
  const last: string = await pipeline([add.message(1, 2), upper.messageWithOptions()]).getResult();
  // @ts-expect-error the result of add is a number
  const wrong: string = await backend.getResult(add.message(1, 2));
  // @ts-expect-error an actor needs an actorName (minifiers rename functions)
  actor(function add2(x: number) { return x; });
  void [sum, text, both, last, wrong];
}
void typed;

import { RabbitmqBroker, ConnectionClosed } from "dramatiq-results";
async function rabbitmq(backend: ResultBackend): Promise<void> {
  const broker = await RabbitmqBroker.connect("amqp://guest:guest@127.0.0.1:5672", {
    confirmDelivery: true,
    maxPriority: 10,
    middleware: [new Results({ backend })],
  });
  const add = actor<[number, number], number>("add", { broker, queueName: "default" });
  const m = add.sendWithOptions({ args: [1, 2], brokerPriority: 5 });
  const sent: Message = await broker.enqueue(add.message(3, 4), { delay: 1000 });
  const counts: [number, number, number] = await broker.getQueueMessageCounts("default");
  actor((x: number) => x * 2, { broker, actorName: "double" });
  const worker = new Worker(broker, { concurrency: 4 }).start();
  const p = pipeline([add.message(1, 2), add.message(3, 4)], { broker }).run();
  await worker.stop();
  await broker.close();
  const e: Error = new ConnectionClosed("lost");
  // @ts-expect-error maxPriority is a number
  await RabbitmqBroker.connect("amqp://x", { maxPriority: "5" });
  void [m, sent, counts, p, e];
}
void rabbitmq;

// The fleet middleware: callbacks, the current message and its signal, shutdown notices.
import { CurrentMessage, currentSignal, ShutdownNotifications, Shutdown, TimeLimitExceeded, defaultMiddleware, WorkerMessage } from "dramatiq-results";
async function fleet() {
  const broker = new StubBroker({ middleware: [...defaultMiddleware(), new CurrentMessage()], failFastDefault: false });
  const record = actor("record", { broker });
  const fetchLike = (signal: { readonly aborted: boolean } | undefined) => Promise.resolve(signal?.aborted ?? false);
  const work = actor(async (url: string) => {
    const current: WorkerMessage | null = CurrentMessage.getCurrentMessage();
    return [url, current?.messageId, await fetchLike(currentSignal() ?? current?.signal)];
  }, { broker, actorName: "work", onSuccess: record, onFailure: "record", onRetryExhausted: "record", notifyShutdown: true, timeLimit: 5000 });
  work.sendWithOptions({ args: ["u"], onSuccess: record, on_failure: "record" });
  broker.addMiddleware(new ShutdownNotifications({ notifyShutdown: true }));
  await broker.join("default", { failFast: true, timeout: 1000 });
  const reasons: Error[] = [new Shutdown(), new TimeLimitExceeded("")];
  // @ts-expect-error notifyShutdown is a boolean
  new ShutdownNotifications({ notifyShutdown: "yes" });
  void reasons;
}
void fleet;

// Issue 31: a remote actor's messages (Message<unknown>) go through broker.enqueue and send,
// and keep their result type; an actor written as in JavaScript (unannotated) compiles.
export async function remoteEnqueue(client: RedisClientLike) {
  const broker = new RedisBroker(client);
  const add = actor<[number, number], number>("add", { broker });
  const sent: Message<number> = await broker.enqueue(add.message(1, 2), { delay: 1000 });
  const n: number = await sent.getResult({ block: true });
  const untyped = actor("untyped", { broker });
  await broker.enqueue(untyped.message(1));
  broker.send(untyped.message(1)).enqueued.then(() => {});
  const js = actor((x, y) => x * y, { broker, actorName: "mul" });
  js.send(6, 7);
  return n;
}

// getBroker() is the global broker, whatever its class: after setBroker(new RedisBroker(…))
// it is that RedisBroker (Dramatiq's get_broker returns a Broker), so it is typed as the
// base class, and StubBroker's own members need a check first.
import { getBroker, Broker } from "dramatiq-results";
export function globalBroker(): void {
  const broker: Broker = getBroker();
  // @ts-expect-error a RedisBroker has no deadLetters: the global broker may be any broker
  void getBroker().deadLetters;
  if (broker instanceof StubBroker) void broker.deadLetters;
}

// broker.declareActor (Dramatiq's declare_actor) takes any actor, typed arguments and all.
export function declareTyped(): void {
  const stub = new StubBroker();
  const typed = actor((x: number, y: number) => x + y, { actorName: "typed", broker: new StubBroker() });
  stub.declareActor(typed);
}

// Dramatiq's tests/test_types.py, in TypeScript: actors declared with or without options, sync
// or async, or through a subclass of Actor (Python's `actor_class`), keep their argument and
// result types, on the function, on messages and on results.
import { Actor as BaseActor, type ActorOptions } from "dramatiq-results";
class ArgType {
  readonly arg = true;
}
class ReturnType {
  readonly ret = true;
}
class CustomActor<A extends unknown[], R> extends BaseActor<A, R> {}
export async function oracleTypes(): Promise<void> {
  const broker = new StubBroker();
  const withOptions = { queueName: "some_queue", priority: 2, broker, maxAge: 1 } satisfies ActorOptions;
  const plain = actor((arg: ArgType) => new ReturnType(), { actorName: "actor", broker });
  const optioned = actor((arg: ArgType) => new ReturnType(), { actorName: "actor_with_options", ...withOptions });
  const custom = new CustomActor((arg: ArgType) => new ReturnType(), { actorName: "actor_with_custom_actor_class", ...withOptions });
  const asyncPlain = actor(async (arg: ArgType) => new ReturnType(), { actorName: "async_actor", broker });
  const asyncOptioned = actor(async (arg: ArgType) => new ReturnType(), { actorName: "async_actor_with_options", ...withOptions });
  const asyncCustom = new CustomActor(async (arg: ArgType) => new ReturnType(), { actorName: "async_actor_with_custom_actor_class", ...withOptions });
  // Calling the function itself (Python's `actor(arg)`, typed R there): `fn` is typed as what
  // a worker may get back from an actor, R or a Promise of it, whichever kind it is.
  const called: (ReturnType | Promise<ReturnType>)[] = [
    plain.fn(new ArgType()), optioned.fn(new ArgType()), custom.fn(new ArgType()),
    asyncPlain.fn(new ArgType()), asyncOptioned.fn(new ArgType()), asyncCustom.fn(new ArgType()),
  ];
  // @ts-expect-error the function's argument is an ArgType
  asyncCustom.fn(new ReturnType());
  void called;
  // A message's result is the actor's (awaited) return type, sync or async, subclass or not.
  const backend = new StubBackend();
  const results: ReturnType[] = [
    await backend.getResult(plain.message(new ArgType())),
    await backend.getResult(optioned.message(new ArgType())),
    await backend.getResult(custom.message(new ArgType())),
    await backend.getResult(asyncPlain.message(new ArgType())),
    await backend.getResult(asyncOptioned.message(new ArgType())),
    await backend.getResult(asyncCustom.message(new ArgType())),
  ];
  const sub: BaseActor<[ArgType], ReturnType> = custom;
  // @ts-expect-error the argument is an ArgType
  plain.message(new ReturnType());
  // @ts-expect-error the argument is an ArgType, for a subclass too
  custom.send(1);
  // @ts-expect-error an async actor's result is its awaited value, not a Promise
  const notPromise: Promise<ReturnType> = await backend.getResult(asyncCustom.message(new ArgType()));
  void [results, sub, notPromise];
}

// The declarations audit: what the runtime accepts compiles, as written in JavaScript.
import {
  GroupCallbacks,
  ConcurrentRateLimiter,
  RateLimitExceeded,
  Retries,
  StubRateLimiterBackend,
  type AmqplibConnection,
} from "dramatiq-results";
export async function audited(open: () => Promise<AmqplibConnection>, client: RedisClientLike): Promise<void> {
  // A custom middleware declares its actor options with a getter, as the built-in ones do
  // (the base's is a getter: TypeScript refused a getter over the property it declared).
  class Audit extends Middleware {
    get actorOptions() {
      return new Set(["audit_level"]);
    }
    // Dramatiq's before_delay_message, typed.
    beforeDelayMessage(broker: Broker, message: WorkerMessage): void {
      void message.messageId;
    }
    afterDeclareDelayQueue(broker: Broker, delayQueueName: string): void {
      void delayQueueName;
    }
  }
  class Tagged extends Middleware {
    // @ts-expect-error a field over the base's getter: compiled as an assignment (no
    // useDefineForClassFields), it throws, the getter having no setter
    readonly actorOptions = new Set(["tag"]);
  }
  class Wrong extends Middleware {
    // @ts-expect-error actorOptions is a Set of option names
    get actorOptions() {
      return ["tag"];
    }
  }
  const options: Set<string> = new Audit().actorOptions;
  class Late extends Middleware {
    // @ts-expect-error a hook's message is a WorkerMessage
    beforeDelayMessage(broker: Broker, message: number): void {}
  }
  // Python's `Retries(min_backoff=None, max_backoff=None)`: the defaults.
  const broker = new StubBroker({ middleware: [new Audit(), new Tagged(), new Retries({ minBackoff: null, maxBackoff: null })] });
  broker.addMiddleware(new GroupCallbacks({ rateLimiterBackend: new StubRateLimiterBackend() }));
  // Python's `join(timeout=None)`, on a worker and on every broker.
  await new Worker(broker).join({ timeout: null });
  await new RedisBroker(client).join("default", { timeout: null, interval: null });
  const rabbit = new RabbitmqBroker(open, { deadMessageTtl: null });
  const ttl: number | undefined = rabbit.deadMessageTtl;
  await rabbit.join("default", { timeout: null, minSuccesses: 2, idleTime: 50 });
  // An actor may throw RateLimitExceeded itself, with the key it was limited on.
  const limited = new RateLimitExceeded("busy", { key: "api" });
  const key: string | null = limited.key;
  // @ts-expect-error the key is a string
  new RateLimitExceeded("busy", { key: 1 });
  await new ConcurrentRateLimiter(new StubRateLimiterBackend(), "k").acquire(() => 1, { raiseOnFailure: false });
  // Python's `max_age=None`: this actor's messages never age out, whatever AgeLimit's default.
  actor(() => {}, { broker, actorName: "ageless", maxAge: null });
  // Python's `MessageProxy(message)`: a middleware's test makes what its hooks are given.
  const proxy = new WorkerMessage(new Message({ actorName: "add" }));
  await new Audit().beforeDelayMessage(broker, proxy);
  // @ts-expect-error a WorkerMessage wraps a Message
  new WorkerMessage();
  void [options, ttl, key, Wrong, Late];
}
