// The WebAssembly component (wit/, src/component/) in a real component host: jco's
// transpilation running in Node over WASI shims, with a host-side kv-store written here (a
// Map with TTLs). Checks the compat vectors through the component's exports, then store /
// get / missing / timeout / delete / TTL, the host's optional `wait`, and host errors.
// Needs scripts/build-component (scripts/test runs it first).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as wasiShim from "@bytecodealliance/preview2-shim";
import { ofKind, text, sleep } from "./helpers.mjs";

const dir = new URL("../../target/component/js/", import.meta.url);
const entry = new URL("dramatiq-results.js", dir);
if (!existsSync(entry)) {
  throw new Error(`${entry.pathname} is missing: run scripts/build-component first`);
}
const { instantiate } = await import(entry);

// Core modules compiled once; every test instantiates its own component over its own store.
const compiled = new Map();
const getCoreModule = (path) => {
  if (!compiled.has(path)) {
    compiled.set(path, readFile(new URL(path, dir)).then((b) => WebAssembly.compile(b)));
  }
  return compiled.get(path);
};

const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

/** `wasi:cli/terminal-input` → the shim's `cli.terminalInput`. */
function wasiImport(name) {
  const m = /^wasi:([a-z]+)\/([a-z-]+)/.exec(name);
  const found = m && wasiShim[m[1]]?.[camel(m[2])];
  if (!found) throw new Error(`no WASI shim for ${name}`);
  return found;
}

/** The `kv-error` variant thrown to the component: jco reads it from `payload`. */
const kvError = (tag, val) => Object.assign(new Error(`${tag}: ${val}`), { payload: { tag, val } });

/**
 * A host store: a Map of key → { bytes, expires } (ms on performance.now), recording every
 * call. `hooks` may replace any operation (`get`, `put`, `delete`, `wait`); the defaults are a
 * plain store whose `wait` cannot wait (it answers at once, as the WIT allows).
 */
function hostStore(hooks = {}) {
  const map = new Map();
  const calls = [];
  const live = (key) => {
    const e = map.get(key);
    if (e && performance.now() >= e.expires) map.delete(key);
    return map.get(key);
  };
  const base = {
    get: (key) => live(key)?.bytes,
    put: (key, value, ttlMs) => {
      map.set(key, { bytes: new Uint8Array(value), expires: performance.now() + Number(ttlMs) });
    },
    delete: (key) => {
      map.delete(key);
    },
    wait: (key) => live(key)?.bytes,
  };
  const kv = {};
  for (const op of Object.keys(base)) {
    kv[op] = (...args) => {
      calls.push([op, ...args]);
      return (hooks[op] ?? base[op])(...args, base);
    };
  }
  const count = (op) => calls.filter((c) => c[0] === op).length;
  const raw = (key, bytes, ttlMs = 600_000) =>
    map.set(key, { bytes: typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes, expires: performance.now() + ttlMs });
  return { kv, map, calls, count, raw, stored: (key) => (map.has(key) ? text(map.get(key).bytes) : undefined) };
}

/** A fresh component instance over `store`; returns its `results` interface. */
async function component(store = hostStore()) {
  const imports = new Proxy(
    {},
    { get: (_, name) => (name.startsWith("dramatiq:results/kv-store") ? store.kv : wasiImport(name)) },
  );
  const root = await instantiate(getCoreModule, imports);
  return root.results;
}

const DEFAULTS = { namespace: "dramatiq-results", useNamespacePrefixKeys: false };
const msg = (messageId = "m-1", actorName = "task", queueName = "default") => ({ queueName, actorName, messageId });
const NOW = { block: false };

/** Runs `fn` and returns the `result-error` it threw (jco wraps it in a ComponentError). */
function errorOf(fn, ctx = "") {
  let returned;
  try {
    returned = fn();
  } catch (e) {
    assert.ok(e.payload, `${ctx}: expected a result-error, got ${e}`);
    return e.payload;
  }
  assert.fail(`${ctx}: expected the call to fail, it returned ${JSON.stringify(returned)}`);
}

/** Python's str() of a decoded JSON scalar, as `failure.exception-type` renders it. */
const pyStr = (v) => (typeof v === "string" ? v : v === null ? "None" : String(v));

test("every key_derivation vector gives Dramatiq's key", async () => {
  const { Backend } = await component();
  const cases = ofKind("key_derivation");
  assert.equal(cases.length, 15);
  for (const v of cases) {
    const b = new Backend({ namespace: v.namespace, useNamespacePrefixKeys: v.use_namespace_prefix_keys });
    assert.equal(b.buildMessageKey(msg(v.message_id, v.actor_name, v.queue_name)), v.key, JSON.stringify(v));
  }
});

test("every encode_exception vector: store-exception writes Python's bytes, get-result fails with them", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const cases = ofKind("encode_exception");
  assert.equal(cases.length, 10);
  for (const [i, v] of cases.entries()) {
    const exceptionType = v.exception_repr.slice(0, v.exception_repr.indexOf("("));
    // str(e) is Python's business: take it from the stored bytes; the envelope around it
    // (key order, ASCII escapes) must come out byte-identical.
    const exceptionMessage = JSON.parse(v.raw.utf8).exn.msg;
    const m = msg(`exc-${i}`);
    b.storeException(m, { exceptionType, exceptionMessage }, 600_000n);
    assert.equal(store.stored(b.buildMessageKey(m)), v.raw.utf8, v.exception_repr);
    const err = errorOf(() => b.getResult(m, NOW));
    assert.equal(err.tag, "failure");
    assert.deepEqual(
      [err.val.exceptionType, err.val.exceptionMessage, err.val.messageKey],
      [exceptionType, exceptionMessage, b.buildMessageKey(m)],
    );
    assert.equal(err.val.message, `actor raised ${exceptionType}: ${exceptionMessage}`);
  }
});

test("every unwrap vector: stored bytes read back as Dramatiq reads them", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const cases = ofKind("unwrap");
  assert.equal(cases.length, 19);
  for (const [i, v] of cases.entries()) {
    const m = msg(`unwrap-${i}`);
    const key = b.buildMessageKey(m);
    const bytes = typeof v.raw.utf8 === "string" ? new TextEncoder().encode(v.raw.utf8) : Buffer.from(v.raw.base64, "base64");
    store.raw(key, new Uint8Array(bytes));
    const want = v.result;
    const ctx = JSON.stringify(v.raw);
    if (want.outcome === "value") {
      assert.equal(b.getResult(m, NOW), want.value_json, ctx);
      continue;
    }
    const err = errorOf(() => b.getResult(m, NOW), ctx);
    assert.equal(err.val.messageKey, key, ctx);
    switch (want.exception) {
      case "ResultFailure":
        assert.equal(err.tag, "failure", ctx);
        assert.equal(err.val.message, want.str, ctx);
        assert.equal(err.val.exceptionType, pyStr(want.orig_exc_type), ctx);
        assert.equal(err.val.exceptionMessage, pyStr(want.orig_exc_msg), ctx);
        break;
      case "KeyError": // Python raises a bare KeyError; the component a malformed-failure.
        assert.equal(err.tag, "malformed-failure", ctx);
        assert.match(err.val.message, new RegExp(want.str.replaceAll("'", "")), ctx);
        break;
      case "DecodeError":
        assert.equal(err.tag, "decode", ctx);
        break;
      default:
        assert.fail(`unexpected vector outcome ${want.exception}`);
    }
    // Raw reads hand back the stored bytes untouched, whatever they hold.
    assert.deepEqual(b.getResultBytes(m, NOW), new Uint8Array(bytes), ctx);
  }
});

/** The stored text of a backend snapshot, when present and kept in full. */
const storedText = (stored) => (stored.list ? stored.list[0]?.utf8 : stored.value?.utf8);

test("every actor_result vector: same key, same stored bytes, same outcome", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const cases = ofKind("actor_result");
  assert.equal(cases.length, 186);
  let replayed = 0;
  for (const v of cases) {
    const ctx = `${v.case} on ${v.backend}`;
    const b = new Backend({ namespace: v.namespace, useNamespacePrefixKeys: v.use_namespace_prefix_keys });
    const m = msg(v.message_id, v.actor_name, v.queue_name);
    const key = b.buildMessageKey(m);
    assert.equal(key, v.key, ctx);
    for (const snap of v.hook_snapshots) {
      assert.equal(b.buildMessageKey({ ...m, queueName: snap.worker_queue_name }), key, `${ctx}: worker key`);
    }
    const last = v.hook_snapshots.at(-1);
    const stored = storedText(last.stored);
    if (stored === undefined) continue;
    const want = last.get_result_nonblocking;
    if (want.exception === "ResultFailure") {
      // What the Results middleware stores for a failed actor.
      b.storeException(m, { exceptionType: want.orig_exc_type, exceptionMessage: want.orig_exc_msg }, 600_000n);
    } else {
      b.storeResult(m, stored, 600_000n);
    }
    assert.equal(store.stored(key), stored, `${ctx}: stored bytes`);
    replayed += 1;
    if (last.stored.expired === true) {
      // Dramatiq's stub truncates TTLs to whole seconds (its 500 ms result expired on
      // arrival); TTLs here are exact, a documented difference.
      assert.equal(b.getResult(m, NOW), stored, ctx);
      continue;
    }
    if (want.outcome === "value") {
      const got = b.getResult(m, NOW);
      if (want.value_json_sha256) {
        assert.equal(createHash("sha256").update(got).digest("hex"), want.value_json_sha256, ctx);
      } else {
        assert.equal(got, want.value_json, ctx);
      }
    } else {
      const err = errorOf(() => b.getResult(m, NOW));
      assert.equal(err.tag, "failure", ctx);
      assert.equal(err.val.message, want.str, ctx);
    }
  }
  // Every case stores something except the unencodable value and the no-store cases.
  assert.ok(replayed >= 160, `only ${replayed} stored values replayed`);
});

test("store-result re-encodes JSON text exactly as Python writes it", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const m = msg();
  b.storeResult(m, ' { "b" : [1, 2.0, 1e16, NaN, -Infinity, 123456789012345678901234567890],\n "\u00e9": "\u2603" } ', 1000n);
  const python = '{"b":[1,2.0,1e+16,NaN,-Infinity,123456789012345678901234567890],"\\u00e9":"\\u2603"}';
  assert.equal(store.stored(b.buildMessageKey(m)), python);
  assert.equal(b.getResult(m, NOW), python);
  assert.deepEqual(store.calls.find((c) => c[0] === "put").slice(1).map(String), [b.buildMessageKey(m), String(new TextEncoder().encode(python)), "1000"]);
});

test("store, get, missing and delete", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const b = new Backend({ namespace: "ns", useNamespacePrefixKeys: true });
  const m = msg("id-1", "add", "default.DQ");
  assert.equal(b.buildMessageKey(m), "ns:default:add:id-1");
  let err = errorOf(() => b.getResult(m, NOW));
  assert.deepEqual([err.tag, err.val.messageKey], ["missing", "ns:default:add:id-1"]);
  b.storeResult(m, "3", 60_000n);
  assert.equal(b.getResult(m, NOW), "3");
  assert.equal(b.getResult(m, { block: true, timeoutMs: 1000n }), "3");
  b.deleteResult(m);
  b.deleteResult(m); // deleting an absent result is not an error
  err = errorOf(() => b.getResult(m, NOW));
  assert.equal(err.tag, "missing");
  // Raw bytes in and out, even bytes that are not a result.
  b.storeResultBytes(m, new Uint8Array([0xff, 0xfe]), 60_000n);
  assert.deepEqual(b.getResultBytes(m, NOW), new Uint8Array([0xff, 0xfe]));
  assert.equal(errorOf(() => b.getResult(m, NOW)).tag, "decode");
});

test("a TTL reaches the host store and the result expires with it", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const m = msg();
  // A TTL the read right after the store is well inside (60 ms could pass between the two
  // on a loaded machine, and the result was rightly gone); read again past it.
  b.storeResult(m, '"soon gone"', 300n);
  assert.equal(store.calls.find((c) => c[0] === "put")[3], 300n);
  assert.equal(b.getResult(m, NOW), '"soon gone"');
  await sleep(350);
  assert.equal(errorOf(() => b.getResult(m, NOW)).tag, "missing");
});

test("a blocking get times out at its deadline, not before, polling when the host cannot wait", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  for (const timeout of [0, 5, 250]) {
    store.calls.length = 0;
    const start = performance.now();
    const err = errorOf(() => b.getResult(msg(`t-${timeout}`), { block: true, timeoutMs: BigInt(timeout) }));
    const elapsed = performance.now() - start;
    assert.equal(err.tag, "timeout");
    assert.match(err.val.message, new RegExp(`within ${timeout} ms`));
    assert.ok(elapsed >= timeout, `timed out after ${elapsed} ms, before its ${timeout} ms deadline`);
    assert.ok(elapsed < timeout + 1000, `timed out ${elapsed - timeout} ms late`);
    if (timeout === 250) {
      // The host's `wait` answered at once: asked once, then the guest polls `get`.
      assert.equal(store.count("wait"), 1);
      assert.ok(store.count("get") >= 3, `${store.count("get")} reads`);
    }
  }
});

test("a blocking get resolves once another writer stores the value (polling)", async () => {
  let reads = 0;
  const store = hostStore({
    // Another worker (not this instance: a component call cannot be re-entered) stores the
    // result while the guest is polling.
    get: (key, base) => {
      reads += 1;
      if (reads === 3) base.put(key, new TextEncoder().encode('{"done":true}'), 60_000n);
      return base.get(key);
    },
  });
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  assert.equal(b.getResult(msg(), { block: true, timeoutMs: 10_000n }), '{"done":true}');
  assert.equal(reads, 3);
});

test("a host that can wait wakes the blocked get at once", async () => {
  const store = hostStore({
    // Another worker's write lands during the host's wait, which returns the value at once.
    wait: (key, timeoutMs, base) => {
      assert.ok(timeoutMs > 0n);
      base.put(key, new TextEncoder().encode("[1,2]"), 60_000n);
      return base.get(key);
    },
  });
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const start = performance.now();
  assert.equal(b.getResult(msg(), { block: true, timeoutMs: 30_000n }), "[1,2]");
  assert.ok(performance.now() - start < 5000);
  // Confirmed by the guest's own read after the wake-up, with no sleep in between.
  assert.deepEqual(store.calls.map((c) => c[0]), ["get", "wait", "get"]);
});

test("a host whose wait blocks to its timeout keeps being asked, and the deadline holds", async () => {
  const block = new Int32Array(new SharedArrayBuffer(4));
  const store = hostStore({
    wait: (_key, timeoutMs) => {
      Atomics.wait(block, 0, 0, Number(timeoutMs)); // a real blocking wait, nothing arrives
      return undefined;
    },
  });
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const start = performance.now();
  const err = errorOf(() => b.getResult(msg(), { block: true, timeoutMs: 400n }));
  const elapsed = performance.now() - start;
  assert.equal(err.tag, "timeout");
  assert.ok(elapsed >= 400, `timed out after ${elapsed} ms`);
  assert.ok(store.count("wait") >= 2, `${store.count("wait")} waits`);
  for (const [, , ms] of store.calls.filter((c) => c[0] === "wait")) assert.ok(ms <= 400n, `asked to wait ${ms} ms`);
});

test("host store errors come back as store errors carrying the message key", async () => {
  const store = hostStore({
    put: () => {
      throw kvError("unavailable", "connection refused");
    },
    get: () => {
      throw kvError("rejected", "no permission");
    },
    delete: () => {
      throw kvError("other", "strange");
    },
  });
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const m = msg();
  const key = b.buildMessageKey(m);
  for (const [fn, words] of [
    [() => b.storeResult(m, "1", 1000n), /unavailable.*connection refused/],
    [() => b.getResult(m, NOW), /rejected.*no permission/],
    [() => b.getResult(m, { block: true, timeoutMs: 5000n }), /rejected.*no permission/],
    [() => b.deleteResult(m), /other.*strange/],
  ]) {
    const err = errorOf(fn);
    assert.equal(err.tag, "store");
    assert.equal(err.val.messageKey, key);
    assert.match(err.val.message, words);
  }
});

test("bad input is an invalid-argument error and the instance keeps working", async () => {
  const store = hostStore();
  const { Backend } = await component(store);
  const b = new Backend(DEFAULTS);
  const m = msg();
  for (const bad of ["", "not json", "[1,", "{'a': 1}", "[".repeat(100_000)]) {
    const err = errorOf(() => b.storeResult(m, bad, 1000n));
    assert.equal(err.tag, "invalid-argument", bad.slice(0, 20));
    assert.equal(err.val.messageKey, b.buildMessageKey(m));
  }
  assert.equal(store.count("put"), 0);
  b.storeResult(m, "[]", 1000n);
  assert.equal(b.getResult(m, NOW), "[]");
  // A timeout beyond any real wait is accepted; the value is already there.
  assert.equal(b.getResult(m, { block: true, timeoutMs: 2n ** 64n - 1n }), "[]");
});
