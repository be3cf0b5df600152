// A Cloudflare Worker that drives CloudflareKvBackend over its real KV binding (env.RESULTS)
// inside workerd. Each route runs one part and answers { ran, failures }.
import * as api from "../../../pkg/src/workerd.js";
import { check, collector, defineConformance, same } from "../conformance.mjs";

const { CloudflareKvBackend, Message, JSONEncoder, ResultError, ResultMissing, ResultFailure } = api;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The binding with every put recorded (the backend only needs the three methods). */
function recording(kv) {
  const puts = [];
  return {
    puts,
    getWithMetadata: (...args) => kv.getWithMetadata(...args),
    put: (...args) => (puts.push(args), kv.put(...args)),
    delete: (key) => kv.delete(key),
  };
}

const routes = {
  /** The shared suite, every backend over the one namespace. */
  async conformance(env) {
    const { test, run } = collector();
    defineConformance(test, api, "CloudflareKvBackend", (options) => new CloudflareKvBackend(env.RESULTS, options), {
      shared: true,
    });
    return run();
  },

  /** What reaches KV: one put, KV's minimum expiry, the exact one in metadata; then expiry. */
  async kv(env) {
    const { test, run } = collector();
    test("one put per store: value, expirationTtl clamped to 60, exact expiresAt", async () => {
      const kv = recording(env.RESULTS);
      const backend = new CloudflareKvBackend(kv);
      const m = new Message({ actorName: "add" });
      const before = Date.now();
      await backend.storeResult(m, { sum: 3 }, 1500);
      check.equal(kv.puts.length, 1, "puts");
      const [key, value, options] = kv.puts[0];
      check.equal([key, value, options.expirationTtl], [backend.buildMessageKey(m), '{"sum":3}', 60], "put");
      const at = options.metadata.expiresAt;
      check.ok(at >= before + 1500 && at <= Date.now() + 1500, `expiresAt ${at} is now + 1500`);
      const raw = await env.RESULTS.getWithMetadata(key, { type: "text" });
      check.equal([raw.value, raw.metadata], ['{"sum":3}', { expiresAt: at }], "stored in KV");
      await backend.storeResult(m, 1, 600_000);
      check.equal(kv.puts[1][2].expirationTtl, 600, "long TTLs pass through in seconds");
    });
    test("a 1.5 s result is gone after 1.5 s while KV still holds it", async () => {
      const backend = new CloudflareKvBackend(env.RESULTS);
      const m = new Message({ actorName: "brief" });
      await backend.storeResult(m, "brief", 1500);
      check.equal(await backend.getResult(m), "brief", "before expiry");
      await sleep(1700);
      await check.rejects(backend.getResult(m), ResultMissing, "after expiry");
      check.equal(await env.RESULTS.get(backend.buildMessageKey(m)), '"brief"', "KV keeps it for its 60 s");
      // A blocking read does not revive it either.
      await check.rejects(backend.getResult(m, { block: true, timeout: 200 }), api.ResultTimeout, "blocking");
    });
    test("a wait in one request ends when another instance stores", async () => {
      const reader = new CloudflareKvBackend(env.RESULTS, { cacheTtl: 60 });
      const writer = new CloudflareKvBackend(env.RESULTS);
      const m = new Message({ actorName: "waited" });
      const stored = sleep(100).then(() => writer.storeResult(m, "done"));
      check.equal(await reader.getResult(m, { block: true, timeout: 10_000 }), "done", "waited");
      await stored;
    });
    test("KV's own failure is a ResultError with KV's error as the cause", async () => {
      // KV refuses keys over 512 bytes: a real failure, from the real binding.
      const backend = new CloudflareKvBackend(env.RESULTS, { namespace: "n".repeat(600), useNamespacePrefixKeys: true });
      const m = new Message({ actorName: "too_long" });
      const e = await check.rejects(backend.storeResult(m, 1), ResultError, "put");
      check.ok(e.cause instanceof Error, `a cause (${e.cause})`);
      check.ok(/put\(\)/.test(e.message), `says which call failed: ${e.message}`);
      const e2 = await check.rejects(backend.getResult(m), ResultError, "get");
      check.ok(!(e2 instanceof ResultMissing) && e2.cause instanceof Error, `get failed: ${e2}`);
    });
    test("bad arguments are TypeErrors", async () => {
      for (const bad of [undefined, {}, { get() {}, put() {}, delete() {} }]) {
        let thrown;
        try {
          new CloudflareKvBackend(bad);
        } catch (e) {
          thrown = e;
        }
        check.ok(thrown instanceof TypeError, `TypeError for ${JSON.stringify(bad)}`);
      }
      let thrown;
      try {
        new CloudflareKvBackend(env.RESULTS, { cacheTtl: 10 });
      } catch (e) {
        thrown = e;
      }
      check.ok(thrown instanceof TypeError && /cacheTtl/.test(thrown.message), "cacheTtl under 30 s");
      check.equal(new CloudflareKvBackend(env.RESULTS).kvNamespace === env.RESULTS, true, "kvNamespace");
    });
    return run();
  },

  /** Values another process put into KV (no metadata, Dramatiq's bytes), read as Dramatiq would. */
  async seeded(env, request) {
    const cases = await request.json();
    const failures = [];
    const enc = new JSONEncoder();
    for (const c of cases) {
      const backend = new CloudflareKvBackend(env.RESULTS, {
        namespace: c.namespace,
        useNamespacePrefixKeys: c.prefix,
      });
      const m = { queueName: c.queueName, actorName: c.actorName, messageId: c.messageId };
      if (backend.buildMessageKey(m) !== c.key) failures.push(`${c.name}: key ${backend.buildMessageKey(m)}`);
      try {
        const value = await backend.getResult(m);
        if (c.expect.outcome !== "value") failures.push(`${c.name}: read a value, expected ${c.expect.exception}`);
        else if (!same(value, enc.decode(new TextEncoder().encode(c.expect.valueJson)))) failures.push(`${c.name}: value`);
      } catch (e) {
        const ok =
          c.expect.outcome === "raise" &&
          e.name === c.expect.exception &&
          (!(e instanceof ResultFailure) || (e.exceptionType === c.expect.type && e.exceptionValue === c.expect.msg));
        if (!ok) failures.push(`${c.name}: ${e}`);
      }
    }
    return { ran: cases.length, failures };
  },
};

export default {
  async fetch(request, env) {
    const route = routes[new URL(request.url).pathname.slice(1)];
    if (!route) return new Response("no such route", { status: 404 });
    try {
      return Response.json(await route(env, request));
    } catch (e) {
      return Response.json({ ran: 0, failures: [`threw: ${e && e.stack}`] });
    }
  },
};
