// Every constructor checks its options in one way (pkg/src/internal/options.js for the
// JavaScript classes, `known_options` in src/bindings/js.rs for the wasm ones): a misspelled
// name or a value of the wrong type is a TypeError naming the option and what is accepted,
// never silently ignored. And every error the package throws carries a stable `code`.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as api from "dramatiq-results";

const adapter = { get() {}, put() {}, delete() {} };
const backend = new api.StubBackend();
const broker = new api.StubBroker({ middleware: [] });

/** Asserts `make()` throws a TypeError whose message names `option` (and, for an unknown
 * name, the first accepted one). */
function refuses(make, option, accepted) {
  assert.throws(make, (error) => {
    assert.ok(error instanceof TypeError, `a TypeError, got ${error?.name}: ${error?.message}`);
    assert.match(error.message, new RegExp(`\\b${option}\\b`), "names the option");
    if (accepted !== undefined) assert.match(error.message, new RegExp(`accepted: .*\\b${accepted}\\b`), "lists the accepted names");
    return true;
  });
}

test("misspelled options are refused by every constructor, naming what is accepted", () => {
  refuses(() => new api.Worker(broker, { concurency: 2 }), "concurency", "concurrency");
  refuses(() => new api.StubBroker({ middlewares: [] }), "middlewares", "middleware");
  refuses(() => new api.Results({ backend, ttl: 5 }), "ttl", "resultTtl");
  refuses(() => new api.Retries({ maxRetry: 1 }), "maxRetry", "maxRetries");
  refuses(() => new api.AgeLimit({ max_age: 1 }), "max_age", "maxAge");
  refuses(() => new api.TimeLimit({ limit: 1 }), "limit", "timeLimit");
  refuses(() => new api.RedisBroker({ sendCommand() {} }, { namespce: "x" }), "namespce", "namespace");
  refuses(() => new api.RabbitmqBroker(async () => undefined, { confirm: true }), "confirm", "confirmDelivery");
  refuses(() => api.group([], { brokr: broker }), "brokr", "broker");
  refuses(() => api.pipeline([], { brokr: broker }), "brokr", "broker");
  refuses(() => new api.StubBackend({ namespce: "x" }), "namespce", "namespace");
  refuses(() => new api.KvBackend(adapter, { ttl: 1 }), "ttl", "valueType");
  refuses(() => new api.RedisBackend({ sendCommand() {} }, { blockingclient: {} }), "blockingclient", "blockingClient");
  refuses(() => new api.MemcachedBackend({ get() {}, set() {}, delete() {} }, { servers: "x" }), "servers", "namespace");
  refuses(() => new api.IndexedDbBackend({ db: "x" }), "db", "dbName");
  refuses(() => new api.CloudflareKvBackend({ getWithMetadata() {}, put() {}, delete() {} }, { ttl: 60 }), "ttl", "cacheTtl");
  const limits = new api.StubRateLimiterBackend();
  refuses(() => new api.RedisRateLimiterBackend({ sendCommand() {} }, { blockingclient: {} }), "blockingclient", "blockingClient");
  refuses(() => new api.ConcurrentRateLimiter(limits, "k", { limt: 1 }), "limt", "limit");
  refuses(() => new api.WindowRateLimiter(limits, "k", { windw: 1 }), "windw", "window");
  refuses(() => new api.BucketRateLimiter(limits, "k", { buckt: 1 }), "buckt", "bucket");
  refuses(() => new api.Barrier(limits, "k", { tll: 1 }), "tll", "ttl");
  refuses(() => new api.GroupCallbacks({ rateLimiterBackend: limits, barrier_ttl: 1 }), "barrier_ttl", "barrierTtl");
});

test("connectRedis refuses a misspelled option before connecting", async () => {
  await assert.rejects(api.connectRedis("redis://127.0.0.1:1", { timeout: 5 }), (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /"timeout".*accepted: .*connectTimeout/);
    return true;
  });
});

test("values of the wrong type are refused, naming the option", () => {
  refuses(() => new api.TimeLimit({ timeLimit: "x" }), "timeLimit");
  refuses(() => new api.AgeLimit({ maxAge: -1 }), "maxAge");
  refuses(() => new api.Results({ backend, storeResults: "yes" }), "storeResults");
  refuses(() => new api.Results({ backend, resultTtl: "1s" }), "resultTtl");
  refuses(() => new api.Retries({ retryWhen: true }), "retryWhen");
  refuses(() => new api.Worker(broker, { queues: "default" }), "queues");
  refuses(() => new api.StubBroker({ logger: "console" }), "logger");
});

test("the right options, null where a default is meant, and hostile objects", () => {
  assert.equal(new api.TimeLimit({ timeLimit: 1000 }).timeLimit, 1000);
  assert.equal(new api.AgeLimit({ maxAge: null }).maxAge, undefined);
  assert.equal(new api.Worker(broker, { concurrency: 2, queues: ["a"] }).concurrency, 2);
  assert.equal(new api.Results({ backend, resultTtl: null }).resultTtl, 600000);
  // A Proxy whose traps throw is a TypeError carrying the original, not the original itself.
  const hostile = new Proxy({}, { ownKeys() { throw new Error("trap"); } });
  assert.throws(() => new api.Worker(broker, hostile), (e) => e instanceof TypeError && e.cause?.message === "trap");
  assert.throws(() => new api.StubBackend(hostile), (e) => e instanceof TypeError && e.cause?.message === "trap");
});

test("every error class has a stable code, on instances and after a throw", () => {
  const codes = {
    ActorNotFound: "ACTOR_NOT_FOUND",
    QueueNotFound: "QUEUE_NOT_FOUND",
    QueueJoinTimeout: "QUEUE_JOIN_TIMEOUT",
    ConnectionClosed: "CONNECTION_CLOSED",
    SkipMessage: "SKIP_MESSAGE",
    Retry: "RETRY",
    TimeLimitExceeded: "TIME_LIMIT_EXCEEDED",
    RateLimitExceeded: "RATE_LIMIT_EXCEEDED",
  };
  for (const [name, code] of Object.entries(codes)) {
    const error = new api[name]("x");
    assert.equal(error.code, code, name);
    assert.equal(error.name, name);
    assert.ok(error instanceof Error);
  }
  assert.throws(() => broker.getActor("nobody"), (e) => e instanceof api.ActorNotFound && e.code === "ACTOR_NOT_FOUND");
  assert.equal(new api.Retry("again", { delay: 5 }).delay, 5);
});

test("createGateway refuses a misspelled option, naming the accepted ones", async () => {
  const { createGateway } = await import("dramatiq-results/gateway");
  refuses(() => createGateway({ redis: { sendCommand() {} }, brokerKeys: new api.RedisBrokerKeys("dramatiq"), tokn: "x" }), "tokn", "token");
  refuses(() => createGateway({ redis: { sendCommand() {} }, brokerKeys: new api.RedisBrokerKeys("dramatiq"), resultsInRedis: "yes" }), "resultsInRedis");
});
