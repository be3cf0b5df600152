// Live interoperability with a real Python Dramatiq (tests/py/interop.py, run from the
// project's virtualenv), over real redis-server and memcached, both directions:
//   (Redis through node-redis, ioredis and connectRedis.)
//   Python → JS: a dramatiq.Worker with the Results middleware runs actors that return ints,
//     floats, NaN, unicode, nested objects, None, big integers, or raise; we read each result.
//   JS → Python: we store values and exceptions; Python's message.get_result() reads them,
//     and re-encodes each value to compare its bytes with what we meant.
// Each with Dramatiq's default keys and with prefix keys in a custom namespace.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import IORedis from "ioredis";
import memjs from "memjs";
import { JSONEncoder, MemcachedBackend, Message, RedisBackend, ResultFailure, connectRedis } from "dramatiq-results";
import { startMemcached, startRedis } from "./services.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const python = `${root}target/venv/bin/python`;
const script = `${root}tests/py/interop.py`;
if (!existsSync(python)) throw new Error("no Python Dramatiq: run scripts/setup --python");

/** Runs interop.py; resolves with its parsed stdout (and rejects with its stderr on failure,
 * except that `consume` exits 1 with a report on stdout when something differs). */
function runPython(args, stdin, onConsuming) {
  return new Promise((resolve, reject) => {
    const child = execFile(python, [script, ...args], { maxBuffer: 64 << 20, timeout: 120_000 }, (error, stdout, stderr) => {
      try {
        const parsed = JSON.parse(stdout);
        resolve(parsed);
      } catch {
        reject(new Error(`interop.py ${args.join(" ")} failed: ${error?.message}\n${stderr.slice(-4000)}`));
      }
    });
    if (onConsuming) {
      let seen = "";
      child.stderr.on("data", (d) => {
        if (!seen.includes("consuming") && (seen += d).includes("consuming")) onConsuming();
      });
    }
    child.stdin.end(stdin ?? "");
  });
}

const encoder = new JSONEncoder();
const decodeJson = (text) => encoder.decode(new TextEncoder().encode(text));

/** What JS stores for Python to read, and what Python must then see. */
const jsValues = {
  js_int: 7,
  js_float: 0.1,
  js_integral_float_is_int: 3, // JS has no 3.0: it is stored as Python's int 3
  js_nan: NaN,
  js_infinities: [Infinity, -Infinity],
  js_negative_zero: -0,
  js_unicode: "caf\u00e9 \u{1F680} \u2028 \"q\" \\",
  js_nested: { list: [1, [2, [3]]], obj: { a: null, b: true }, "": "" },
  js_null: null,
  js_bigint: 2n ** 80n,
  js_neg_bigint: -(2n ** 64n),
  js_empty: {},
};
const jsErrors = {
  js_type_error: new TypeError("bad input: \u00e9"),
  js_custom: new (class QuotaExceeded extends Error {
    get name() {
      return "QuotaExceeded";
    }
  })("over quota"),
  // A message cut inside a surrogate pair (`"…😀".slice(0, -1)`): Python reads the same
  // lone surrogate back, as it would have stored it, not U+FFFD.
  js_lone_surrogate: new Error("cut \ud83d and \udc00 here"),
};

let redis;
let memcached;
const clients = [];

before(async () => {
  [redis, memcached] = await Promise.all([startRedis(), startMemcached()]);
});

after(async () => {
  for (const close of clients) await close();
  await Promise.all([redis?.stop(), memcached?.stop()]);
});

const backends = {
  "redis (node-redis)": async (options) => {
    const c = await createClient({ url: redis.url }).connect();
    clients.push(() => c.destroy());
    return { backend: new RedisBackend(c, options), kind: "redis", address: `127.0.0.1:${redis.port}` };
  },
  "redis (ioredis, blocking connection)": async (options) => {
    const c = new IORedis(redis.port, "127.0.0.1");
    const b = new IORedis(redis.port, "127.0.0.1");
    clients.push(() => (c.disconnect(), b.disconnect()));
    return { backend: new RedisBackend(c, { ...options, blockingClient: b }), kind: "redis", address: `127.0.0.1:${redis.port}` };
  },
  "redis (connectRedis, blocking connection)": async (options) => {
    const c = await connectRedis(redis.url);
    const b = await c.duplicate();
    clients.push(() => Promise.all([c.close(), b.close()]));
    return { backend: new RedisBackend(c, { ...options, blockingClient: b }), kind: "redis", address: `127.0.0.1:${redis.port}` };
  },
  "memcached (memjs)": async (options) => {
    const c = memjs.Client.create(memcached.address, { logger: { log() {} } });
    clients.push(() => c.close());
    return { backend: new MemcachedBackend(c, options), kind: "memcached", address: memcached.address };
  },
};

const variants = {
  "default keys": { options: {}, args: [] },
  "prefix keys in a custom namespace": {
    options: { namespace: "interop-ns", useNamespacePrefixKeys: true },
    args: ["--namespace", "interop-ns", "--prefix"],
  },
};

for (const [backendName, make] of Object.entries(backends)) {
  for (const [variantName, variant] of Object.entries(variants)) {
    describe(`${backendName}, ${variantName}`, () => {
      test("what a Python Dramatiq worker stores, we read: equal values, same failures", async () => {
        const { backend, kind, address } = await make(variant.options);
        const items = await runPython(["produce", "--backend", kind, "--address", address, ...variant.args]);
        assert.ok(items.length >= 15, `only ${items.length} results from Python`);
        for (const { message: dict, expect } of items) {
          const message = Message.fromDict(dict);
          const what = `${dict.actor_name}`;
          if (variant.options.useNamespacePrefixKeys) {
            assert.equal(backend.buildMessageKey(message), `interop-ns:${dict.queue_name}:${dict.actor_name}:${dict.message_id}`, what);
          }
          if ("value_json" in expect) {
            const value = await backend.getResult(message, { block: true, timeout: 5000 });
            assert.deepEqual(value, decodeJson(expect.value_json), what);
            // And our encoding of what we read is Python's, byte for byte — except 2.0,
            // which JS reads as the number 2 (documented).
            if (dict.actor_name !== "ret_integral_float") {
              assert.equal(new TextDecoder().decode(encoder.encode(value)), expect.value_json, `${what}: re-encoded`);
            }
          } else {
            const e = await backend.getResult(message, { block: true, timeout: 5000 }).then(
              (v) => assert.fail(`${what}: resolved with ${v}`),
              (e) => e,
            );
            assert.ok(e instanceof ResultFailure, `${what}: ${e}`);
            assert.equal(e.exceptionType, expect.exc_type, what);
            assert.equal(e.exceptionValue, expect.exc_msg, what);
            assert.equal(e.message, `actor raised ${expect.exc_type}: ${expect.exc_msg}`, what);
          }
        }
        const names = items.map((i) => i.message.actor_name);
        for (const needed of ["ret_nan", "ret_big", "ret_unicode", "ret_nested", "ret_none", "raise_custom", "raise_lone_surrogate"]) {
          assert.ok(names.includes(needed), `Python ran ${needed}`);
        }
      });

      test("what we store, Python's message.get_result() reads back equal", async () => {
        const { backend, kind, address } = await make(variant.options);
        const items = [];
        for (const [actorName, value] of Object.entries(jsValues)) {
          const message = new Message({ queueName: "default", actorName, args: [1], kwargs: { k: "v" } });
          await backend.storeResult(message, value);
          items.push({ message: message.asDict(), expect: { value_json: new TextDecoder().decode(encoder.encode(value)) } });
        }
        for (const [actorName, error] of Object.entries(jsErrors)) {
          const message = new Message({ queueName: "default", actorName });
          await backend.storeException(message, error);
          items.push({ message: message.asDict(), expect: { exc_type: error.name, exc_msg: error.message } });
        }
        // Sanity of the expectations themselves: the ones that must differ from JSON.
        const byName = Object.fromEntries(items.map((i) => [i.message.actor_name, i.expect]));
        assert.equal(byName.js_nan.value_json, "NaN");
        assert.equal(byName.js_bigint.value_json, "1208925819614629174706176");
        assert.equal(byName.js_negative_zero.value_json, "-0.0");
        assert.equal(byName.js_unicode.value_json, '"caf\\u00e9 \\ud83d\\ude80 \\u2028 \\"q\\" \\\\"');

        const report = await runPython(["consume", "--backend", kind, "--address", address, ...variant.args], JSON.stringify(items));
        assert.equal(report.checked, items.length);
        assert.deepEqual(report.mismatches, []);
      });

      test("Python blocked in get_result(block=True) gets what we store while it waits", async () => {
        const { backend, kind, address } = await make(variant.options);
        const message = new Message({ queueName: "default", actorName: "stored_while_waiting" });
        const value = { late: true, n: 2n ** 64n };
        const items = [{ message: message.asDict(), expect: { value_json: new TextDecoder().decode(encoder.encode(value)) } }];
        // Python blocks (up to 2 s, tests/py/interop.py) before the value exists; we store
        // 300 ms after it says it is reading.
        let stored;
        const python = runPython(["consume", "--backend", kind, "--address", address, ...variant.args], JSON.stringify(items), () => {
          stored = new Promise((r) => setTimeout(r, 300)).then(() => backend.storeResult(message, value));
        });
        const report = await python;
        assert.ok(stored, "Python said it was reading");
        await stored;
        assert.deepEqual(report, { checked: 1, mismatches: [] });
      });
    });
  }
}
