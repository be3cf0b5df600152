// The RabbitMQ gateway (`serve --amqp`) with readers and an operator at once: a viewer's
// dead-letter search holds a queue's dead letters unacked while it reads them (AMQP has no
// other way to look), and an operator's requeue meanwhile found nothing (404) for a dead
// letter that was there. The gateway now takes a queue's dead letters one request at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import amqplib from "amqplib";
import { RabbitmqBroker } from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { eventually, startGatewayBin } from "./gateway-helpers.mjs";

const skip = (!haveRedis && "no redis-server") || (!haveRabbitmq && "no rabbitmq-server") || false;
const VIEWER = "viewer-token-for-the-amqp-audit-0123";
const OPERATOR = "operator-token-for-the-amqp-audit-98";
const Q = "amqp-audit";

test("an operator's requeue finds its dead letter while viewers search the same queue", { skip, timeout: 180_000 }, async () => {
  const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
  const admin = await amqplib.connect(rabbit.url);
  let gateway;
  try {
    const broker = await RabbitmqBroker.connect(rabbit.url);
    try {
      await broker.ensureQueue(Q);
    } finally {
      await broker.close();
    }
    const ch = await admin.createConfirmChannel();
    const ids = [];
    for (let i = 0; i < 3000; i++) {
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
      ids.push(id);
      ch.sendToQueue(`${Q}.XQ`, Buffer.from(JSON.stringify({ queue_name: Q, actor_name: "job", args: [i, "x".repeat(2000)], kwargs: {}, options: { retries: 1 }, message_id: id, message_timestamp: Date.now() })), { deliveryMode: 2 });
    }
    await ch.waitForConfirms();
    gateway = await startGatewayBin(["--amqp", rabbit.url, "--redis", redis.url, "--queues", Q], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
    const call = (path, token, method = "GET") => fetch(`${gateway.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, body: await r.json() }));
    for (const target of [ids[2999], ids[1500], ids[10]]) {
      const searches = Array.from({ length: 4 }, () => call(`/api/messages?q=needle-nowhere&queue=${Q}`, VIEWER));
      await new Promise((r) => setTimeout(r, 30));
      const requeue = await call(`/api/messages/${target}/requeue`, OPERATOR, "POST");
      for (const s of await Promise.all(searches)) assert.equal(s.status, 200);
      assert.equal(requeue.status, 200, `the dead letter was there: ${JSON.stringify(requeue)}`);
      assert.equal(requeue.body.done, 1);
    }
    // Every other dead letter back on q.XQ (RabbitMQ counts them ready once it has put them
    // back), the three requeued on q.
    await eventually(async () => {
      const [row] = (await call("/api/queues", VIEWER)).body;
      return row.deadLettered === 2997 && row.queued === 3;
    }, 30_000, "2997 dead letters and 3 queued");
  } finally {
    await gateway?.stop();
    await admin.close().catch(() => {});
    await Promise.all([redis.stop(), rabbit.stop()]);
  }
});
