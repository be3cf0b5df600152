// The WebAssembly component in a host that is not JavaScript: wasmtime's Python embedding
// (tests/py/component_host.py, `wasmtime` pinned in tests/py/requirements.txt) instantiates
// target/component/dramatiq-results.wasm with WASI preview 2 and a `kv-store` over a real
// redis-server, in Dramatiq's RedisBackend layout. Against a real Python Dramatiq 2.2.1:
//   Python → component: what Dramatiq's workers stored (values of every kind, failures) reads
//     back as Python's exact JSON text, or as the failure Python raised;
//   a blocking read is woken by a Dramatiq worker storing the result late, and a read of a
//     result nobody stores ends with `timeout`, never before its deadline;
//   component → Python: what the component stores, message.get_result() reads back equal;
//   Redis down, or gone during a blocking read: every operation is the component's `store`
//     (or `timeout`) error with the key and cause, and the instance answers on;
//   a hostile store (raises, wrong shapes, spurious wakes, a value too big for wasmtime-py):
//     an error with the key and cause, and the next call answers.
// Needs scripts/build-component and scripts/setup --python (scripts/test runs both).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { havePython, runPython } from "./pyworker.mjs";
import { freePort, startRedis } from "./services.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
if (!havePython) throw new Error("no Python Dramatiq: run scripts/setup --python");
if (!existsSync(`${root}target/component/dramatiq-results.wasm`)) {
  throw new Error("target/component/dramatiq-results.wasm is missing: run scripts/build-component");
}

let redis;
let address;
before(async () => {
  redis = await startRedis();
  address = `127.0.0.1:${redis.port}`;
});
after(() => redis?.stop());

/** Runs component_host.py MODE against the test's Redis (or `url`); resolves with its JSON output. */
async function host(mode, args = [], input, url = redis.url) {
  const lines = await runPython("component_host.py", [mode, "--redis", url, ...args], { input });
  return JSON.parse(lines.join("\n"));
}

test("what a real Dramatiq stored, the component reads in Python's bytes", async () => {
  const items = JSON.parse((await runPython("interop.py", ["produce", "--backend", "redis", "--address", address])).join("\n"));
  const names = items.map((i) => i.message.actor_name);
  for (const needed of ["ret_nan", "ret_big", "ret_neg_big", "ret_unicode", "ret_nested", "ret_none", "ret_tiny", "raise_custom", "raise_key_error"]) {
    assert.ok(names.includes(needed), `Python ran ${needed}`);
  }
  const got = await host("read", [], JSON.stringify(items));
  for (const { message, expect } of items) {
    const outcome = got[message.message_id];
    const ctx = `${message.actor_name}: ${JSON.stringify(outcome)}`;
    if ("value_json" in expect) {
      // Python's own encoding of the value, byte for byte (NaN, 2**70, escapes, key order).
      assert.deepEqual(outcome, { value_json: expect.value_json }, ctx);
    } else {
      assert.ok(outcome.failure, ctx);
      // A WIT `string` holds Unicode scalar values only: a lone surrogate in the message
      // (raise_lone_surrogate: Python's surrogateescape) crosses the component as U+FFFD.
      const text = expect.exc_msg.toWellFormed();
      assert.equal(outcome.failure.exception_type, expect.exc_type, ctx);
      assert.equal(outcome.failure.exception_message, text, ctx);
      assert.equal(outcome.failure.message, `actor raised ${expect.exc_type}: ${text}`, ctx);
      assert.equal(outcome.failure.traceback, null, ctx);
    }
  }
});

test("values of every kind Python's encoder writes (big ints, 1e308, 5e-324, -0.0, astral and lone surrogates, deep, 8 MB) read back in Python's bytes, odd exceptions as the ResultFailure Python raises, and the component stores them in Python's bytes", async () => {
  const got = await host("python-values");
  // Python → component for 15 values and 7 exceptions; component → Redis bytes for 14
  // values (json.dumps text in, with its spaces) and the 7 exceptions.
  assert.ok(Object.keys(got).length >= 43, JSON.stringify(got));
  for (const [name, result] of Object.entries(got)) assert.equal(result, true, `${name}: ${JSON.stringify(result)}`);
});

test("a blocking read through the component is woken when a Dramatiq worker stores late", async () => {
  const delayMs = 300;
  const timeoutMs = 10_000;
  const got = await host("late", ["--delay-ms", String(delayMs), "--timeout-ms", String(timeoutMs)]);
  // The value Python's encoder writes for what the actor returned (2**64, NaN, non-ASCII).
  assert.equal(got.value_json, got.python_encoding);
  assert.match(got.value_json, /"n":18446744073709551616,"x":NaN/);
  assert.ok(got.elapsed_ms >= got.enqueued_at_ms, `read ended at ${got.elapsed_ms} ms, before the message was sent at ${got.enqueued_at_ms}`);
  // Woken, not timed out: generous, timing is the bench's business.
  assert.ok(got.elapsed_ms < timeoutMs / 2, `read took ${got.elapsed_ms} ms`);
  const waits = got.calls.filter((c) => c.op === "wait");
  assert.ok(waits.length >= 1, `the component waited in the host's BLMOVE: ${JSON.stringify(got.calls)}`);
  // The component confirms every wake-up with its own read, and the last read found it.
  assert.equal(got.calls.at(-1).op, "get");
});

test("a blocking read of a result nobody stores ends with timeout, not before its deadline", async () => {
  const timeoutMs = 700;
  const got = await host("timeout", ["--timeout-ms", String(timeoutMs)]);
  assert.equal(got.error?.tag, "timeout", JSON.stringify(got));
  assert.match(got.error.message, /within 700 ms/);
  assert.ok(got.elapsed_ms >= timeoutMs, `timed out after ${got.elapsed_ms} ms, before ${timeoutMs}`);
  assert.ok(got.elapsed_ms < timeoutMs + 5_000, `timed out after ${got.elapsed_ms} ms`);
  // Every wait the component asked of the host ends by the deadline (a wait's timeout is
  // what was left of it when asked; the call times are the host's, from before the call into
  // the component). The component reads its clock for the deadline after the host's clock
  // started and before its first store call, so that call's time bounds the deadline: under
  // load the way into the component alone can take a few ms.
  const deadline = got.calls[0].at_ms + timeoutMs;
  for (const c of got.calls.filter((c) => c.op === "wait")) {
    assert.ok(c.at_ms + c.arg <= deadline + 1, `wait(${c.arg}) at ${c.at_ms} ms outlives the deadline (${deadline} ms at the latest)`);
  }
  // One last read at the deadline decides (polling would have missed a late store otherwise).
  assert.equal(got.calls.at(-1).op, "get");
  assert.ok(got.calls.at(-1).at_ms >= timeoutMs - 1, JSON.stringify(got.calls.at(-1)));
});

test("what the component stores, Python's message.get_result() reads back equal", async () => {
  const message = (actorName) => ({
    queue_name: "default", actor_name: actorName, args: [1], kwargs: {}, options: {},
    message_id: randomUUID(), message_timestamp: Date.now(),
  });
  // Python's JSON dialect in, any spacing; what Python must then read, in its own encoding.
  const values = {
    c_int: ["7", "7"],
    c_float: ["0.1", "0.1"],
    c_integral_float: ["3.0", "3.0"],
    c_nan_infinities: ["[NaN, Infinity, -Infinity]", "[NaN,Infinity,-Infinity]"],
    c_negative_zero: ["-0.0", "-0.0"],
    c_big: ["1208925819614629174706176", "1208925819614629174706176"],
    c_neg_big: ["-18446744073709551617", "-18446744073709551617"],
    c_unicode: ['"caf\u00e9 \\ud83d\\ude80 \\u2028 \\"q\\" \\\\"', '"caf\\u00e9 \\ud83d\\ude80 \\u2028 \\"q\\" \\\\"'],
    c_nested: ['{"list": [1, [2, [3]]], "obj": {"b": true, "a": null}, "": ""}', '{"list":[1,[2,[3]]],"obj":{"b":true,"a":null},"":""}'],
    c_null: ["null", "null"],
    // A Python str may hold a lone surrogate; json.dumps writes it as its escape.
    c_lone_surrogates: ['["\\ud800x", "\\udfff", {"\\udc00": "\\ud800\\ud83d\\ude00"}]', '["\\ud800x","\\udfff",{"\\udc00":"\\ud800\\ud83d\\ude00"}]'],
  };
  const items = Object.entries(values).map(([name, [json, pythonJson]]) => ({
    message: message(name), store: { json }, expect: { value_json: pythonJson },
  }));
  for (const [name, type, text] of [["c_type_error", "TypeError", "bad input: \u00e9"], ["c_custom", "QuotaExceeded", "over quota"], ["c_empty_message", "ValueError", ""], ["c_non_ascii_type", "\u4f8b\u5916", "line 1\nline 2 \u{1f600}"]]) {
    items.push({ message: message(name), store: { exception: { type, message: text } }, expect: { exc_type: type, exc_msg: text } });
  }
  assert.deepEqual(await host("store", [], JSON.stringify(items)), { stored: items.length });
  const report = JSON.parse(
    (await runPython("interop.py", ["consume", "--backend", "redis", "--address", address], { input: JSON.stringify(items) })).join("\n"),
  );
  assert.deepEqual(report, { checked: items.length, mismatches: [] });
});

test("with Redis down, every operation is a store error from the host, and the instance keeps answering", async () => {
  // A port nobody listens on: redis-py fails to connect, the host returns `unavailable`
  // (through the store's `get`, whose error wasmtime-py 51 cannot lower untagged: see the
  // note in component_host.py), and the component reports a `store` error.
  const got = await host("outage", [], undefined, `redis://127.0.0.1:${await freePort()}`);
  for (const name of ["get", "store", "blocking get", "delete", "get again"]) {
    // An unreachable store is retried until the deadline (the WIT's `unavailable`), so the
    // blocking read ends as a timeout that names the last failure.
    const tag = name === "blocking get" ? "timeout" : "store";
    assert.equal(got[name]?.tag, tag, `${name}: ${JSON.stringify(got[name])}`);
    assert.match(got[name].message, /failed \(unavailable\): .*[Cc]onnect/, name);
    assert.equal(got[name].message_key.length, 32, name);
  }
});

test("a store that raises, returns the wrong shape, or is handed too big a value: an error with the key and cause, and the next call answers", async () => {
  // Each case makes one get/store through the host's failing kv-store, then a plain read
  // of a stored value through the same host object: wasmtime traps an instance whose host
  // function raised or returned a value it cannot lower, and a trapped instance refuses
  // every later call ("cannot enter component instance").
  const got = await host("hostile");
  const cases = ["raise", "wrong type", "bare bytes", "bare none", "unknown kv-error", "put raises", "wait raises", "3 MiB value"];
  // A wait that always wakes spuriously: the read times out, having polled the store at
  // about its back-off's pace, not in a hot loop (thousands of reads before the fix).
  assert.equal(got["spurious wakes"].tag, "timeout", JSON.stringify(got["spurious wakes"]));
  assert.ok(got["spurious wakes"].gets < 100, `${got["spurious wakes"].gets} reads in 500 ms`);
  for (const name of cases) {
    const c = got[name];
    assert.ok(c, `${name}: ${JSON.stringify(got)}`);
    assert.ok(["store", "trap", "missing"].includes(c.first.tag) || c.first.ok || c.first.value_json, `${name}: ${JSON.stringify(c)}`);
    if (["store", "trap"].includes(c.first.tag)) {
      assert.equal(c.first.message_key, c.key, `${name}: ${JSON.stringify(c)}`);
      assert.match(c.first.message, c.first.tag === "trap" ? /trap|exhausted/ : /failed \(other\): .+/, name);
    }
    assert.deepEqual(c.next, { value_json: "[1,2]" }, `${name}: the call after: ${JSON.stringify(c)}`);
  }
  // A host's `get` that raises is the store error naming the exception, not a trap.
  assert.equal(got.raise.first.tag, "store");
  assert.match(got.raise.first.message, /RuntimeError: boom/);
  // A bare value where a tagged result is due is accepted as its `ok`.
  assert.deepEqual(got["bare bytes"].first, { value_json: "1" });
  assert.equal(got["bare none"].first.tag, "missing");
  // wasmtime-py cannot lift a list<u8> of 3 MiB for the host's put: the instance traps,
  // the call is a `trap` error and a fresh instance answers the next call.
  assert.equal(got["3 MiB value"].first.tag, "trap");
  // A blocking read whose `wait` raises polls on and finds the value.
  assert.deepEqual(got["wait raises"].first, { value_json: "1" });
});

test("Redis goes away during a blocking read: a timeout naming the store's failure at the deadline, then store errors, never a trap", async () => {
  const own = await startRedis();
  const reading = host("gone", ["--timeout-ms", "3000"], undefined, own.url);
  // Give the host time to start up and block in BLMOVE (the read lasts 3 s; on a machine
  // slow enough that Redis stops first, the same outcome is due).
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await own.stop();
  const got = await reading;
  assert.equal(got.blocking.error?.tag, "timeout", JSON.stringify(got));
  assert.equal(got.blocking.error.message_key, got.key);
  assert.match(got.blocking.error.message, /last failed: .*\(unavailable\): .*[Cc]onnect/, JSON.stringify(got));
  assert.ok(got.elapsed_ms >= 3_000, `ended after ${got.elapsed_ms} ms`);
  assert.equal(got.next.error?.tag, "store", JSON.stringify(got));
  assert.equal(got.next.error.message_key, got.key);
});
