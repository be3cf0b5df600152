// The gateway over a Dramatiq RabbitMQ deployment (`serve --amqp … --redis … --queues …`),
// started by its own bin against a real rabbitmq-server (the broker) and redis-server (the
// results and the audit log), with a real Python Dramatiq RabbitMQ worker that dead-letters
// messages: queue counts, dead letters listed without consuming them, one requeued and run
// again by the Python worker (its result read by Python's get_result), the rest deleted in
// bulk after a dry run, every action in the audit log.
import { test } from "node:test";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { createClient } from "redis";
import amqplib from "amqplib";
import { RabbitmqBroker } from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { openEvents, startGatewayBin, eventually } from "./gateway-helpers.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";

const skip =
  [
    !haveRedis && "no redis-server (scripts/setup --services)",
    !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)",
    !havePython && "no Python Dramatiq in target/venv (scripts/setup --python)",
  ]
    .filter(Boolean)
    .join("; ") || false;

const VIEWER = "viewer-token-for-the-amqp-tests-0123";
const OPERATOR = "operator-token-for-the-amqp-tests-98";
const viewer = { authorization: `Bearer ${VIEWER}` };
const operator = { authorization: `Bearer ${OPERATOR}` };
const QUEUE = "amqp-ops";
const PREFIX = "amqp-ops-app";
const IDLE = "amqp-idle"; // a queue no worker consumes: what a requeue publishes stays there

test("the gateway over a real RabbitMQ deployment with a Python Dramatiq worker", { skip, timeout: 180_000 }, async (t) => {
  const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const admin = await amqplib.connect(rabbit.url);
  const py = { broker: "rabbitmq", url: rabbit.url, resultsUrl: redis.url, queue: QUEUE, prefix: PREFIX };
  await client.set(`${PREFIX}:broken`, "1"); // the bug: until_fixed raises
  let worker = await startPythonWorker({ ...py, threads: 4 });
  let gateway;
  try {
    gateway = await startGatewayBin(["--amqp", rabbit.url, "--redis", redis.url, "--queues", `${QUEUE},${IDLE},never-declared`], {
      env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR },
    });
    const call = (path, { method = "GET", headers = operator, body } = {}) =>
      fetch(`${gateway.url}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const jsonOf = async (res) => ({ status: res.status, body: await res.json() });
    const row = async () => (await (await call("/api/queues", { headers: viewer })).json()).find((q) => q.name === QUEUE);
    // What RabbitMQ itself says is in the dead-letter queue, for checks independent of the gateway.
    const xqCount = async (queue = `${QUEUE}.XQ`) => {
      const ch = await admin.createChannel();
      try {
        return (await ch.checkQueue(queue)).messageCount;
      } finally {
        await ch.close();
      }
    };

    // Five messages the bug dead-letters (after one retry each), sent by Python.
    const sent = (await runPython("produce.py", ["send", ...[1, 2, 3, 4, 5].map((x) => JSON.stringify({ actor: "until_fixed", args: [x] }))], py)).map((l) =>
      JSON.parse(l),
    );
    assert.equal(sent.length, 5);
    const byArg = new Map(sent.map((m) => [m.args[0], m]));
    await eventually(async () => (await row())?.deadLettered === 5, 90_000, "5 dead letters");

    await t.test("counts: the ready messages of q, q.DQ and q.XQ; a queue RabbitMQ lacks is marked missing", async () => {
      const queues = (await jsonOf(await call("/api/queues", { headers: viewer }))).body;
      assert.deepEqual(queues.map((q) => q.name), [QUEUE, IDLE, "never-declared"], "the --queues, in order");
      assert.deepEqual(queues.find((q) => q.name === QUEUE), { name: QUEUE, queued: 0, delayed: 0, inProgress: null, deadLettered: 5 });
      assert.deepEqual(queues.find((q) => q.name === "never-declared"), {
        name: "never-declared", queued: null, delayed: null, inProgress: null, deadLettered: null, missing: true,
      });
      assert.equal((await call("/api/queues")).status, 200, "the operator reads too");
      assert.equal((await call("/api/queues", { headers: {} })).status, 401);
      // The page's overview (`queues` events) carries RabbitMQ's counts too.
      const events = await openEvents(`${gateway.url}/api/events`, viewer);
      try {
        const event = await events.until((e) => e.event === "queues" && e.data.some((q) => q.name === QUEUE && q.deadLettered === 5), 30_000);
        assert.deepEqual(event.data.map((q) => q.name), [QUEUE, IDLE, "never-declared"]);
      } finally {
        events.close();
      }
      const status = await jsonOf(await call("/api/status", { headers: viewer }));
      assert.equal(status.status, 200);
      assert.deepEqual([status.body.amqp, status.body.redis], [{ ok: true, error: null }, { ok: true, error: null }]);
    });

    await t.test("dead letters listed without consuming them; queued ones cannot be listed", async () => {
      const all = (await jsonOf(await call(`/api/messages?queue=${QUEUE}&state=dead-lettered&limit=50`, { headers: viewer }))).body;
      assert.equal(all.items.length, 5);
      assert.deepEqual(all.items.map((i) => i.message.args[0]).sort(), [1, 2, 3, 4, 5]);
      for (const item of all.items) {
        assert.equal(item.state, "dead-lettered");
        assert.equal(item.message.actor_name, "until_fixed");
        assert.match(item.message.options.traceback, /AppError: broken for \d/);
        assert.equal(typeof item.deadAt, "number");
        assert.ok(Math.abs(item.deadAt - Date.now()) < 600_000, "x-death time in ms");
        assert.equal(typeof item.key, "string");
      }
      const two = (await jsonOf(await call(`/api/messages?queue=${QUEUE}&limit=2`, { headers: viewer }))).body;
      assert.equal(two.items.length, 2, "limit bounds the read");
      assert.equal(await xqCount(), 5, "nothing consumed: RabbitMQ still holds all five");
      // The search: over the dead letters' ids, actors, arguments and tracebacks.
      const found = (await jsonOf(await call(`/api/messages?q=${encodeURIComponent("BROKEN FOR 4")}`, { headers: viewer }))).body;
      assert.deepEqual(found.items.map((i) => [i.queue, i.state, i.message.args[0]]), [[QUEUE, "dead-lettered", 4]]);
      const byId = (await jsonOf(await call(`/api/messages?q=${byArg.get(2).message_id}&queue=${QUEUE}`, { headers: viewer }))).body;
      assert.deepEqual(byId.items.map((i) => i.message.message_id), [byArg.get(2).message_id]);
      assert.equal((await jsonOf(await call("/api/messages?q=until_fixed&limit=3", { headers: viewer }))).body.items.length, 3);
      assert.equal(await xqCount(), 5, "the search consumed nothing");
      const queued = await jsonOf(await call(`/api/messages?queue=${QUEUE}&state=queued`, { headers: viewer }));
      assert.equal(queued.status, 400);
      assert.match(queued.body.error, /cannot show queued/);
    });

    await t.test("a message RabbitMQ never showed (done by the worker) is found by id through its result, its actor's dead letters having been read", async () => {
      await client.del(`${PREFIX}:broken`);
      try {
        const [m] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "until_fixed", args: [10] })], py)).map((l) => JSON.parse(l));
        const [read] = await runPython("produce.py", ["results", "--timeout", "30000"], { ...py, input: `${JSON.stringify(m)}\n` });
        assert.deepEqual(JSON.parse(read), { value: 20 }, "Python's get_result");
        const one = await jsonOf(await call(`/api/messages/${m.message_id}`, { headers: viewer }));
        assert.equal(one.status, 200, JSON.stringify(one.body));
        assert.deepEqual(
          [one.body.state, one.body.queue, one.body.actor, one.body.knownBy, one.body.result],
          ["done", QUEUE, "until_fixed", "result", { json: "20" }],
        );
      } finally {
        await client.set(`${PREFIX}:broken`, "1");
      }
    });

    await t.test("roles: no operator action for the viewer or without a token", async () => {
      const id = byArg.get(1).message_id;
      assert.equal((await call(`/api/messages/${id}/requeue`, { method: "POST", headers: viewer })).status, 403);
      assert.equal((await call(`/api/messages/${id}/requeue`, { method: "POST", headers: {} })).status, 401);
      assert.equal((await call("/api/dead-letters/delete", { method: "POST", headers: viewer, body: { dryRun: true } })).status, 403);
      assert.equal(await xqCount(), 5);
    });

    await t.test("one dead letter requeued: the Python worker runs it again and get_result reads the new result", async () => {
      await client.del(`${PREFIX}:broken`); // the bug is fixed
      const m = byArg.get(3);
      const { key } = (await jsonOf(await call(`/api/messages?queue=${QUEUE}`, { headers: viewer }))).body.items.find((i) => i.message.message_id === m.message_id);
      const stored = async () => (await client.lRange(key, 0, -1)).join("\n");
      assert.match(await stored(), /AppError/, "Python stored the failed run's exception");
      // The worker stopped while the operator acts, so what the requeue leaves can be seen.
      await worker.stop();
      const missing = await jsonOf(await call("/api/messages/no-such-message/requeue", { method: "POST" }));
      assert.equal(missing.status, 404);
      const res = await jsonOf(await call(`/api/messages/${m.message_id}/requeue`, { method: "POST" }));
      assert.deepEqual(res, { status: 200, body: { messageId: m.message_id, matched: 1, done: 1, state: "queued" } });
      // The failed run's result went before the copy was published: whoever waits now gets
      // the new run's, not the old failure.
      assert.equal(await stored(), "");
      assert.equal((await row()).queued, 1, "the copy waits on its queue");
      worker = await startPythonWorker({ ...py, threads: 4 });
      const lines = await runPython("produce.py", ["results", "--timeout", "30000"], { ...py, input: `${JSON.stringify(m)}\n` });
      assert.deepEqual(lines.map((l) => JSON.parse(l)), [{ value: 6 }]);
      assert.equal(await xqCount(), 4, "the dead letter was acked once its copy was confirmed");
      // Requeued once: a second requeue of the same id finds nothing.
      assert.equal((await call(`/api/messages/${m.message_id}/requeue`, { method: "POST" })).status, 404);
    });

    await t.test("bulk delete: the dry run counts and changes nothing, the real run deletes what matches", async () => {
      const dry = await jsonOf(await call("/api/dead-letters/delete", { method: "POST", body: { queue: QUEUE, exception: "broken for", dryRun: true } }));
      assert.deepEqual(dry, { status: 200, body: { matched: 4, done: 0, complete: true, dryRun: true } });
      assert.equal(await xqCount(), 4);
      const some = await jsonOf(await call("/api/dead-letters/delete", { method: "POST", body: { exception: "broken for 1" } }));
      assert.equal(some.body.matched, 1);
      assert.equal(some.body.done, 1);
      assert.equal(await xqCount(), 3);
      const rest = await jsonOf(await call("/api/dead-letters/delete", { method: "POST", body: { queue: QUEUE, actor: "until_fixed" } }));
      assert.deepEqual(rest.body, { matched: 3, done: 3, complete: true, dryRun: false });
      assert.equal(await xqCount(), 0);
      assert.equal((await row()).deadLettered, 0);
    });

    await t.test("bulk requeue: the revived copy is what Dramatiq publishes (canonical queue, no eta, retries 0); a body that is no message stays", async () => {
      // Dead letters put on IDLE.XQ by hand: one that died on the delay queue (eta, .DQ name,
      // spent retries) and one that is not a Dramatiq message.
      const broker = await RabbitmqBroker.connect(rabbit.url);
      try {
        await broker.ensureQueue(IDLE);
      } finally {
        await broker.close();
      }
      const dead = {
        queue_name: `${IDLE}.DQ`, actor_name: "add", args: [20, 22], kwargs: {},
        options: { retries: 3, eta: Date.now() - 1000, traceback: "Traceback …\nValueError: boom" },
        message_id: "0b2c8e0e-6d7a-4b4e-9a3c-000000000001", message_timestamp: Date.now() - 5000,
      };
      const ch = await admin.createConfirmChannel();
      ch.sendToQueue(`${IDLE}.XQ`, Buffer.from(JSON.stringify(dead)), { deliveryMode: 2 });
      ch.sendToQueue(`${IDLE}.XQ`, Buffer.from("<not a message>"), { deliveryMode: 2 });
      await ch.waitForConfirms();
      const listed = (await jsonOf(await call(`/api/messages?queue=${IDLE}`, { headers: viewer }))).body.items;
      assert.deepEqual(listed.map((i) => i.message?.message_id ?? i.malformed).sort(), [dead.message_id, "not JSON"].sort());
      const dry = await jsonOf(await call("/api/dead-letters/requeue", { method: "POST", body: { queue: IDLE, dryRun: true } }));
      assert.deepEqual(dry.body, { matched: 1, done: 0, complete: true, dryRun: true });
      const run = await jsonOf(await call("/api/dead-letters/requeue", { method: "POST", body: { queue: IDLE, exception: "ValueError: boom" } }));
      assert.deepEqual(run.body, { matched: 1, done: 1, complete: true, dryRun: false });
      assert.equal(await xqCount(`${IDLE}.XQ`), 1, "the body that is no message stays");
      const got = await ch.get(IDLE, { noAck: true });
      assert.ok(got, "the revived copy is on its canonical queue");
      assert.equal(got.properties.deliveryMode, 2);
      const revived = JSON.parse(got.content.toString("utf8"));
      assert.equal(revived.queue_name, IDLE);
      assert.equal(revived.message_id, dead.message_id);
      assert.deepEqual(revived.args, [20, 22]);
      assert.equal(revived.options.retries, 0, "the Retries budget is whole again");
      assert.equal(revived.options.eta, undefined);
      assert.equal(await ch.get(IDLE, { noAck: true }), false, "published once");
      await ch.close();
    });

    await t.test("the audit log in Redis has every action", async () => {
      const log = (await jsonOf(await call("/api/audit", { headers: viewer }))).body;
      assert.deepEqual(
        log.map((e) => [e.action, e.matched, e.done, e.dryRun ?? null]),
        [
          ["dead-letters/requeue", 1, 1, false],
          ["dead-letters/requeue", 1, 0, true],
          ["dead-letters/delete", 3, 3, false],
          ["dead-letters/delete", 1, 1, false],
          ["dead-letters/delete", 4, 0, true],
          ["requeue", 0, 0, null],
          ["requeue", 1, 1, null],
          ["requeue", 0, 0, null],
        ],
      );
      assert.ok(log.every((e) => e.role === "operator" && e.broker === "rabbitmq"));
      assert.equal(log[6].messageId, byArg.get(3).message_id);
    });

    await t.test("a dead letter that is no message is deleted by the id its listing gives it", async () => {
      // A second body that is no message, beside the one the test before left (which stays).
      const body = "{ neither JSON nor a message";
      const ch = await admin.createConfirmChannel();
      ch.sendToQueue(`${IDLE}.XQ`, Buffer.from(body), { deliveryMode: 2 });
      await ch.waitForConfirms();
      await ch.close();
      const id = `sha256-${createHash("sha256").update(body).digest("hex").slice(0, 32)}`;
      const listed = (await jsonOf(await call(`/api/messages?queue=${IDLE}`, { headers: viewer }))).body.items;
      assert.equal(listed.length, 2, JSON.stringify(listed));
      assert.ok(listed.every((i) => i.malformed === "not JSON" && /^sha256-[0-9a-f]{32}$/.test(i.id)), JSON.stringify(listed));
      assert.ok(listed.some((i) => i.id === id), "listed under the digest of its body");
      assert.equal((await call(`/api/queues/${IDLE}/malformed/${id}`, { method: "DELETE", headers: viewer })).status, 403);
      const missing = await call(`/api/queues/${IDLE}/malformed/sha256-${"0".repeat(32)}`, { method: "DELETE", body: {} });
      assert.equal(missing.status, 404);
      assert.equal(await xqCount(`${IDLE}.XQ`), 2, "a miss leaves them");
      const deleted = await jsonOf(await call(`/api/queues/${IDLE}/malformed/${id}`, { method: "DELETE", body: {} }));
      assert.deepEqual(deleted.body, { messageId: `malformed:${id}`, matched: 1, done: 1, state: "dead-lettered", malformed: "not JSON" });
      assert.equal(await xqCount(`${IDLE}.XQ`), 1, "only that one went");
      const left = (await jsonOf(await call(`/api/messages?queue=${IDLE}`, { headers: viewer }))).body.items;
      assert.equal(left.length, 1);
      assert.notEqual(left[0].id, id);
      assert.equal((await call(`/api/queues/${IDLE}/malformed/${id}`, { method: "DELETE", body: {} })).status, 404);
    });

    await t.test("RabbitMQ down: 503 with the gateway still up; back: the gateway reconnects", async () => {
      await worker.stop();
      await admin.close().catch(() => {});
      await rabbit.kill();
      assert.equal((await call("/api/queues", { headers: viewer })).status, 503);
      const status = await jsonOf(await call("/api/status", { headers: viewer }));
      assert.equal(status.status, 503);
      assert.equal(status.body.amqp.ok, false);
      assert.equal((await call(`/api/messages?queue=${IDLE}`, { headers: viewer })).status, 503);
      assert.equal((await call("/api/dead-letters/delete", { method: "POST", body: { dryRun: true } })).status, 503);
      await rabbit.restart();
      const back = await eventually(async () => {
        const res = await call("/api/queues", { headers: viewer });
        return res.status === 200 && (await res.json());
      }, 60_000, "the queues again");
      assert.equal(back.find((q) => q.name === IDLE).deadLettered, 1, "the persistent dead letter survived the restart");
    });
  } finally {
    await gateway?.stop();
    await worker.stop();
    await admin.close().catch(() => {});
    await client.destroy();
    await rabbit.stop();
    await redis.stop();
  }
});

test("serve --amqp refuses to start without --queues", { skip }, async () => {
  await assert.rejects(startGatewayBin(["--amqp", "amqp://127.0.0.1:1", "--redis", "redis://127.0.0.1:1"]), /--amqp needs --queues/);
  await assert.rejects(startGatewayBin(["--amqp", "amqp://127.0.0.1:1", "--redis", "redis://127.0.0.1:1", "--queues", "a.XQ"]), /not their \.DQ or \.XQ/);
});
