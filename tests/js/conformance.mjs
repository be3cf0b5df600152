// One behaviour suite for every backend, in every host. It imports nothing: the host passes
// in its `test` function, the package's API and a backend factory, so the same file runs
// under `node --test`, inside workerd (a Worker script imports it) and in Chromium (served
// as a module). Dramatiq's own suite is parametrized over its backends the same way.
//
//   defineConformance(test, api, "KvBackend", (options) => new KvBackend(adapter, options), caps)
//
// `makeBackend(options)` gets the common options ({ namespace, useNamespacePrefixKeys }).
// caps.shared: every backend it makes shares one store (namespace isolation is checked
// across instances then). caps.shortTtlMs / caps.expiredAfterMs: the short TTL of the TTL
// test and how long after storing it must be gone (300 / 450 ms unless the store's expiry
// has a coarser grain). caps.largeValueBytes: the size of the large-value test.

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

/** How many tests `defineConformance` registers, so hosts can check that all of them ran. */
export function conformanceCount() {
  let count = 0;
  const api = new Proxy({}, { get: () => class {} });
  defineConformance(() => count++, api, "count", () => null);
  return count;
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
    // A store whose expiries are whole seconds (Memcached) says so in caps.
    await backend.storeResult(short, "brief", caps.shortTtlMs ?? 300);
    await backend.storeResult(kept, "kept");
    check.equal(await backend.getResult(short), "brief", "before expiry");
    await sleep(caps.expiredAfterMs ?? 450);
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

  t("hostile payloads: prototype keys, special floats, big ints, bad UTF-8, canary look-alikes", async () => {
    const backend = makeBackend();
    const bytes = (s) => new TextEncoder().encode(s);
    const read = async (stored) => {
      const m = msg("hostile");
      await backend.storeResultBytes(m, typeof stored === "string" ? bytes(stored) : stored);
      return { m, value: () => backend.getResult(m) };
    };
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).join();
    const polluted = await (await read('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"prototype":2}')).value();
    check.equal(Object.keys(polluted), ["__proto__", "constructor", "prototype"], "own keys");
    check.ok(Object.getPrototypeOf(polluted) === Object.prototype, "the prototype is untouched");
    check.equal(Object.getOwnPropertyDescriptor(polluted, "__proto__").value, { polluted: 1 }, "__proto__ is data");
    check.ok(({}).polluted === undefined && ({}).x === undefined, "no prototype changed");
    check.equal(Object.getOwnPropertyNames(Object.prototype).join(), protoBefore, "Object.prototype");

    check.equal(await (await read("[NaN,Infinity,-Infinity,-0.0,1e308]")).value(), [NaN, Infinity, -Infinity, -0, 1e308], "special floats");
    check.equal(
      await (await read("[9007199254740991,9007199254740993,-123456789012345678901234567890]")).value(),
      [9007199254740991, 9007199254740993n, -123456789012345678901234567890n],
      "integers beyond 2^53 are BigInt",
    );
    for (const [what, stored] of [
      ["invalid UTF-8", new Uint8Array([0x22, 0xff, 0xfe, 0x22])],
      ["truncated JSON", '{"a":[1,2'],
      ["an empty value", ""],
    ]) {
      const { value } = await read(stored);
      await check.rejects(value(), DecodeError, what);
    }
    // Only a top-level envelope is a failure; nested canaries are data; a broken envelope
    // is a ResultError (Python: a bare KeyError), never a crash or a ResultFailure.
    const nested = '{"result":{"__t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}}';
    check.equal(await (await read(nested)).value(), JSON.parse(nested), "a nested canary is data");
    check.equal(await (await read('{"__t":"something else","exn":1}')).value(), { __t: "something else", exn: 1 }, "another __t");
    for (const broken of ['{"__t":"dramatiq.results.Result"}', '{"__t":"dramatiq.results.Result","exn":[1]}', '{"__t":"dramatiq.results.Result","exn":{"type":"E"}}']) {
      const e = await check.rejects((await read(broken)).value(), ResultError, broken);
      check.ok(!(e instanceof ResultFailure) && !(e instanceof DecodeError), `${broken}: a plain ResultError`);
      check.equal(e.code, "RESULT_MALFORMED", `${broken}: code`);
    }
  });

  t("a large value round-trips, or is refused with a clear ResultError", async () => {
    const backend = makeBackend();
    const m = msg("large");
    const size = caps.largeValueBytes ?? 25 << 20;
    const value = "x".repeat(size - 2);
    try {
      await backend.storeResult(m, value);
    } catch (e) {
      check.ok(e instanceof ResultError && e.messageKey === backend.buildMessageKey(m), `a ResultError naming the key, got ${e}`);
      return;
    }
    const back = await backend.getResult(m);
    check.ok(back.length === value.length && back === value, "the same value");
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
