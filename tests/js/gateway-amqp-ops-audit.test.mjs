// The RabbitMQ gateway (`serve --amqp`) with readers and an operator at once: a viewer's
// dead-letter search holds a queue's dead letters unacked while it reads them (AMQP has no
// other way to look), and an operator's requeue meanwhile found nothing (404) for a dead
// letter that was there. The gateway now takes a queue's dead letters one request at a time.
//
// Then what the follow audit over RabbitMQ (gateway-follow-fuzz-amqp.test.mjs) found: a dead
// letter was not found by its id (404, or `failed` from its result with no body: the lookup
// walked the Redis broker's keys only, though its requeue by id found it), an id over 200
// characters could not be searched for (400: the Redis gateway's search takes 1 000), and
// the bulk actions' `exception` filter did not look at the exception a run stored (only at
// the traceback in the body; a message that failed on its first try has none).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import amqplib from "amqplib";
import { RabbitmqBroker, RedisBackend, connectRedis } from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { eventually, startGatewayBin } from "./gateway-helpers.mjs";

const skip = (!haveRedis && "no redis-server") || (!haveRabbitmq && "no rabbitmq-server") || false;
const VIEWER = "viewer-token-for-the-amqp-audit-0123";
const OPERATOR = "operator-token-for-the-amqp-audit-98";
const Q = "amqp-audit";

/**
 * Runs `fn({ redis, rabbit, admin, gateway })`: a redis-server and a RabbitMQ node with `Q`
 * declared as Dramatiq declares it, an amqplib connection to it, and the gateway, started
 * once `fill({ admin, redis })` has put what the test needs in place; all stopped after.
 */
async function withServers(fill, fn) {
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
    await fill({ admin, redis });
    gateway = await startGatewayBin(["--amqp", rabbit.url, "--redis", redis.url, "--queues", Q], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
    await fn({ redis, rabbit, admin, gateway });
  } finally {
    await gateway?.stop();
    await admin.close().catch(() => {});
    await Promise.all([redis.stop(), rabbit.stop()]);
  }
}

test("an operator's requeue finds its dead letter while viewers search the same queue", { skip, timeout: 180_000 }, async () => {
  const ids = Array.from({ length: 3000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
  const fill = async ({ admin }) => {
    const ch = await admin.createConfirmChannel();
    for (const [i, id] of ids.entries()) {
      ch.sendToQueue(`${Q}.XQ`, Buffer.from(JSON.stringify({ queue_name: Q, actor_name: "job", args: [i, "x".repeat(2000)], kwargs: {}, options: { retries: 1 }, message_id: id, message_timestamp: Date.now() })), { deliveryMode: 2 });
    }
    await ch.waitForConfirms();
  };
  await withServers(fill, async ({ gateway }) => {
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
  });
});

test("a dead letter by its id, by a search for a long id, and by the exception its run stored", { skip, timeout: 120_000 }, async (t) => {
  // Python's ids are any str: a long one with spaces, a slash, a quote and unicode.
  const id = `ünïcødé ${"long/".repeat(50)} "${"x".repeat(40)}`;
  const other = "00000000-0000-4000-8000-000000000001";
  const fill = async ({ admin, redis }) => {
    const ch = await admin.createConfirmChannel();
    for (const messageId of [id, other]) {
      // As Dramatiq's RabbitmqBroker publishes it (json.dumps: non-ASCII escaped), and as it
      // dies on its first try: no traceback in the body, the exception in the result store.
      const body = JSON.stringify({ queue_name: Q, actor_name: "job", args: [messageId.length], kwargs: {}, options: {}, message_id: messageId, message_timestamp: Date.now() }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
      ch.sendToQueue(`${Q}.XQ`, Buffer.from(body), { deliveryMode: 2 });
    }
    await ch.waitForConfirms();
    await ch.close();
    const results = await connectRedis(redis.url);
    try {
      await new RedisBackend(results).storeException({ queueName: Q, actorName: "job", messageId: id }, Object.assign(new Error("stored only in the result store"), { name: "AppError" }));
    } finally {
      await results.close().catch(() => {});
    }
  };
  await withServers(fill, async ({ gateway }) => {
    const call = (path, { method = "GET", body } = {}) =>
      fetch(`${gateway.url}${path}`, { method, headers: { authorization: `Bearer ${OPERATOR}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body && JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));

    await t.test("GET /api/messages/<id> finds a dead letter, with its body and its stored exception", async () => {
      const got = await call(`/api/messages/${encodeURIComponent(id)}`);
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.deepEqual([got.body.state, got.body.queue, got.body.actor, got.body.message?.message_id, got.body.message?.args], ["dead-lettered", Q, "job", id, [id.length]]);
      assert.deepEqual(got.body.result, { exception: { type: "AppError", message: "stored only in the result store" } });
      // One that stored nothing is found all the same; its result is none yet (202).
      const bare = await call(`/api/messages/${other}`);
      assert.deepEqual([bare.status, bare.body.state, bare.body.result], [200, "dead-lettered", null]);
      assert.equal((await call(`/api/messages/${other}/result?timeout=0`)).status, 202);
    });

    await t.test("?q= takes the whole of a long id (1 to 1 000 characters, as over Redis)", async () => {
      const found = await call(`/api/messages?q=${encodeURIComponent(id)}`);
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.deepEqual(found.body.items.map((i) => i.message.message_id), [id]);
      assert.equal((await call(`/api/messages?q=${"x".repeat(1001)}`)).status, 400);
    });

    await t.test("the exception filter matches the exception the run stored", async () => {
      const dry = await call("/api/dead-letters/delete", { method: "POST", body: { exception: "AppError: stored only", dryRun: true } });
      assert.deepEqual(dry.body, { matched: 1, done: 0, complete: true, dryRun: true });
      const run = await call("/api/dead-letters/requeue", { method: "POST", body: { exception: "only in the result" } });
      assert.deepEqual(run.body, { matched: 1, done: 1, complete: true, dryRun: false });
      const [row] = (await call("/api/queues")).body;
      assert.deepEqual([row.queued, row.deadLettered], [1, 1], "the one it matched requeued, the other left");
    });
  });
});

test("a lookup or an action by id takes the dead letters up to the first with that id, not the whole queue; a duplicate id is acted on once", { skip, timeout: 120_000 }, async () => {
  // A producer's duplicate: the same id dead-lettered twice, after the one looked up.
  const order = ["m0", "m1", "dup", "m2", "dup", "m3"];
  const fill = async ({ admin }) => {
    const ch = await admin.createConfirmChannel();
    for (const [i, messageId] of order.entries()) {
      ch.sendToQueue(`${Q}.XQ`, Buffer.from(JSON.stringify({ queue_name: Q, actor_name: "job", args: [i], kwargs: {}, options: {}, message_id: messageId, message_timestamp: Date.now() })), { deliveryMode: 2 });
    }
    await ch.waitForConfirms();
    await ch.close();
  };
  await withServers(fill, async ({ gateway }) => {
    const call = (path, method = "GET") => fetch(`${gateway.url}${path}`, { method, headers: { authorization: `Bearer ${OPERATOR}` } }).then(async (r) => ({ status: r.status, body: await r.json() }));

    const got = await call("/api/messages/m1");
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.deepEqual(got.body.message.args, [1]);
    // What was taken and put back is marked redelivered by RabbitMQ; what was never taken is not.
    await eventually(async () => (await call("/api/queues")).body[0].deadLettered === 6, 10_000, "the dead letters back on q.XQ");
    const listed = (await call(`/api/messages?queue=${Q}&state=dead-lettered&limit=10`)).body.items;
    const taken = Object.fromEntries(listed.map((i) => [i.message.args[0], i.redelivered]));
    assert.deepEqual(taken, { 0: true, 1: true, 2: false, 3: false, 4: false, 5: false }, "only m0 and m1 were read");

    const requeued = await call("/api/messages/dup/requeue", "POST");
    assert.equal(requeued.status, 200, JSON.stringify(requeued.body));
    assert.deepEqual([requeued.body.matched, requeued.body.done], [1, 1]);
    await eventually(async () => {
      const [row] = (await call("/api/queues")).body;
      return row.queued === 1 && row.deadLettered === 5;
    }, 10_000, "one copy of dup requeued, the other still a dead letter");
    const again = await call("/api/messages/dup");
    assert.deepEqual([again.status, again.body.state, again.body.message.args], [200, "dead-lettered", [4]], "the second copy is found on its own");
  });
});
