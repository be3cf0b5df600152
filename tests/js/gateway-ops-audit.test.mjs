// The operator's gateway as an operator meets it next to a real Python Dramatiq worker on a
// real redis-server: several operators (or one impatient one, clicking twice) acting on the
// same dead letter at once. Each message is requeued once and runs once; every request that
// did not requeue it says where the message is now (never a 200 "done: 0"), and only the
// request that moved it leaves an operator's entry in the message's history.
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import assert from "node:assert/strict";
import { serve } from "@hono/node-server";
import { createClient } from "redis";
import { JSONEncoder, MemcachedBackend, Message, RedisBackend, RedisBroker, RedisBrokerKeys, StubBackend, Worker, actor, connectRedis } from "dramatiq-results";
import { createGateway } from "dramatiq-results/gateway";
import { packageCodecs } from "../../pkg/src/gateway/codecs.js";
import { openRedis, redisReadKey } from "../../pkg/src/gateway/redis/redis.js";
import { freePort, haveMemcached, haveRedis, startMemcached, startRedis } from "./services.mjs";
import { HandBroker, dict, startGatewayBin, eventually } from "./gateway-helpers.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";

const skip = (!haveRedis && "redis-server is not installed (scripts/setup --services)") || (!havePython && "no Python Dramatiq (scripts/setup --python)");
const VIEWER = "viewer-token-for-the-ops-audit-0123";
const OPERATOR = "operator-token-for-the-ops-audit-987";
const operator = { authorization: `Bearer ${OPERATOR}` };
const QUEUE = "opsaudit";
const PREFIX = "opsaudit-app";

test("concurrent requeues of one dead letter: one moves it, the others say where it is", { skip, timeout: 180_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const worker = await startPythonWorker({ url: redis.url, queue: QUEUE, prefix: PREFIX, threads: 2 });
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = async (path, method = "GET") => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: operator });
    return { status: res.status, body: await res.json() };
  };
  try {
    // Dead letters of `record` as Dramatiq's nack leaves them (the body in <q>.XQ.msgs, its
    // redis_message_id scored by the time in <q>.XQ), a Retries history included.
    const ids = [];
    const at = Date.now() - 1000;
    for (let i = 0; i < 5; i++) {
      const rid = crypto.randomUUID();
      const id = crypto.randomUUID();
      const body = { queue_name: QUEUE, actor_name: "record", args: [`t${i}`], kwargs: {}, options: { redis_message_id: rid, retries: 3, traceback: "Traceback…\nAppError: boom\n" }, message_id: id, message_timestamp: at };
      await client.hSet(`dramatiq:${QUEUE}.XQ.msgs`, rid, JSON.stringify(body));
      await client.zAdd(`dramatiq:${QUEUE}.XQ`, { score: at + i, value: rid });
      ids.push(id);
    }
    for (const id of ids) {
      const answers = await Promise.all(Array.from({ length: 12 }, () => call(`/api/messages/${id}/requeue`, "POST")));
      const moved = answers.filter((a) => a.status === 200);
      assert.equal(moved.length, 1, `exactly one request requeued it: ${JSON.stringify(answers)}`);
      assert.deepEqual(moved[0].body, { messageId: id, matched: 1, done: 1, state: "queued" });
      for (const a of answers.filter((x) => x.status !== 200)) {
        // It is queued, running or done by now: a conflict naming where it is, or not found.
        assert.ok([409, 404].includes(a.status), JSON.stringify(a));
        if (a.status === 409) assert.ok(a.body.state === undefined || a.body.state !== "dead-lettered", JSON.stringify(a));
      }
      const { body } = await call(`/api/messages/${id}`);
      const requeued = body.history.filter((h) => h.event === "requeued" && h.by === "operator");
      assert.equal(requeued.length, 1, `one requeue in the history: ${JSON.stringify(body.history)}`);
      // The audit log: one entry that did it, the rest matched nothing.
      const audit = (await call(`/api/audit?limit=12`)).body.filter((e) => e.messageId === id);
      assert.equal(audit.length, 12);
      assert.equal(audit.filter((e) => e.done === 1).length, 1);
      assert.ok(audit.filter((e) => e.done !== 1).every((e) => e.matched === 0), JSON.stringify(audit));
    }
    // And each ran exactly once in the Python worker.
    const processed = await eventually(async () => {
      const list = await client.lRange(`${PREFIX}:processed`, 0, -1);
      return list.length >= ids.length ? list : null;
    }, 60_000, "the requeued messages processed");
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual((await client.lRange(`${PREFIX}:processed`, 0, -1)).sort(), [...ids].sort());
    assert.equal(processed.length, ids.length);
    assert.equal(await client.zCard(`dramatiq:${QUEUE}.XQ`), 0);
  } finally {
    await gateway.stop();
    await worker.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("dead letters of big messages: bulk actions and lookups by id read bounded replies", { skip: !haveRedis && "redis-server is not installed", timeout: 180_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = async (path, method = "GET", body) => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: { ...operator, ...(body ? { "content-type": "application/json" } : {}) }, body: body && JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  try {
    // 300 dead letters of 600 KB (a Python producer's documents): 180 MB, more than one
    // reply may carry (128 MiB), so a page of 500 bodies, or a HSCAN of 1 000, failed.
    const pad = "x".repeat(600 * 1024);
    const at = Date.now() - 1000;
    const ids = [];
    for (let i = 0; i < 300; i++) {
      const rid = crypto.randomUUID();
      const id = crypto.randomUUID();
      await client.hSet("dramatiq:big.XQ.msgs", rid, JSON.stringify({ queue_name: "big", actor_name: "store", args: [pad], kwargs: {}, options: { redis_message_id: rid, retries: 1, traceback: `AppError: ${i}\n` }, message_id: id, message_timestamp: at }));
      await client.zAdd("dramatiq:big.XQ", { score: at + i, value: rid });
      ids.push(id);
    }
    // The event poller reads them too (new bodies in bounded batches): its polls go on.
    await new Promise((r) => setTimeout(r, 7000)); // past one queue discovery (5 s)
    const status = await call("/api/status");
    assert.equal(status.body.events?.ok, true, JSON.stringify(status.body));
    assert.doesNotMatch(gateway.output(), /polling failed/);
    assert.deepEqual(await call("/api/dead-letters/requeue", "POST", { queue: "big", dryRun: true }), { status: 200, body: { matched: 300, done: 0, complete: true, dryRun: true } });
    const one = await call(`/api/messages/${ids.at(-1)}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.state, "dead-lettered");
    // Listed page by page (a read stops at 1 MiB of bodies, a page at 8 MiB, with a cursor), and searched.
    const listed = [];
    let cursor = null;
    do {
      const page = await call(`/api/messages?queue=big&state=dead-lettered&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      listed.push(...page.body.items.map((i) => i.message?.message_id));
      cursor = page.body.cursor;
    } while (cursor);
    assert.deepEqual(listed, ids);
    const found = await call(`/api/messages?q=${ids[150]}`);
    assert.equal(found.status, 200, JSON.stringify(found.body));
    assert.deepEqual(found.body.items.map((i) => i.message.message_id), [ids[150]]);
    assert.deepEqual(await call("/api/dead-letters/delete", "POST", { queue: "big", exception: "AppError: 7\n" }), { status: 200, body: { matched: 1, done: 1, complete: true, dryRun: false } });
    // 180 MB to move in scripts of at most 1 MiB of bodies each (so Redis answers everyone
    // in between): a call may stop at 10 s with `complete: false`; called again as the
    // dashboard does, each message is requeued once.
    let requeued = 0;
    for (let calls = 0; ; calls++) {
      assert.ok(calls < 10, "the bulk requeue ends");
      const run = await call("/api/dead-letters/requeue", "POST", { queue: "big" });
      assert.equal(run.status, 200, JSON.stringify(run.body));
      requeued += run.body.done;
      if (run.body.complete) break;
    }
    assert.equal(requeued, 299);
    assert.equal(await client.zCard("dramatiq:big.XQ"), 0);
    assert.equal(await client.lLen("dramatiq:big"), 299);
  } finally {
    await gateway.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("the Authorization scheme is case-insensitive: `bearer <token>` is the same credential", { skip: !haveRedis && "redis-server is not installed", timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const gateway = await startGatewayBin(["--redis", redis.url], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const get = async (path, authorization, method = "GET") => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: { authorization, ...(method === "POST" ? { "content-type": "application/json" } : {}) }, body: method === "POST" ? JSON.stringify({ dryRun: true }) : undefined });
    return { status: res.status, body: await res.json() };
  };
  try {
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      assert.equal((await get("/api/queues", `${scheme} ${VIEWER}`)).status, 200, scheme);
      assert.deepEqual((await get("/api/session", `${scheme} ${OPERATOR}`)).body.role, "operator", scheme);
      assert.equal((await get("/api/dead-letters/requeue", `${scheme} ${OPERATOR}`, "POST")).status, 200, scheme);
      assert.equal((await get("/api/dead-letters/requeue", `${scheme} ${VIEWER}`, "POST")).status, 403, scheme);
    }
    // Still only that scheme, and only the exact token.
    assert.equal((await get("/api/queues", `Basic ${VIEWER}`)).status, 401);
    assert.equal((await get("/api/queues", `bearer ${VIEWER.toUpperCase()}`)).status, 401);
  } finally {
    await gateway.stop();
    await redis.stop();
  }
});

test("one bulk requeue takes each message once, even when it fails again with an older clock", { skip: !haveRedis && "redis-server is not installed", timeout: 120_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  const failing = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  failing.on("error", () => {});
  const gateway = await startGatewayBin(["--redis", redis.url], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  let stop = false;
  try {
    const Q = "skew";
    const at = Date.now() - 3_600_000;
    const multi = client.multi();
    for (let i = 0; i < 2000; i++) {
      const rid = crypto.randomUUID();
      multi.hSet(`dramatiq:${Q}.XQ.msgs`, rid, JSON.stringify({ queue_name: Q, actor_name: "job", args: [i], kwargs: {}, options: { redis_message_id: rid, retries: 1 }, message_id: `m-${i}`, message_timestamp: at }));
      multi.zAdd(`dramatiq:${Q}.XQ`, { score: at + i, value: rid });
    }
    await multi.exec();
    // A worker whose clock is behind the gateway's (Dramatiq scores a dead letter with the
    // worker's time): whatever is requeued fails at once and is dead-lettered again with a
    // time still before the bulk request started.
    let redead = 0;
    const worker = (async () => {
      while (!stop) {
        const rid = await failing.lPop(`dramatiq:${Q}`);
        if (!rid) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        const body = await failing.hGet(`dramatiq:${Q}.msgs`, rid);
        await failing.multi().hDel(`dramatiq:${Q}.msgs`, rid).hSet(`dramatiq:${Q}.XQ.msgs`, rid, body).zAdd(`dramatiq:${Q}.XQ`, { score: at + 100_000 + redead++, value: rid }).exec();
      }
    })();
    const res = await fetch(`${gateway.url}/api/dead-letters/requeue`, { method: "POST", headers: { ...operator, "content-type": "application/json" }, body: JSON.stringify({ queue: Q }) });
    const body = await res.json();
    stop = true;
    await worker;
    assert.equal(res.status, 200);
    assert.equal(body.done, 2000, `each of the 2000 requeued once in this run: ${JSON.stringify(body)} (the worker dead-lettered ${redead} again)`);
  } finally {
    stop = true;
    await gateway.stop();
    await client.quit().catch(() => {});
    await failing.quit().catch(() => {});
    await redis.stop();
  }
});

test("a body no worker can decode, stuck in a Python worker's acks set, is deleted by its queue and redis id", { skip, timeout: 180_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const queue = "opsmalformed";
  const worker = await startPythonWorker({ url: redis.url, queue, prefix: PREFIX, threads: 2 });
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = async (path, method = "GET", headers = operator) => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  const acksHolding = async (rid) => {
    const holders = [];
    for await (const keys of client.scanIterator({ MATCH: `dramatiq:__acks__.*.${queue}`, COUNT: 100 })) {
      for (const key of [keys].flat()) if (await client.sIsMember(key, rid)) holders.push(key);
    }
    return holders;
  };
  try {
    // Python's worker fetches it (into its acks set), fails to decode it, and keeps it there.
    const stuck = crypto.randomUUID();
    await client.hSet(`dramatiq:${queue}.msgs`, stuck, "{not json");
    await client.rPush(`dramatiq:${queue}`, stuck);
    const holders = await eventually(async () => {
      const h = await acksHolding(stuck);
      return h.length && (await client.lLen(`dramatiq:${queue}`)) === 0 ? h : null;
    }, 30_000, "the Python worker to fetch the malformed body");
    // A malformed dead letter, and a real dead letter (which this route must not touch).
    const deadBad = crypto.randomUUID();
    await client.hSet(`dramatiq:${queue}.XQ.msgs`, deadBad, "[1,2]");
    await client.zAdd(`dramatiq:${queue}.XQ`, { score: Date.now() - 1000, value: deadBad });
    const deadGood = crypto.randomUUID();
    const goodId = crypto.randomUUID();
    await client.hSet(`dramatiq:${queue}.XQ.msgs`, deadGood, JSON.stringify({ queue_name: queue, actor_name: "record", args: ["x"], kwargs: {}, options: { redis_message_id: deadGood }, message_id: goodId, message_timestamp: Date.now() }));
    await client.zAdd(`dramatiq:${queue}.XQ`, { score: Date.now() - 1000, value: deadGood });

    const listed = await call(`/api/messages?queue=${queue}&state=in-progress`);
    assert.deepEqual(listed.body.items.map((i) => [i.id, i.malformed]), [[stuck, "not JSON"]], JSON.stringify(listed.body));

    // The viewer may not; an unknown id is 404; a real message is 409 and stays.
    assert.equal((await call(`/api/queues/${queue}/malformed/${stuck}`, "DELETE", { authorization: `Bearer ${VIEWER}` })).status, 403);
    assert.equal((await call(`/api/queues/${queue}/malformed/${crypto.randomUUID()}`, "DELETE")).status, 404);
    const refused = await call(`/api/queues/${queue}/malformed/${deadGood}`, "DELETE");
    assert.equal(refused.status, 409, JSON.stringify(refused));
    assert.equal(refused.body.messageId, goodId);
    assert.equal(await client.zScore(`dramatiq:${queue}.XQ`, deadGood) !== null, true, "the real dead letter stays");

    const deleted = await call(`/api/queues/${queue}/malformed/${stuck}`, "DELETE");
    assert.equal(deleted.status, 200, JSON.stringify(deleted));
    assert.deepEqual(deleted.body, { messageId: `malformed:${stuck}`, matched: 1, done: 1, state: "in-progress", malformed: "not JSON" });
    assert.equal(Number(await client.hExists(`dramatiq:${queue}.msgs`, stuck)), 0);
    for (const key of holders) assert.equal(Number(await client.sIsMember(key, stuck)), 0, `${key} still holds it`);
    // Twice: gone.
    assert.equal((await call(`/api/queues/${queue}/malformed/${stuck}`, "DELETE")).status, 404);

    const dead = await call(`/api/queues/${queue}/malformed/${deadBad}`, "DELETE");
    assert.equal(dead.status, 200, JSON.stringify(dead));
    assert.equal(dead.body.state, "dead-lettered");
    assert.equal(await client.zScore(`dramatiq:${queue}.XQ`, deadBad), null);
    assert.equal(Number(await client.hExists(`dramatiq:${queue}.XQ.msgs`, deadBad)), 0);

    const audit = (await call(`/api/audit?limit=10`)).body.filter((e) => e.messageId === `malformed:${stuck}`);
    assert.deepEqual(audit.map((e) => e.done), [0, 1], JSON.stringify(audit)); // newest first: the second delete, then the one that did it

    // The worker goes on: a message sent after it runs.
    const rid = crypto.randomUUID();
    const id = crypto.randomUUID();
    await client.hSet(`dramatiq:${queue}.msgs`, rid, JSON.stringify({ queue_name: queue, actor_name: "record", args: ["after"], kwargs: {}, options: { redis_message_id: rid }, message_id: id, message_timestamp: Date.now() }));
    await client.rPush(`dramatiq:${queue}`, rid);
    await eventually(async () => ((await client.lRange(`${PREFIX}:processed`, 0, -1)).includes(id) ? true : null), 60_000, "the next message processed");
  } finally {
    await gateway.stop();
    await worker.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("a message behind 60 000 others is found by id, requeued and deleted (a lookup used to stop at 50 000 bodies and answer 404)", { skip: !haveRedis && "redis-server is not installed", timeout: 120_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  // One poll at start, none after: the messages below are sent later, so the poller has no
  // record of them (as with more messages than it follows) and every lookup walks the broker.
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "600000"], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = async (path, method = "GET") => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: operator });
    return { status: res.status, body: await res.json() };
  };
  const put = (m, queue, body, { dead = false, delayed = false } = {}) => {
    const rid = crypto.randomUUID();
    const q = delayed ? `${queue}.DQ` : queue;
    const msg = { queue_name: q, actor_name: "job", args: [body], kwargs: {}, options: { redis_message_id: rid, ...(delayed ? { eta: Date.now() + 3_600_000 } : {}) }, message_id: crypto.randomUUID(), message_timestamp: Date.now() };
    if (dead) m.zAdd(`dramatiq:${queue}.XQ`, { score: Date.now(), value: rid }).hSet(`dramatiq:${queue}.XQ.msgs`, rid, JSON.stringify(msg));
    else m.hSet(`dramatiq:${q}.msgs`, rid, JSON.stringify(msg)).rPush(`dramatiq:${q}`, rid);
    return msg.message_id;
  };
  try {
    // A busy queue first in name order, then the messages the operator looks for.
    for (let i = 0; i < 60_000; i += 5000) {
      const m = client.multi();
      for (let j = i; j < i + 5000; j++) put(m, "aaa-busy", j);
      await m.exec();
    }
    const m = client.multi();
    const dead = put(m, "zzz", "dead", { dead: true });
    const queued = put(m, "zzz", "queued");
    const delayed = put(m, "zzz", "delayed", { delayed: true });
    const backlog = put(m, "aaa-busy", "the last of the busy queue");
    await m.exec();
    for (const [id, state] of [[dead, "dead-lettered"], [queued, "queued"], [delayed, "delayed"], [backlog, "queued"]]) {
      const found = await call(`/api/messages/${id}`);
      assert.equal(found.status, 200, `${state}: ${JSON.stringify(found.body)}`);
      assert.equal(found.body.state, state);
    }
    assert.deepEqual((await call(`/api/messages/${dead}/requeue`, "POST")).body, { messageId: dead, matched: 1, done: 1, state: "queued" });
    assert.equal((await call(`/api/messages/${dead}`)).body.state, "queued");
    assert.equal((await call(`/api/messages/${backlog}`, "DELETE")).status, 200);
    const gone = await call(`/api/messages/${backlog}`); // known by its history only
    assert.equal(gone.body.message, null);
    assert.deepEqual(gone.body.history.map((h) => h.event), ["deleted"]);
    assert.equal(await client.hLen("dramatiq:aaa-busy.msgs"), 60_000);
    // An id no message has: 404 after the whole walk (all 60 003 bodies read).
    const unknown = await call(`/api/messages/${crypto.randomUUID()}`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.complete, undefined, JSON.stringify(unknown.body));
  } finally {
    await gateway.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("waiting for results over HTTP: a crowd on one id and on many, clients that leave, a result stored just before the deadline", { skip: !haveRedis && "redis-server is not installed", timeout: 60_000 }, async () => {
  const server = await startRedis();
  const redis = await openRedis(connectRedis, server.url);
  const backend = new RedisBackend(redis);
  const app = createGateway({ redis, backend, readKey: redisReadKey(redis), brokerKeys: new RedisBrokerKeys("dramatiq"), ...packageCodecs({ JSONEncoder, StubBackend, Message }), resultsInRedis: true });
  const port = await freePort();
  const http = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const client = await createClient({ url: server.url }).connect();
  const identity = (messageId, actorName = "add") => ({ queueName: "q", actorName, messageId });
  // What Dramatiq's RedisBackend.store_result writes (a list of one JSON element).
  const store = (id, value) => client.rPush(backend.buildMessageKey(identity(id)), JSON.stringify(value));
  const wait = async (id, timeout, init) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/results/q/add/${id}?timeout=${timeout}`, init);
    return { status: res.status, body: await res.json() };
  };
  try {
    // 200 on one id, 50 on as many others: one answer each, with its own value.
    const one = crypto.randomUUID();
    const many = Array.from({ length: 50 }, () => crypto.randomUUID());
    const crowd = Array.from({ length: 200 }, () => wait(one, 30_000));
    const each = many.map((id) => wait(id, 30_000));
    await new Promise((r) => setTimeout(r, 300));
    await store(one, { shared: true });
    await Promise.all(many.map((id, i) => store(id, i)));
    for (const a of await Promise.all(crowd)) assert.deepEqual(a, { status: 200, body: { state: "done", result: { json: '{"shared":true}' } } });
    (await Promise.all(each)).forEach((a, i) => assert.deepEqual(a, { status: 200, body: { state: "done", result: { json: String(i) } } }));
    assert.equal(app.waiter.size, 0);

    // Clients that leave stop waiting at once: nothing is held for them.
    const leaving = Array.from({ length: 100 }, () => new AbortController());
    const shared = crypto.randomUUID();
    const gone = leaving.map((c, i) => wait(i % 2 ? shared : crypto.randomUUID(), 60_000, { signal: c.signal }).catch((e) => e.name));
    await eventually(async () => app.waiter.size === 51, 10_000, "the leaving clients waiting");
    leaving.forEach((c) => c.abort());
    assert.ok((await Promise.all(gone)).every((e) => e === "AbortError"));
    await eventually(async () => app.waiter.size === 0, 10_000, "the waiters of the clients that left released");
    assert.equal(app.waiter.full, false);

    // A result stored shortly before the deadline is the answer (a round was up to 250 ms
    // away, and the deadline answered 202 first); one stored after it is not.
    for (const before of [150, 20]) {
      const id = crypto.randomUUID();
      const answer = wait(id, 1500);
      setTimeout(() => store(id, before), 1500 - before);
      assert.deepEqual(await answer, { status: 200, body: { state: "done", result: { json: String(before) } } }, `stored ${before} ms before the deadline`);
    }
    const late = crypto.randomUUID();
    const answer = wait(late, 500);
    const stored = new Promise((r) => setTimeout(r, 800)).then(() => store(late, 1));
    assert.deepEqual(await answer, { status: 202, body: { state: "unknown" } });
    await stored;

    // Dramatiq stores a result before it acks the message: in that window the message is
    // still in progress with its result stored. That result is the answer (it was taken
    // for a requeued message's previous one, and the request waited for another until its
    // timeout: a crowd of 50 on a Python worker's result saw 202s).
    app.poller.start();
    const hand = new HandBroker(client);
    const running = dict("q", "add", [1, 2]);
    const rid = await hand.enqueue(running);
    await hand.fetch("w1", "q");
    await eventually(async () => app.poller.records.get(running.message_id)?.state === "in-progress", 10_000, "the message in progress");
    await client.rPush(backend.buildMessageKey(identity(running.message_id)), "3");
    const t = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/api/messages/${running.message_id}/result?timeout=5000`);
    assert.deepEqual({ status: res.status, body: await res.json() }, { status: 200, body: { state: "done", result: { json: "3" } } });
    assert.ok(Date.now() - t < 4000, "answered at once, not at the timeout");
    await hand.ack("w1", "q", rid);
  } finally {
    http.closeAllConnections?.();
    await new Promise((r) => http.close(r));
    app.poller.stop();
    await redis.close();
    backend.free?.();
    await client.quit().catch(() => {});
    await server.stop();
  }
});

test("a bulk requeue racing single deletes, and requeue + delete + requeue of one dead letter: nothing doubled, nothing lost, the audit log says who did what", { skip: !haveRedis && "redis-server is not installed", timeout: 120_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = async (path, method = "GET", body) => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: { ...operator, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  };
  // Dead letters on queues no worker consumes, as Dramatiq's nack leaves them.
  const bury = async (queue, n) => {
    const ids = [];
    const m = client.multi();
    for (let i = 0; i < n; i++) {
      const rid = crypto.randomUUID();
      const msg = { queue_name: queue, actor_name: "job", args: [i], kwargs: {}, options: { redis_message_id: rid, retries: 3, traceback: "Traceback\nAppError: x\n" }, message_id: crypto.randomUUID(), message_timestamp: Date.now() };
      m.zAdd(`dramatiq:${queue}.XQ`, { score: Date.now() - 5000, value: rid }).hSet(`dramatiq:${queue}.XQ.msgs`, rid, JSON.stringify(msg));
      ids.push(msg.message_id);
    }
    await m.exec();
    return ids;
  };
  const queued = async (queue) => (await client.hVals(`dramatiq:${queue}.msgs`)).map((b) => JSON.parse(b).message_id);
  try {
    const ids = await bury("race", 400);
    const bulk = call("/api/dead-letters/requeue", "POST", { queue: "race" });
    const deletes = await Promise.all(ids.map((id) => call(`/api/messages/${id}`, "DELETE")));
    const { body: run } = await bulk;
    assert.equal(run.complete, true);
    for (const d of deletes) assert.ok(d.status === 200 || d.status === 404, JSON.stringify(d)); // nothing holds them: deleted, wherever they were
    const deletedDead = deletes.filter((d) => d.status === 200 && d.body.state === "dead-lettered").length;
    const deletedQueued = deletes.filter((d) => d.status === 200 && d.body.state === "queued").length;
    assert.equal(run.done + deletedDead, 400, "each dead letter was requeued or deleted as a dead letter, once");
    const left = await queued("race");
    assert.equal(left.length, run.done - deletedQueued);
    assert.equal(new Set(left).size, left.length, "no message queued twice");
    assert.equal(await client.lLen("dramatiq:race"), left.length);
    assert.equal(await client.zCard("dramatiq:race.XQ"), 0);
    const audit = (await call("/api/audit?limit=1000")).body;
    assert.equal(audit.filter((e) => e.action === "delete" && e.done === 1).length, deletedDead + deletedQueued);
    assert.equal(audit.find((e) => e.action === "dead-letters/requeue").done, run.done);

    // Requeue, delete and requeue of one dead letter at once, 20 times: the first requeue to
    // run moves it; the delete removes it (queued, or still dead); a request that finds
    // nothing to do says where it is (409) or that it is gone (404), never 200 done: 0.
    for (const id of await bury("triple", 20)) {
      const answers = await Promise.all([call(`/api/messages/${id}/requeue`, "POST"), call(`/api/messages/${id}`, "DELETE"), call(`/api/messages/${id}/requeue`, "POST")]);
      for (const a of answers) {
        assert.ok([200, 404, 409].includes(a.status), JSON.stringify(a));
        if (a.status === 200) assert.equal(a.body.done, 1);
      }
      assert.equal(answers[1].status, 200, "nothing holds it: the delete always finds it");
      assert.ok(answers.filter((a, i) => i !== 1 && a.status === 200).length <= 1, JSON.stringify(answers));
      const { body } = await call(`/api/messages/${id}`);
      assert.deepEqual(body.history.filter((h) => h.by).map((h) => h.event).sort(), answers.flatMap((a, i) => (a.status === 200 ? [i === 1 ? "deleted" : "requeued"] : [])).sort());
    }
    assert.equal(await client.hLen("dramatiq:triple.msgs"), 0);
    assert.equal(await client.zCard("dramatiq:triple.XQ"), 0);
  } finally {
    await gateway.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("requeueing while the Python worker dead-letters the message again, and requeueing messages no Python or JS worker has an actor for", { skip, timeout: 180_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  const worker = await startPythonWorker({ url: redis.url, queue: QUEUE, prefix: PREFIX, threads: 2 });
  const jsRedis = await connectRedis(redis.url);
  const broker = new RedisBroker(jsRedis);
  actor(() => 1, { broker, actorName: "js_only", queueName: "jsq" });
  const jsWorker = await new Worker(broker, { queues: ["jsq"], concurrency: 2 }).start();
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = async (path, method = "GET") => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: operator });
    return { status: res.status, body: await res.json() };
  };
  const hand = new HandBroker(client);
  const copies = async (queue, id) => (await client.hVals(`dramatiq:${queue}.XQ.msgs`)).filter((b) => JSON.parse(b).message_id === id).length;
  const deadAgain = (id) => eventually(async () => (await call(`/api/messages/${id}`)).body.state === "dead-lettered", 30_000, `${id} dead-lettered`);
  try {
    // `fail` (no retries) dead-letters every run; the operator requeues it again and again
    // while the worker does.
    const failing = dict(QUEUE, "fail", ["again"]);
    await hand.enqueue(failing);
    await deadAgain(failing.message_id);
    const answers = [];
    for (let i = 0; i < 15; i++) {
      answers.push(await call(`/api/messages/${failing.message_id}/requeue`, "POST"));
      await new Promise((r) => setTimeout(r, 40));
    }
    for (const a of answers) assert.ok(a.status === 200 || (a.status === 409 && a.body.state !== "dead-lettered"), JSON.stringify(a));
    const moved = answers.filter((a) => a.status === 200).length;
    assert.ok(moved >= 1);
    await deadAgain(failing.message_id);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await copies(QUEUE, failing.message_id), 1, "one dead letter, however many runs");
    assert.equal(await client.lLen(`dramatiq:${QUEUE}`), 0);
    const { body } = await call(`/api/messages/${failing.message_id}`);
    assert.equal(body.history.filter((h) => h.by === "operator").length, moved);
    const audit = (await call("/api/audit?limit=100")).body.filter((e) => e.messageId === failing.message_id);
    assert.equal(audit.length, 15);
    assert.equal(audit.filter((e) => e.done === 1).length, moved);
    assert.deepEqual((await call(`/api/messages/${failing.message_id}/result?timeout=0`)).body, { state: "failed", result: { exception: { type: "AppError", message: "again" } } });

    // An actor no worker has: each worker dead-letters it again (Python's and ours), once.
    for (const queue of [QUEUE, "jsq"]) {
      const orphan = dict(queue, "nobody_has_this_actor", [1]);
      await hand.enqueue(orphan);
      await deadAgain(orphan.message_id);
      assert.deepEqual((await call(`/api/messages/${orphan.message_id}/requeue`, "POST")).body, { messageId: orphan.message_id, matched: 1, done: 1, state: "queued" });
      await deadAgain(orphan.message_id);
      assert.equal(await copies(queue, orphan.message_id), 1, queue);
      assert.equal(await client.lLen(`dramatiq:${queue}`), 0);
      // No result will come (no actor ran it): a waiter is told where it is at its deadline.
      assert.deepEqual(await call(`/api/messages/${orphan.message_id}/result?timeout=1000`), { status: 202, body: { state: "dead-lettered" } });
    }
  } finally {
    await gateway.stop();
    await jsWorker.stop();
    await worker.stop();
    await jsRedis.close?.();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("a lookup by id over big messages holds Redis a few ms per step, not the whole hash's copy (300-550 ms each before)", { skip: !haveRedis && "redis-server is not installed", timeout: 120_000 }, async () => {
  const redis = await startRedis({ args: ["--slowlog-log-slower-than", "0", "--slowlog-max-len", "100000"] });
  const client = await createClient({ url: redis.url }).connect();
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "600000"], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  try {
    // 60 dead letters of 1 MB each, sent after the gateway's only poll: it has no record of
    // them, so a lookup walks their hash.
    const pad = "x".repeat(1024 * 1024);
    const ids = [];
    for (let i = 0; i < 60; i++) {
      const rid = crypto.randomUUID();
      const id = crypto.randomUUID();
      await client.hSet("dramatiq:huge.XQ.msgs", rid, JSON.stringify({ queue_name: "huge", actor_name: "store", args: [pad], kwargs: {}, options: { redis_message_id: rid }, message_id: id, message_timestamp: Date.now() }));
      await client.zAdd("dramatiq:huge.XQ", { score: Date.now(), value: rid });
      ids.push(id);
    }
    await client.sendCommand(["SLOWLOG", "RESET"]);
    const get = async (id) => (await fetch(`${gateway.url}/api/messages/${id}`, { headers: operator })).status;
    assert.equal(await get(crypto.randomUUID()), 404);
    assert.equal(await get(ids[30]), 200);
    const evals = (await client.sendCommand(["SLOWLOG", "GET", "100000"])).filter((e) => String(e[3][0]).toUpperCase() === "EVAL");
    const longest = Math.max(...evals.map((e) => Number(e[2])));
    // Generous (a loaded machine): a step reads about 256 KB, one body here, a few ms.
    assert.ok(longest < 100_000, `the longest script held Redis ${longest} µs`);
  } finally {
    await gateway.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("a crowd of lookups of ids the gateway has no record of walks the broker two at a time, not all at once (50 at once took Redis PING p99 from 0.1 to 93 ms)", { skip: !haveRedis && "redis-server is not installed", timeout: 60_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const redis = await openRedis(connectRedis, server.url);
  const backend = new RedisBackend(redis);
  // The gateway's Redis, counting the lookup steps (the HSCAN script) running at once.
  let now = 0;
  let most = 0;
  const counting = {
    async sendCommand(argv) {
      const step = argv[0] === "EVAL" && String(argv[1]).includes("HSCAN");
      if (step) most = Math.max(most, ++now);
      try {
        return await redis.sendCommand(argv);
      } finally {
        if (step) now--;
      }
    },
  };
  const app = createGateway({ redis: counting, backend, readKey: redisReadKey(redis), brokerKeys: new RedisBrokerKeys("dramatiq"), ...packageCodecs({ JSONEncoder, StubBackend, Message }), resultsInRedis: true, operatorToken: OPERATOR });
  try {
    for (let i = 0; i < 20_000; i += 5000) {
      const m = client.multi();
      for (let j = i; j < i + 5000; j++) {
        const rid = crypto.randomUUID();
        m.hSet("dramatiq:backlog.msgs", rid, JSON.stringify(dict("backlog", "job", [j], { options: { redis_message_id: rid } }))).rPush("dramatiq:backlog", rid);
      }
      await m.exec();
    }
    const answers = await Promise.all(Array.from({ length: 30 }, async () => (await app.fetch(new Request(`http://127.0.0.1/api/messages/${crypto.randomUUID()}`, { headers: operator }))).status));
    assert.deepEqual([...new Set(answers)], [404]);
    assert.ok(most >= 1 && most <= 2, `${most} lookups walked at once`);
  } finally {
    app.poller.stop();
    await redis.close();
    backend.free?.();
    await client.quit().catch(() => {});
    await server.stop();
  }
});

test("an action refused because lookups by id are queued full (429) is in the audit log, as every refusal is", { skip: !haveRedis && "redis-server is not installed", timeout: 60_000 }, async () => {
  const server = await startRedis();
  const redis = await openRedis(connectRedis, server.url);
  const backend = new RedisBackend(redis);
  // The gateway's Redis with its lookup steps (the HSCAN script) held until released, so
  // the two walking lookups stay busy and the others wait.
  let open;
  const gate = new Promise((resolve) => (open = resolve));
  const gated = {
    async sendCommand(argv) {
      if (argv[0] === "EVAL" && String(argv[1]).includes("HSCAN")) await gate;
      return redis.sendCommand(argv);
    },
  };
  const app = createGateway({ redis: gated, backend, readKey: redisReadKey(redis), brokerKeys: new RedisBrokerKeys("dramatiq"), ...packageCodecs({ JSONEncoder, StubBackend, Message }), resultsInRedis: true, operatorToken: OPERATOR });
  const lookups = [];
  try {
    await redis.sendCommand(["RPUSH", "dramatiq:q", "x"]);
    await redis.sendCommand(["HSET", "dramatiq:q.msgs", "x", JSON.stringify(dict("q", "job", [1], { options: { redis_message_id: "x" } }))]);
    // Two walking and a thousand waiting fill the queue; one more lookup is refused once they
    // are all in it. That refusal, not a fixed 100 ms, says the queue is full (on a loaded
    // machine the thousand took longer to get there, and an action's lookup then waited
    // behind the gate instead of being refused).
    let full;
    const refused = new Promise((resolve) => (full = resolve));
    for (let i = 0; i < 1_003; i++) {
      lookups.push(app.fetch(new Request(`http://127.0.0.1/api/messages/${crypto.randomUUID()}`, { headers: operator })).then((res) => (res.status === 429 && full(), res)));
    }
    let timer;
    await Promise.race([refused, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no lookup was refused: the queue never filled")), 30_000)))]).finally(() => clearTimeout(timer));
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    const requeue = await app.fetch(new Request(`http://127.0.0.1/api/messages/${ids[0]}/requeue`, { method: "POST", headers: operator }));
    const remove = await app.fetch(new Request(`http://127.0.0.1/api/messages/${ids[1]}`, { method: "DELETE", headers: operator }));
    assert.deepEqual([requeue.status, remove.status], [429, 429]);
    const log = await (await app.fetch(new Request("http://127.0.0.1/api/audit", { headers: operator }))).json();
    const entries = log.filter((e) => ids.includes(e.messageId));
    assert.deepEqual(
      entries.map((e) => [e.action, e.messageId, e.matched, e.done]).sort(),
      [["delete", ids[1], 0, 0], ["requeue", ids[0], 0, 0]].sort(),
    );
  } finally {
    open();
    await Promise.allSettled(lookups);
    app.poller.stop();
    await redis.close();
    backend.free?.();
    await server.stop();
  }
});

test("results in Memcached: a requeued message's previous failure is not its answer while it waits to run again; its new result is", { skip: (!haveRedis && "redis-server is not installed") || (!haveMemcached && "memcached is not installed"), timeout: 60_000 }, async () => {
  const { default: memjs } = await import("memjs");
  const redis = await startRedis();
  const memcached = await startMemcached();
  const mc = memjs.Client.create(memcached.address);
  const client = await createClient({ url: redis.url }).connect();
  const gateway = await startGatewayBin(["--redis", redis.url, "--memcached", memcached.address, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = async (path, method = "GET") => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: operator });
    return { status: res.status, body: await res.json() };
  };
  try {
    const backend = new MemcachedBackend(mc);
    const hand = new HandBroker(client);
    const m = dict("mc", "job", [1]);
    const identity = { queueName: "mc", actorName: "job", messageId: m.message_id };
    const rid = await hand.enqueue(m);
    await hand.fetch("w1", "mc");
    await backend.storeException(identity, new Error("first run failed"));
    await hand.nack("w1", "mc", rid);
    await eventually(async () => (await call(`/api/messages/${m.message_id}`)).body.state === "dead-lettered", 20_000, "dead-lettered");
    assert.equal((await call(`/api/messages/${m.message_id}/result?timeout=0`)).body.state, "failed");
    assert.equal((await call(`/api/messages/${m.message_id}/requeue`, "POST")).status, 200);
    // Queued again, no worker yet: the stored failure is the previous run's.
    assert.deepEqual(await call(`/api/messages/${m.message_id}/result?timeout=700`), { status: 202, body: { state: "queued" } });
    // It runs and succeeds: the waiter gets the new result.
    const waiting = call(`/api/messages/${m.message_id}/result?timeout=20000`);
    const rid2 = await hand.fetch("w1", "mc");
    await backend.storeResult(identity, 42);
    await hand.ack("w1", "mc", rid2);
    assert.deepEqual(await waiting, { status: 200, body: { state: "done", result: { json: "42" } } });

    // The request comes while the requeued message runs, after its new result is stored
    // (Dramatiq stores before it acks): it looks like the previous run's until the message
    // leaves the broker, and then it is the answer (it had waited to its timeout).
    const m2 = dict("mc", "job", [2]);
    const identity2 = { queueName: "mc", actorName: "job", messageId: m2.message_id };
    const first = await hand.enqueue(m2);
    await hand.fetch("w1", "mc");
    await backend.storeException(identity2, new Error("first run failed"));
    await hand.nack("w1", "mc", first);
    await eventually(async () => (await call(`/api/messages/${m2.message_id}`)).body.state === "dead-lettered", 20_000, "dead-lettered");
    assert.equal((await call(`/api/messages/${m2.message_id}/requeue`, "POST")).status, 200);
    const second = await hand.fetch("w1", "mc");
    await backend.storeResult(identity2, 43);
    const late = call(`/api/messages/${m2.message_id}/result?timeout=8000`);
    await sleep(500);
    await hand.ack("w1", "mc", second);
    assert.deepEqual(await late, { status: 200, body: { state: "done", result: { json: "43" } } });
  } finally {
    await gateway.stop();
    mc.close();
    await client.quit().catch(() => {});
    await memcached.stop();
    await redis.stop();
  }
});

// Found by tests/js/gateway-follow-fuzz.test.mjs: Python's Message takes any str as its id,
// and Dramatiq's encoder writes it with json.dumps' ensure_ascii (non-ASCII as \uXXXX).
test("a message whose id is any string Python accepts (unicode, spaces, slashes, quotes, 200+ characters), written as Python's json.dumps writes it, is followed, found and acted on by that id", { skip: !haveRedis && "redis-server is not installed", timeout: 60_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const redis = await openRedis(connectRedis, server.url);
  const backend = new RedisBackend(redis);
  const app = createGateway({ redis, backend, readKey: redisReadKey(redis), brokerKeys: new RedisBrokerKeys("dramatiq"), ...packageCodecs({ JSONEncoder, StubBackend, Message }), resultsInRedis: true, operatorToken: OPERATOR });
  const call = async (path, method = "GET") => {
    const res = await app.fetch(new Request(`http://127.0.0.1${path}`, { method, headers: operator }));
    return { status: res.status, body: await res.json() };
  };
  // Python's json.dumps(ensure_ascii=True): every character from DEL (U+007F) on escaped, astral ones as two.
  const pyJson = (value) => JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  try {
    const ids = ["ünïcødé-✓ 1", "emoji-😀", "with space", "slash/in/it", `quote"'`, `${"long".repeat(60)}-1`, "percent%20", "del-\u007f-1"];
    for (const [i, id] of ids.entries()) {
      const rid = crypto.randomUUID();
      const body = { queue_name: "odd", actor_name: "job", args: [i], kwargs: {}, options: { redis_message_id: rid, retries: 1, traceback: "AppError: odd\n" }, message_id: id, message_timestamp: Date.now() };
      await client.hSet("dramatiq:odd.XQ.msgs", rid, pyJson(body));
      await client.zAdd("dramatiq:odd.XQ", { score: Date.now() - 1000, value: rid });
    }
    for (const id of ids) {
      const path = `/api/messages/${encodeURIComponent(id)}`;
      const got = await call(path);
      assert.equal(got.status, 200, `${id}: ${JSON.stringify(got.body)}`);
      assert.equal(got.body.state, "dead-lettered");
      assert.equal(got.body.message.message_id, id);
      const found = await call(`/api/messages?q=${encodeURIComponent(id)}`);
      assert.deepEqual(found.body.items?.map((it) => it.message.message_id), [id], `${id}: ${JSON.stringify(found.body)}`);
      assert.equal((await call(`${path}/result?timeout=0`)).status, 202);
    }
    const requeued = await call(`/api/messages/${encodeURIComponent(ids[0])}/requeue`, "POST");
    assert.deepEqual(requeued, { status: 200, body: { messageId: ids[0], matched: 1, done: 1, state: "queued" } });
    const deleted = await call(`/api/messages/${encodeURIComponent(ids[1])}`, "DELETE");
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal((await call(`/api/messages/${encodeURIComponent(ids[0])}`)).body.state, "queued");
    assert.equal(await client.zCard("dramatiq:odd.XQ"), ids.length - 2);
    assert.equal((await call("/api/audit?limit=2")).body.map((e) => e.messageId).join(), [ids[1], ids[0]].join());
  } finally {
    await client.quit().catch(() => {});
    await redis.close?.();
    await server.stop();
  }
});

// Found by tests/js/gateway-follow-fuzz.test.mjs: the queue names are cached for 5 s.
test("a bulk action and a search without a queue take the dead letters of a queue that appeared since the gateway last looked for queues", { skip: !haveRedis && "redis-server is not installed", timeout: 60_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const redis = await openRedis(connectRedis, server.url);
  const backend = new RedisBackend(redis);
  const app = createGateway({ redis, backend, readKey: redisReadKey(redis), brokerKeys: new RedisBrokerKeys("dramatiq"), ...packageCodecs({ JSONEncoder, StubBackend, Message }), resultsInRedis: true, operatorToken: OPERATOR });
  const bulk = async (kind, filter) => {
    const res = await app.fetch(new Request(`http://127.0.0.1/api/dead-letters/${kind}`, { method: "POST", headers: { ...operator, "content-type": "application/json" }, body: JSON.stringify(filter) }));
    return res.json();
  };
  const dead = async (queue, n) => {
    const ids = [];
    for (let i = 0; i < n; i++) {
      const rid = crypto.randomUUID();
      const m = dict(queue, "job", [i], { options: { redis_message_id: rid } });
      await client.hSet(`dramatiq:${queue}.XQ.msgs`, rid, JSON.stringify(m));
      await client.zAdd(`dramatiq:${queue}.XQ`, { score: Date.now() - 1000, value: rid });
      ids.push(m.message_id);
    }
    return ids;
  };
  try {
    await dead("first", 1);
    assert.deepEqual(await bulk("requeue", { dryRun: true }), { matched: 1, done: 0, complete: true, dryRun: true });
    // A new queue's first dead letters, within the 5 s the names are kept.
    const [id] = await dead("second", 2);
    // A search finds them too (one of its messages, by id, with no queue named).
    const found = await (await app.fetch(new Request(`http://127.0.0.1/api/messages?q=${id}`, { headers: operator }))).json();
    assert.deepEqual(found.items.map((it) => [it.queue, it.message.message_id]), [["second", id]]);
    assert.deepEqual(await bulk("requeue", { dryRun: true }), { matched: 3, done: 0, complete: true, dryRun: true });
    assert.deepEqual(await bulk("delete", { actor: "job" }), { matched: 3, done: 3, complete: true, dryRun: false });
    assert.equal(await client.zCard("dramatiq:second.XQ"), 0);
  } finally {
    await client.quit().catch(() => {});
    await redis.close?.();
    await server.stop();
  }
});
