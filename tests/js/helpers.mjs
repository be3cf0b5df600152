// Shared by the JS tests: the compat vectors and small utilities.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { JSONEncoder, Message, ResultError, ResultFailure } from "dramatiq-results";

export const vectors = JSON.parse(
  readFileSync(new URL("../fixtures/vectors.json", import.meta.url), "utf8"),
);

export const ofKind = (kind) => vectors.filter((v) => v.kind === kind);

export const text = (bytes) => new TextDecoder().decode(bytes);

/** A KV adapter over a Map with TTLs, recording every call in `calls`. Its `get` answers with
 * a plain value (an adapter may) unless `asyncGet`, when it answers as a network store does. */
export function mapAdapter({ asyncGet = false } = {}) {
  const entries = new Map();
  const calls = [];
  const read = (key) => {
    calls.push(["get", key]);
    const e = entries.get(key);
    return e && e.expiresAt > Date.now() ? e.value : null;
  };
  return {
    entries,
    calls,
    get: asyncGet ? async (key) => read(key) : read,
    async put(key, value, { ttlMs }) {
      calls.push(["put", key, typeof value, ttlMs]);
      entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    },
    async delete(key) {
      calls.push(["delete", key]);
      entries.delete(key);
    },
  };
}

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The number of pending timers in this process (Node's own bookkeeping). */
export const activeTimers = () =>
  process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

/**
 * The full text a Python worker stored for an `actor_result` vector on Redis or Memcached,
 * or null if it stored nothing. Large values are elided from `stored_final` and kept whole in
 * the hook snapshots; the SHA-256 the vector records picks (and checks) the right one.
 */
export function storedText(v) {
  const item = (stored) => (stored?.type === "list" ? stored.list[0] : stored?.found ? stored.value : null);
  const final = item(v.stored_final);
  if (!final) return null;
  const candidates = [final, ...(v.hook_snapshots ?? []).map((h) => item(h.stored))];
  const whole = candidates.find((c) => c?.sha256 === final.sha256 && typeof c.utf8 === "string");
  if (!whole) throw new Error(`${v.case}: no full copy of the stored bytes`);
  const digest = createHash("sha256").update(whole.utf8, "utf8").digest("hex");
  if (digest !== final.sha256) throw new Error(`${v.case}: stored bytes do not match their SHA-256`);
  return whole.utf8;
}

/**
 * The value Python's `get_result` returned for an `actor_result` vector, as JS reads its
 * `json.dumps` form. The vectors elide huge values' JSON; those are read from the stored
 * bytes instead (whose SHA-256 `storedText` checks).
 */
export function pythonValue(v) {
  const decoder = new JSONEncoder();
  const json = v.get_result_final_nonblocking.value_json;
  const decode = (s) => decoder.decode(new TextEncoder().encode(s));
  try {
    return decode(json);
  } catch {
    return decode(storedText(v));
  }
}

/**
 * Checks that `makeBackend(options)` reads the `actor_result` vector `v` — whose bytes the
 * caller has just put where a Python worker would have — as Python did: the same key, the
 * same raw bytes, an equal value or the same failure.
 */
export async function assertReadsAsPython(v, makeBackend) {
  const b = makeBackend({ namespace: v.namespace, useNamespacePrefixKeys: v.use_namespace_prefix_keys });
  const m = new Message({ queueName: v.queue_name, actorName: v.actor_name, messageId: v.message_id });
  assert.equal(b.buildMessageKey(m), v.key, v.case);
  const expected = v.get_result_final_nonblocking;
  if (expected.outcome === "value") {
    assert.equal(text(await b.getResultBytes(m)), storedText(v), `${v.case}: bytes`);
    assert.deepEqual(await b.getResult(m), pythonValue(v), v.case);
    return;
  }
  const e = await b.getResult(m).then(() => assert.fail(`${v.case}: resolved`), (e) => e);
  assert.equal(e.constructor.name, expected.exception, v.case);
  if (e instanceof ResultFailure) {
    assert.equal(e.message, expected.str, v.case);
    assert.equal(e.exceptionType, expected.orig_exc_type, v.case);
    assert.equal(e.exceptionValue, expected.orig_exc_msg, v.case);
  }
}

/**
 * The server behind `backend` is killed while a 1.5 s wait is pending: the wait must end as
 * a ResultError naming its key, with the cause, by its deadline (plus the core's settle
 * grace and a loaded machine's slack); once `server` is started again, a store and a read
 * work.
 */
export async function assertOutageAndRecovery(server, backend) {
  const m = new Message({ actorName: "outage" });
  const started = performance.now();
  const waiting = backend.getResult(m, { block: true, timeout: 1500 });
  await sleep(200);
  await server.stop();
  const e = await waiting.then(() => assert.fail("resolved"), (e) => e);
  const took = performance.now() - started;
  assert.ok(e instanceof ResultError, String(e));
  assert.equal(e.messageKey, backend.buildMessageKey(m));
  assert.ok(e.cause !== undefined, `a cause: ${e}`);
  assert.ok(took < 1500 + 1000, `ended after ${took} ms`);

  await server.start();
  let stored = false;
  for (let i = 0; i < 100 && !stored; i++) {
    stored = await backend.storeResult(m, "back").then(() => true, () => false);
    if (!stored) await sleep(100);
  }
  assert.ok(stored, "a store works once the server is back");
  assert.equal(await backend.getResult(m, { block: true, timeout: 2000 }), "back");
}
