// RabbitmqBroker and its Worker when things go wrong, against a real RabbitMQ node, with
// RabbitMQ's own counts (`rabbitmqctl list_queues`) as the judge and, where the two could
// differ, the real Python Dramatiq 2.2.1 worker (tests/py/faults_app.py) beside ours: a
// declaration RabbitMQ refuses, a nacked publish, a memory alarm (connection.blocked), a
// queue whose consumer the server cancels, and a stop with messages running and held.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import amqplib from "amqplib";
import { ConnectionClosed, Message, RabbitmqBroker, Worker, actor, defaultMiddleware } from "dramatiq-results";
import { haveRabbitmq, startRabbitmq } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { eventually, recordingLogger } from "./broker-helpers.mjs";
import { sleep } from "./helpers.mjs";

const skip =
  [!haveRabbitmq && "no rabbitmq-server (scripts/setup --services)", !havePython && "no Python Dramatiq in target/venv (scripts/setup --python)"]
    .filter(Boolean)
    .join("; ") || false;

describe("RabbitmqBroker under faults", { skip }, () => {
  let rabbit;
  let admin; // a plain amqplib connection, for what no Dramatiq broker would do
  const brokers = [];
  const open = async (options = {}) => {
    const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: defaultMiddleware(), logger: recordingLogger(), ...options });
    brokers.push(broker);
    return broker;
  };
  /** `[ready, unacked]` of `queue` as RabbitMQ counts them. */
  const count = async (queue) => (await rabbit.counts(queue))[queue];

  before(async () => {
    rabbit = await startRabbitmq();
    admin = await amqplib.connect(rabbit.url);
  });

  after(async () => {
    for (const b of brokers) await b.close().catch(() => {});
    await admin?.close().catch(() => {});
    await rabbit?.stop();
  });

  for (const confirmDelivery of [false, true]) {
    test(`a refused declaration fails its send with ConnectionClosed and the server's reason, and loses no other publish (confirmDelivery ${confirmDelivery})`, async () => {
      const bad = `refused-${confirmDelivery}`;
      const good = `beside-${confirmDelivery}`;
      // Declared by someone else without Dramatiq's arguments.
      const ch = await admin.createChannel();
      await ch.assertQueue(bad, { durable: true });
      await ch.close();
      const broker = await open({ middleware: [], confirmDelivery });
      await broker.ensureQueue(good);
      // The refused declaration and ten publishes to a queue already declared, at once, on
      // the broker's one publishing channel: RabbitMQ closes that channel on the 406 and
      // drops every frame after it, so a publish written behind the refused declaration was
      // lost while its send() resolved.
      const outcomes = await Promise.allSettled([
        broker.enqueue(new Message({ queueName: bad, actorName: "a", args: [] })),
        ...Array.from({ length: 10 }, (_, i) => broker.enqueue(new Message({ queueName: good, actorName: "a", args: [i] }))),
      ]);
      const [refused, ...others] = outcomes;
      assert.equal(refused.status, "rejected");
      // Python raises ConnectionClosed(ChannelClosedByBroker(406, …)) from enqueue.
      assert.ok(refused.reason instanceof ConnectionClosed, String(refused.reason));
      assert.match(refused.reason.message, /PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 'refused-/);
      assert.deepEqual(others.map((o) => o.status), Array(10).fill("fulfilled"));
      await eventually(async () => (await count(good))?.[0] === 10, `the ten publishes on ${good}: ${await count(good)}`, 10_000);
      // The broker goes on publishing, and ensureQueue says the same as the send.
      await broker.enqueue(new Message({ queueName: good, actorName: "a", args: [10] }));
      await assert.rejects(broker.ensureQueue(bad), (e) => e instanceof ConnectionClosed && /PRECONDITION_FAILED/.test(e.message));
      await eventually(async () => (await count(good))?.[0] === 11, "the eleventh publish", 10_000);
      // Counting a queue declares it too (as Python's get_queue_message_counts does): refused
      // the same way, and just as harmless to the publishes around it.
      const counted = await Promise.allSettled([
        broker.getQueueMessageCounts(bad),
        ...Array.from({ length: 10 }, (_, i) => broker.enqueue(new Message({ queueName: good, actorName: "a", args: [i] }))),
      ]);
      assert.ok(counted[0].reason instanceof ConnectionClosed, String(counted[0].reason));
      assert.match(counted[0].reason.message, /PRECONDITION_FAILED/);
      assert.deepEqual(counted.slice(1).map((o) => o.status), Array(10).fill("fulfilled"));
      await eventually(async () => (await count(good))?.[0] === 21, `21 on ${good}: ${await count(good)}`, 10_000);
    });
  }

  test("a nacked publish fails alone: the others in flight on the channel are confirmed, once each", async () => {
    const queue = "nacked";
    const broker = await open({ middleware: [], confirmDelivery: true });
    await broker.ensureQueue(queue);
    // A full queue that refuses more: RabbitMQ nacks the publishes over its length.
    await rabbit.ctl("set_policy", "nacked-full", `^${queue}$`, JSON.stringify({ "max-length": 1, overflow: "reject-publish" }), "--apply-to", "queues");
    await eventually(async () => (await rabbit.ctl("list_queues", "name", "policy")).includes("nacked-full"), "the policy applied");
    const sent = [0, 1, 2].map((i) => broker.enqueue(new Message({ queueName: queue, actorName: "a", args: [i] })));
    const outcomes = await Promise.allSettled(sent);
    const fulfilled = outcomes.filter((o) => o.status === "fulfilled");
    const rejected = outcomes.filter((o) => o.status === "rejected").map((o) => o.reason);
    // One publish fit, and its send says so; each other was nacked, retried (as Python's
    // NackError is), and fails with ConnectionClosed saying RabbitMQ nacked it.
    assert.equal(fulfilled.length, 1, outcomes.map((o) => o.reason?.message ?? "ok").join("\n"));
    assert.equal(rejected.length, 2);
    for (const e of rejected) {
      assert.ok(e instanceof ConnectionClosed, String(e));
      assert.match(e.message, /nacked/);
    }
    assert.deepEqual(await count(queue), [1, 0]);
    const [on] = await (async () => {
      const ch = await admin.createChannel();
      const m = await ch.get(queue, { noAck: true });
      await ch.close();
      return [m];
    })();
    assert.equal(Message.decode(on.content).messageId, fulfilled[0].value.messageId);
    await rabbit.ctl("clear_policy", "nacked-full");
  });

  test("under a memory alarm (connection.blocked) the worker keeps acking what needs no publish, as Python's", { timeout: 120_000 }, async (t) => {
    // One message whose retry must be published (blocked until the alarm clears), then 200
    // that need no publish. Python's worker consumes on connections of its own, which never
    // publish, so RabbitMQ never blocks them: the 200 are acked during the alarm. Ours
    // consumed and acked on the connection it publishes on: once the retry's publish was
    // blocked, so was every ack and consume behind it, and nothing moved.
    const runSide = async (side) => {
      const queue = `alarm-${side}`;
      const logger = recordingLogger();
      const broker = await open({ confirmDelivery: true, logger });
      const tries = new Map();
      const flaky = actor((key) => {
        tries.set(key, (tries.get(key) ?? 0) + 1);
        if (tries.get(key) === 1) throw new Error("fails once");
      }, { broker, queueName: queue, actorName: "flaky", minBackoff: 10, maxBackoff: 20 });
      const ok = actor(() => sleep(20), { broker, queueName: queue, actorName: "ok" });
      await flaky.send("k").enqueued;
      for (let i = 0; i < 200; i++) await ok.send().enqueued;
      assert.deepEqual(await count(queue), [201, 0]);
      await rabbit.ctl("set_vm_memory_high_watermark", "0.0000001");
      let worker;
      try {
        await eventually(async () => /memory/.test(await rabbit.ctl("eval", "rabbit_alarm:get_alarms().")), "the memory alarm", 20_000);
        worker =
          side === "python"
            ? await startPythonWorker({ app: "faults_app", url: rabbit.url, queue, confirm: true, threads: 2, shutdownTimeoutMs: 5000 })
            : new Worker(broker, { concurrency: 2 }).start();
        // Everything but the message whose retry is blocked is processed and acked.
        const drained = await eventually(async () => {
          const c = await count(queue);
          return c[0] === 0 && c[1] <= 1 && c;
        }, `${side}: the 200 acked during the alarm (${await count(queue)})`, 45_000).catch((e) => e);
        t.diagnostic(`${side} during the alarm: ${JSON.stringify(await count(queue))}`);
        if (drained instanceof Error) throw drained;
      } finally {
        await rabbit.ctl("set_vm_memory_high_watermark", "0.4");
      }
      // Once it clears, the blocked retry goes out and runs.
      await eventually(async () => String(await count(queue)) === "0,0", `${side}: drained after the alarm`, 30_000);
      await worker.stop();
      if (side === "js") {
        assert.equal(tries.get("k"), 2);
        // The broker said why its publish waited.
        assert.match(logger.lines.join("\n"), /RabbitMQ blocked the connection \(low on memory\)/);
      }
    };
    await runSide("python");
    await runSide("js");
  });

  test("a queue declared with other arguments stops only its own consumer: the worker's other queues run, as Python's", { timeout: 60_000 }, async () => {
    const ch = await admin.createChannel();
    await ch.assertQueue("other-args", { durable: true });
    await ch.close();
    const logger = recordingLogger();
    const broker = await open({ logger });
    let runs = 0;
    actor(() => {}, { broker, queueName: "other-args", actorName: "b" });
    const a = actor(() => void (runs += 1), { broker, queueName: "fine", actorName: "a" });
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      for (let i = 0; i < 5; i++) await a.send().enqueued;
      await eventually(() => runs === 5, `the five messages on 'fine' ran (${runs})`, 20_000);
      assert.match(logger.lines.join("\n"), /other-args.*PRECONDITION_FAILED|PRECONDITION_FAILED.*other-args/);
    } finally {
      await worker.stop();
    }
    assert.deepEqual(await count("fine"), [0, 0]);
  });

  test("a consumer the server cancels (its queue deleted) is consumed again; other queues' running messages are acked once (test_rabbitmq_broker_consuming_messages_re_declares_queues_when_declared_queue_disappears)", { timeout: 60_000 }, async () => {
    const logger = recordingLogger();
    const broker = await open({ logger, confirmDelivery: true });
    const runs = [];
    const slow = actor(async (i) => {
      await sleep(1000);
      runs.push(i);
    }, { broker, queueName: "busy", actorName: "slow" });
    let goneRuns = 0;
    const g = actor(() => void (goneRuns += 1), { broker, queueName: "gone", actorName: "g" });
    for (let i = 0; i < 4; i++) await slow.send(i).enqueued;
    await broker.ensureQueue("gone");
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await eventually(async () => (await count("busy"))?.[1] >= 2, "two slow messages running");
      const ch = await admin.createChannel();
      await ch.deleteQueue("gone"); // RabbitMQ sends basic.cancel to its consumer
      await ch.close();
      await eventually(() => logger.lines.some((l) => l.includes("cancelled the consumer of queue gone")), "the cancel seen");
      // The queue is declared again by the worker's consumer, and consumed.
      await eventually(async () => (await count("gone")) !== undefined, "gone declared again", 20_000);
      await g.send().enqueued;
      await eventually(() => goneRuns === 1, "the message on the redeclared queue ran", 20_000);
      await eventually(() => runs.length >= 4, "the four slow messages ran", 20_000);
      await sleep(1500); // a redelivered duplicate would run by now
      // Python restarts only the cancelled queue's consumer: busy's deliveries stay acked once.
      assert.deepEqual([...runs].sort(), [0, 1, 2, 3], `runs: ${runs}\n${logger.lines.join("\n")}`);
      assert.ok(!logger.lines.some((l) => /Could not ack/.test(l)), logger.lines.join("\n"));
    } finally {
      await worker.stop();
    }
    assert.deepEqual(await count("busy"), [0, 0]);
  });

  test("stop() with messages running, prefetched and delayed: run ones acked, the others back on their queues, as Python leaves them", { timeout: 60_000 }, async () => {
    const broker = await open({ confirmDelivery: true });
    let started = 0;
    let finished = 0;
    const slow = actor(async () => {
      started += 1;
      await sleep(500);
      finished += 1;
    }, { broker, queueName: "stopping", actorName: "slow" });
    for (let i = 0; i < 6; i++) await slow.send().enqueued;
    for (let i = 0; i < 4; i++) await slow.sendWithOptions({ delay: 600_000 }).enqueued;
    const worker = new Worker(broker, { concurrency: 2 }).start();
    await eventually(async () => started >= 2 && (await count("stopping.DQ"))?.[1] === 4, "two running and four delayed held");
    await worker.stop();
    assert.equal(started, finished);
    // RabbitMQ's own counts: what ran is acked, every other message ready again, none
    // unacked, none dead-lettered (Python's consumer closes its channel: the same).
    assert.deepEqual(await count("stopping"), [6 - finished, 0]);
    assert.deepEqual(await count("stopping.DQ"), [4, 0]);
    assert.deepEqual(await count("stopping.XQ"), [0, 0]);
  });

  test("a dead-message TTL set on both sides (Python's dramatiq_dead_message_ttl) declares alike in both orders, and dead letters expire", { timeout: 60_000 }, async () => {
    const ttl = { dramatiq_dead_message_ttl: "1000" };
    const declare = (queue, env) => runPython("faults_app.py", ["declare"], { url: rabbit.url, queue, env });
    // Python first, then us; us first, then Python.
    await declare("ttl-py", ttl);
    const broker = await open({ deadMessageTtl: 1000, confirmDelivery: true });
    await broker.ensureQueue("ttl-py");
    await broker.ensureQueue("ttl-js");
    await declare("ttl-js", ttl);
    // Either side with Python's default 7 days is refused on them, with the reason.
    await assert.rejects(declare("ttl-js", {}), /PRECONDITION_FAILED|406/);
    const plain = await open({ confirmDelivery: true });
    await assert.rejects(plain.ensureQueue("ttl-py"), (e) => e instanceof ConnectionClosed && /x-message-ttl/.test(e.message));
    // A failure is dead-lettered to ttl-js.XQ, and gone from it a second later.
    actor(() => {
      throw new Error("dead");
    }, { broker, queueName: "ttl-js", actorName: "dies", maxRetries: 0 });
    await broker.actors.get("dies").send().enqueued;
    const worker = new Worker(broker, { concurrency: 1, queues: ["ttl-js"] }).start();
    try {
      await eventually(async () => (await count("ttl-js.XQ"))?.[0] === 1, "the dead letter");
      await eventually(async () => (await count("ttl-js.XQ"))?.[0] === 0, "the dead letter expired", 10_000);
    } finally {
      await worker.stop();
    }
  });

  test("confirmed sends across a server restart: each either resolves and is on the queue afterwards, or rejects with ConnectionClosed", { timeout: 180_000 }, async (t) => {
    const queue = "across-restart";
    const broker = await open({ middleware: [], confirmDelivery: true });
    await broker.ensureQueue(queue);
    const sends = [];
    let sending = true;
    const loop = (async () => {
      for (let i = 0; sending; i++) {
        sends.push(broker.enqueue(new Message({ queueName: queue, actorName: "a", args: [i] })).then(
          (m) => ({ ok: m.messageId }),
          (error) => ({ error }),
        ));
        await sleep(20);
      }
    })();
    await sleep(300);
    await rabbit.restart();
    await sleep(500);
    sending = false;
    await loop;
    const outcomes = await Promise.all(sends);
    const ok = outcomes.filter((o) => o.ok).map((o) => o.ok);
    const failed = outcomes.filter((o) => o.error);
    t.diagnostic(`${outcomes.length} sends: ${ok.length} resolved, ${failed.length} rejected`);
    for (const { error } of failed) assert.ok(error instanceof ConnectionClosed, String(error));
    assert.ok(ok.length > 0);
    // Durable queue, persistent and confirmed: every resolved send survived the restart.
    const reader = await amqplib.connect(rabbit.url);
    const on = new Set();
    try {
      const rch = await reader.createChannel();
      for (;;) {
        const m = await rch.get(queue, { noAck: true });
        if (m === false) break;
        on.add(Message.decode(m.content).messageId);
      }
    } finally {
      await reader.close().catch(() => {});
    }
    const lost = ok.filter((id) => !on.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${ok.length} resolved sends are not on the queue`);
  });

  test("messages far beyond frame_max (3 MiB, 24 frames each) cross both ways between Python's worker and ours whole", { timeout: 90_000 }, async () => {
    const queue = "big-frames";
    const size = 3 << 20;
    const conn = { url: rabbit.url, queue };
    // Python → JS: Python's producer, our worker.
    const broker = await open({ confirmDelivery: true });
    const got = [];
    actor((payload) => void got.push(payload.length === size && payload === "x".repeat(size)), { broker, queueName: queue, actorName: "sized" });
    const [pyId] = await runPython("faults_app.py", ["send-sized", String(size)], conn);
    const worker = new Worker(broker, { concurrency: 1 }).start();
    try {
      await eventually(() => got.length === 1, "the JS worker ran Python's big message");
    } finally {
      await worker.stop();
    }
    assert.deepEqual(got, [true], pyId);
    // JS → Python: our producer, Python's worker (its actor fails on a payload cut short).
    const sent = await broker.actors.get("sized").send("x".repeat(size)).enqueued;
    const py = await startPythonWorker({ app: "faults_app", ...conn, threads: 1 });
    try {
      await eventually(async () => String(await count(queue)) === "0,0", `Python's worker took ${sent.messageId}`, 30_000);
    } finally {
      await py.stop();
    }
    assert.doesNotMatch(py.output, /payload cut short|Traceback/);
    assert.deepEqual(await count(`${queue}.XQ`), [0, 0]);
  });
});
