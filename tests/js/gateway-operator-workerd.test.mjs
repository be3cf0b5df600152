// The operator's routes (issue 28) in the Cloudflare Worker gateway, in real workerd
// (Miniflare): the package's `dramatiq-results/gateway` bundled as wrangler bundles it, its
// Durable Object over a real redis-server, a real Python Dramatiq producer and worker whose
// bug dead-letters messages. Roles, search, a message by id, a dry run, a requeue whose
// result is waited for over HTTP, a bulk delete, the audit log (in Redis), results of a
// message the Worker never saw, and no actions without an OPERATOR_TOKEN.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { createClient } from "redis";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { haveRedis, startRedis } from "./services.mjs";
import { eventually } from "./gateway-helpers.mjs";
import { watchRuntime } from "./workerd.mjs";

const skip = (!haveRedis && "redis-server is not installed") || (!havePython && "no Python Dramatiq");
const root = fileURLToPath(new URL("../../", import.meta.url));
const VIEWER = "workerd-viewer-token-0123456789";
const OPERATOR = "workerd-operator-token-987654321";
const QUEUE = "edge-ops";
const PREFIX = "edge-ops-app";

async function bundleWorker(dir) {
  const entry = join(dir, "index.js");
  writeFileSync(entry, 'export { default, GatewayObject } from "dramatiq-results/gateway";\n');
  await build({
    entryPoints: [entry], bundle: true, format: "esm", platform: "neutral",
    conditions: ["workerd", "worker", "browser"], mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"], loader: { ".wasm": "copy" },
    outdir: join(dir, "out"), nodePaths: [join(root, "node_modules")], logLevel: "error",
  });
  return join(dir, "out", "index.js");
}

test("the operator's routes in the Worker gateway, in workerd", { skip, timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gateway-operator-workerd-"));
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const py = { url: redis.url, queue: QUEUE, prefix: PREFIX };
  let mf;
  let worker;
  try {
    await client.set(`${PREFIX}:broken`, "1");
    worker = await startPythonWorker({ ...py, threads: 4 });
    const script = await bundleWorker(dir);
    const { Miniflare } = await import("miniflare");
    const runtime = await watchRuntime();
    const launch = (vars) => new Miniflare({
      ...runtime.options,
      modules: true,
      scriptPath: script,
      modulesRoot: join(dir, "out"),
      modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
      compatibilityDate: "2025-01-01",
      durableObjects: { GATEWAY: "GatewayObject" },
      bindings: Object.fromEntries(Object.entries({ REDIS_URL: redis.url, TOKEN: VIEWER, POLL_INTERVAL_MS: "100", ...vars }).filter(([, v]) => v !== undefined)),
    });
    mf = launch({ OPERATOR_TOKEN: OPERATOR });
    const base = String(await mf.ready).replace(/\/$/, "");
    const call = async (path, { method = "GET", token = OPERATOR, body } = {}) => {
      const headers = token ? { authorization: `Bearer ${token}` } : {};
      if (body !== undefined) headers["content-type"] = "application/json";
      const send = () => fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      let res;
      try {
        const restarts = runtime.restarts;
        res = await send().catch(async (error) => {
          // A keep-alive socket the server closed as fetch reused it (a reset before any
          // reply, workerd still up): that request never reached the Worker; send it again.
          // A crash stays a failure: workerd has restarted by the time the retry answers.
          if (error.cause?.code !== "ECONNRESET" || runtime.restarts !== restarts) throw error;
          const again = await send();
          if (runtime.restarts !== restarts) throw error;
          return again;
        });
      } catch (error) {
        throw new Error(`${method} ${path}: ${error.message} (${error.cause?.code ?? error.cause?.message ?? "no cause"}); workerd restarts: ${runtime.restarts}; workerd said:\n${runtime.tail()}`, { cause: error });
      }
      return { status: res.status, body: await res.json().catch(() => null) };
    };
    const dead = async () => (await call("/api/queues", { token: VIEWER })).body.find((q) => q.name === QUEUE)?.deadLettered ?? 0;

    const sent = (await runPython("produce.py", ["send", ...[1, 2, 3, 4].map((x) => JSON.stringify({ actor: "until_fixed", args: [x] }))], py)).map((l) => JSON.parse(l));
    await eventually(async () => (await dead()) === 4, 90_000, "4 dead letters");

    await t.test("roles: none 401, the viewer 403, the operator acts", async () => {
      const path = `/api/messages/${sent[0].message_id}/requeue`;
      assert.equal((await call(path, { method: "POST", token: null, body: {} })).status, 401);
      assert.equal((await call(path, { method: "POST", token: VIEWER, body: {} })).status, 403);
      assert.equal((await call("/api/session", { token: VIEWER })).body.role, "viewer");
      assert.deepEqual((await call("/api/session")).body, { role: "operator", actions: true, follow: "polling" });
    });

    await t.test("search and one message by id", async () => {
      const found = await call(`/api/messages?q=${encodeURIComponent("broken for 2")}`, { token: VIEWER });
      assert.equal(found.status, 200);
      assert.deepEqual(found.body.items.map((i) => i.message.args[0]), [2]);
      const one = await call(`/api/messages/${sent[2].message_id}`, { token: VIEWER });
      assert.equal(one.status, 200);
      assert.equal(one.body.state, "dead-lettered");
      assert.match(one.body.options.traceback, /AppError: broken for 3/);
      assert.equal((await call("/api/messages/nothing-here", { token: VIEWER })).status, 404);
    });

    await t.test("a dry run, then a requeue whose result is waited for over HTTP", async () => {
      const dry = await call("/api/dead-letters/requeue", { method: "POST", body: { queue: QUEUE, dryRun: true } });
      assert.deepEqual(dry.body, { matched: 4, done: 0, complete: true, dryRun: true });
      await client.del(`${PREFIX}:broken`);
      const m = sent[0];
      const requeued = await call(`/api/messages/${m.message_id}/requeue`, { method: "POST", body: {} });
      assert.equal(requeued.status, 200, JSON.stringify(requeued.body));
      assert.equal(requeued.body.done, 1);
      const result = await eventually(async () => {
        const r = await call(`/api/messages/${m.message_id}/result?timeout=5000`, { token: VIEWER });
        return r.status === 200 && r.body.state === "done" ? r : null;
      }, 60_000, "the result");
      assert.deepEqual(result.body, { state: "done", result: { json: "2" } });
    });

    await t.test("a bulk delete; the audit log in Redis, newest first", async () => {
      const del = await call("/api/dead-letters/delete", { method: "POST", body: { actor: "until_fixed" } });
      assert.deepEqual(del.body, { matched: 3, done: 3, complete: true, dryRun: false });
      assert.equal(await dead(), 0);
      const log = (await call("/api/audit", { token: VIEWER })).body;
      assert.deepEqual(log.map((e) => e.action), ["dead-letters/delete", "requeue", "dead-letters/requeue"]);
      assert.equal(await client.lLen("dramatiq-results-gateway:audit:dramatiq"), 3, "kept in Redis");
    });

    await t.test("a result waited for, of a message the Worker never saw", async () => {
      const [m] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "slow", args: [200] })], py)).map((l) => JSON.parse(l));
      const r = await call(`/api/results/${QUEUE}/slow/${m.message_id}?timeout=30000`, { token: VIEWER });
      assert.deepEqual(r, { status: 200, body: { state: "done", result: { json: "200" } } });
      assert.equal((await call(`/api/results/${QUEUE}/slow/never?timeout=200`, { token: VIEWER })).status, 202);
    });

    await t.test("without an OPERATOR_TOKEN the actions do not exist", async () => {
      const plain = launch({});
      try {
        const url = String(await plain.ready).replace(/\/$/, "");
        const res = await fetch(`${url}/api/dead-letters/delete`, { method: "POST", headers: { authorization: `Bearer ${VIEWER}`, "content-type": "application/json" }, body: "{}" });
        assert.equal(res.status, 405);
        await res.body?.cancel();
      } finally {
        await plain.dispose();
      }
    });

    await t.test("workerd never crashed meanwhile", () => {
      assert.equal(runtime.restarts, 0, `workerd said:\n${runtime.tail()}`);
    });
  } finally {
    await mf?.dispose();
    await worker?.stop();
    await client.quit().catch(() => {});
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
