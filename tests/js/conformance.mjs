// One behaviour suite for every backend, in every host. It imports nothing: the host passes
// in its `test` function, the package's API and a backend factory, so the same file runs
// under `node --test`, inside workerd (a Worker script imports it) and in Chromium (served
// as a module). Dramatiq's own suite is parametrized over its backends the same way.
//
//   defineConformance(test, api, "KvBackend", (options) => new KvBackend(adapter, options), caps)
//
// `makeBackend(options)` gets the common options ({ namespace, useNamespacePrefixKeys }).
// caps.shared: every backend it makes shares one store (namespace isolation is checked
// across instances then).

/** Assertions that work everywhere (no node:assert in workerd or a page). */
export const check = {
  ok(value, what) {
    if (!value) throw new Error(`expected ${what}`);
  },
  equal(actual, expected, what) {
    if (!same(actual, expected)) {
      throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
    }
  },
  /** Awaits `promise`, expecting a rejection that is an instance of `Class`; returns it. */
  async rejects(promise, Class, what) {
    const resolved = {};
    const error = await promise.then(
      (value) => ((resolved.value = value), resolved),
      (e) => e,
    );
    if (error === resolved) throw new Error(`${what}: expected ${Class.name}, resolved with ${show(resolved.value)}`);
    if (!(error instanceof Class)) throw new Error(`${what}: expected ${Class.name}, got ${error}`);
    return error;
  },
};

/** Structural equality, with NaN equal to itself and -0 distinct from 0 (Object.is). */
export function same(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same(a[k], b[k]));
}

function show(v) {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : Number.isNaN(x) ? "NaN" : x));
  } catch {
    return String(v);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (bytes) => new TextDecoder().decode(bytes);

/** A `test` for hosts without a runner: collects tests, then `run()` runs them in order. */
export function collector() {
  const tests = [];
  return {
    test: (name, fn) => tests.push({ name, fn }),
    async run() {
      const failures = [];
      for (const { name, fn } of tests) {
        try {
          await fn();
        } catch (e) {
          failures.push(`${name}: ${e && (e.stack || e)}`);
        }
      }
      return { ran: tests.length, failures };
    },
  };
}

/** Registers the conformance tests of one backend with `test(name, fn)`. */
export function defineConformance(test, api, name, makeBackend, caps = {}) {
  const { Message, Missing, ResultError, ResultMissing, ResultTimeout, ResultFailure, DecodeError } = api;
  const t = (what, fn) => test(`${name} conforms: ${what}`, fn);
  const msg = (actorName = "task") => new Message({ actorName });

  t("stores and reads a value, as Dramatiq's bytes", async () => {
    const backend = makeBackend();
    const m = msg();
    const value = { sum: 3, big: 2n ** 70n, nan: NaN, s: "\u00e9", list: [1, 2.5, null, true] };
    await backend.storeResult(m, value);
    check.equal(await backend.getResult(m), value, "read back");
    check.equal(
      text(await backend.getResultBytes(m)),
      '{"sum":3,"big":1180591620717411303424,"nan":NaN,"s":"\\u00e9","list":[1,2.5,null,true]}',
      "stored bytes",
    );
    await backend.storeResult(m, "replaced");
    check.equal(await backend.getResult(m), "replaced", "a second store replaces the first");
  });

  t("a missing result is ResultMissing (and Missing from tryGetResult)", async () => {
    const backend = makeBackend();
    const m = msg("never_stored");
    const e = await check.rejects(backend.getResult(m), ResultMissing, "getResult");
    check.ok(e instanceof ResultError, "a ResultError");
    check.equal(e.messageKey, backend.buildMessageKey(m), "messageKey");
    check.equal(await backend.tryGetResult(m), Missing, "tryGetResult");
  });

  t("a blocking read waits for the value", async () => {
    const backend = makeBackend();
    // Another instance over the same store when there is one: the write comes from elsewhere.
    const writer = caps.shared ? makeBackend() : backend;
    const m = msg("later");
    const stored = sleep(50).then(() => writer.storeResult(m, "late"));
    check.equal(await backend.getResult(m, { block: true, timeout: 10_000 }), "late", "waited value");
    await stored;
  });

  t("a blocking read times out at its deadline, not before", async () => {
    const backend = makeBackend();
    const m = msg("never");
    const started = Date.now();
    const e = await check.rejects(backend.getResult(m, { block: true, timeout: 150 }), ResultTimeout, "timeout");
    const took = Date.now() - started;
    // Date.now has whole milliseconds; 1 ms of rounding is allowed, nothing more.
    check.ok(took >= 149, `no rejection before the deadline (took ${took} ms)`);
    check.equal(e.messageKey, backend.buildMessageKey(m), "messageKey");
  });

  t("a stored exception reads back as ResultFailure", async () => {
    const backend = makeBackend();
    const m = msg("fails");
    await backend.storeException(m, new TypeError("bad input"));
    const e = await check.rejects(backend.getResult(m), ResultFailure, "failure");
    check.equal(e.exceptionType, "TypeError", "exceptionType");
    check.equal(e.exceptionValue, "bad input", "exceptionValue");
    check.equal(e.message, "actor raised TypeError: bad input", "message");
    // Python's envelope written as bytes reads the same way.
    const py = msg("py_fails");
    await backend.storeResultBytes(py, '{"__t":"dramatiq.results.Result","exn":{"type":"ValueError","msg":"bad value: 42"}}');
    const e2 = await check.rejects(backend.getResult(py, { block: true, timeout: 1000 }), ResultFailure, "python failure");
    check.equal([e2.exceptionType, e2.exceptionValue], ["ValueError", "bad value: 42"], "python envelope");
  });

  t("deleteResult removes the result; deleting twice is fine", async () => {
    const backend = makeBackend();
    const m = msg("deleted");
    await backend.storeResult(m, 1);
    await backend.deleteResult(m);
    await check.rejects(backend.getResult(m), ResultMissing, "after delete");
    await backend.deleteResult(m);
  });

  t("TTLs: 0 stores nothing, a short TTL expires on time, the default keeps it", async () => {
    const backend = makeBackend();
    const zero = msg("ttl_zero");
    await backend.storeResult(zero, 1);
    await backend.storeResult(zero, 2, 0);
    await check.rejects(backend.getResult(zero), ResultMissing, "ttl 0");
    const short = msg("ttl_short");
    const kept = msg("ttl_default");
    await backend.storeResult(short, "brief", 300);
    await backend.storeResult(kept, "kept");
    check.equal(await backend.getResult(short), "brief", "before expiry");
    await sleep(450);
    await check.rejects(backend.getResult(short), ResultMissing, "after expiry");
    check.equal(await backend.getResult(kept), "kept", "default TTL");
  });

  t("namespaces give different keys and do not see each other", async () => {
    const a = makeBackend({ namespace: "ns-a" });
    const b = makeBackend({ namespace: "ns-b" });
    const m = new Message({ actorName: "add", messageId: "00000000-0000-4000-8000-000000000000" });
    check.equal(makeBackend().buildMessageKey(m), "d8ac489da7ded05e815a30446be973d6", "Dramatiq's default key");
    check.ok(a.buildMessageKey(m) !== b.buildMessageKey(m), "different keys");
    await a.storeResult(m, "from a");
    check.equal(await a.getResult(m), "from a", "own namespace");
    if (caps.shared) {
      check.equal(await b.tryGetResult(m), Missing, "other namespace");
      await a.deleteResult(m);
    }
  });

  t("namespace-prefixed keys are readable and stored under that key", async () => {
    const readable = makeBackend({ namespace: "reports", useNamespacePrefixKeys: true });
    const hashed = makeBackend({ namespace: "reports" });
    const m = msg("report");
    check.equal(readable.buildMessageKey(m), `reports:default:report:${m.messageId}`, "readable key");
    await readable.storeResult(m, { rows: 3 });
    check.equal(await readable.getResult(m), { rows: 3 }, "read back");
    if (caps.shared) check.equal(await hashed.tryGetResult(m), Missing, "the MD5 key is another key");
  });

  t("bad stored bytes are a DecodeError, and the bytes stay readable", async () => {
    const backend = makeBackend();
    const m = msg("corrupt");
    await backend.storeResultBytes(m, new TextEncoder().encode("{not json"));
    const e = await check.rejects(backend.getResult(m), DecodeError, "decode");
    check.ok(e instanceof ResultError, "a ResultError");
    check.equal(text(await backend.getResultBytes(m)), "{not json", "raw bytes");
  });

  t("many results under one deadline", async () => {
    const backend = makeBackend();
    const [m1, m2] = [msg("one"), msg("two")];
    await backend.storeResult(m1, 1);
    const later = sleep(30).then(() => backend.storeResult(m2, 2));
    check.equal(await backend.getResults([m1, m2], { timeout: 10_000 }), [1, 2], "getResults");
    await later;
  });
}
