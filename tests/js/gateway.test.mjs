// The results gateway's API, the gateway started by its own bin against a real redis-server:
// auth, validation, methods, /kv bytes, paging under concurrent enqueues and consumption,
// events with Last-Event-ID reconnects, and a Redis outage with recovery.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { RedisBackend } from "dramatiq-results";
import memjs from "memjs";
import { MemcachedBackend } from "dramatiq-results";
import { haveMemcached, haveRedis, startMemcached, startRedis } from "./services.mjs";
import { HandBroker, dict, openEvents, startGatewayBin } from "./gateway-helpers.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";

const skip = !haveRedis && !process.env.CI && "redis-server is not installed (scripts/setup --services)";
const TOKEN = "s3cret-token-for-the-tests-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

test("the results gateway over a real redis-server", { skip, timeout: 180_000 }, async (t) => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const broker = new HandBroker(client);
  const backend = new RedisBackend(client);
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_TOKEN: TOKEN } });
  const get = (path, headers = auth, init = {}) => fetch(`${gateway.url}${path}`, { headers, ...init });
  try {
    await t.test("a token guards every route but the dashboard's files", async () => {
      assert.equal((await get("/", {})).status, 200);
      assert.match(await (await get("/", {})).text(), /<title>Dramatiq results<\/title>/);
      assert.equal((await get("/app.js", {})).status, 200);
      assert.equal((await get("/pkg/dist/index.js", {})).status, 200);
      assert.equal((await get("/pkg/dist/dramatiq_results_bg.wasm", {})).headers.get("content-type"), "application/wasm");
      for (const path of ["/api/queues", "/api/workers", "/api/messages?queue=default", "/api/events", "/api/status", "/kv/0123456789abcdef0123456789abcdef"]) {
        const missing = await get(path, {});
        assert.equal(missing.status, 401, `${path} without a token`);
        assert.match(missing.headers.get("www-authenticate"), /^Bearer/);
        assert.equal((await get(path, { authorization: `Bearer ${TOKEN}x` })).status, 401, `${path} with a wrong token`);
        assert.equal((await get(path, { authorization: TOKEN })).status, 401, `${path} without "Bearer"`);
      }
      const right = await get("/api/queues");
      assert.equal(right.status, 200);
      assert.deepEqual(await right.json(), []);
      assert.equal(right.headers.get("access-control-allow-origin"), null, "no CORS unless asked");
    });

    await t.test("only GET and HEAD", async () => {
      for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
        for (const path of ["/api/queues", "/kv/0123456789abcdef0123456789abcdef", "/"]) {
          const res = await get(path, auth, { method });
          assert.equal(res.status, 405, `${method} ${path}`);
          assert.equal(res.headers.get("allow"), "GET, HEAD");
        }
      }
      for (const path of ["/api/queues", "/api/events", "/"]) {
        const head = await get(path, auth, { method: "HEAD", signal: AbortSignal.timeout(5000) });
        assert.equal(head.status, 200, path);
        assert.equal(await head.text(), "", path);
      }
    });

    await t.test("everything a request names is validated", async () => {
      const bad = [
        "/api/messages?queue=",
        "/api/messages?queue=a%20b",
        "/api/messages?queue=*",
        "/api/messages?queue=default.DQ",
        "/api/messages?queue=__acks__",
        "/api/messages?queue=default&state=done",
        "/api/messages?queue=default&limit=0",
        "/api/messages?queue=default&limit=1001",
        "/api/messages?queue=default&limit=ten",
        "/api/messages?queue=default&cursor=!!",
        "/api/messages?queue=default&cursor=eyJzdCI6OX0",
        "/api/messages?queue=default&queue=other",
        "/api/messages?queue=default&evil=1",
        "/api/queues?x=1",
        "/kv/dramatiq:default",
        "/kv/dramatiq:__heartbeats__",
        "/kv/not-a-key",
        `/kv/${encodeURIComponent("dramatiq-results:a b")}`,
        `/kv/${encodeURIComponent("dramatiq-results:a\r\nb")}`,
      ];
      for (const path of bad) {
        const res = await get(path);
        assert.equal(res.status, 400, path);
        assert.ok((await res.json()).error, path);
      }
      const events = await get("/api/events", { ...auth, "last-event-id": "x" });
      assert.equal(events.status, 400);
      assert.equal((await get(`/api/messages?queue=${"q".repeat(5000)}`)).status, 414);
      const withBody = await fetch(`${gateway.url}/api/queues`, { headers: { ...auth, "content-length": "3" }, method: "GET", body: undefined });
      assert.ok([200, 413].includes(withBody.status)); // fetch drops a GET body; the header alone is not a body
    });

    await t.test("/kv/<key> answers the stored bytes exactly, 404 when absent", async () => {
      const message = { queueName: "default", actorName: "add", messageId: crypto.randomUUID() };
      const key = backend.buildMessageKey(message);
      assert.equal((await get(`/kv/${key}`)).status, 404);
      await backend.storeResult(message, { sum: 3, big: 2n ** 70n, text: "ün" });
      const res = await get(`/kv/${key}`);
      assert.equal(res.status, 200);
      const stored = await client.withTypeMapping({ 36: Buffer }).lIndex(key, 0);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), stored);
      // Bytes that are not UTF-8 come through as they are.
      const raw = Buffer.from([0x22, 0xff, 0xfe, 0x22]);
      const other = "0123456789abcdef0123456789abcdef";
      await client.rPush(other, raw);
      assert.deepEqual(Buffer.from(await (await get(`/kv/${other}`)).arrayBuffer()), raw);
      // A key of another type (not a result) is absent, not an error.
      await client.set("fedcba9876543210fedcba9876543210", "x");
      assert.equal((await get("/kv/fedcba9876543210fedcba9876543210")).status, 404);
    });

    await t.test("queues and workers", async () => {
      await broker.enqueue(dict("emails", "send_email", ["a@example.com"]));
      await broker.enqueue(dict("emails", "send_email", ["b@example.com"]), { delay: 60_000 });
      await broker.enqueue(dict("emails", "send_email", ["c@example.com"]));
      const taken = await broker.fetch("worker-1", "emails");
      await broker.enqueue(dict("emails", "send_email", ["d@example.com"]));
      const dead = await broker.fetch("worker-1", "emails");
      await broker.nack("worker-1", "emails", dead);
      await client.zAdd("dramatiq:__heartbeats__", { score: Date.now() - 120_000, value: "worker-stale" });
      const queues = await (await get("/api/queues")).json();
      assert.deepEqual(queues, [{ name: "emails", queued: 1, delayed: 1, inProgress: 1, deadLettered: 1 }]);
      const workers = await (await get("/api/workers")).json();
      assert.deepEqual(workers.map((w) => w.id), ["worker-1"]);
      assert.ok(workers[0].ageMs >= 0 && workers[0].ageMs < 10_000 && workers[0].lastSeen <= Date.now());
      const states = async (state) => (await (await get(`/api/messages?queue=emails&state=${state}`)).json()).items;
      assert.deepEqual((await states("queued")).map((i) => i.message.args[0]), ["d@example.com"]);
      assert.deepEqual((await states("delayed")).map((i) => i.message.args[0]), ["b@example.com"]);
      assert.ok((await states("delayed"))[0].message.options.eta > Date.now());
      assert.deepEqual((await states("in-progress")).map((i) => i.message.options.redis_message_id), [taken]);
      assert.deepEqual((await states("dead-lettered")).map((i) => i.message.options.redis_message_id), [dead]);
      const all = await (await get("/api/messages?queue=emails")).json();
      assert.deepEqual(all.items.map((i) => i.state), ["queued", "delayed", "in-progress", "dead-lettered"]);
      const item = all.items[0];
      assert.equal(item.key, backend.buildMessageKey({ queueName: "emails", actorName: "send_email", messageId: item.message.message_id }));
    });

    await t.test("pages never skip or repeat a message that stays put, while others come and go", async () => {
      const queue = "paging";
      const initial = [];
      for (let i = 0; i < 400; i++) initial.push(await broker.enqueue(dict(queue, "work", [i])));
      const popped = new Set();
      let stop = false;
      // Concurrently: new messages at the end, workers taking from the front.
      const churn = (async () => {
        let n = 400;
        while (!stop) {
          await broker.enqueue(dict(queue, "work", [n++]));
          const rid = await broker.fetch("worker-p", queue);
          if (rid) popped.add(rid);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const seen = [];
      let cursor = null;
      let pages = 0;
      do {
        const q = new URLSearchParams({ queue, state: "queued", limit: "23", ...(cursor ? { cursor } : {}) });
        const res = await get(`/api/messages?${q}`);
        assert.equal(res.status, 200);
        const page = await res.json();
        seen.push(...page.items.map((i) => i.message.options.redis_message_id));
        cursor = page.cursor;
        pages++;
        // Let the churn keep pace (two pops a page), however fast the gateway answers.
        while (popped.size < 2 * pages) await new Promise((r) => setTimeout(r, 2));
      } while (cursor && pages < 200);
      stop = true;
      await churn;
      assert.ok(popped.size > 20, `the workers took messages meanwhile (${popped.size})`);
      assert.equal(new Set(seen).size, seen.length, "no message twice");
      const stayed = initial.filter((rid) => !popped.has(rid));
      const missing = stayed.filter((rid) => !seen.includes(rid));
      assert.deepEqual(missing, [], "every message that stayed put was listed");

      // Dead letters page by (time, id): ties in time included.
      const xq = "paging-dead";
      const ids = [];
      for (let i = 0; i < 50; i++) {
        const rid = `rid-${String(i).padStart(3, "0")}`;
        ids.push(rid);
        await client.zAdd(`dramatiq:${xq}.XQ`, { score: 1000 + Math.floor(i / 10), value: rid });
        await client.hSet(`dramatiq:${xq}.XQ.msgs`, rid, JSON.stringify({ ...dict(xq, "work", [i]), options: { redis_message_id: rid } }));
      }
      const listed = [];
      cursor = null;
      do {
        const q = new URLSearchParams({ queue: xq, state: "dead-lettered", limit: "7", ...(cursor ? { cursor } : {}) });
        const page = await (await get(`/api/messages?${q}`)).json();
        listed.push(...page.items.map((i) => i.message.options.redis_message_id));
        cursor = page.cursor;
        if (listed.length === 21) {
          // Newer dead letters arrive meanwhile (after the cursor): they come at the end.
          await client.zAdd(`dramatiq:${xq}.XQ`, { score: 5000, value: "rid-late" });
          await client.hSet(`dramatiq:${xq}.XQ.msgs`, "rid-late", JSON.stringify({ ...dict(xq, "work"), options: { redis_message_id: "rid-late" } }));
        }
      } while (cursor);
      assert.deepEqual(listed, [...ids, "rid-late"]);

      // In-progress (the union of the workers' acks sets) pages by id.
      for (let i = 0; i < 30; i++) await broker.enqueue(dict("paging-busy", "work", [i]));
      for (let i = 0; i < 30; i++) await broker.fetch(i % 2 ? "worker-a" : "worker-b", "paging-busy");
      const busy = [];
      cursor = null;
      do {
        const q = new URLSearchParams({ queue: "paging-busy", state: "in-progress", limit: "4", ...(cursor ? { cursor } : {}) });
        const page = await (await get(`/api/messages?${q}`)).json();
        busy.push(...page.items.map((i) => i.message.args[0]));
        cursor = page.cursor;
      } while (cursor);
      assert.deepEqual(busy.sort((a, b) => a - b), [...Array(30).keys()]);

      // Without `queue`: every queue's messages, queue after queue in name order, each item
      // naming its queue; paged through small pages, exactly what the per-queue listings hold.
      const perQueue = new Map();
      for (const name of (await (await get("/api/queues")).json()).map((q) => q.name)) {
        const ids = [];
        let c = null;
        do {
          const page = await (await get(`/api/messages?${new URLSearchParams({ queue: name, limit: "1000", ...(c ? { cursor: c } : {}) })}`)).json();
          ids.push(...page.items.map((i) => `${i.state} ${i.message?.message_id ?? i.id}`));
          c = page.cursor;
        } while (c);
        perQueue.set(name, ids);
      }
      const everything = [];
      cursor = null;
      do {
        const q = new URLSearchParams({ limit: "9", ...(cursor ? { cursor } : {}) });
        const res = await get(`/api/messages?${q}`);
        assert.equal(res.status, 200);
        const page = await res.json();
        assert.ok(page.items.length <= 9);
        everything.push(...page.items);
        cursor = page.cursor;
      } while (cursor);
      const names = [...perQueue.keys()].sort();
      assert.deepEqual([...new Set(everything.map((i) => i.queue))], names.filter((n) => perQueue.get(n).length > 0), "queue after queue, in name order");
      for (const name of names) {
        assert.deepEqual(
          everything.filter((i) => i.queue === name).map((i) => `${i.state} ${i.message?.message_id ?? i.id}`),
          perQueue.get(name),
          `${name}: the same messages as its own listing`,
        );
      }
      // One state across every queue.
      const deadEverywhere = (await (await get("/api/messages?state=dead-lettered&limit=1000")).json()).items;
      assert.ok(deadEverywhere.length >= 51 && deadEverywhere.every((i) => i.state === "dead-lettered"));
      assert.equal((await get("/api/messages?cursor=eyJzdCI6MCwicSI6IioifQ")).status, 400, "a cursor naming no queue");
    });

    await t.test("events: each state change once, and a reconnect with Last-Event-ID misses nothing", async () => {
      const queue = "flow";
      const first = await openEvents(`${gateway.url}/api/events`, auth);
      assert.equal(first.res.headers.get("content-type"), "text/event-stream");
      await first.until((e) => e.event === "ready" || e.event === "snapshot");
      const ok = dict(queue, "add", [1, 2]);
      const bad = dict(queue, "divide", [1, 0]);
      const slow = dict(queue, "sleep", [30]);
      const ridOk = await broker.enqueue(ok);
      const ridBad = await broker.enqueue(bad);
      await first.until((e) => e.event === "appeared" && e.data.messageId === bad.message_id);
      await broker.fetch("worker-e", queue);
      await first.until((e) => e.event === "started" && e.data.messageId === ok.message_id);
      const message = { queueName: queue, actorName: "add", messageId: ok.message_id };
      await backend.storeResult(message, { sum: 3 }, 3000);
      await broker.ack("worker-e", queue, ridOk);
      const finished = await first.until((e) => e.event === "finished" && e.data.messageId === ok.message_id);
      assert.equal(finished.data.state, "done");
      assert.deepEqual(JSON.parse(finished.data.result.json), { sum: 3 });
      assert.equal(finished.data.key, backend.buildMessageKey(message));
      const lastId = first.lastId;
      first.close();

      // Away: the failing message is dead-lettered (its exception stored after, as Dramatiq
      // does), a slow one starts, and the 3 s result expires. Each step waits for the
      // gateway's poll to have seen the one before (a replay from the same id, read by a
      // watcher the test then closes), not for a fixed 500 ms: a loaded machine's poll could
      // come later, and "started" or "appeared" would be missed for want of a poll between.
      const watcher = await openEvents(`${gateway.url}/api/events`, { ...auth, "last-event-id": String(lastId) });
      await broker.fetch("worker-e", queue);
      await watcher.until((e) => e.event === "started" && e.data.messageId === bad.message_id, 10_000);
      await broker.nack("worker-e", queue, ridBad);
      await backend.storeException({ queueName: queue, actorName: "divide", messageId: bad.message_id }, Object.assign(new Error("division by zero"), { name: "ZeroDivisionError" }));
      await broker.enqueue(slow);
      await watcher.until((e) => e.event === "appeared" && e.data.messageId === slow.message_id, 10_000);
      watcher.close();
      await broker.fetch("worker-e", queue);
      await new Promise((r) => setTimeout(r, 6000));

      const again = await openEvents(`${gateway.url}/api/events`, { ...auth, "last-event-id": String(lastId) });
      const expired = await again.until((e) => e.event === "expired" && e.data.messageId === ok.message_id, 10_000);
      assert.equal(expired.data.expired, true);
      const types = (id) => again.events.filter((e) => e.data?.messageId === id).map((e) => e.event);
      await again.until((e) => e.event === "failed" && e.data.messageId === bad.message_id);
      assert.deepEqual(types(bad.message_id), ["started", "dead-lettered", "failed"]);
      const failed = again.events.find((e) => e.event === "failed");
      assert.equal(failed.data.state, "dead-lettered");
      assert.deepEqual(failed.data.result.exception, { type: "ZeroDivisionError", message: "division by zero" });
      assert.deepEqual(types(slow.message_id), ["appeared", "started"]);
      assert.ok(!again.events.some((e) => e.event === "reset" || e.event === "snapshot"), "a replay, not a snapshot");
      const ids = again.events.filter((e) => e.id !== null).map((e) => e.id);
      assert.deepEqual(ids, ids.map((_, i) => lastId + 1 + i), "every event after the last one seen, in order");
      again.close();

      // A new client gets everything still known as a snapshot, then live events.
      const fresh = await openEvents(`${gateway.url}/api/events`, auth);
      const snap = await fresh.until((e) => e.event === "snapshot" && e.data.messageId === slow.message_id);
      assert.equal(snap.data.state, "in-progress");
      fresh.close();
    });

    await t.test("a Redis outage: the API and the events say down, and recover by themselves", async () => {
      const events = await openEvents(`${gateway.url}/api/events`, auth);
      await events.until((e) => e.event === "status" && e.data.ok === true);
      await redis.stop();
      const down = await get("/api/queues");
      assert.equal(down.status, 503);
      assert.equal((await down.json()).error, "unavailable");
      assert.equal((await get("/api/status")).status, 503);
      const said = await events.until((e) => e.event === "status" && e.data.ok === false, 10_000);
      assert.ok(said.data.error);
      await redis.start();
      await events.until((e) => e.event === "status" && e.data.ok === true && e !== events.events[0], 20_000);
      let res;
      for (let i = 0; i < 50; i++) {
        res = await get("/api/queues");
        if (res.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(res.status, 200);
      // And it follows the broker again.
      const after = dict("after", "add", [5]);
      const fresh = await createClient({ url: redis.url }).connect();
      await new HandBroker(fresh).enqueue(after);
      await events.until((e) => e.event === "appeared" && e.data.messageId === after.message_id);
      await fresh.quit();
      events.close();
    });
  } finally {
    await gateway.stop();
    await client.disconnect().catch(() => {});
    await redis.stop();
  }
});

test("the gateway refuses to listen beyond loopback without a token", { skip, timeout: 30_000 }, async () => {
  await assert.rejects(startGatewayBin(["--redis", "redis://127.0.0.1:1", "--host", "0.0.0.0"], { env: { DRAMATIQ_RESULTS_TOKEN: "" } }), (error) => {
    assert.notEqual(error.code, 0);
    assert.match(error.output, /refusing to listen on 0\.0\.0\.0 without a token/);
    return true;
  });
  await assert.rejects(startGatewayBin(["--redis", "redis://127.0.0.1:1", "--token", "short"]), /at least 16 characters/);
  await assert.rejects(startGatewayBin(["--port", "1"]), /--redis <url> is required/);
});

test("CORS only for the origin given", { skip, timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const gateway = await startGatewayBin(["--redis", redis.url, "--cors", "https://ops.example.com", "--token", TOKEN]);
  try {
    const preflight = await fetch(`${gateway.url}/api/queues`, {
      method: "OPTIONS",
      headers: { origin: "https://ops.example.com", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });
    assert.ok(preflight.status === 204 || preflight.status === 200);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://ops.example.com");
    const res = await fetch(`${gateway.url}/api/queues`, { headers: { ...auth, origin: "https://evil.example.com" } });
    assert.equal(res.status, 200);
    assert.notEqual(res.headers.get("access-control-allow-origin"), "https://evil.example.com");
    const ok = await fetch(`${gateway.url}/api/queues`, { headers: { ...auth, origin: "https://ops.example.com" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://ops.example.com");
    assert.equal((await fetch(`${gateway.url}/api/queues`, { method: "DELETE", headers: auth })).status, 405);
  } finally {
    await gateway.stop();
    await redis.stop();
  }
});

test("npx dramatiq-results serve works from the packed tarball", { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "dramatiq-results-npx-"));
  const redis = await startRedis();
  let gateway;
  try {
    const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
      cwd: fileURLToPath(new URL("../../pkg/", import.meta.url)),
      encoding: "utf8",
    });
    const tarball = join(dir, out.trim().split("\n").at(-1));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "ops", private: true }));
    // The tarball alone: the gateway reaches Redis through the package's own connectRedis.
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], { cwd: dir, stdio: "pipe" });
    gateway = await startGatewayBin(["--redis", redis.url], { command: ["npx", "--offline", "dramatiq-results"], cwd: dir });
    const page = await (await fetch(`${gateway.url}/`)).text();
    assert.match(page, /<meta name="dramatiq-results-gateway" content="1">/);
    for (const path of ["/app.js", "/deployment.js", "/pkg/dist/index.js", "/pkg/dist/dramatiq_results_bg.wasm", "/pkg/src/gateway/protocol.js"]) {
      assert.equal((await fetch(`${gateway.url}${path}`)).status, 200, path);
    }
    assert.equal((await fetch(`${gateway.url}/serve.mjs`)).status, 404, "the demo server is not shipped");
    assert.deepEqual(await (await fetch(`${gateway.url}/api/queues`)).json(), []);
  } finally {
    await gateway?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--memcached: results from Memcached, the broker from Redis", { skip: skip || (!haveMemcached && "memcached is not installed"), timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const memcached = await startMemcached();
  const mc = memjs.Client.create(memcached.address);
  const client = await createClient({ url: redis.url }).connect();
  const gateway = await startGatewayBin(["--redis", redis.url, "--memcached", memcached.address, "--poll-interval", "100", "--token", TOKEN]);
  try {
    const backend = new MemcachedBackend(mc);
    const broker = new HandBroker(client);
    const m = dict("default", "add", [2, 2]);
    // Listen first: a message already there when a client connects arrives in its
    // snapshot, not as an "appeared" event.
    const events = await openEvents(`${gateway.url}/api/events`, auth);
    const rid = await broker.enqueue(m);
    await events.until((e) => e.event === "appeared" && e.data.messageId === m.message_id);
    const message = { queueName: "default", actorName: "add", messageId: m.message_id };
    await broker.fetch("w", "default");
    await backend.storeResult(message, 4);
    await broker.ack("w", "default", rid);
    const done = await events.until((e) => e.event === "finished" && e.data.messageId === m.message_id);
    assert.equal(done.data.result.json, "4");
    const res = await fetch(`${gateway.url}/kv/${backend.buildMessageKey(message)}`, { headers: auth });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "4");
    assert.equal((await fetch(`${gateway.url}/kv/0123456789abcdef0123456789abcdef`, { headers: auth })).status, 404);
    events.close();
  } finally {
    await gateway.stop();
    mc.close();
    await client.quit();
    await memcached.stop();
    await redis.stop();
  }
});

test("messages done within one poll interval are found by their results", { skip: skip || (!havePython && "no Python Dramatiq (scripts/setup --python)"), timeout: 120_000 }, async (t) => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  const backend = new RedisBackend(client);
  const before = { queueName: "fast", actorName: "add", messageId: crypto.randomUUID() };
  await backend.storeResult(before, 0); // there before the gateway's first walk: the baseline
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "200", "--token", TOKEN]);
  let worker;
  let events;
  try {
    events = await openEvents(`${gateway.url}/api/events`, auth);
    worker = await startPythonWorker({ url: redis.url, queue: "fast" });
    await events.until((e) => e.event === "status" && e.data.ok === true);
    await new Promise((r) => setTimeout(r, 500)); // the baseline walk

    await t.test("Dramatiq's MD5 keys: the result, under its key, and nothing of the message", async () => {
      // The gateway stopped (SIGSTOP) while the messages are sent and done: no poll can
      // fall between, exactly as for messages done within one poll interval.
      process.kill(gateway.child.pid, "SIGSTOP");
      let lines;
      try {
        lines = await runPython("produce.py", ["send", ...[1, 2, 3].map((n) => JSON.stringify({ actor: "add", args: [n, 40] })), JSON.stringify({ actor: "fail", args: ["fast no"] })], { url: redis.url, queue: "fast" });
        const keys = lines.map((l) => JSON.parse(l)).map((m) => backend.buildMessageKey({ queueName: m.queue_name, actorName: m.actor_name, messageId: m.message_id }));
        for (let waited = 0; (await client.exists(keys)) < keys.length; waited += 50) {
          assert.ok(waited < 20_000, "the Python worker stored every result");
          await new Promise((r) => setTimeout(r, 50));
        }
        // A failure is dead-lettered (after its exception is stored): still in the broker.
        for (let waited = 0; (await client.zCard("dramatiq:fast.XQ")) < 1; waited += 50) {
          assert.ok(waited < 20_000, "the failure was dead-lettered");
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(await client.exists("dramatiq:fast.msgs"), 0, "nothing left in the queue");
      } finally {
        process.kill(gateway.child.pid, "SIGCONT");
      }
      const sent = lines.map((l) => JSON.parse(l));
      for (const [i, m] of sent.entries()) {
        const key = backend.buildMessageKey({ queueName: m.queue_name, actorName: m.actor_name, messageId: m.message_id });
        if (i === 3) {
          // When the gateway had snapshotted just before it stopped, its walk finds this
          // result first (a record of its key only), which the dead letter then replaces.
          const e = await events.until((e) => e.event === "failed" && e.data.messageId === m.message_id, 20_000);
          // The dead letter is seen in the broker: the whole message, then its exception.
          assert.equal(e.event, "failed");
          assert.equal(e.data.state, "dead-lettered");
          assert.deepEqual(e.data.result.exception, { type: "AppError", message: "fast no" });
          assert.equal(e.data.messageId, m.message_id);
          assert.equal(e.data.unseen, undefined);
          const stand = events.events.find((x) => x.data?.messageId === key);
          if (stand) assert.ok(events.events.some((x) => x.event === "removed" && x.data.messageId === key), "replaced");
          continue;
        }
        const e = await events.until((e) => ["finished", "failed"].includes(e.event) && e.data.key === key, 20_000);
        assert.equal(e.event, "finished");
        assert.equal(e.data.state, "done");
        assert.deepEqual(e.data.result, { json: String(i + 41) });
        // Seen only by its result: an MD5 key names no message.
        assert.equal(e.data.unseen, true);
        assert.equal(e.data.messageId, key);
        assert.equal(e.data.message, null);
      }
      const baseline = backend.buildMessageKey(before);
      assert.ok(!events.events.some((e) => e.data?.key === baseline), "a result there before the gateway is no event");
    });
  } finally {
    events?.close();
    await worker?.stop();
    await gateway.stop();
    await client.quit();
    await redis.stop();
  }
});

test("--prefix-keys: a result that appears names its message", { skip, timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100", "--prefix-keys", "--token", TOKEN]);
  let events;
  try {
    const backend = new RedisBackend(client, { useNamespacePrefixKeys: true });
    events = await openEvents(`${gateway.url}/api/events`, auth);
    await events.until((e) => e.event === "status" && e.data.ok === true);
    await new Promise((r) => setTimeout(r, 300)); // the baseline walk
    const message = { queueName: "reports.v2", actorName: "build_report", messageId: crypto.randomUUID() };
    // A list under a key of that shape that is no Dramatiq result is not claimed.
    const junk = `dramatiq-results:reports.v2:build_report:${crypto.randomUUID()}`;
    await client.rPush(junk, "not json");
    await backend.storeResult(message, { pages: 3 });
    const e = await events.until((e) => e.event === "finished" && e.data.messageId === message.messageId);
    assert.equal(e.data.key, `dramatiq-results:reports.v2:build_report:${message.messageId}`);
    assert.equal(e.data.queue, "reports.v2");
    assert.equal(e.data.actor, "build_report");
    assert.equal(e.data.unseen, true);
    assert.deepEqual(JSON.parse(e.data.result.json), { pages: 3 });
    assert.ok(!events.events.some((x) => x.data?.key === junk), "bytes that are no result are no record");
    // And when its TTL runs out, the record says so.
    await client.del(e.data.key);
    const gone = await events.until((x) => x.event === "expired" && x.data.messageId === message.messageId, 15_000);
    assert.equal(gone.data.expired, true);
  } finally {
    events?.close();
    await gateway.stop();
    await client.quit();
    await redis.stop();
  }
});
