// The results gateway as a Cloudflare Worker, in real workerd (Miniflare): the package's
// `dramatiq-results/gateway` under the `workerd` condition, bundled by esbuild as wrangler
// bundles it (the .wasm a module of its own), its Durable Object holding the poller and the
// Redis connection (connectRedis over cloudflare:sockets to a real redis-server on
// loopback), the dashboard's files from a static-assets binding. A real Python Dramatiq
// producer enqueues and a real Python worker runs the messages; the Worker's /api/queues,
// /api/messages, /kv/<key>, auth and /api/events show them.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { createClient } from "redis";
import { JSONEncoder, RedisBackend } from "dramatiq-results";
import { bin, openEvents } from "./gateway-helpers.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { haveRedis, startRedis } from "./services.mjs";
import { watchRuntime } from "./workerd.mjs";

if (!haveRedis) throw new Error("redis-server is not installed: run scripts/setup --services");
if (!havePython) throw new Error("no Python Dramatiq: run scripts/setup --python");

const root = fileURLToPath(new URL("../../", import.meta.url));
const TOKEN = "workerd-gateway-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };
const encoder = new JSONEncoder();
const decode = (text) => encoder.decode(new TextEncoder().encode(text));

/** Bundles the user's Worker (`export { default, GatewayObject } from "dramatiq-results/gateway"`)
 * as wrangler does: esbuild with the `workerd` condition, cloudflare:* external, the .wasm
 * copied beside it as a module. */
async function bundleWorker(dir) {
  const entry = join(dir, "index.js");
  writeFileSync(entry, 'export { default, GatewayObject } from "dramatiq-results/gateway";\n');
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    loader: { ".wasm": "copy" },
    outdir: join(dir, "out"),
    nodePaths: [join(root, "node_modules")],
    logLevel: "error",
  });
  return join(dir, "out", "index.js");
}

test("the gateway as a Cloudflare Worker in workerd, over a real redis-server and Python Dramatiq", { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gateway-workerd-"));
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  let mf;
  let worker;
  let events;
  try {
    const script = await bundleWorker(dir);
    execFileSync(process.execPath, [bin, "assets", join(dir, "assets")]); // the files wrangler uploads
    const { Miniflare } = await import("miniflare");
    const runtime = await watchRuntime();
    /** The Worker in workerd with its variables (`[vars]`) and the bindings wrangler.toml makes. */
    const launch = (vars) => new Miniflare({
      ...runtime.options,
      modules: true,
      scriptPath: script,
      modulesRoot: join(dir, "out"),
      modulesRules: [
        { type: "ESModule", include: ["**/*.js"] },
        { type: "CompiledWasm", include: ["**/*.wasm"] },
      ],
      compatibilityDate: "2025-01-01",
      durableObjects: { GATEWAY: "GatewayObject" },
      bindings: Object.fromEntries(Object.entries({ REDIS_URL: redis.url, TOKEN, POLL_INTERVAL_MS: "100", ...vars }).filter(([, v]) => v !== undefined)),
      // wrangler.toml's `[assets] directory binding run_worker_first = true`.
      assets: { directory: join(dir, "assets"), binding: "ASSETS", routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } },
    });
    mf = launch({});
    const base = String(await mf.ready).replace(/\/$/, "");
    const get = (path, headers = auth, init = {}) => fetch(`${base}${path}`, { headers, ...init });
    const send = async (...specs) => {
      const lines = await runPython("produce.py", ["send", ...specs.map((s) => JSON.stringify(s))], { url: redis.url, queue: "edge" });
      return lines.map((l) => decode(l));
    };
    const backend = new RedisBackend(client);
    const keyOf = (m) => backend.buildMessageKey({ queueName: m.queue_name, actorName: m.actor_name, messageId: m.message_id });

    await t.test("auth: every API route needs the token; the dashboard's files do not", async () => {
      for (const path of ["/api/queues", "/api/workers", "/api/messages?queue=edge", "/api/events", "/api/status", "/kv/0123456789abcdef0123456789abcdef"]) {
        assert.equal((await get(path, {})).status, 401, `${path} without a token`);
        assert.equal((await get(path, { authorization: `Bearer ${TOKEN}x` })).status, 401, `${path} with a wrong token`);
      }
      assert.equal((await get("/api/queues")).status, 200);
      assert.equal((await get("/api/queues", auth, { method: "POST" })).status, 405);
      assert.equal((await get("/api/messages?queue=a%20b")).status, 400);
      const page = await get("/", {});
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<title>Dramatiq results<\/title>/);
      assert.match(html, /<meta name="dramatiq-results-gateway" content="1">/, "the page opens on the deployment");
      const wasm = await get("/pkg/dist/dramatiq_results_bg.wasm", {});
      assert.equal(wasm.status, 200);
      assert.equal(wasm.headers.get("content-type"), "application/wasm");
      const protocol = await get("/pkg/src/gateway/protocol.js", {}); // the page's import map names it
      assert.equal(protocol.status, 200);
      assert.match(await protocol.text(), /export const EVENT/);
      assert.equal((await get("/", {}, { method: "DELETE" })).status, 405);
    });

    let sent;
    await t.test("a Python producer enqueues: /api/queues, /api/messages and /api/events show it", async () => {
      events = await openEvents(`${base}/api/events`, auth);
      assert.equal(events.res.status, 200);
      assert.match(events.res.headers.get("content-type"), /^text\/event-stream/);
      sent = await send({ actor: "add", args: [40, 2] }, { actor: "fail", args: ["edge says no"] }, { actor: "add", args: [1, 2], delay: 60_000 });
      const queues = await (await get("/api/queues")).json();
      assert.deepEqual(queues, [{ name: "edge", queued: 2, delayed: 1, inProgress: 0, deadLettered: 0 }]);
      const page = await (await get("/api/messages?queue=edge")).json();
      assert.deepEqual(page.items.map((i) => [i.state, i.message.message_id, i.key]),
        [["queued", sent[0].message_id, keyOf(sent[0])], ["queued", sent[1].message_id, keyOf(sent[1])], ["delayed", sent[2].message_id, keyOf(sent[2])]]);
      assert.equal(page.cursor, null);
      for (const m of sent) {
        const e = await events.until((e) => ["appeared", "snapshot"].includes(e.event) && e.data.messageId === m.message_id);
        assert.equal(e.data.state, m === sent[2] ? "delayed" : "queued");
        assert.equal(e.data.key, keyOf(m));
      }
      await events.until((e) => e.event === "queues" && e.data.some((q) => q.name === "edge" && q.queued === 2));
    });

    await t.test("a Python worker runs them: finished and failed events, /kv/<key> the stored bytes, workers alive", async () => {
      worker = await startPythonWorker({ url: redis.url, queue: "edge" });
      const done = await events.until((e) => e.event === "finished" && e.data.messageId === sent[0].message_id, 30_000);
      assert.equal(done.data.state, "done");
      assert.deepEqual(done.data.result, { json: "42" });
      const failed = await events.until((e) => e.event === "failed" && e.data.messageId === sent[1].message_id, 30_000);
      assert.deepEqual(failed.data.result.exception, { type: "AppError", message: "edge says no" });
      const kv = await get(`/kv/${keyOf(sent[0])}`);
      assert.equal(kv.status, 200);
      const stored = await client.withTypeMapping({ 36: Buffer }).lIndex(keyOf(sent[0]), 0);
      assert.deepEqual(Buffer.from(await kv.arrayBuffer()), stored);
      assert.equal((await get("/kv/0123456789abcdef0123456789abcdef")).status, 404);
      const workers = await (await get("/api/workers")).json();
      assert.ok(workers.length >= 1, JSON.stringify(workers));
      assert.ok(workers.every((w) => typeof w.id === "string" && w.ageMs < 60_000), JSON.stringify(workers));
    });

    await t.test("a second viewer shares the Durable Object's poller; Last-Event-ID replays what a client missed", async () => {
      const lastId = events.lastId;
      events.close();
      const [more] = await send({ actor: "slow", args: [600] });
      const status = await (await get("/api/status")).json();
      assert.equal(status.redis.ok, true);
      // Wait until the object's poller has seen it finish, with no stream open.
      await new Promise((r) => setTimeout(r, 50));
      const again = await openEvents(`${base}/api/events`, { ...auth, "last-event-id": String(lastId) });
      try {
        const finished = await again.until((e) => e.event === "finished" && e.data.messageId === more.message_id, 30_000);
        assert.deepEqual(finished.data.result, { json: "600" });
        assert.ok(!again.events.some((e) => e.event === "reset"), "a replay, not a fresh snapshot");
        assert.ok(again.events.filter((e) => e.id !== null).every((e) => e.id > lastId));
      } finally {
        again.close();
      }
    });

    await t.test("a result that appears for a message no poll saw: an unseen record, found by walking the result keys", async () => {
      const watching = await openEvents(`${base}/api/events`, auth);
      try {
        await watching.until((e) => e.event === "snapshot" || e.event === "ready");
        await new Promise((r) => setTimeout(r, 500)); // a whole walk since the stream opened
        const message = { queueName: "edge", actorName: "add", messageId: crypto.randomUUID() };
        await backend.storeResult(message, 7); // what a Python worker leaves of a message done between two polls
        const key = backend.buildMessageKey(message);
        const e = await watching.until((e) => e.event === "finished" && e.data.key === key, 15_000);
        assert.equal(e.data.unseen, true);
        assert.deepEqual(e.data.result, { json: "7" });
      } finally {
        watching.close();
      }
    });

    await t.test("nobody watching: streams end on time and the Durable Object's alarm stops the poller; the next viewer starts it", async () => {
      const idle = launch({ IDLE_POLL_MS: "1000", STREAM_MAX_MS: "1500" });
      try {
        const idleBase = String(await idle.ready).replace(/\/$/, "");
        const status = async () => (await (await fetch(`${idleBase}/api/status`, { headers: auth })).json()).events;
        const first = await openEvents(`${idleBase}/api/events`, auth);
        await first.until((e) => e.event === "ready" || e.event === "snapshot");
        // The object may never learn that a viewer left: the stream ends by itself.
        await first.until((e) => e.event === "reconnect", 10_000);
        first.close();
        for (let waited = 0; (await status()).polling; waited += 250) {
          assert.ok(waited < 15_000, `the poller stopped after IDLE_POLL_MS without viewers: ${JSON.stringify(await status())}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        assert.equal((await status()).watchers, 0);
        const again = await openEvents(`${idleBase}/api/events`, auth);
        try {
          await again.until((e) => e.event === "ready" || e.event === "snapshot");
          const now = await status();
          assert.equal(now.polling, true);
          assert.equal(now.watchers, 1);
        } finally {
          again.close();
        }
      } finally {
        await idle.dispose();
      }
    });

    await t.test("after an eviction (a new workerd: the object's memory gone), a returning viewer gets a fresh snapshot, then live events", async () => {
      const before = launch({});
      let lastId;
      try {
        const beforeBase = String(await before.ready).replace(/\/$/, "");
        const viewer = await openEvents(`${beforeBase}/api/events`, auth);
        await viewer.until((e) => e.event === "ready" || e.event === "snapshot");
        lastId = viewer.lastId;
        viewer.close();
        assert.ok(Number.isSafeInteger(lastId), `an event id: ${lastId}`);
      } finally {
        await before.dispose();
      }
      const after = launch({});
      try {
        const afterBase = String(await after.ready).replace(/\/$/, "");
        const back = await openEvents(`${afterBase}/api/events`, { ...auth, "last-event-id": String(lastId) });
        try {
          // Not a replay of another lifetime's ids (which the new object never sent): a reset,
          // then what the new object knows, then live events.
          await back.until((e) => e.event === "reset");
          await back.until((e) => (e.event === "snapshot" || e.event === "ready") && e.id !== null);
          const [late] = await send({ actor: "add", args: [20, 22] });
          // By its result key: a message the worker finishes between two polls is found by
          // the result-key walk, as a record with no message id (an MD5 key names none).
          const lateKey = keyOf(late);
          const finished = await back.until((e) => e.event === "finished" && e.data.key === lateKey, 30_000);
          assert.deepEqual(finished.data.result, { json: "42" });
          const ids = back.events.filter((e) => e.id !== null).map((e) => e.id);
          assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids keep increasing");
          assert.ok(ids[0] > lastId, "a new lifetime's ids are above every id of the last one");
        } finally {
          back.close();
        }
      } finally {
        await after.dispose();
      }
    });

    await t.test("without a TOKEN the Worker answers its API on localhost only", async () => {
      const open = launch({ TOKEN: undefined });
      try {
        await open.ready;
        assert.equal((await open.dispatchFetch("http://localhost/api/queues")).status, 200);
        const remote = await open.dispatchFetch("https://results.example.com/api/queues");
        assert.equal(remote.status, 503);
        assert.match((await remote.json()).error, /no TOKEN set/);
        assert.equal((await open.dispatchFetch("https://results.example.com/kv/0123456789abcdef0123456789abcdef")).status, 503);
        assert.equal((await open.dispatchFetch("https://results.example.com/")).status, 200, "the dashboard's files are public");
      } finally {
        await open.dispose();
      }
    });

    await t.test("hostile data and requests (issue 26) in workerd: stray keys, hostile heartbeats, malformed messages, /kv, headers", async () => {
      await client.set("dramatiq:cache-flag", "1");
      await client.set("dramatiq:hostile.XQ", "not a zset");
      await client.hSet("dramatiq:hostile.msgs", "r-bad", "not json");
      await client.rPush("dramatiq:hostile", "r-bad");
      const future = Date.now() + 365 * 86_400_000;
      for (let i = 0; i < 100_000; i += 10_000) {
        await client.zAdd("dramatiq:__heartbeats__", Array.from({ length: 10_000 }, (_, j) => ({ score: future, value: `fake-${i + j}` })));
      }
      try {
        await client.sendCommand(["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        await client.sendCommand(["CONFIG", "SET", "slowlog-max-len", "10000"]);
        await client.sendCommand(["SLOWLOG", "RESET"]);
        const watching = await openEvents(`${base}/api/events`, auth);
        try {
          await watching.until((e) => ["snapshot", "appeared"].includes(e.event) && e.data.messageId === "malformed:r-bad", 15_000);
        } finally {
          watching.close();
        }
        const queues = await get("/api/queues");
        assert.equal(queues.status, 200, "no WRONGTYPE");
        const names = (await queues.json()).map((q) => q.name);
        assert.ok(names.includes("hostile") && !names.includes("cache-flag"), names.join());
        const page = await (await get("/api/messages?queue=hostile")).json();
        assert.deepEqual(page.items.map((i) => i.malformed), ["not JSON"]);
        const workers = await (await get("/api/workers")).json();
        assert.ok(workers.every((w) => !w.id.startsWith("fake-")), "no heartbeat from the future");
        let longest = 0;
        for (const [, , micros, argv] of await client.sendCommand(["SLOWLOG", "GET", "10000"])) {
          if (String(argv[0]).toUpperCase() === "EVAL") longest = Math.max(longest, Number(micros));
        }
        console.log(`# workerd: longest script with 100 000 hostile heartbeats: ${(longest / 1000).toFixed(1)} ms`);
        assert.ok(longest < 50_000, `longest script ${longest} µs`);
        const other = "0123456789abcdef0123456789abcdef";
        await client.rPush(other, ["a", "b"]);
        assert.equal((await get(`/kv/${other}`)).status, 404, "not a result list");
        await client.del(other);
        const refused = await get("/api/queues", auth, { method: "POST" });
        assert.equal(refused.status, 405);
        assert.equal(refused.headers.get("x-content-type-options"), "nosniff");
        const long = await get(`/api/queues?${"x".repeat(5000)}`);
        assert.equal(long.status, 414);
        assert.equal(long.headers.get("x-content-type-options"), "nosniff");
        const html = await get("/", {});
        assert.match(html.headers.get("content-security-policy") ?? "", /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
      } finally {
        await client.zRemRangeByScore("dramatiq:__heartbeats__", future, future);
        await client.del(["dramatiq:cache-flag", "dramatiq:hostile.XQ", "dramatiq:hostile", "dramatiq:hostile.msgs"]);
      }
    });

    await t.test("workerd never crashed meanwhile", () => {
      assert.equal(runtime.restarts, 0, `workerd said:\n${runtime.tail()}`);
    });
  } finally {
    events?.close();
    await mf?.dispose();
    await worker?.stop();
    await client.quit().catch(() => {});
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
