// Nothing lost, nothing doubled when RabbitMQ closes every connection mid-batch
// (`rabbitmqctl close_all_connections`), with a Python Dramatiq 2.2.1 worker alone (the
// reference), a JS worker alone, and both on one queue: each actor notes its message id in
// Redis, so losses and doubles are counted end to end. The Redis side of the same promise
// is fleet-faults.test.mjs; bench/chaos/probe_rabbit.mjs is a longer probe. Also: a stop on
// a connection gone silent (a partition) keeps to its timeout.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, createServer } from "node:net";
import { createClient } from "redis";
import { RabbitmqBroker, Worker, actor, defaultMiddleware } from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";
import { eventually, recordingLogger, tally } from "./broker-helpers.mjs";

const skip =
  (!haveRedis && "redis-server is not installed") ||
  (!haveRabbitmq && "rabbitmq-server is not installed") ||
  (!havePython && "no Python Dramatiq (scripts/setup --python)");

describe("RabbitMQ under connection faults: every connection closed mid-batch (rabbitmqctl close_all_connections), a connection gone silent", { skip }, () => {
  let rabbit;
  let redis;
  let client;

  before(async () => {
    [rabbit, redis] = await Promise.all([startRabbitmq(), startRedis()]);
    client = createClient({ url: redis.url });
    await client.connect();
  });

  after(async () => {
    await client?.quit().catch(() => {});
    await redis?.stop();
    await rabbit?.stop();
  });

  // The same scenario with a Python worker alone, a JS worker alone, and both on the queue:
  // every message is processed (at least once); only what ran or was held at the close can
  // run again, as AMQP gives (its ack cannot reach the closed channel, so RabbitMQ
  // redelivers it); and each worker consumes again afterwards.
  for (const fleet of ["python", "js", "both"]) {
    test(`${fleet === "both" ? "a Python and a JS worker" : `a ${fleet === "js" ? "JS" : "Python"} worker`}: none lost, doubles only among what it held at the close, consuming again afterwards`, { timeout: 90_000 }, async (t) => {
      const queue = `closed-${fleet}`;
      const prefix = queue;
      const list = `${prefix}:processed`;
      const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: defaultMiddleware(), logger: recordingLogger() });
      const record = actor(async () => {
        await sleep(200);
      }, { broker, actorName: "record", queueName: queue });
      broker.addMiddleware({
        async afterProcessMessage(_b, message, { exception }) {
          if (message.actorName === "record" && exception === undefined) await client.rPush(list, message.messageId);
        },
      });
      let py;
      let js;
      try {
        const first = [];
        for (let i = 0; i < 12; i++) first.push(record.send(`a${i}`));
        await Promise.all(first.map((m) => m.enqueued));
        if (fleet !== "js") py = await startPythonWorker({ broker: "rabbitmq", url: rabbit.url, resultsUrl: redis.url, queue, prefix, threads: 2, env: { RECORD_DELAY_MS: "200" } });
        if (fleet !== "python") js = new Worker(broker, { concurrency: 2 }).start();
        await eventually(async () => (await client.lLen(list)) >= 2, "the workers mid-batch");
        await rabbit.ctl("close_all_connections", "chaos");
        const atClose = await client.lLen(list);
        // Sent after the close: the workers must have consumed again to run these.
        const second = [];
        for (let i = 0; i < 6; i++) second.push(record.send(`b${i}`));
        await Promise.all(second.map((m) => m.enqueued));
        const ids = [...first, ...second].map((m) => m.messageId);
        const processed = await eventually(async () => {
          const seen = await client.lRange(list, 0, -1);
          const got = new Set(seen);
          return ids.every((id) => got.has(id)) && seen;
        }, "every message processed", 60_000);
        const { distinct, doubled } = tally(processed);
        t.diagnostic(`${ids.length} sent, ${atClose} processed at the close, ${processed.length} processed in all, ${doubled.length} doubled`);
        assert.equal(distinct, ids.length, "none lost");
        // What a worker held at the close: its prefetch (Dramatiq's: 2 × threads per queue) at most.
        const held = (fleet === "both" ? 2 : 1) * 4;
        assert.ok(doubled.length <= held, `at most what was held at the close doubled: ${doubled.length} > ${held}`);
        assert.ok(doubled.every((id) => first.some((m) => m.messageId === id)), "none sent after the close doubled");
      } finally {
        await js?.stop({ timeout: 5000 });
        await py?.kill();
        await broker.close();
      }
    });
  }

  test("a connection gone silent (a partition: no reply, no reset): stop({ timeout }) with messages running resolves by its timeout and a second's grace (it waited for amqplib's heartbeat)", async () => {
    // A proxy forwarding both ways until `silent`, then dropping every byte: the sockets
    // stay open, as in a network partition.
    let silent = false;
    const sockets = new Set();
    const port = Number(new URL(rabbit.url).port);
    const proxy = createServer((down) => {
      const up = createConnection({ port, host: "127.0.0.1" });
      down.on("data", (d) => silent || up.write(d));
      up.on("data", (d) => silent || down.write(d));
      for (const s of [down, up]) {
        s.on("error", () => {});
        sockets.add(s);
      }
    });
    await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
    const broker = await RabbitmqBroker.connect(rabbit.url.replace(/:(\d+)$/, `:${proxy.address().port}`), { middleware: defaultMiddleware(), logger: recordingLogger() });
    try {
      let silenced;
      const going = new Promise((r) => (silenced = r));
      const job = actor(async (i) => {
        if (i === 2) (silent = true), silenced();
        await sleep(300);
      }, { broker, actorName: "job", queueName: "silent" });
      for (let i = 0; i < 10; i++) await job.send(i).enqueued;
      const worker = new Worker(broker, { concurrency: 2 }).start();
      await going;
      const started = Date.now();
      const outcome = await Promise.race([worker.stop({ timeout: 1000 }).then(() => "stopped"), sleep(15_000).then(() => "still stopping after 15 s")]);
      const took = Date.now() - started;
      assert.equal(outcome, "stopped");
      assert.ok(took < 1000 + 1000 + 2000, `by the timeout and its grace (+ a loaded machine's slack): ${took} ms`);
    } finally {
      // The partition ends with the connections reset, so nothing waits for a heartbeat.
      for (const s of sockets) s.destroy();
      proxy.close();
      await Promise.race([broker.close().catch(() => {}), sleep(2000)]);
    }
  });
});
