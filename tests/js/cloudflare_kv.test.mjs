// CloudflareKvBackend inside real workerd (Miniflare) over a real KV namespace: the shared
// conformance suite, what reaches KV (one put, a 60 s floor, the exact expiry in metadata),
// expiry before KV's own, real KV failures, and values a Python process put into KV
// (Dramatiq's bytes from the compat vectors, no metadata) read with Dramatiq's outcome.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ofKind } from "./helpers.mjs";
import { conformanceCount } from "./conformance.mjs";
import { startWorkerd } from "./workerd.mjs";

/** Stub and Redis actor results that left a value, as a Python writer would put them. */
function seededCases() {
  const cases = [];
  const seen = new Set();
  for (const c of ofKind("actor_result")) {
    if (!["stub", "redis"].includes(c.backend)) continue;
    const final = c.stored_final;
    const utf8 = c.backend === "stub" ? (final?.present && !final.expired ? final.value.utf8 : undefined) : final?.list?.[0]?.utf8;
    const got = c.get_result_final_nonblocking;
    if (utf8 === undefined || seen.has(c.key)) continue;
    seen.add(c.key);
    cases.push({
      name: `${c.backend}/${c.case}`,
      key: c.key,
      bytes: utf8,
      namespace: c.namespace,
      prefix: c.use_namespace_prefix_keys,
      queueName: c.canonical_queue_name,
      actorName: c.actor_name,
      messageId: c.message_id,
      expect: {
        outcome: got.outcome,
        valueJson: got.value_json,
        exception: got.exception,
        type: got.orig_exc_type,
        msg: got.orig_exc_msg,
      },
    });
  }
  return cases;
}

test("CloudflareKvBackend inside real workerd over a real KV namespace", async (t) => {
  // Every key below is put after this instant, so KV's 60 s floor puts its expiration at
  // least 60 s (less a second of rounding) after it, however long the suite takes.
  const started = Date.now() / 1000;
  const mf = await startWorkerd("tests/js/hosts/cloudflare_kv_worker.js", { kvNamespaces: ["RESULTS"] });
  try {
    const call = async (route, body) => {
      const res = await mf.dispatchFetch(`http://localhost/${route}`, body ? { method: "POST", body: JSON.stringify(body) } : {});
      return res.json();
    };

    await t.test("the conformance suite", async () => {
      const { ran, failures } = await call("conformance");
      assert.deepEqual(failures, []);
      assert.equal(ran, conformanceCount(), "every conformance test ran");
    });

    await t.test("one put per store, KV's 60 s floor, exact expiry honoured, real failures", async () => {
      const { ran, failures } = await call("kv");
      assert.deepEqual(failures, []);
      assert.equal(ran, 5);
    });

    await t.test("KV itself keeps a short-TTL result for at least 60 s", async () => {
      const kv = await mf.getKVNamespace("RESULTS");
      const { keys } = await kv.list();
      const short = keys.filter((k) => k.metadata?.expiresAt !== undefined && k.metadata.expiresAt < Date.now() + 5_000);
      assert.ok(short.length > 0, "short-TTL results were stored");
      for (const k of short) {
        assert.ok(k.expiration >= started + 59, `${k.name} expires ${k.expiration - started} s after the suite started`);
      }
    });

    await t.test("values a Python process put into KV read with Dramatiq's outcome", async () => {
      const kv = await mf.getKVNamespace("RESULTS");
      const cases = seededCases();
      assert.ok(cases.length >= 100, `${cases.length} vectors`);
      for (const c of cases) await kv.put(c.key, c.bytes, { expirationTtl: 600 });
      // Ours, past its exact expiry; and someone else's metadata, which is not an expiry.
      const extra = [
        { name: "expired metadata", id: "00000000-0000-4000-8000-00000000000e", metadata: { expiresAt: Date.now() - 1 },
          expect: { outcome: "raise", exception: "ResultMissing" } },
        { name: "foreign metadata", id: "00000000-0000-4000-8000-00000000000f", metadata: { writer: "python", expiresAt: "soon" },
          expect: { outcome: "value", valueJson: "[1,2]" } },
      ];
      for (const x of extra) {
        const key = `seed:default:extra:${x.id}`;
        await kv.put(key, "[1,2]", { metadata: x.metadata });
        cases.push({ name: x.name, key, namespace: "seed", prefix: true, queueName: "default", actorName: "extra", messageId: x.id, expect: x.expect });
      }
      const { ran, failures } = await call("seeded", cases);
      assert.deepEqual(failures, []);
      assert.equal(ran, cases.length);
      const failuresRead = cases.filter((c) => c.expect.exception === "ResultFailure").length;
      assert.ok(failuresRead >= 20, `${failuresRead} stored failures read back`);
    });
  } finally {
    await mf.dispose();
  }
});
