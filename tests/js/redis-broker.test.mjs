// RedisBroker against the real thing: a real redis-server, a real Python Dramatiq 2.2.1
// worker (`dramatiq --processes 1`, tests/py/broker_app.py) and producer (produce.py).
// JS sends → Python runs; Python sends → JS runs; both workers on one queue with one
// killed; malformed bodies, unknown actors and a server restart.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import IORedis from "ioredis";
import {
  JSONEncoder,
  Message,
  RedisBackend,
  RedisBroker,
  ResultError,
  ResultFailure,
  Worker,
  actor,
  group,
  pipeline,
} from "dramatiq-results";
import { haveRedis, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { sleep, text } from "./helpers.mjs";
import {
  brokerVectors,
  declarePythonAppActors,
  eventually,
  middlewareWith,
  pythonSends,
  pythonSendsExpected,
  recordingLogger,
} from "./broker-helpers.mjs";

const skip = (!haveRedis && "no redis-server (scripts/setup --services)") ||
  (!havePython && "no Python Dramatiq in target/venv (scripts/setup --python)") || false;

const encoder = new JSONEncoder();
const vectors = brokerVectors;

// A network broker's failed write must never surface as an unhandled rejection.
const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

describe("RedisBroker with Python Dramatiq 2.2.1", { skip }, () => {
  let server;
  let client;
  let blocking;
  let backend;

  before(async () => {
    server = await startRedis();
    client = createClient({ url: server.url, socket: { reconnectStrategy: () => 50 } });
    client.on("error", () => {});
    await client.connect();
    blocking = createClient({ url: server.url, socket: { reconnectStrategy: () => 50 } });
    blocking.on("error", () => {});
    await blocking.connect();
    backend = new RedisBackend(client, { blockingClient: blocking });
  });

  after(async () => {
    assert.deepEqual(unhandled, [], "no unhandled rejection");
    await client?.quit().catch(() => {});
    await blocking?.quit().catch(() => {});
    await server?.stop();
  });

  test("enqueue writes Python's bytes: every vector's body, one script call, a fresh redis_message_id", async () => {
    const broker = new RedisBroker(client, { namespace: "vec" });
    for (const c of vectors.cases) {
      if (!c.encoded || !c.message) continue;
      const original = Message.fromDict(encoder.decode(new TextEncoder().encode(c.encoded)));
      const sent = await broker.enqueue(original);
      const id = sent.options.redis_message_id;
      assert.notEqual(id, c.message.options.redis_message_id, c.case);
      const stored = await client.hGet(`vec:${sent.queueName}.msgs`, id);
      assert.equal(stored, c.encoded.replace(c.message.options.redis_message_id, id), c.case);
      assert.deepEqual(await client.lRange(`vec:${sent.queueName}`, -1, -1), [id], c.case);
    }
    // A delay puts it on <q>.DQ with eta, as Dramatiq does.
    const add = actor("add", { broker, queueName: "q" });
    const before = Date.now();
    const delayed = add.sendWithOptions({ args: [1, 2], delay: 5000 });
    assert.equal(delayed.queueName, "q.DQ");
    assert.ok(delayed.options.eta >= before + 5000 && delayed.options.eta <= Date.now() + 5000);
    assert.equal(await delayed.enqueued, delayed);
    assert.equal(await client.hGet("vec:q.DQ.msgs", delayed.options.redis_message_id), text(delayed.encode()));
    // Arguments that cannot be encoded: a TypeError, nothing written.
    const size = await client.hLen("vec:q.msgs");
    assert.throws(() => add.send(() => 1), TypeError);
    assert.throws(() => add.send(Symbol("s")), TypeError);
    const cycle = {};
    cycle.self = cycle;
    assert.throws(() => add.send(cycle), TypeError);
    assert.equal(await client.hLen("vec:q.msgs"), size);
  });

  test("a delay of 0 goes to the delay queue with an eta, as Python's enqueue(delay=0) does", async () => {
    await runPython("produce.py", ["send", '{"actor":"add","args":[1],"delay":0}'], { broker: "redis", url: server.url, queue: "d0py" });
    const broker = new RedisBroker(client, { logger: recordingLogger(), middleware: [] });
    const sent = await broker.enqueue(new Message({ queueName: "d0js", actorName: "add", args: [1] }), { delay: 0 });
    assert.equal(sent.queueName, "d0js.DQ");
    for (const q of ["d0py", "d0js"]) {
      assert.deepEqual([await client.lLen(`dramatiq:${q}`), await client.lLen(`dramatiq:${q}.DQ`)], [0, 1], q);
      const [body] = await client.hVals(`dramatiq:${q}.DQ.msgs`);
      assert.equal(typeof JSON.parse(body).options.eta, "number", q);
    }
  });

  test("send() then broker.close() then the client's close: every message is on Redis, as Python's blocking send", async () => {
    const own = createClient({ url: server.url });
    own.on("error", () => {});
    await own.connect();
    const broker = new RedisBroker(own, { logger: recordingLogger(), middleware: [] });
    const add = actor("add", { broker, queueName: "send_then_close" });
    const sent = Array.from({ length: 10 }, (_, i) => add.send(i));
    await broker.close(); // had returned at once, and the client's close below failed every write
    await own.quit();
    const settled = await Promise.allSettled(sent.map((m) => m.enqueued));
    assert.deepEqual(settled.map((r) => r.status), Array(10).fill("fulfilled"));
    assert.equal(await client.lLen("dramatiq:send_then_close"), 10);
  });

  test("a failed write rejects message.enqueued and getResult, logs, and leaves no unhandled rejection", async () => {
    const dead = createClient({ url: server.url });
    dead.on("error", () => {});
    await dead.connect();
    await dead.quit();
    const logger = recordingLogger();
    const broker = new RedisBroker(dead, { logger, middleware: middlewareWith(backend) });
    const add = actor("add", { broker });
    const m = add.send(1, 2);
    await assert.rejects(m.enqueued, (e) => e instanceof ResultError && e.code === "RESULT_BROKER" && e.cause !== undefined);
    await assert.rejects(m.getResult({ timeout: 100 }), ResultError);
    await assert.rejects(broker.enqueue(add.message(1)), /closed/);
    assert.ok(logger.lines.some((l) => l.startsWith("error Could not enqueue message")), logger.lines.join("\n"));
  });

  test("JS sends 1 000 messages, the Python worker runs them, JS reads every result: 0 lost, 0 wrong", { timeout: 120_000 }, async (t) => {
    const queue = "js2py";
    const worker = await startPythonWorker({ url: server.url, queue, threads: 8, prefix: "js2py" });
    try {
      const broker = new RedisBroker(client, { middleware: middlewareWith(backend) });
      const opts = { broker, queueName: queue, storeResults: true };
      const add = actor("add", opts);
      const echo = actor("echo", opts);
      const fail = actor("fail", opts);
      const retryOnce = actor("retry_once", opts);
      const expected = []; // [message, check(outcome)]
      const value = (v) => (o) => assert.deepEqual(o.value, v);
      // The vectors' argument kinds, through Python and back.
      for (const c of vectors.cases) {
        if (!c.message || c.message.actor_name !== "add") continue;
        const m = Message.fromDict(encoder.decode(new TextEncoder().encode(c.encoded)));
        for (let i = 0; i < 10; i++) {
          const sent = echo.sendWithOptions({ args: m.args, kwargs: m.kwargs });
          expected.push([sent, value({ args: m.args, kwargs: m.kwargs })]);
        }
      }
      const pipe = pipeline([add.message(1, 2), add.message(10), add.message(100)], { broker }).run();
      expected.push([pipe.messages[2], value(113)]);
      const g = group(Array.from({ length: 10 }, (_, i) => add.message(i, i)), { broker }).run();
      g.children.forEach((m, i) => expected.push([m, value(2 * i)]));
      for (let i = 0; i < 5; i++) {
        expected.push([fail.send(`boom ${i} \u2622`), (o) => {
          assert.ok(o.error instanceof ResultFailure, String(o.error));
          assert.equal(o.error.exceptionType, "AppError");
          assert.equal(o.error.exceptionValue, `boom ${i} \u2622`);
        }]);
      }
      for (let i = 0; i < 5; i++) expected.push([retryOnce.send(`k${i}-${Date.now()}`), value(2)]);
      // Lone surrogates (a text cut inside a pair, or Python's surrogateescape) go as
      // Python writes them, and come back.
      const lone = { args: ["caf\udce9", ["\ud800x"]], kwargs: { k: "\udfff" } };
      expected.push([echo.sendWithOptions(lone), value(lone)]);
      for (let i = 0; i < 100; i++) {
        expected.push([add.sendWithOptions({ args: [i], kwargs: { y: 1 }, delay: 50 + (i % 10) * 30 }), value(i + 1)]);
      }
      // 1 000 messages sent in all (a pipeline's later steps are sent by Python).
      let i = 0;
      while (expected.length + 2 < 1000) {
        const n = i++;
        expected.push([n % 2 ? add.send(n, n) : add.sendWithOptions({ args: [n], kwargs: { y: 0.5 } }), value(n % 2 ? 2 * n : n + 0.5)]);
      }
      assert.equal(expected.length + 2, 1000);
      await Promise.all(expected.map(([m]) => m.enqueued).filter(Boolean));
      await pipe.enqueued;
      await g.enqueued;

      const byId = new Map(expected.map(([m, check]) => [m.messageId, check]));
      let seen = 0;
      let wrong = 0;
      for await (const outcome of backend.iterResults(expected.map(([m]) => m), { block: true, timeout: 90_000 })) {
        seen += 1;
        try {
          byId.get(outcome.message.messageId)(outcome);
        } catch (e) {
          wrong += 1;
          if (wrong < 5) t.diagnostic(`wrong: ${outcome.message} → ${outcome.error ?? JSON.stringify(String(outcome.value))}: ${e.message}`);
        }
      }
      t.diagnostic(`1000 sent, ${seen} outcomes read, ${wrong} wrong`);
      assert.equal(seen, expected.length);
      assert.equal(wrong, 0);
    } finally {
      await worker.stop();
    }
  });

  test("Python sends, the JS worker runs, Python's get_result reads every result and failure", { timeout: 60_000 }, async () => {
    const queue = "py2js";
    const logger = recordingLogger();
    const broker = new RedisBroker(client, { middleware: middlewareWith(backend), logger });
    const opts = { broker, queueName: queue, storeResults: true };
    declarePythonAppActors(opts);
    const worker = new Worker(broker, { concurrency: 4 }).start();
    try {
      const { sent, got } = await pythonSends({ url: server.url, queue, prefix: "py2js" }, 20_000);
      assert.deepEqual(got, pythonSendsExpected);
      // The failed message is dead-lettered where Dramatiq puts it.
      const failId = JSON.parse(sent[3]).message_id;
      const dead = await client.hVals("dramatiq:py2js.XQ.msgs");
      assert.ok(dead.some((body) => body.includes(failId)), "fail's message is in py2js.XQ");
    } finally {
      await worker.stop();
    }
    assert.equal(await client.lLen("dramatiq:py2js"), 0);
    assert.equal(await client.hLen("dramatiq:py2js.msgs"), 0, "every message acked, nothing held");
  });

  test("a Python and a JS worker on one queue, the Python one SIGKILLed mid-batch: every message processed", { timeout: 90_000 }, async (t) => {
    const queue = "mixed";
    const prefix = "mixed";
    const list = `${prefix}:processed`;
    const logger = recordingLogger();
    // A short heartbeat timeout and maintenance on every call, so the killed worker's
    // messages come back within seconds (Dramatiq's defaults: 60 s, one call in a thousand).
    const broker = new RedisBroker(client, { logger, middleware: middlewareWith(backend), heartbeatTimeout: 3000, maintenanceChance: 1_000_000 });
    const record = actor(async () => {
      await sleep(5);
      return null;
    }, { broker, queueName: queue, actorName: "record" });
    // The JS record appends its message id to the same list as Python's.
    broker.addMiddleware({
      async afterProcessMessage(_b, message, { exception }) {
        if (message.actorName === "record" && exception === undefined) await client.rPush(list, message.messageId);
      },
    });
    const py = await startPythonWorker({ url: server.url, queue, threads: 4, prefix });
    const js = new Worker(broker, { concurrency: 4 }).start();
    try {
      const sent = [];
      for (let i = 0; i < 400; i++) sent.push(record.send(`t${i}`));
      await Promise.all(sent.map((m) => m.enqueued));
      // Both take batches; then the Python worker dies with what it holds.
      await eventually(async () => (await client.lLen(list)) >= 40, "both processing");
      const pyKey = (await client.keys(`dramatiq:__acks__.*.${queue}`)).find((k) => !k.includes(broker.brokerId));
      const held = pyKey ? await client.sCard(pyKey) : 0;
      await py.kill();
      t.diagnostic(`the Python worker was killed holding ${held} message(s)`);
      const ids = sent.map((m) => m.messageId);
      const want = new Set(ids);
      const processed = await eventually(async () => {
        const seen = await client.lRange(list, 0, -1);
        const got = new Set(seen);
        return [...want].every((id) => got.has(id)) && seen;
      }, "every message processed", 60_000);
      const duplicates = processed.length - new Set(processed).size;
      t.diagnostic(`${ids.length} sent, ${processed.length} processed, ${duplicates} duplicate(s) (at least once)`);
      assert.equal(new Set(processed).size, ids.length);
      assert.ok(logger.lines.every((l) => !l.startsWith("error")), logger.lines.join("\n"));
    } finally {
      await js.stop();
      await py.kill();
    }
  });

  test("malformed bodies, an unknown actor, a server restart: logged, dead-lettered, the worker keeps going", { timeout: 60_000 }, async () => {
    const queue = "bad";
    const logger = recordingLogger();
    // Its own connection, failing commands at once while disconnected (no offline queue),
    // so the outage is seen by the fetch loop whatever it was doing then.
    const own = createClient({ url: server.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
    own.on("error", () => {});
    await own.connect();
    const broker = new RedisBroker(own, { logger, middleware: middlewareWith(backend) });
    const add = actor((x, y) => x + y, { broker, queueName: queue, actorName: "add", storeResults: true });
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      // By hand: not JSON, JSON that is not a message, a message for an actor nobody has.
      await client.hSet("dramatiq:bad.msgs", "id-notjson", "not json {");
      await client.rPush("dramatiq:bad", "id-notjson");
      await client.hSet("dramatiq:bad.msgs", "id-fields", '{"queue_name":"bad","options":{"redis_message_id":"id-fields"}}');
      await client.rPush("dramatiq:bad", "id-fields");
      const stranger = await broker.enqueue(new Message({ queueName: queue, actorName: "nobody", args: [1] }));
      assert.equal(await add.send(1, 2).getResult({ block: true, timeout: 10_000 }), 3);
      const strangerId = stranger.options.redis_message_id;
      await eventually(async () => (await client.zCard("dramatiq:bad.XQ")) === 3, "three dead letters");
      assert.deepEqual((await client.zRange("dramatiq:bad.XQ", 0, -1)).sort(), ["id-fields", "id-notjson", strangerId].sort());
      assert.equal(await client.hGet("dramatiq:bad.XQ.msgs", "id-notjson"), "not json {");
      const said = logger.lines.join("\n");
      assert.match(said, /Dead-lettering message id-notjson from queue bad: its body is not JSON/);
      assert.match(said, /Dead-lettering message id-fields from queue bad: its body is not a Dramatiq message: .*missing/);
      assert.match(said, /Received message for undefined actor 'nobody'\. Moving it to the DLQ\./);

      // The server goes away mid-fetch and comes back (empty: no persistence).
      await server.kill();
      await sleep(300);
      await server.start();
      await eventually(() => logger.lines.some((l) => l.startsWith("error Could not fetch from queue bad")), "the outage logged");
      await eventually(() => logger.lines.some((l) => l.includes("works again")), "fetching again");
      assert.equal(await add.send(20, 22).getResult({ block: true, timeout: 15_000 }), 42);
    } finally {
      await worker.stop();
      await own.quit().catch(() => {});
    }
  });

  test("a JS worker that dies holding messages: another worker's maintenance puts them back", { timeout: 30_000 }, async () => {
    const dead = new RedisBroker(client, { namespace: "hb", middleware: [] });
    const job = actor("job", { broker: dead, queueName: "hb" });
    for (let i = 0; i < 10; i++) await job.send(i).enqueued;
    // Fetches four and is never heard of again (no ack, no heartbeat).
    const transport = dead[Object.getOwnPropertySymbols(dead).find((s) => s.description === "dramatiq.redisTransport")];
    const taken = await transport.fetch("hb", 4);
    assert.equal(taken.messages.length, 4);
    assert.equal(await client.sCard(`hb:__acks__.${dead.brokerId}.hb`), 4);
    const live = new RedisBroker(client, { namespace: "hb", middleware: [], heartbeatTimeout: 1000, maintenanceChance: 1_000_000 });
    const ran = [];
    actor((i) => void ran.push(i), { broker: live, actorName: "job", queueName: "hb" });
    const worker = new Worker(live, { concurrency: 2 }).start();
    try {
      await eventually(() => ran.length === 10, "all ten run, the dead worker's four included");
      assert.deepEqual([...ran].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.equal(await client.exists(`hb:__acks__.${dead.brokerId}.hb`), 0);
      await worker.join({ timeout: 5000 }); // qsize is 0: nothing stored, nothing held
    } finally {
      await worker.stop();
    }
  });

  test("messages a worker holds run by actor priority, lower first", async () => {
    const broker = new RedisBroker(client, { namespace: "prio", middleware: [] });
    const order = [];
    const low = actor(() => void order.push("low"), { broker, actorName: "low", queueName: "p", priority: 10 });
    const high = actor(() => void order.push("high"), { broker, actorName: "high", queueName: "p", priority: 0 });
    await low.send().enqueued;
    await high.send().enqueued;
    const worker = new Worker(broker, { concurrency: 1 }).start(); // prefetch 2: both in one fetch
    try {
      await eventually(() => order.length === 2, "both run");
      assert.deepEqual(order, ["high", "low"]);
    } finally {
      await worker.stop();
    }
  });

  test("stop() finishes in-flight messages and requeues prefetched ones; ioredis works too", { timeout: 30_000 }, async () => {
    const io = new IORedis(server.url);
    try {
      const broker = new RedisBroker(io, { namespace: "stop", middleware: middlewareWith(backend) });
      let started = 0;
      let finished = 0;
      const slow = actor(async () => {
        started += 1;
        await sleep(200);
        finished += 1;
        return 1;
      }, { broker, queueName: "s", actorName: "slow", storeResults: true });
      for (let i = 0; i < 20; i++) slow.send();
      await slow.send().enqueued;
      const worker = new Worker(broker, { concurrency: 2 }).start();
      await eventually(() => started >= 2, "two started");
      await worker.stop();
      assert.equal(started, finished, "in-flight messages finished");
      // Nothing lost: every unstarted message is back on the queue, nothing held.
      assert.equal(Number(await io.llen("stop:s")), 21 - finished);
      assert.equal(Number(await io.hlen("stop:s.msgs")), 21 - finished);
      const held = await io.keys("stop:__acks__.*");
      for (const k of held) assert.equal(Number(await io.scard(k)), 0, k);
      await broker.flush("s");
      assert.equal(Number(await io.llen("stop:s")), 0);
    } finally {
      io.disconnect();
    }
  });

  test("big delayed messages: a worker holds a bounded number of bytes, and one too big is dead-lettered with its reason, never handed on", { timeout: 60_000 }, async () => {
    const logger = recordingLogger();
    const limits = { prefetchBytes: 8 << 20, maxMessageBytes: 2 << 20 };
    const broker = new RedisBroker(client, { namespace: "big", middleware: [], logger, ...limits });
    const ran = [];
    const big = actor((s) => void ran.push(s.length), { broker, actorName: "big", queueName: "big" });
    const mb = "x".repeat(1 << 20);
    // In batches: 40 MB queued at once can pass node-redis's 5 s command timeout on a
    // loaded machine (then the send says the message "may have been enqueued").
    for (let i = 0; i < 40; i += 10) {
      const delayed = [];
      for (let j = 0; j < 10; j++) delayed.push(big.sendWithOptions({ args: [mb], delay: 3_600_000 }).enqueued);
      await Promise.all(delayed);
    }
    assert.equal(await client.lLen("big:big.DQ"), 40);
    // Written by a producer without the limit (this broker would refuse to send it).
    const producer = new RedisBroker(client, { namespace: "big", middleware: [] });
    const huge = await actor("big", { broker: producer, queueName: "big" }).send("y".repeat(3 << 20)).enqueued;
    await big.send("small").enqueued;
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await eventually(() => ran.includes(5), "the small message ran");
      await eventually(async () => (await client.zCard("big:big.XQ")) === 1, "the 3 MiB message dead-lettered");
      assert.ok(!ran.includes(3 << 20), "the 3 MiB message never ran");
      assert.match(logger.lines.join("\n"), /over the worker's limit of 2097152 bytes \(maxMessageBytes\)/);
      const id = huge.options.redis_message_id;
      assert.ok(await client.hExists("big:big.XQ.msgs", id));
      await sleep(1500); // several fetch rounds
      // At most the byte budget and one message over it, not all forty.
      const held = await client.sCard(`big:__acks__.${broker.brokerId}.big.DQ`);
      assert.ok(held >= 1 && held <= 9, `${held} delayed messages held`);
    } finally {
      await worker.stop();
    }
    // Sending one over the limit is refused before anything is written.
    await assert.rejects(big.send("z".repeat(3 << 20)).enqueued, /over maxMessageBytes \(2097152 bytes\); nothing was written/);
    // Stop gave them back: all forty wait on the delay queue, none lost.
    const back = await client.lLen("big:big.DQ");
    assert.equal(back, 40, `${back} on the delay queue; log: ${logger.lines.join("\n")}`);
    await broker.flush("big");
  });

  test("stop({ timeout }) resolves by its timeout with an actor that never settles; what it held stays held", { timeout: 30_000 }, async () => {
    const logger = recordingLogger();
    const broker = new RedisBroker(client, { namespace: "stopt", middleware: [], logger });
    let started = 0;
    const hang = actor(() => { started += 1; return new Promise(() => {}); }, { broker, actorName: "hang", queueName: "h" });
    await hang.send().enqueued;
    const worker = new Worker(broker, { concurrency: 1 }).start();
    await eventually(() => started === 1, "it started");
    const t0 = Date.now();
    await worker.stop({ timeout: 300 });
    const took = Date.now() - t0;
    assert.ok(took >= 290 && took < 5000, `${took} ms`);
    assert.match(logger.lines.join("\n"), /timeout of 300 ms with 1 message\(s\) still running/);
    // Not acked: still in this worker's ack set, for the heartbeat timeout to give back.
    assert.equal(await client.sCard(`stopt:__acks__.${broker.brokerId}.h`), 1);
  });
});
