// RabbitmqBroker against a real RabbitMQ node and the real Python Dramatiq 2.2.1
// (tests/py/broker_app.py, produce.py): queues declared in either order without
// PRECONDITION_FAILED, published bodies byte for byte Python's, and 1 000 JS-sent messages
// run by a Python worker with every result read back from Redis.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import amqplib from "amqplib";
import {
  ConnectionClosed,
  QueueJoinTimeout,
  Worker,
  JSONEncoder,
  Message,
  RabbitmqBroker,
  RedisBackend,
  ResultFailure,
  actor,
  group,
  pipeline,
} from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";
import {
  brokerVectors,
  declarePythonAppActors,
  eventually,
  middlewareWith,
  pythonSends,
  pythonSendsExpected,
  recordingLogger,
} from "./broker-helpers.mjs";

const skip =
  [
    !haveRedis && "no redis-server (scripts/setup --services)",
    !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)",
    !havePython && "no Python Dramatiq in target/venv (scripts/setup --python)",
  ]
    .filter(Boolean)
    .join("; ") || false;

const encoder = new JSONEncoder();
const vectors = brokerVectors;

/** The vector messages as dicts, without RedisBroker's `redis_message_id`. */
function vectorDicts() {
  const dicts = [];
  for (const c of vectors.cases) {
    for (const m of c.message ? [c.message] : c.messages ?? []) {
      const { redis_message_id: _, ...options } = m.options;
      dicts.push({ case: c.case, dict: { ...m, options } });
    }
  }
  return dicts;
}

/** Every message on `queue` now, in order, taken off it: `{ body, properties }`. */
async function drain(ch, queue) {
  const out = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    let id;
    try {
      id = Message.decode(m.content).messageId;
    } catch {
      // Not a message (the malformed-input test's bodies).
    }
    out.push({ body: m.content.toString("utf8"), id, properties: m.properties });
  }
}


describe("RabbitmqBroker with Python Dramatiq", { skip }, () => {
  let redis;
  let rabbit;
  let redisClient;
  let backend;
  let admin; // a plain amqplib connection for looking at queues
  const brokers = [];

  const conn = (queue, extra = {}) => ({ broker: "rabbitmq", url: rabbit.url, resultsUrl: redis.url, queue, ...extra });
  const middleware = () => middlewareWith(backend);
  const open = async (options = {}) => {
    const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: middleware(), ...options });
    brokers.push(broker);
    return broker;
  };
  /** `queue`'s `checkQueue` counts, read on a connection of its own: an earlier test's
   * server restart closed `admin`'s. */
  const queueInfo = async (queue) => {
    const look = await amqplib.connect(rabbit.url);
    try {
      return await (await look.createChannel()).checkQueue(queue);
    } finally {
      await look.close();
    }
  };

  before(async () => {
    [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
    redisClient = await createClient({ url: redis.url }).connect();
    backend = new RedisBackend(redisClient);
    admin = await amqplib.connect(rabbit.url);
  });

  after(async () => {
    for (const b of brokers) await b.close();
    await admin?.close().catch(() => {});
    await redisClient?.destroy();
    await rabbit?.stop();
    await redis?.stop();
  });

  test("a queue Python declared first is declared again without PRECONDITION_FAILED", async () => {
    await runPython("produce.py", ["send", '{"actor":"add","args":[1,2]}'], conn("pyfirst"));
    // Confirmed publishes, so the counts below include them.
    const broker = await open({ confirmDelivery: true });
    const sent = await broker.enqueue(new Message({ queueName: "pyfirst", actorName: "add", args: [3, 4] }));
    await broker.enqueue(sent, { delay: 10 });
    assert.deepEqual(await broker.getQueueMessageCounts("pyfirst"), [2, 1, 0]);
    // The check can fail: other arguments (a max priority Python's broker lacks) are refused.
    const other = await open({ maxPriority: 5 });
    await assert.rejects(other.ensureQueue("pyfirst"), /PRECONDITION[-_]FAILED/);
  });

  test("a queue JS declared first is declared again by Python's producer", async () => {
    const broker = await open({ confirmDelivery: true });
    await broker.enqueue(new Message({ queueName: "jsfirst", actorName: "add", args: [1, 1] }));
    await broker.enqueue(new Message({ queueName: "jsfirst", actorName: "add", args: [2, 2] }), { delay: 60_000 });
    const sent = await runPython("produce.py", ["send", '{"actor":"add","args":[5,5]}', '{"actor":"add","args":[6],"delay":60000}'], conn("jsfirst"));
    assert.equal(sent.length, 2);
    assert.deepEqual(await broker.getQueueMessageCounts("jsfirst"), [2, 2, 0]);
    // And Python's confirm-delivery producer (mandatory publishes) too.
    await runPython("produce.py", ["send", '{"actor":"add","args":[7,7]}'], conn("jsfirst", { confirm: true }));
    assert.deepEqual(await broker.getQueueMessageCounts("jsfirst"), [3, 2, 0]);
  });

  test("with a max priority, in both orders: Python's and ours declare alike (and differ from the default)", async () => {
    const prio = (queue) => conn(queue, { env: { BROKER_MAX_PRIORITY: "10" } });
    // Python first, then us.
    await runPython("produce.py", ["send", '{"actor":"add","args":[1,2]}'], prio("prio-py"));
    const broker = await open({ maxPriority: 10, confirmDelivery: true });
    await broker.enqueue(new Message({ queueName: "prio-py", actorName: "add", args: [1], options: { broker_priority: 7 } }));
    // Us first, then Python.
    await broker.enqueue(new Message({ queueName: "prio-js", actorName: "add", args: [1] }), { delay: 1000 });
    await runPython("produce.py", ["send", '{"actor":"add","args":[3,4]}'], prio("prio-js"));
    assert.deepEqual(await broker.getQueueMessageCounts("prio-py"), [2, 0, 0]);
    assert.deepEqual(await broker.getQueueMessageCounts("prio-js"), [1, 1, 0]);
    // A Python broker without max_priority is refused on these queues, as ours would be.
    await assert.rejects(runPython("produce.py", ["send", '{"actor":"add","args":[1,2]}'], conn("prio-js")), /PRECONDITION_FAILED|406/);
    const plain = await open();
    await assert.rejects(plain.ensureQueue("prio-py"), /PRECONDITION[-_]FAILED/);
  });

  for (const confirmDelivery of [false, true]) {
    test(`published bodies and properties are Python's for every broker vector (confirmDelivery ${confirmDelivery})`, async () => {
      const broker = await open({ confirmDelivery });
      const ch = await admin.createChannel();
      try {
        const cases = vectorDicts();
        cases.push({ case: "broker_priority", dict: { ...cases[0].dict, message_id: "prio-1", options: { broker_priority: 3 } } });
        const queues = [...new Set(cases.map((c) => c.dict.queue_name))];
        // Unconfirmed publishes land a moment later: read until all are there (or 10 s).
        const read = async () => {
          const out = new Map();
          const deadline = Date.now() + 10_000;
          while (out.size < cases.length && Date.now() < deadline) {
            for (const q of queues) for (const m of await drain(ch, q)) out.set(m.id, m);
            if (out.size < cases.length) await new Promise((r) => setTimeout(r, 20));
          }
          return out;
        };
        for (const q of queues) await broker.ensureQueue(q);
        for (const q of queues) await drain(ch, q);
        for (const { dict } of cases) await broker.enqueue(Message.fromDict(dict));
        const ours = await read();
        const lines = cases.map(({ dict }) => encoder.encode(dict)).map((b) => Buffer.from(b).toString("utf8"));
        await runPython("produce.py", ["enqueue"], { ...conn("default"), input: lines.join("\n") });
        const theirs = await read();
        assert.equal(ours.size, cases.length);
        assert.equal(theirs.size, cases.length);
        for (const { case: name, dict } of cases) {
          const a = ours.get(dict.message_id);
          const b = theirs.get(dict.message_id);
          assert.equal(a.body, b.body, name);
          assert.equal(a.properties.deliveryMode, 2, name);
          assert.equal(a.properties.deliveryMode, b.properties.deliveryMode, name);
          assert.equal(a.properties.priority, b.properties.priority, name);
          // The one difference on the wire: amqplib always sends a headers table (empty).
          assert.equal(b.properties.headers, undefined, name);
          assert.deepEqual({ ...a.properties.headers }, {}, name);
        }
        assert.equal(ours.get("prio-1").properties.priority, 3);
        // A delay goes to <q>.DQ with an eta, as Python's.
        const delayed = await broker.enqueue(Message.fromDict(cases[0].dict), { delay: 5000 });
        let onDq;
        for (let i = 0; i < 500 && !onDq; i++) [onDq] = await drain(ch, "default.DQ");
        assert.equal(onDq.body, Buffer.from(delayed.encode()).toString("utf8"));
        assert.equal(delayed.queueName, "default.DQ");
        assert.ok(Math.abs(delayed.options.eta - Date.now() - 5000) < 5000);
        assert.equal(delayed.options.redis_message_id, undefined);
      } finally {
        await ch.close();
      }
    });
  }

  test("a producer that enqueues or sends and closes at once has sent every message, as Python's", async () => {
    // Python's producer process sends and exits: each message is on RabbitMQ.
    await runPython("produce.py", ["send", ...Array.from({ length: 20 }, (_, i) => `{"actor":"add","args":[${i}]}`), '{"actor":"add","args":[0],"delay":60000}'], conn("py_then_exit"));
    const counts = async (queue) => {
      const ch = await admin.createChannel();
      const [ready, delayed] = [(await ch.checkQueue(queue)).messageCount, (await ch.checkQueue(`${queue}.DQ`)).messageCount];
      await ch.close();
      return [ready, delayed];
    };
    // RabbitMQ routes a channel's publishes to a queue asynchronously: another channel's
    // count may lag a moment behind, so it is read until it matches (or 5 s went by).
    const settled = async (queue, want) => {
      let got;
      await eventually(async () => String(got = await counts(queue)) === String(want), `${queue}: ${want}`, 5000).catch(() => {});
      return got;
    };
    assert.deepEqual(await settled("py_then_exit", [20, 1]), [20, 1]);
    // The same from JS: each enqueue resolved, then close() at once. amqplib had put the
    // connection's Close ahead of the buffered publishes, and RabbitMQ dropped every one.
    const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: [] });
    for (let i = 0; i < 20; i++) await broker.enqueue(new Message({ queueName: "js_then_close", actorName: "add", args: [i] }));
    await broker.enqueue(new Message({ queueName: "js_then_close", actorName: "add", args: [0] }), { delay: 60_000 });
    await broker.close();
    assert.deepEqual(await settled("js_then_close", [20, 1]), [20, 1]);
    // And sends not awaited (Python's send() has published when it returns): close() lets
    // them finish instead of failing each with "the broker is closed".
    for (const confirmDelivery of [false, true]) {
      const queue = `js_send_close_${confirmDelivery}`;
      const b = await RabbitmqBroker.connect(rabbit.url, { middleware: [], confirmDelivery, logger: recordingLogger() });
      const add = actor("add", { broker: b, queueName: queue });
      const sent = Array.from({ length: 10 }, (_, i) => add.send(i));
      await b.close();
      const outcomes = await Promise.allSettled(sent.map((m) => m.enqueued));
      assert.deepEqual(outcomes.map((r) => r.status), Array(10).fill("fulfilled"), `confirmDelivery ${confirmDelivery}`);
      assert.deepEqual(await settled(queue, [10, 0]), [10, 0]);
    }
  });

  test("join: an empty queue resolves, one holding a message rejects at its timeout with QueueJoinTimeout(queue name), as Python's RabbitmqBroker.join", async () => {
    const broker = await open({ confirmDelivery: true });
    broker.declareQueue("joined");
    await broker.ensureQueue("joined");
    await broker.join("joined", { timeout: 5_000, minSuccesses: 2, idleTime: 10 });
    await broker.enqueue(new Message({ queueName: "joined", actorName: "add", args: [1, 2] }));
    await assert.rejects(broker.join("joined", { timeout: 200, idleTime: 10 }), (e) => e instanceof QueueJoinTimeout && e.message === "joined");
    const ch = await admin.createChannel();
    assert.equal((await drain(ch, "joined")).length, 1, "join takes nothing off the queue");
    await ch.close();
  });

  test("a publish to a queue deleted behind the broker's back is redeclared and delivered (confirmDelivery) (test_rabbitmq_broker_enqueueing_message_re_declares_queues_when_declared_queue_disappears)", async () => {
    const broker = await open({ confirmDelivery: true });
    await broker.enqueue(new Message({ queueName: "vanish", actorName: "add", args: [1] }));
    const ch = await admin.createChannel();
    await ch.deleteQueue("vanish");
    const m = await broker.enqueue(new Message({ queueName: "vanish", actorName: "add", args: [2] }));
    const got = await drain(ch, "vanish");
    await ch.close();
    assert.deepEqual(got.map((g) => g.id), [m.messageId]);
  });

  test("JS → Python: 1 000 messages, every result read from Redis, none lost or wrong", async () => {
    const queue = "work";
    const worker = await startPythonWorker({ ...conn(queue, { prefix: "js2py" }), threads: 8 });
    try {
      const broker = await open();
      const msg = (actorName, args, kwargs = {}) => new Message({ queueName: queue, actorName, args, kwargs });
      const expect = []; // [message, check(outcome)]
      const value = (v) => (o) => assert.deepEqual(o, { value: v });
      // Vector argument kinds, echoed back as Python decoded them.
      const kinds = vectorDicts().filter((c) => c.dict.queue_name === "default" && c.dict.actor_name === "add");
      for (let i = 0; i < 100; i++) {
        const { dict } = kinds[i % kinds.length];
        const probe = Message.fromDict({ ...dict, options: {} });
        const m = msg("echo", probe.args, probe.kwargs);
        expect.push([m, value({ args: probe.args, kwargs: probe.kwargs })]);
        await broker.enqueue(m);
      }
      for (let i = 0; i < 50; i++) {
        const m = msg("add", [i], { y: 1000 });
        expect.push([m, value(i + 1000)]);
        await broker.enqueue(m, { delay: 200 + 20 * i });
      }
      for (let i = 0; i < 20; i++) {
        const m = msg("fail", [`boom ${i} \u2622`]);
        expect.push([m, (o) => assert.deepEqual(o, { failure: { type: "AppError", msg: `boom ${i} \u2622` } })]);
        await broker.enqueue(m);
      }
      const run = Date.now();
      for (let i = 0; i < 20; i++) {
        const m = msg("retry_once", [`k-${run}-${i}`]);
        expect.push([m, value(2)]);
        await broker.enqueue(m);
      }
      for (let i = 0; i < 10; i++) {
        const p = pipeline([msg("add", [i, 1]), msg("add", [10]), msg("add", [100])], { broker }).run();
        await p.enqueued;
        expect.push([p.messages.at(-1), value(i + 111)]);
      }
      const g = group(Array.from({ length: 10 }, (_, i) => msg("add", [i, i])), { broker }).run();
      await g.enqueued;
      for (const [i, m] of g.children.entries()) expect.push([m, value(2 * i)]);
      // The rest through a remote actor: send() returns at once, `enqueued` settles later.
      const add = actor("add", { queueName: queue, broker });
      const sends = [];
      for (let i = expect.length; i < 1000; i++) {
        const m = add.send(i, i);
        expect.push([m, value(2 * i)]);
        sends.push(m.enqueued);
      }
      await Promise.all(sends);
      assert.equal(expect.length, 1000);

      let lost = 0;
      let wrong = 0;
      const problems = [];
      await Promise.all(
        expect.map(async ([m, check]) => {
          let outcome;
          try {
            outcome = { value: await backend.getResult(m, { block: true, timeout: 60_000 }) };
          } catch (error) {
            if (error instanceof ResultFailure) outcome = { failure: { type: error.exceptionType, msg: error.exceptionValue } };
            else {
              lost += 1;
              problems.push(`${m}: ${error}`);
              return;
            }
          }
          try {
            check(outcome);
          } catch (error) {
            wrong += 1;
            problems.push(`${m}: ${error.message}`);
          }
        }),
      );
      console.log(`JS → Python: ${expect.length} messages, ${lost} lost, ${wrong} wrong`);
      assert.deepEqual({ lost, wrong, problems: problems.slice(0, 5) }, { lost: 0, wrong: 0, problems: [] });
    } finally {
      await worker.stop();
    }
  });

  test("Python sends, the JS worker runs, Python's get_result reads every result and failure", { timeout: 90_000 }, async () => {
    const queue = "py2js";
    const logger = recordingLogger();
    const broker = await open({ logger });
    const opts = { broker, queueName: queue, storeResults: true };
    declarePythonAppActors(opts);
    const worker = new Worker(broker, { concurrency: 4 }).start();
    try {
      const { sent, got } = await pythonSends(conn(queue, { prefix: "py2js" }), 30_000);
      assert.deepEqual(got, pythonSendsExpected);
      // The failed message and retry_once's first attempt were rejected: dead-lettered to
      // py2js.XQ by RabbitMQ, as Dramatiq's consumer does.
      const ch = await admin.createChannel();
      const dead = await eventually(async () => {
        const got = await drain(ch, `${queue}.XQ`);
        return got.length > 0 && got;
      }, "dead letters");
      await ch.close();
      const failId = JSON.parse(sent[3]).message_id;
      assert.ok(dead.some((d) => d.id === failId), "fail's message is in py2js.XQ");
      await eventually(async () => {
        const [ready, delayed] = await broker.getQueueMessageCounts(queue);
        return ready + delayed === 0;
      }, "queues drained");
    } finally {
      await worker.stop();
    }
    // Everything was acked: nothing comes back once the worker's channels are closed.
    const [ready, delayed] = await broker.getQueueMessageCounts(queue);
    assert.deepEqual([ready, delayed], [0, 0]);
  });

  test("a Python and a JS worker on one queue, the Python one SIGKILLed mid-batch: every message processed", { timeout: 120_000 }, async (t) => {
    const queue = "mixed";
    const prefix = "mixed";
    const list = `${prefix}:processed`;
    let jsRuns = 0;
    const broker = await open({ logger: recordingLogger() });
    const record = actor(async () => {
      await sleep(5);
      return null;
    }, { broker, queueName: queue, actorName: "record" });
    // The JS record appends its message id to the same list as Python's.
    broker.addMiddleware({
      async afterProcessMessage(_b, message, { exception }) {
        if (message.actorName === "record" && exception === undefined) {
          jsRuns += 1;
          await redisClient.rPush(list, message.messageId);
        }
      },
    });
    // RECORD_DELAY_MS slows Python's record, so it is killed mid-batch.
    const py = await startPythonWorker({ ...conn(queue, { prefix }), threads: 4, env: { RECORD_DELAY_MS: "50" } });
    // Both workers consume at once; the Python one is killed holding its prefetched,
    // unacked deliveries, which RabbitMQ hands to the JS worker.
    const js = new Worker(broker, { concurrency: 8 }).start();
    try {
      // The kill comes while messages are still being sent and processed.
      let atKill;
      const killed = eventually(async () => (await redisClient.lLen(list)) >= 50, "processing").then(async () => {
        await py.kill();
        atKill = { all: await redisClient.lLen(list), js: jsRuns };
      });
      const sent = [];
      for (let i = 0; i < 2000; i++) sent.push(record.send(`t${i}`));
      await Promise.all(sent.map((m) => m.enqueued));
      await killed;
      t.diagnostic(`the Python worker was killed when ${atKill.all} record(s) were in, ${atKill.js} of them by JS`);
      const want = new Set(sent.map((m) => m.messageId));
      const processed = await eventually(async () => {
        const seen = await redisClient.lRange(list, 0, -1);
        const got = new Set(seen);
        return [...want].every((id) => got.has(id)) && seen;
      }, "every message processed", 60_000);
      const duplicates = processed.length - new Set(processed).size;
      t.diagnostic(`${want.size} sent, ${processed.length} processed, ${duplicates} duplicate(s) (at least once)`);
      console.log(`mixed workers: ${want.size} sent, ${processed.length} processed (${jsRuns} by JS), ${duplicates} duplicate(s)`);
      assert.equal(new Set(processed).size, want.size);
    } finally {
      await js.stop();
    }
  });

  test("malformed bodies and an unknown actor are dead-lettered with a reason; a server restart loses nothing (test_rabbitmq_messages_that_failed_to_decode_are_rejected, with bodies no decoder reads rather than its failing encoder)", { timeout: 180_000 }, async (t) => {
    const queue = "bad";
    const logger = recordingLogger();
    const broker = await open({ logger, confirmDelivery: true });
    const add = actor((x, y) => x + y, { broker, queueName: queue, actorName: "add", storeResults: true });
    const seen = [];
    const slow = actor(async (i) => {
      await sleep(50);
      seen.push(i);
      return i;
    }, { broker, queueName: queue, actorName: "slow", storeResults: true });
    await broker.ensureQueue(queue);
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      const ch = await admin.createChannel();
      ch.sendToQueue(queue, Buffer.from("not json {"), { persistent: true });
      ch.sendToQueue(queue, Buffer.from('{"queue_name":"bad"}'), { persistent: true });
      const stranger = await broker.enqueue(new Message({ queueName: queue, actorName: "nobody", args: [1] }));
      assert.equal(await add.send(1, 2).getResult({ block: true, timeout: 10_000 }), 3);
      const dead = await eventually(async () => {
        const [, , xq] = await broker.getQueueMessageCounts(queue);
        return xq === 3;
      }, "three dead letters");
      assert.ok(dead);
      const bodies = (await drain(ch, `${queue}.XQ`)).map((d) => d.body);
      await ch.close();
      assert.ok(bodies.includes("not json {"), `${bodies.join("\n")}\n${logger.lines.join("\n")}`);
      assert.ok(bodies.some((b) => b.includes(stranger.messageId)));
      const said = logger.lines.join("\n");
      assert.match(said, /Dead-lettering a message from queue bad that does not decode/);
      assert.match(said, /Received message for undefined actor 'nobody'\. Moving it to the DLQ\./);

      // 30 slow messages, then the server restarts under the worker: the deliveries it
      // held come back from the server and every message is still processed.
      const sent = [];
      for (let i = 0; i < 30; i++) sent.push(slow.send(i));
      await Promise.all(sent.map((m) => m.enqueued));
      await eventually(() => seen.length >= 4, "slow messages started");
      await rabbit.restart();
      await eventually(() => logger.lines.some((l) => l.includes("Consuming from RabbitMQ again")), "the worker consuming again", 60_000);
      const values = await Promise.all(sent.map((m) => backend.getResult(m, { block: true, timeout: 60_000 })));
      assert.deepEqual(values, Array.from({ length: 30 }, (_, i) => i));
      t.diagnostic(`30 sent across a restart, ${seen.length} runs (${seen.length - 30} redelivered duplicate(s))`);
      console.log(`server restart: 30 sent, ${seen.length} runs, ${new Set(seen).size} distinct`);
      assert.equal(await add.send(20, 22).getResult({ block: true, timeout: 20_000 }), 42);
    } finally {
      await worker.stop();
    }
  });

  test("stop() finishes in-flight messages; prefetched ones go back to the queue", { timeout: 60_000 }, async () => {
    const broker = await open({ confirmDelivery: true });
    let started = 0;
    let finished = 0;
    const slow = actor(async () => {
      started += 1;
      await sleep(200);
      finished += 1;
      return 1;
    }, { broker, queueName: "stopq", actorName: "slow", storeResults: true });
    const sent = [];
    for (let i = 0; i < 21; i++) sent.push(slow.send());
    await Promise.all(sent.map((m) => m.enqueued));
    const worker = new Worker(broker, { concurrency: 2 }).start();
    await eventually(() => started >= 2, "two started");
    await worker.stop();
    assert.equal(started, finished, "in-flight messages finished");
    const [ready, delayed, dead] = await broker.getQueueMessageCounts("stopq");
    assert.deepEqual([ready, delayed, dead], [21 - finished, 0, 0]);
    await broker.flush("stopq");
    assert.deepEqual(await broker.getQueueMessageCounts("stopq"), [0, 0, 0]);
  });

  // A worker stopped while its channels are still being opened (a short script under load:
  // docs/brokers.md's example, run beside others) must stop: the consume loop went on to
  // wait for a lost channel nobody would report, and stop() never resolved.
  test("stop() while the worker is still opening its channels resolves, and nothing is left consuming", { timeout: 60_000 }, async () => {
    const broker = await open({ confirmDelivery: true });
    actor((x) => x, { broker, queueName: "earlystop", actorName: "early", storeResults: true });
    const worker = new Worker(broker, { concurrency: 2 }).start();
    const stopped = await Promise.race([worker.stop().then(() => true), sleep(10_000).then(() => false)]);
    assert.equal(stopped, true, "stop() resolved");
    // Its channels are closed: a message sent now stays queued, no consumer takes it.
    await broker.enqueue(broker.getActor("early").message(1));
    await sleep(300);
    const info = await queueInfo("earlystop");
    assert.deepEqual([info.messageCount, info.consumerCount], [1, 0]);
    await broker.flush("earlystop");
  });

  test("held messages run by actor priority, lower first, as Dramatiq's worker", { timeout: 60_000 }, async () => {
    const broker = await open({ confirmDelivery: true });
    const order = [];
    const opts = { broker, queueName: "prio-run" };
    // The slow ones run until the test lets them finish, once all four are delivered (a
    // fixed 300 ms could end before a loaded machine delivered "high", which FIFO would
    // then rightly run after "low").
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    const slow = actor(async (tag) => {
      await gate;
      order.push(tag);
    }, { ...opts, actorName: "slow" });
    const low = actor((tag) => void order.push(tag), { ...opts, actorName: "low", priority: 10 });
    const high = actor((tag) => void order.push(tag), { ...opts, actorName: "high", priority: 0 });
    // Two runners busy with slow messages; the prefetch (2 × 2) holds the next two, sent low first.
    for (const m of [slow.send("s1"), slow.send("s2"), low.send("low"), high.send("high")]) await m.enqueued;
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await eventually(async () => (await queueInfo("prio-run")).messageCount === 0, "all four delivered", 10_000);
      release();
      await eventually(() => order.length === 4, "all four ran");
    } finally {
      release();
      await worker.stop();
    }
    // Both were held while the runners were busy: FIFO would run "low" first.
    assert.ok(order.indexOf("high") < order.indexOf("low"), order.join(" "));
  });

  test("Dramatiq's test_workers_can_be_paused, test_actors_can_prioritize_work and test_worker_handles_non_numeric_eta, Python's producer to a paused JS worker", { timeout: 60_000 }, async () => {
    const log = recordingLogger();
    const broker = await open({ logger: log });
    const calls = [];
    const opts = { broker, queueName: "paused" };
    actor(() => void calls.push("hi"), { ...opts, actorName: "hi", priority: 0 });
    actor(() => void calls.push("lo"), { ...opts, actorName: "lo", priority: 10 });
    actor(() => void calls.push("eta"), { ...opts, actorName: "record" });
    const worker = new Worker(broker, { queues: ["paused"], concurrency: 10 });
    worker.pause();
    worker.start();
    try {
      const dict = (actor_name, options = {}) => ({ queue_name: "paused", actor_name, args: [], kwargs: {}, options });
      const dicts = [];
      for (let i = 0; i < 9; i++) dicts.push(dict("lo"), dict("hi"));
      dicts.push(dict("record", { eta: "not-a-number" }));
      await runPython("produce.py", ["enqueue"], { ...conn("paused"), input: dicts.map((d) => JSON.stringify(d) + "\n").join("") });
      // Paused: every message delivered (the prefetch of 10 runners is 20, as Python's), none run.
      await eventually(async () => (await queueInfo("paused")).messageCount === 0, "all delivered", 10_000);
      await sleep(200);
      assert.deepEqual(calls, []);
      assert.equal(worker.paused, true);
      worker.resume();
      await eventually(() => calls.length === 19, "all ran", 10_000);
    } finally {
      await worker.stop();
    }
    assert.deepEqual(calls.filter((c) => c !== "eta"), [...Array(9).fill("hi"), ...Array(9).fill("lo")]);
    assert.ok(log.lines.some((l) => /^warn Invalid eta value for message '[0-9a-f-]{36}': 'not-a-number'\. Setting eta to current_millis\(\)\.$/.test(l)), log.lines.join("\n"));
  });

  test("connection errors: a closed broker refuses, a lost connection is reopened (test_rabbitmq_broker_reconnects_after_enqueue_failure)", async () => {
    const broker = await open();
    const first = await broker.connection();
    await first.close();
    const m = await broker.enqueue(new Message({ queueName: "again", actorName: "add", args: [1] }));
    assert.notEqual(await broker.connection(), first);
    assert.equal(m.queueName, "again");
    await broker.close();
    await assert.rejects(broker.enqueue(new Message({ queueName: "again", actorName: "add", args: [1] })), ConnectionClosed);
  });
});
