// Wave 3's surfaces under hostile input (the worker, actors, brokers, middleware, rate limits):
// options that answer a second read differently, middleware that throws in every hook,
// actors that throw or return what JSON cannot carry, injected clients that emit or reject
// with anything, and messages on a real Redis written by a hostile producer. After each: the
// module still works, the error names the message, nothing queued is lost or doubled.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createClient } from "redis";
import {
  CurrentMessage,
  Middleware,
  RabbitmqBroker,
  RedisBackend,
  RedisBroker,
  Results,
  SkipMessage,
  StubBackend,
  StubBroker,
  TimeLimit,
  Worker,
  actor,
  defaultMiddleware,
} from "dramatiq-results";
import { healthy, thrownValues } from "./hostile.mjs";
import { eventually, recordingLogger } from "./broker-helpers.mjs";
import amqplib from "amqplib";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";

// A hook's rejected Promise that nobody handles would end the process (Node's default).
const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

/** An options object whose `name` answers each read with the next of `values` (the last for good). */
function lying(name, ...values) {
  let i = 0;
  return Object.defineProperty({}, name, { enumerable: true, get: () => values[Math.min(i++, values.length - 1)] });
}

/** A client that answers every command with null: enough to build a RedisBroker. */
const idleClient = { sendCommand: async () => null };

describe("options are read once, and only the ones checked", () => {
  test("a getter answering a second read differently cannot slip past the check", () => {
    // Checked as 1000 (a count), then read again as -7 by the constructor.
    const lyingBroker = new RedisBroker(idleClient, Object.assign(lying("prefetchBytes", 1000, -7), { middleware: [] }));
    assert.equal(lyingBroker.prefetchBytes, 1000);
    const worker = new Worker(new StubBroker({ middleware: [] }), lying("queues", ["a"], 5));
    assert.deepEqual([...worker.queues], ["a"]);
  });

  test("an inherited option (a __proto__ literal) is not used unchecked", () => {
    const worker = new Worker(new StubBroker({ middleware: [] }), { __proto__: { queues: 5 } });
    assert.equal(worker.queues, undefined);
    const broker = new RedisBroker(idleClient, { __proto__: { prefetchBytes: -1 }, middleware: [] });
    assert.ok(broker.prefetchBytes > 0);
  });
});

describe("actor and message options", () => {
  test("options whose reads throw are a TypeError naming the call, with the original as cause", () => {
    const broker = new StubBroker({ middleware: [] });
    const a = actor(() => 1, { actorName: "a", broker });
    const boom = new Error("trap");
    const traps = new Proxy({}, { ownKeys() { throw boom; } });
    const getter = Object.defineProperty({}, "maxRetries", { enumerable: true, get() { throw Symbol("getter"); } });
    for (const [call, what] of [
      [(o) => actor(() => 1, o), "actor()"],
      [(o) => a.sendWithOptions(o), "sendWithOptions()"],
      [(o) => a.messageWithOptions(o), "messageWithOptions()"],
    ]) {
      assert.throws(() => call(traps), (e) => e instanceof TypeError && e.message === `${what}: its options cannot be read` && e.cause === boom);
      assert.throws(() => call(getter), (e) => e instanceof TypeError && e.message === `${what}: option maxRetries cannot be read` && typeof e.cause === "symbol");
    }
    assert.throws(() => a.sendWithOptions(5), /sendWithOptions\(\): options must be an object, got 5/);
    // The module and the broker are fine: a normal send still works.
    assert.equal(a.send(1).args[0], 1);
  });

  test("an option named __proto__ is sent as an option, as Python's send_with_options sends it", () => {
    const broker = new StubBroker({ middleware: [] });
    const a = actor(() => 1, { actorName: "a", broker });
    const message = a.sendWithOptions(JSON.parse('{"args": [1], "__proto__": {"x": 1}}'));
    assert.deepEqual(message.asDict().options, JSON.parse('{"__proto__": {"x": 1}}'));
    assert.equal(Object.keys(message.options).includes("__proto__"), true);
  });
});

describe("the options of broker and worker methods", () => {
  test("a misspelled or hostile option is a TypeError naming it, and enqueue rejects rather than throws", async () => {
    const stub = new StubBroker({ middleware: [] });
    const a = actor(() => 1, { actorName: "a", broker: stub });
    const worker = new Worker(stub);
    // Python's join(timout=5) is a TypeError too; silently ignored, it waits forever.
    await assert.rejects(worker.join({ timout: 5 }), /worker\.join\(\): unknown option "timout"; accepted: timeout/);
    assert.throws(() => stub.addMiddleware(new Middleware(), { befor: Results }), /unknown option "befor"; accepted: before, after/);
    assert.throws(() => stub.enqueue(a.message(), { dealy: 5 }), /unknown option "dealy"; accepted: delay/);
    const redis = new RedisBroker(idleClient, { middleware: [] });
    const r = actor(() => 1, { actorName: "r", broker: redis });
    const hostile = new Proxy({}, { ownKeys() { throw new Error("trap"); } });
    let enqueued;
    assert.doesNotThrow(() => {
      enqueued = redis.enqueue(r.message(), hostile);
    }, "enqueue answers with a Promise, whatever its options");
    await assert.rejects(enqueued, (e) => e instanceof TypeError && /enqueue\(\): its options cannot be read/.test(e.message));
    await assert.rejects(redis.join("r", { timeout: "soon" }), /option timeout must be a number of milliseconds/);
    assert.throws(() => redis.send(r.message(), { dealy: 1 }), /unknown option "dealy"/);
  });
});

test("a Worker's concurrency is bounded: 1e7 runners had ended the process out of memory", async () => {
  const broker = new StubBroker({ middleware: [] });
  for (const concurrency of [1e7, 65_537, 2 ** 53, Infinity, 0, -1, 1.5, NaN]) {
    assert.throws(() => new Worker(broker, { concurrency }), (e) => e instanceof RangeError && /concurrency must be a whole number from 1 to 65536/.test(e.message), String(concurrency));
  }
  const worker = new Worker(broker, { concurrency: 65_536 });
  assert.equal(worker.concurrency, 65_536);
  await healthy();
});

test("RabbitmqBroker's deadMessageTtl is a whole number of ms: true was taken as 1 ms, so dead letters vanished at once", () => {
  for (const deadMessageTtl of [true, "60000", [5], -1, 1.5]) {
    assert.throws(() => new RabbitmqBroker(() => null, { deadMessageTtl, middleware: [] }), /option deadMessageTtl must be a whole number, 0 or more/);
  }
  // 0 is Python's `dramatiq_dead_message_ttl=0` (dead letters expire at once), declared alike.
  assert.equal(new RabbitmqBroker(() => null, { deadMessageTtl: 0, middleware: [] }).deadMessageTtl, 0);
  assert.throws(() => new RabbitmqBroker(() => null, { confirmDelivery: "false", middleware: [] }), /option confirmDelivery must be a boolean/);
  assert.equal(new RabbitmqBroker(() => null, { deadMessageTtl: 60_000, middleware: [] }).deadMessageTtl, 60_000);
  // null is no option, as undefined: the broker's deadMessageTtl is then undefined, as
  // index.d.ts declares it (it was null).
  assert.equal(new RabbitmqBroker(() => null, { deadMessageTtl: null, middleware: [] }).deadMessageTtl, undefined);
  // A value whose own check throws (an iterable option that is a Proxy) names the option.
  const hostileList = new Proxy([], { get() { throw new Error("trap"); } });
  assert.throws(() => new StubBroker({ middleware: hostileList }), (e) => e instanceof TypeError && /option middleware cannot be checked/.test(e.message) && e.cause.message === "trap");
});

test("a queue or actor name that is not a string is a TypeError, never a memory access out of bounds in wasm", async () => {
  const { RedisBrokerKeys } = await import("dramatiq-results");
  const client = { sendCommand: async () => null };
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  const notStrings = [5, {}, Symbol("s"), true, 1n, [1], { length: 3, charCodeAt: () => 65 }, revoked];
  const calls = {
    "actor({ queueName })": (v) => actor(() => 1, { actorName: "a", queueName: v, broker: new StubBroker() }),
    "actor({ actorName })": (v) => actor(() => 1, { actorName: v, broker: new StubBroker() }),
    "stub.declareQueue": (v) => new StubBroker().declareQueue(v),
    "stub.join": (v) => new StubBroker().join(v, { timeout: 10 }),
    "stub.flush": (v) => new StubBroker().flush(v),
    "redis.declareQueue": (v) => new RedisBroker(client, { middleware: [] }).declareQueue(v),
    "redis.join": (v) => new RedisBroker(client, { middleware: [] }).join(v, { timeout: 10 }),
    "redis.flush": (v) => new RedisBroker(client, { middleware: [] }).flush(v),
    "rabbit.declareQueue": (v) => new RabbitmqBroker(() => null, { middleware: [] }).declareQueue(v),
    "new Worker({ queues })": (v) => new Worker(new RedisBroker(client, { middleware: [] }), { queues: [v] }),
    "new RedisBrokerKeys": (v) => new RedisBrokerKeys(v),
    "RedisBrokerKeys.queue": (v) => new RedisBrokerKeys("dramatiq").queue(v),
    "RedisBrokerKeys.acks": (v) => new RedisBrokerKeys("dramatiq").acks("w", v),
  };
  const problems = [];
  for (let round = 0; round < 20; round++) {
    for (const [name, call] of Object.entries(calls)) {
      for (const v of notStrings) {
        try {
          await call(v);
          problems.push(`${name} accepted ${typeof v}`);
        } catch (error) {
          if (!(error instanceof TypeError)) problems.push(`${name}: ${error?.constructor?.name}: ${error?.message}`);
        }
      }
    }
  }
  assert.deepEqual([...new Set(problems)], []);
  assert.equal(await healthy(), true);
  // A normal message still runs end to end on a fresh broker.
  const backend = new StubBackend();
  const broker = new StubBroker({ middleware: [new Results({ backend })] });
  const add = actor((x, y) => x + y, { actorName: "add", storeResults: true, broker });
  const worker = new Worker(broker).start();
  const message = add.send(2, 3);
  await broker.join("default", { timeout: 5000 });
  await worker.stop();
  assert.equal(await backend.getResult(message), 5);
});

describe("middleware that throws", () => {
  test("a before hook's failure is logged naming the message, and the actor still runs (Dramatiq's emit_before)", async () => {
    const logger = recordingLogger();
    const backend = new StubBackend();
    class Broken extends Middleware {
      beforeProcessMessage() {
        throw new Error("broken before");
      }
    }
    const broker = new StubBroker({ logger, middleware: [...defaultMiddleware(), new Broken(), new Results({ backend })] });
    const add = actor((x, y) => x + y, { actorName: "add", storeResults: true, maxRetries: 0, broker });
    const worker = new Worker(broker, { concurrency: 1 }).start();
    try {
      const message = add.send(1, 2);
      await broker.join("default", { timeout: 5000 });
      assert.equal(await backend.getResult(message), 3);
      assert.deepEqual(broker.deadLetters, []);
      const said = logger.lines.join("\n");
      assert.match(said, new RegExp(`Unexpected failure in beforeProcessMessage of Broken for message ${message.messageId}\\. \\| broken before`));
    } finally {
      await worker.stop();
    }
  });

  test("SkipMessage from a before hook still skips", async () => {
    class Skipper extends Middleware {
      beforeProcessMessage() {
        throw new SkipMessage("no");
      }
    }
    const broker = new StubBroker({ logger: recordingLogger(), middleware: [new Skipper()] });
    let ran = 0;
    const a = actor(() => void ran++, { actorName: "a", broker });
    const worker = new Worker(broker, { concurrency: 1 }).start();
    try {
      a.send();
      await broker.join("default", { timeout: 5000 });
      assert.equal(ran, 0);
    } finally {
      await worker.stop();
    }
  });

  test("beforeEnqueue / afterEnqueue that throw: logged, the message is sent once; SkipMessage stops the send", async () => {
    const logger = recordingLogger();
    class Enqueue extends Middleware {
      beforeEnqueue() {
        throw new Error("before enqueue");
      }
      afterEnqueue() {
        throw new Error("after enqueue");
      }
    }
    const broker = new StubBroker({ logger, middleware: [new Enqueue()] });
    const a = actor(() => 1, { actorName: "a", broker });
    const message = a.send();
    const said = logger.lines.join("\n");
    assert.match(said, new RegExp(`Unexpected failure in beforeEnqueue of Enqueue for message ${message.messageId}\\. \\| before enqueue`));
    assert.match(said, new RegExp(`Unexpected failure in afterEnqueue of Enqueue for message ${message.messageId}\\. \\| after enqueue`));
    let ran = 0;
    const counted = new StubBroker({ logger: recordingLogger(), middleware: [new Enqueue()] });
    const b = actor(() => void ran++, { actorName: "b", broker: counted });
    b.send();
    const worker = new Worker(counted, { concurrency: 1 }).start();
    try {
      await counted.join("default", { timeout: 5000 });
      assert.equal(ran, 1, "sent once, run once");
    } finally {
      await worker.stop();
    }
    class Skip extends Middleware {
      beforeEnqueue() {
        throw new SkipMessage("not this one");
      }
    }
    const skipping = new StubBroker({ middleware: [new Skip()] });
    const c = actor(() => 1, { actorName: "c", broker: skipping });
    assert.throws(() => c.send(), SkipMessage);
  });

  test("every hook throwing anything, shutdown hooks included: the worker runs, stops, and the module lives", async () => {
    const logger = recordingLogger();
    const thrown = thrownValues();
    let n = 0;
    class Hostile extends Middleware {}
    for (const hook of [
      "beforeProcessMessage", "afterProcessMessage", "afterSkipMessage", "beforeAck", "afterAck", "beforeNack",
      "afterNack", "beforeWorkerShutdown", "afterWorkerShutdown", "beforeEnqueue", "afterEnqueue",
      "beforeDelayMessage", "beforeDeclareQueue", "afterDeclareQueue",
    ]) {
      Hostile.prototype[hook] = () => {
        throw thrown[n++ % thrown.length];
      };
    }
    const backend = new StubBackend();
    const broker = new StubBroker({ logger, middleware: [...defaultMiddleware(), new Results({ backend }), new Hostile()] });
    const a = actor((i) => i * 2, { actorName: "a", storeResults: true, maxRetries: 0, broker });
    const sent = [];
    for (let i = 0; i < 20; i++) {
      try {
        sent.push(a.send(i));
      } catch (error) {
        assert.fail(`send threw ${String(error?.message ?? error)}`);
      }
    }
    const worker = new Worker(broker, { concurrency: 2 }).start();
    await broker.join("default", { timeout: 10_000, failFast: false });
    await worker.stop();
    for (const [i, m] of sent.entries()) assert.equal(await backend.getResult(m), i * 2);
    assert.ok(logger.lines.some((l) => l.includes("WorkerShutdown")), "the shutdown hooks' failures are logged");
    assert.equal(await healthy(), true);
  });
});

test("async enqueue and declare hooks that reject: logged naming the message, never an unhandled rejection", async () => {
  const logger = recordingLogger();
  class Async extends Middleware {
    async beforeEnqueue() {
      throw new Error("async before");
    }
    async afterEnqueue() {
      throw new Error("async after");
    }
  }
  const broker = new StubBroker({ logger, middleware: [new Async()] });
  const a = actor(() => 1, { actorName: "a", broker });
  const before = unhandled.length;
  const message = a.send();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(unhandled.length, before, String(unhandled.at(-1)));
  const said = logger.lines.join("\n");
  assert.match(said, new RegExp(`Unexpected failure in beforeEnqueue of Async for message ${message.messageId}\\. \\| async before`));
  assert.match(said, new RegExp(`Unexpected failure in afterEnqueue of Async for message ${message.messageId}\\. \\| async after`));
});

test("an actor that throws a Proxy whose traps throw: its failure says so, not that it was revoked", async () => {
  const backend = new StubBackend();
  const broker = new StubBroker({ logger: recordingLogger(), middleware: [...defaultMiddleware(), new Results({ backend })] });
  const trap = () => {
    throw new Error("trap");
  };
  const thrower = actor(() => {
    throw new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap });
  }, { actorName: "thrower", storeResults: true, maxRetries: 0, broker });
  const worker = new Worker(broker, { concurrency: 1 }).start();
  const message = thrower.send();
  await broker.join("default", { timeout: 5000, failFast: false });
  await worker.stop();
  await assert.rejects(backend.getResult(message), (e) => e.exceptionValue === "a Proxy that cannot be read (revoked, or its traps throw)");
});

describe("actors that return what JSON cannot carry", () => {
  test("the Results failure is logged with the message id, the message is acked once", async () => {
    const logger = recordingLogger();
    const backend = new StubBackend();
    const broker = new StubBroker({ logger, middleware: [...defaultMiddleware(), new Results({ backend, storeResults: true })] });
    const cyclic = {};
    cyclic.self = cyclic;
    const detached = new ArrayBuffer(8);
    structuredClone(detached, { transfer: [detached] });
    const values = [cyclic, () => 1, detached, new Map([[1, 2]]), Symbol("s"), new Proxy({}, { ownKeys() { throw new Error("ownKeys"); } })];
    const sent = values.map((value, i) => actor(() => value, { actorName: `r${i}`, maxRetries: 0, broker }).send());
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await broker.join("default", { timeout: 5000 });
    } finally {
      await worker.stop();
    }
    assert.deepEqual(broker.deadLetters, []);
    for (const m of sent) {
      assert.ok(
        logger.lines.some((l) => l.startsWith(`error Unexpected failure in afterProcessMessage of Results for message ${m.messageId}.`)),
        `the failure to store ${m.actorName}'s result names its message:\n${logger.lines.join("\n")}`,
      );
    }
    assert.equal(await healthy(), true);
  });
});

/** A stand-in amqplib connection: an EventEmitter with the methods the broker checks for. */
function fakeConnection() {
  const conn = new EventEmitter();
  conn.createChannel = async () => {
    throw new Error("no channels here");
  };
  conn.createConfirmChannel = conn.createChannel;
  conn.close = async () => {};
  return conn;
}

describe("an injected amqplib connection misbehaving", () => {
  test("an 'error' event with anything is logged, never thrown back into the emitter", () => {
    const logger = recordingLogger();
    const conn = fakeConnection();
    new RabbitmqBroker(conn, { logger, middleware: [] });
    for (const value of [null, undefined, Symbol("e"), { get message() { throw new Error("getter"); } }, ...thrownValues()]) {
      assert.doesNotThrow(() => conn.emit("error", value));
    }
    assert.ok(logger.lines.filter((l) => l.startsWith("warn RabbitMQ connection error")).length >= 4, logger.lines.join("\n"));
  });

  test("a connection whose getters throw is refused with a clear TypeError", () => {
    const hostile = new Proxy({}, { get() { throw new Error("trap"); } });
    assert.throws(() => new RabbitmqBroker(hostile, { middleware: [] }), /RabbitmqBroker needs an amqplib connection/);
  });
});

describe("a stop whose timeout passes", () => {
  test("the warning counts the messages running (none), never 'undefined'", async () => {
    const logger = recordingLogger();
    const hung = { sendCommand: () => new Promise(() => {}) };
    const broker = new RedisBroker(hung, { logger, middleware: [] });
    actor(() => 1, { actorName: "a", broker });
    const worker = new Worker(broker, { concurrency: 1 }).start();
    await new Promise((r) => setTimeout(r, 50));
    await worker.stop({ timeout: 100 });
    const warning = logger.lines.find((l) => l.includes("Worker stopped after its timeout"));
    assert.ok(warning, logger.lines.join("\n"));
    assert.match(warning, /with 0 message\(s\) still running/);
  });
});

describe("a hostile producer's messages on a real Redis", { skip: !haveRedis && "no redis-server (scripts/setup --services)" }, () => {
  let server;
  let client;
  before(async () => {
    server = await startRedis();
    client = createClient({ url: server.url });
    await client.connect();
  });
  after(async () => {
    await client?.quit();
    await server?.stop();
  });

  test("a body whose redis_message_id is not the id it is stored under runs once and is acked by the stored id", { timeout: 30_000 }, async () => {
    const logger = recordingLogger();
    const broker = new RedisBroker(client, { namespace: "mismatch", logger, middleware: [] });
    const ran = [];
    actor((x) => void ran.push(x), { actorName: "ok", queueName: "m", broker });
    const body = (rid, x) => JSON.stringify({
      queue_name: "m", actor_name: "ok", args: [x], kwargs: {}, options: { redis_message_id: rid },
      message_id: `00000000-0000-4000-8000-00000000000${x}`, message_timestamp: 1_700_000_000_000,
    });
    // Stored under "stored-1", claiming "other-id"; and one claiming the other's id.
    await client.hSet("mismatch:m.msgs", "stored-1", body("other-id", 1));
    await client.hSet("mismatch:m.msgs", "stored-2", body("stored-1", 2));
    await client.rPush("mismatch:m", ["stored-1", "stored-2"]);
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await eventually(() => ran.length === 2, "both ran");
      await eventually(async () => (await client.hLen("mismatch:m.msgs")) === 0, "both acked by the id they are stored under");
    } finally {
      await worker.stop();
    }
    assert.deepEqual(ran.sort(), [1, 2]);
    assert.deepEqual(await client.keys("mismatch:__acks__*"), [], "nothing held: a restart would run neither again");
    assert.equal(await client.lLen("mismatch:m"), 0);
  });

  test("actors that free or replace their own message: logged, the worker and the process go on, each message settled once", { timeout: 30_000 }, async () => {
    const logger = recordingLogger();
    const backend = new RedisBackend(client);
    // A short default time limit: a timer left behind would fire within the test.
    const middleware = defaultMiddleware().map((m) => (m instanceof TimeLimit ? new TimeLimit({ timeLimit: 300 }) : m));
    const broker = new RedisBroker(client, { namespace: "selfish", logger, middleware: [...middleware, new Results({ backend }), new CurrentMessage()] });
    const on = { broker, queueName: "s", maxRetries: 0, storeResults: true };
    const ran = [];
    actor(() => {
      CurrentMessage.getCurrentMessage().message.free();
      return 1;
    }, { ...on, actorName: "frees" });
    actor(async () => {
      await null;
      CurrentMessage.getCurrentMessage().message.free();
      throw new Error("after the free");
    }, { ...on, actorName: "freesThenThrows" });
    actor(() => {
      CurrentMessage.getCurrentMessage().message = null;
      return 2;
    }, { ...on, actorName: "nulls" });
    actor(async () => {
      CurrentMessage.getCurrentMessage().message = null;
      await new Promise(() => {});
    }, { ...on, actorName: "nullsThenHangs" });
    actor((x) => (ran.push(x), x), { ...on, actorName: "ok" });
    const before = unhandled.length;
    for (const name of ["frees", "freesThenThrows", "nulls", "nullsThenHangs"]) broker.actors.get(name).send();
    const oks = [1, 2, 3, 4].map((x) => broker.actors.get("ok").send(x));
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await eventually(() => ran.length === 4, "the messages after them ran");
      await eventually(async () => (await client.hLen("selfish:s.msgs")) === 0, "every message settled");
      // The process had ended here: the consumer's log line read the freed message's id.
      assert.equal(unhandled.length, before, String(unhandled.at(-1)));
      for (const [i, m] of oks.entries()) assert.equal(await m.getResult(), i + 1);
      // The after hooks ran for each, TimeLimit's too: its timer for the message replaced by
      // null was left running, and fired, reading the message's id (an uncaught TypeError).
      await new Promise((r) => setTimeout(r, 600));
      // Only the one that hung reached its limit (its id unreadable by then: logged as such).
      assert.deepEqual(logger.lines.filter((l) => /Time limit exceeded/.test(l)), ["warn Time limit exceeded. Aborting message (replaced by its actor) after 300 ms."]);
    } finally {
      await worker.stop();
    }
    assert.deepEqual(await client.keys("selfish:__acks__*"), [], "nothing held");
  });

  test("every field of the wrong type: each message runs or is dead-lettered naming its id, none lost or doubled", { timeout: 60_000 }, async () => {
    const logger = recordingLogger();
    const backend = new RedisBackend(client);
    const broker = new RedisBroker(client, { logger, middleware: [...defaultMiddleware(), new Results({ backend, storeResults: true })] });
    const ran = [];
    actor((...args) => void ran.push(args), { actorName: "ok", queueName: "h", maxRetries: 0, broker });
    const body = (id) => ({
      queue_name: "h", actor_name: "ok", args: [1], kwargs: {}, options: { redis_message_id: id },
      message_id: id, message_timestamp: 1_700_000_000_000,
    });
    // Each mutation and whether the body is still a message a worker runs.
    const cases = [
      [(b) => (b.message_id = 5), false], [(b) => (b.message_id = null), false],
      [(b) => (b.message_id = "not-a-uuid"), true], [(b) => (b.actor_name = {}), false],
      [(b) => (b.queue_name = 5), false], [(b) => (b.args = "str"), false], [(b) => (b.args = { a: 1 }), false],
      [(b) => (b.kwargs = [1]), false], [(b) => (b.options = [1]), false], [(b) => (b.options = null), false],
      [(b) => (b.options.redis_message_id = 5), false], [(b) => (b.message_timestamp = "x"), false],
      [(b) => (b.options.retries = "x"), true], [(b) => (b.options.max_retries = "x"), true],
      [(b) => (b.options.pipe_target = "x"), true], [(b) => (b.options.on_success = 5), true],
      [(b) => (b.options.group_info = { group_id: 5, count: "x" }), true], [(b) => (b.options.time_limit = "x"), true],
      [(b) => (b.options.result_ttl = "x"), true], [(b) => (b.options.eta = "abc"), true],
      [(b) => (b.args = ["x".repeat(1 << 20)]), true],
    ];
    const expected = { ran: [], dead: [] };
    for (const [i, [mutate, runs]] of cases.entries()) {
      const id = `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`;
      const b = body(id);
      mutate(b);
      await client.hSet("dramatiq:h.msgs", id, JSON.stringify(b));
      await client.rPush("dramatiq:h", id);
      (runs ? expected.ran : expected.dead).push(id);
    }
    // Bytes that are not UTF-8, inside a string.
    const badId = "00000000-0000-4000-8000-0000000000ff";
    const [head, tail] = JSON.stringify(body(badId)).split('"args":[1]');
    await client.hSet("dramatiq:h.msgs", badId, Buffer.concat([Buffer.from(`${head}"args":["`), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(`"]${tail}`)]));
    await client.rPush("dramatiq:h", badId);
    expected.dead.push(badId);

    const worker = new Worker(broker, { concurrency: 4 }).start();
    try {
      await eventually(
        async () => (await client.lLen("dramatiq:h")) === 0 && ran.length + (await client.zCard("dramatiq:h.XQ")) >= expected.ran.length + expected.dead.length,
        "every message settled",
      );
      await eventually(async () => (await client.hLen("dramatiq:h.msgs")) === 0, "every body acked or moved");
    } finally {
      await worker.stop();
    }
    assert.equal(ran.length, expected.ran.length, "each runnable message ran once");
    assert.deepEqual((await client.zRange("dramatiq:h.XQ", 0, -1)).sort(), [...expected.dead].sort());
    assert.deepEqual(await client.keys("dramatiq:__acks__*"), [], "nothing is left held");
    const said = logger.lines.join("\n");
    for (const id of expected.dead) assert.match(said, new RegExp(`Dead-lettering message ${id} from queue h: its body is`));
    assert.match(said, /Unexpected failure in afterProcessMessage of Callbacks for message 00000000-0000-4000-8000-000000000016\./);
    assert.match(said, /Unexpected failure in afterProcessMessage of Results for message 00000000-0000-4000-8000-000000000019\. \| .*result_ttl/);
    assert.equal(await healthy(), true);
  });
});

describe("a hostile producer's messages and middleware on a real RabbitMQ", { skip: !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)" }, () => {
  let rabbit;
  let admin;
  before(async () => {
    rabbit = await startRabbitmq();
    admin = await amqplib.connect(rabbit.url);
  });
  after(async () => {
    await admin?.close().catch(() => {});
    await rabbit?.stop();
  });

  test("an actor that frees its own message: its delivery is settled, not left unacked to come back when the channel closes", { timeout: 60_000 }, async () => {
    const logger = recordingLogger();
    const broker = await RabbitmqBroker.connect(rabbit.url, { logger, middleware: [...defaultMiddleware(), new CurrentMessage()] });
    const q = "selfish";
    const ran = [];
    actor(() => {
      CurrentMessage.getCurrentMessage().message.free();
    }, { broker, queueName: q, actorName: "frees", maxRetries: 0 });
    actor((x) => void ran.push(x), { broker, queueName: q, actorName: "ok" });
    await broker.actors.get("frees").send().enqueued;
    await broker.actors.get("ok").send(1).enqueued;
    const before = unhandled.length;
    const worker = new Worker(broker, { concurrency: 1 }).start();
    try {
      await eventually(() => ran.length === 1, "the message after it ran");
    } finally {
      await worker.stop();
      await broker.close();
    }
    assert.equal(unhandled.length, before, String(unhandled.at(-1)));
    const ch = await admin.createChannel();
    const { messageCount } = await ch.checkQueue(q);
    await ch.close();
    // Before: settling read the freed message's id first, threw, and left the delivery
    // unacked; it came back when the channel closed, to run (and free itself) again.
    assert.equal(messageCount, 0, logger.lines.join("\n"));
  });

  test("wrong types, bytes that are not UTF-8, an empty body, hooks that throw or reject: each message runs or is dead-lettered once, naming its id", { timeout: 90_000 }, async () => {
    const logger = recordingLogger();
    class Hostile extends Middleware {}
    let n = 0;
    for (const hook of [
      "beforeProcessMessage", "afterProcessMessage", "beforeAck", "afterAck", "beforeNack", "afterNack",
      "beforeWorkerShutdown", "afterWorkerShutdown", "beforeDelayMessage", "beforeEnqueue", "afterEnqueue",
      "beforeDeclareQueue", "afterDeclareQueue", "afterDeclareDelayQueue",
    ]) {
      Hostile.prototype[hook] = function () {
        n += 1;
        if (n % 3 === 0) return Promise.reject(Symbol("rejected"));
        throw thrownValues()[n % 10];
      };
    }
    const backend = new StubBackend();
    const broker = await RabbitmqBroker.connect(rabbit.url, {
      logger,
      middleware: [...defaultMiddleware(), new Results({ backend, storeResults: true }), new Hostile()],
    });
    const ran = [];
    actor((...args) => void ran.push(args), { actorName: "ok", queueName: "h", maxRetries: 0, broker });
    await broker.ensureQueue("h");
    const body = (id) => ({ queue_name: "h", actor_name: "ok", args: [1], kwargs: {}, options: {}, message_id: id, message_timestamp: 1_700_000_000_000 });
    const cases = [
      [(b) => (b.message_id = "not-a-uuid"), true], [(b) => (b.actor_name = {}), false], [(b) => (b.queue_name = 5), false],
      [(b) => (b.queue_name = "other"), true], [(b) => (b.args = "s"), false], [(b) => (b.kwargs = [1]), false],
      [(b) => (b.options = [1]), false], [(b) => (b.options = null), false], [(b) => (b.options.eta = "abc"), true],
      [(b) => (b.options.eta = -5), true], [(b) => (b.options.retries = "x"), true], [(b) => (b.options.on_failure = 5), true],
      [(b) => (b.message_timestamp = "x"), false], [(b) => (b.args = ["x".repeat(2 << 20)]), true],
    ];
    const ch = await admin.createChannel();
    const expected = { ran: 0, dead: [] };
    for (const [i, [mutate, runs]] of cases.entries()) {
      const id = `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`;
      const b = body(id);
      mutate(b);
      ch.sendToQueue("h", Buffer.from(JSON.stringify(b)), { persistent: true });
      if (runs) expected.ran += 1;
      else expected.dead.push(id);
    }
    const [head, tail] = JSON.stringify(body("utf8")).split('"args":[1]');
    ch.sendToQueue("h", Buffer.concat([Buffer.from(`${head}"args":["`), Buffer.from([0xff, 0xfe]), Buffer.from(`"]${tail}`)]));
    ch.sendToQueue("h", Buffer.alloc(0));
    await ch.close();
    const deadCount = expected.dead.length + 2;
    const counts = async () => {
      const c = await admin.createChannel();
      try {
        return await Promise.all(["h", "h.DQ", "h.XQ"].map(async (q) => (await c.checkQueue(q)).messageCount));
      } finally {
        await c.close();
      }
    };
    const worker = new Worker(broker, { concurrency: 4 }).start();
    try {
      await eventually(async () => {
        const [q, dq, xq] = await counts();
        return q === 0 && dq === 0 && xq === deadCount && ran.length === expected.ran;
      }, "every message settled");
    } finally {
      await worker.stop();
    }
    await broker.close();
    assert.deepEqual(await counts(), [0, 0, deadCount], "nothing left, nothing lost");
    assert.equal(ran.length, expected.ran, "each runnable message ran once");
    const said = logger.lines.join("\n");
    for (const id of expected.dead) assert.match(said, new RegExp(`Dead-lettering a message from queue h that does not decode: .*\\(message_id "${id}"\\)`));
    assert.match(said, /Unexpected failure in afterWorkerShutdown of Hostile/);
    assert.equal(unhandled.length, 0, String(unhandled[0]?.toString?.()));
    assert.equal(await healthy(), true);
  });
});

test("createGateway refuses a token that is not a string (an object would be compared as \"[object Object]\")", async () => {
  const { createGateway } = await import("dramatiq-results/gateway");
  const { RedisBrokerKeys } = await import("dramatiq-results");
  const base = { redis: { sendCommand: async () => null }, brokerKeys: new RedisBrokerKeys("dramatiq") };
  for (const name of ["token", "operatorToken"]) {
    for (const value of [{ secret: "s3cret-s3cret-s3cret" }, ["s3cret-s3cret-s3cret"], 12345, true]) {
      assert.throws(() => createGateway({ ...base, [name]: value }), (e) => e instanceof TypeError && e.message.includes(`option ${name} must be a string`));
    }
  }
  const app = createGateway({ ...base, token: "s3cret-s3cret-s3cret", operatorToken: null });
  app.poller.stop();
});

test("createGateway's events: a misspelled name, a value that would spin the poller, or a poller part is refused", async () => {
  const { createGateway } = await import("dramatiq-results/gateway");
  const { RedisBrokerKeys } = await import("dramatiq-results");
  const base = { redis: { sendCommand: async () => null }, brokerKeys: new RedisBrokerKeys("dramatiq") };
  assert.throws(() => createGateway({ ...base, events: { intervalMS: 100 } }), /createGateway\(\): events: unknown option "intervalMS"; accepted: intervalMs/);
  for (const intervalMs of [0, -1, NaN, "fast", 0.5]) {
    assert.throws(() => createGateway({ ...base, events: { intervalMs } }), /events: option intervalMs must be a whole number, 1 or more/);
  }
  // Not a setting: it would have replaced the poller's broker reader and its log.
  assert.throws(() => createGateway({ ...base, events: { reader: {}, log: () => {} } }), /unknown option "reader"/);
  // The same for cors (one origin) and hosts (names): other values were taken silently, or
  // failed later with "h.includes is not a function".
  for (const cors of [5, {}, ["https://a.example"], () => true]) {
    assert.throws(() => createGateway({ ...base, cors }), /option cors must be a string/);
  }
  assert.throws(() => createGateway({ ...base, hosts: ["ok.example", 5] }), /option hosts must hold host names \(strings\), got 5/);
  const app = createGateway({ ...base, events: { intervalMs: 250, resultGraceMs: 0 }, cors: "https://ops.example.com", hosts: ["ok.example"] });
  app.poller.stop();
  assert.equal(app.poller.intervalMs, 250);
});
