// RabbitmqBroker against a real RabbitMQ node and the real Python Dramatiq 2.2.1
// (tests/py/broker_app.py, produce.py): queues declared in either order without
// PRECONDITION_FAILED, published bodies byte for byte Python's, and 1 000 JS-sent messages
// run by a Python worker with every result read back from Redis.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createClient } from "redis";
import amqplib from "amqplib";
import {
  ConnectionClosed,
  JSONEncoder,
  Message,
  RabbitmqBroker,
  RedisBackend,
  ResultFailure,
  Results,
  actor,
  group,
  pipeline,
} from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";

const skip =
  [
    !haveRedis && "no redis-server (scripts/setup --services)",
    !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)",
    !havePython && "no Python Dramatiq in target/venv (scripts/setup --python)",
  ]
    .filter(Boolean)
    .join("; ") || false;

const encoder = new JSONEncoder();
// Python's JSON (NaN, big integers): read with Dramatiq's decoder.
const vectors = encoder.decode(readFileSync(new URL("../fixtures/broker-vectors.json", import.meta.url)));

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
    out.push({ body: m.content.toString("utf8"), id: Message.decode(m.content).messageId, properties: m.properties });
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
  const open = async (options = {}) => {
    const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: [new Results({ backend })], ...options });
    brokers.push(broker);
    return broker;
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
    const broker = await open();
    const sent = await broker.enqueue(new Message({ queueName: "pyfirst", actorName: "add", args: [3, 4] }));
    await broker.enqueue(sent, { delay: 10 });
    assert.deepEqual(await broker.getQueueMessageCounts("pyfirst"), [2, 1, 0]);
    // The check can fail: other arguments (a max priority Python's broker lacks) are refused.
    const other = await open({ maxPriority: 5 });
    await assert.rejects(other.ensureQueue("pyfirst"), /PRECONDITION[-_]FAILED/);
  });

  test("a queue JS declared first is declared again by Python's producer", async () => {
    const broker = await open();
    await broker.enqueue(new Message({ queueName: "jsfirst", actorName: "add", args: [1, 1] }));
    await broker.enqueue(new Message({ queueName: "jsfirst", actorName: "add", args: [2, 2] }), { delay: 60_000 });
    const sent = await runPython("produce.py", ["send", '{"actor":"add","args":[5,5]}', '{"actor":"add","args":[6],"delay":60000}'], conn("jsfirst"));
    assert.equal(sent.length, 2);
    assert.deepEqual(await broker.getQueueMessageCounts("jsfirst"), [2, 2, 0]);
    // And Python's confirm-delivery producer (mandatory publishes) too.
    await runPython("produce.py", ["send", '{"actor":"add","args":[7,7]}'], conn("jsfirst", { confirm: true }));
    assert.deepEqual(await broker.getQueueMessageCounts("jsfirst"), [3, 2, 0]);
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

  test("a publish to a queue deleted behind the broker's back is redeclared and delivered (confirmDelivery)", async () => {
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

  test("connection errors: a closed broker refuses, a lost connection is reopened", async () => {
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
