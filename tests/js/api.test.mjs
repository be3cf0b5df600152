// The public JS API of the built package, in Node: classes, values in and out, errors,
// waiting with real timers, cancellation, and bad input that must not break the module.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  StubBackend,
  KvBackend,
  Message,
  JSONEncoder,
  ResultError,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
  DecodeError,
  Missing,
} from "dramatiq-results";
import { ofKind, text, sleep, activeTimers } from "./helpers.mjs";

const msg = (actorName = "task", extra = {}) => new Message({ actorName, ...extra });

test("error classes form Dramatiq's hierarchy and are real Errors", () => {
  for (const C of [ResultMissing, ResultTimeout, ResultFailure, DecodeError]) {
    const e = new C("x", { messageKey: "k" });
    assert.ok(e instanceof C);
    assert.ok(e instanceof ResultError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, C.name);
    assert.equal(e.messageKey, "k");
    assert.ok(e.stack.includes("x"));
  }
  assert.ok(!(new ResultMissing("x") instanceof ResultTimeout));
  assert.equal(String(Missing), "Missing");
  assert.ok(Object.isFrozen(Missing));
});

test("a result error made by hand carries its class's code, as a thrown one does", async () => {
  const codes = [
    [ResultError, "RESULT_ERROR"],
    [ResultMissing, "RESULT_MISSING"],
    [ResultTimeout, "RESULT_TIMEOUT"],
    [ResultFailure, "RESULT_FAILURE"],
    [DecodeError, "RESULT_DECODE"],
  ];
  for (const [C, code] of codes) {
    assert.equal(new C("x").code, code, C.name);
    assert.equal(new C("x", { code: "MINE" }).code, "MINE", C.name);
    // A user's subclass keeps its parent's code.
    assert.equal(new (class extends C {})("x").code, code, C.name);
  }
  const thrown = await new StubBackend().getResult(msg()).catch((e) => e);
  assert.equal(thrown.code, new ResultMissing("x").code);
});

test("every key_derivation vector gives Dramatiq's key", () => {
  const cases = ofKind("key_derivation");
  assert.equal(cases.length, 15);
  for (const v of cases) {
    const b = new StubBackend({
      namespace: v.namespace,
      useNamespacePrefixKeys: v.use_namespace_prefix_keys,
    });
    const identity = { queueName: v.queue_name, actorName: v.actor_name, messageId: v.message_id };
    assert.equal(b.buildMessageKey(identity), v.key, JSON.stringify(v));
    // A Message and a Python message dict give the same key.
    assert.equal(b.buildMessageKey(new Message(identity)), v.key);
    assert.equal(
      b.buildMessageKey({ queue_name: v.queue_name, actor_name: v.actor_name, message_id: v.message_id }),
      v.key,
    );
  }
});

// `new StubBackend()` takes its defaults without reading an options object (a start-up
// shortcut): they must be what an empty object, `null` or the explicit defaults give.
test("a StubBackend without options is one with the default options", async () => {
  const identity = { queueName: "default", actorName: "add", messageId: "defaults" };
  const made = [new StubBackend(), new StubBackend(undefined), new StubBackend(null), new StubBackend({}),
    new StubBackend({ namespace: "dramatiq-results", useNamespacePrefixKeys: false })];
  const keys = made.map((b) => b.buildMessageKey(identity));
  assert.equal(new Set(keys).size, 1, keys.join(" "));
  for (const b of made) {
    await b.storeResult(identity, { big: "x".repeat(100) });
    assert.deepEqual(await b.getResult(identity), { big: "x".repeat(100) });
    assert.deepEqual([...(await b.getResultBytes(identity))], [...new TextEncoder().encode(`{"big":"${"x".repeat(100)}"}`)]);
  }
});

test("values round-trip as plain JS values", async () => {
  const b = new StubBackend();
  const values = [
    42, -7, 0, 3.14159, 0.1 + 0.2, 1e16, 1.5e-7, -0, NaN, Infinity, -Infinity,
    "hello", "", "h\u00e9llo \u2603 \u{1F600}", "\u0000\u0001looks like a marker",
    true, false, null, [], {}, [1, "two", [3]],
    { b: 1, a: [1, 2.5, "x", null, true, false, { z: [] }], "\u00fcn\u00ef": { deep: { er: [1] } } },
    2n ** 70n, -(2n ** 64n), 2n ** 53n + 1n,
  ];
  for (const value of values) {
    const m = msg();
    await b.storeResult(m, value);
    const got = await b.getResult(m);
    assert.deepEqual(got, value, `round trip of ${String(value)}`);
    if (typeof value === "number" && value === 0) assert.equal(Object.is(got, -0), Object.is(value, -0));
  }
});

test("safe integers stay numbers; integers beyond 2^53 come back as BigInt", async () => {
  const enc = new JSONEncoder();
  assert.equal(enc.decode("9007199254740991"), 9007199254740991);
  assert.equal(enc.decode("9007199254740993"), 9007199254740993n);
  assert.equal(enc.decode("1180591620717411303424"), 2n ** 70n);
  assert.equal(enc.decode("1e+16"), 1e16);
  assert.equal(text(enc.encode(2n ** 70n)), "1180591620717411303424");
});

test("JSONEncoder writes exactly Python's bytes", () => {
  const enc = new JSONEncoder();
  const cases = [
    [{ b: 1, a: [1, 2.5, "x", null, true, false, { z: [] }] }, '{"b":1,"a":[1,2.5,"x",null,true,false,{"z":[]}]}'],
    ["h\u00e9llo \u{1F600}", '"h\\u00e9llo \\ud83d\\ude00"'],
    ["tab\tnl\n\"q\" \\ / \u007f", '"tab\\tnl\\n\\"q\\" \\\\ / \\u007f"'],
    [[NaN, Infinity, -Infinity, -0], "[NaN,Infinity,-Infinity,-0.0]"],
    [[1e16, 1.5e-7, 0.1 + 0.2, 1e-5, 123456789012345.6], "[1e+16,1.5e-07,0.30000000000000004,1e-05,123456789012345.6]"],
    [undefined, "null"],
  ];
  for (const [value, bytes] of cases) {
    const out = enc.encode(value);
    assert.ok(out instanceof Uint8Array);
    assert.equal(text(out), bytes);
  }
});

test("long texts (encoded into wasm memory, ASCII or not) give the bytes short ones do", async () => {
  // Under 256 UTF-16 units a value's text crosses as a string; from 256 on it is encoded by
  // TextEncoder.encodeInto straight into wasm memory, falling back to encode() when it is not
  // ASCII. Both sides of the boundary, with the non-ASCII character first, last, or absent.
  const enc = new JSONEncoder();
  const backend = new StubBackend();
  // Python's ensure_ascii: every UTF-16 unit from DEL on as \uXXXX (none of these need more).
  const escape = (s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i)).map((u) => (u < 0x7f ? String.fromCharCode(u) : `\\u${u.toString(16).padStart(4, "0")}`)).join("");
  for (const units of [250, 253, 254, 255, 256, 257, 1000, 70_000]) {
    for (const [label, s] of [
      ["ascii", "a".repeat(units)],
      ["é last", `${"a".repeat(units - 1)}é`],
      ["😀 first", `😀${"b".repeat(units - 2)}`],
      ["\u007f and \u2028", `\u007f${"c".repeat(units - 2)}\u2028`],
    ]) {
      const want = `"${escape(s)}"`;
      assert.equal(text(enc.encode(s)), want, `${label}, ${units} units`);
      const message = new Message({ actorName: "long", messageId: `${label}-${units}` });
      await backend.storeResult(message, { s });
      assert.equal((await backend.getResult(message)).s, s, `${label}, ${units} units`);
    }
  }
});

test("a store's reused text buffer gives the same bytes after wasm memory grows", async () => {
  // The stub checks texts of 256 units and more in one reused buffer, which the host writes
  // through a view it keeps across calls; a large value in between grows wasm memory (the
  // view's buffer is detached) and texts past the buffer's cap take a buffer of their own.
  const enc = new JSONEncoder();
  const backend = new StubBackend();
  const m = new Message({ actorName: "scratch", messageId: "grow" });
  const values = [
    { a: "x".repeat(400) },
    { a: "y".repeat(400) }, // the same length: the same view, unless memory grew
    { big: "z".repeat(3_000_000) }, // over the cap: grows memory
    { a: "w".repeat(400) },
    { a: "é".repeat(400) }, // not ASCII: re-spelt
    { a: "v".repeat(300_000) }, // over the cap, ASCII
    { a: "u".repeat(401), __t: "x" },
    { a: "t".repeat(400) },
  ];
  for (const v of values) {
    await backend.storeResult(m, v);
    assert.deepEqual(await backend.getResultBytes(m), enc.encode(v), Object.keys(v).join());
    assert.deepEqual(await backend.getResult(m), enc.decode(enc.encode(v)));
  }
  // What the value's walk or JSON.stringify throws is the store's rejection, short or long.
  for (const pad of ["", "p".repeat(300)]) {
    const boom = new Error("no");
    await assert.rejects(backend.storeResult(m, { pad, get x() { throw boom; } }), (e) => e === boom);
  }
  assert.deepEqual(await backend.getResult(m), values.at(-1));
});

test("the plain-value fast path writes what the replacer path writes", () => {
  // A Date anywhere sends the whole value down the replacer path; the same value without
  // it takes the fast path. Both must give the same bytes for the shared part.
  const enc = new JSONEncoder();
  let seed = 7;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const atoms = [0, 1, -1, 42, 2 ** 53 - 1, 2 ** 53, 1e16, 1e21, 1.5, 0.1, 1e-5, 1e-7, -2.5e-300,
    123456789012345.6, "", "a", "é", "😀", "\u007f", "\u0000x", "\t\n\"\\/", "__t", null, true, false];
  const gen = (depth) => {
    const k = depth > 3 ? rand(2) : rand(4);
    if (k < 2) return atoms[rand(atoms.length)];
    if (k === 2) return Array.from({ length: rand(4) }, () => gen(depth + 1));
    return Object.fromEntries(Array.from({ length: rand(4) }, (_, i) => [`${atoms[rand(atoms.length)]}${i}`, gen(depth + 1)]));
  };
  const date = new Date(0);
  const tail = ',"1970-01-01T00:00:00.000Z"]';
  for (let i = 0; i < 2000; i++) {
    const v = gen(0);
    const fast = text(enc.encode([v]));
    const slow = text(enc.encode([v, date]));
    assert.equal(slow, fast.slice(0, -1) + tail, JSON.stringify(v));
  }
  // Values the fast path must hand to the replacer path.
  const nested = { a: [1, { b: -0 }], c: NaN, d: 10n ** 30n, e: "\u0000\u0001NaN" };
  assert.equal(text(enc.encode(nested)), '{"a":[1,{"b":-0.0}],"c":NaN,"d":1000000000000000000000000000000,"e":"\\u0000\\u0001NaN"}');
  assert.deepEqual(enc.decode(enc.encode(nested)), nested);
  class Point { constructor() { this.x = 1; } }
  assert.equal(text(enc.encode({ p: new Point() })), '{"p":{"x":1}}');
  assert.throws(() => enc.encode({ m: new Map() }), TypeError);
  assert.throws(() => enc.encode([new Uint8Array(2)]), TypeError);
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  assert.throws(() => enc.encode(cyclic), TypeError);
});

test("a store's quick check of plain values stores exactly what JSONEncoder's full check writes", async () => {
  // A store checks the text of a value whose numbers the JS walk found spelt alike by its
  // bytes alone (transcode::Origin::PlainNumbersAlike); JSONEncoder.encode checks every
  // token. Numbers either side of the walk's bounds (1e15, 0.001), strings with what Python
  // escapes and JS does not, `__t` keys, texts under and over 256 units.
  const enc = new JSONEncoder();
  const backend = new StubBackend();
  let seed = 11;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const atoms = [0, 7, -7, 999999999999999, -999999999999999, 1e15, -1e15, 1e15 + 2, 2 ** 53 - 1,
    1e16, 1e21, 0.001, -0.001, 0.0009999, 0.00015, 1e-4, 1e-5, 1e-7, 0.5, 123.456, 1e14 + 0.5,
    999999999999999.9, 5e-324, "", "x", "é", "\u007f", "~", "\u2028", "\t\"\\", "\u0000", "\u0000\u0001",
    "__t", "_t_", null, true, false];
  const gen = (depth) => {
    const k = depth > 3 ? rand(2) : rand(4);
    if (k < 2) return atoms[rand(atoms.length)];
    if (k === 2) return Array.from({ length: rand(5) }, () => gen(depth + 1));
    const keys = ["__t", "a", "_", "é", "\u0000\u0001k", `${"k".repeat(rand(20))}`];
    return Object.fromEntries(Array.from({ length: rand(5) }, (_, i) => [`${keys[rand(keys.length)]}${i === 0 && rand(2) ? "" : i}`, gen(depth + 1)]));
  };
  let quick = 0;
  for (let i = 0; i < 3000; i++) {
    let v = gen(0);
    if (rand(4) === 0) v = { pad: "p".repeat(300), v }; // over 256 units: encoded into wasm memory
    if (rand(4) === 0 && v && typeof v === "object" && !Array.isArray(v)) v.__t = v.__t ?? "x";
    const m = new Message({ actorName: "quick", messageId: `q${i}` });
    await backend.storeResult(m, v);
    const want = enc.encode(v);
    assert.deepEqual(await backend.getResultBytes(m), want, JSON.stringify(v));
    assert.deepEqual(await backend.getResult(m), enc.decode(want), JSON.stringify(v));
    if (text(want) === JSON.stringify(v)) quick++;
  }
  assert.ok(quick > 500, `values whose text is Python's bytes: ${quick}`);
  // A getter that answers the walk with one number and JSON.stringify with another: the
  // store neither crashes nor writes what is not JSON of a number.
  let reads = 0;
  const shifty = { get n() { return reads++ % 2 ? 1e-7 : 5; } };
  const m = new Message({ actorName: "quick", messageId: "shifty" });
  await backend.storeResult(m, shifty);
  const { n } = await backend.getResult(m);
  assert.equal(typeof n, "number");
});

test("decoding Python's stored bytes and re-encoding gives the same bytes", () => {
  const enc = new JSONEncoder();
  // JS has one number type: a Python float with an integral value (1.0) comes back as
  // the number 1 and re-encodes as an int. That is the only documented loss.
  const lossy = new Set(["ret_float_whole"]);
  let checked = 0;
  for (const v of ofKind("actor_result")) {
    const stored = v.hook_snapshots.at(-1).stored;
    const raw = stored.value?.utf8 ?? stored.list?.[0]?.utf8;
    if (typeof raw !== "string" || lossy.has(v.case)) continue;
    const value = enc.decode(raw);
    // A decoded canary is data to the encoder; only backends unwrap it.
    assert.equal(text(enc.encode(value)), raw, `${v.case} on ${v.backend}`);
    checked++;
  }
  assert.ok(checked >= 150, `only ${checked} checked`);
});

test("getResult: ResultMissing without block, carrying the message key", async () => {
  const b = new StubBackend();
  const m = msg("nobody", { args: [1, "x"], kwargs: { k: 2 } });
  await assert.rejects(b.getResult(m), (err) => {
    assert.ok(err instanceof ResultMissing);
    assert.equal(err.messageKey, b.buildMessageKey(m));
    assert.equal(err.code, "RESULT_MISSING");
    assert.match(err.message, new RegExp(err.messageKey));
    return true;
  });
  assert.equal(await b.tryGetResult(m), Missing);
});

test("getResult with block resolves as soon as the value is stored", async () => {
  const b = new StubBackend();
  const m = msg();
  const t0 = performance.now();
  setTimeout(() => b.storeResult(m, { ok: true }), 30);
  const value = await b.getResult(m, { block: true, timeout: 10_000 });
  assert.deepEqual(value, { ok: true });
  assert.ok(performance.now() - t0 < 5000, "woken by the store, not by the deadline");
});

test("getResult with block rejects with ResultTimeout, never before the deadline", async () => {
  const b = new StubBackend();
  for (const timeout of [0, 20, 150]) {
    const t0 = performance.now();
    await assert.rejects(b.getResult(msg(), { block: true, timeout }), ResultTimeout);
    assert.ok(performance.now() - t0 >= timeout, `early for ${timeout}`);
  }
  assert.equal(activeTimers(), 0);
});

test("an AbortSignal cancels a wait and clears its timer", async () => {
  const b = new StubBackend();
  const before = activeTimers();
  const ac = new AbortController();
  const wait = b.getResult(msg(), { block: true, timeout: 60_000, signal: ac.signal });
  await sleep(10);
  assert.ok(activeTimers() > before, "the wait holds a timer");
  ac.abort();
  await assert.rejects(wait, (err) => err.name === "AbortError");
  await sleep(0);
  assert.equal(activeTimers(), before, "the wait's timer is cleared");
  // An already-aborted signal rejects at once, with its reason.
  const reason = new Error("stop");
  await assert.rejects(b.getResult(msg(), { block: true, signal: AbortSignal.abort(reason) }), (e) => e === reason);
});

test("storeException: ResultFailure with Dramatiq's text and fields", async () => {
  const b = new StubBackend();
  class InvoiceError extends Error {}
  const cases = [
    [new TypeError("bad value: 42"), "TypeError", "bad value: 42"],
    [new InvoiceError("late"), "InvoiceError", "late"],
    [new Error(""), "Error", ""],
    ["a thrown string", "Error", "a thrown string"],
  ];
  for (const [error, type, value] of cases) {
    const m = msg();
    await b.storeException(m, error);
    await assert.rejects(b.getResult(m, { block: true }), (err) => {
      assert.ok(err instanceof ResultFailure && err instanceof ResultError);
      assert.equal(err.message, `actor raised ${type}: ${value}`);
      assert.equal(err.exceptionType, type);
      assert.equal(err.exceptionValue, value);
      assert.equal(err.traceback, null);
      assert.equal(err.messageKey, b.buildMessageKey(m));
      return true;
    });
  }
  // The stored bytes are Dramatiq's envelope, byte for byte.
  const m = msg();
  await b.storeException(m, new Error("boom"));
  assert.equal(
    text(await b.getResultBytes(m)),
    '{"__t":"dramatiq.results.Result","exn":{"type":"Error","msg":"boom"}}',
  );
});

test("deleteResult removes a result; TTLs expire results", async () => {
  const b = new StubBackend();
  const m = msg();
  await b.storeResult(m, 1);
  await b.deleteResult(m);
  await assert.rejects(b.getResult(m), ResultMissing);
  // A TTL the read right after the store is well inside (30 ms could pass between the two
  // on a loaded machine, and the result was rightly gone); read again past it.
  await b.storeResult(m, 2, 300);
  assert.equal(await b.getResult(m), 2);
  await sleep(350);
  await assert.rejects(b.getResult(m), ResultMissing);
  await b.storeResult(m, 3, 0);
  await assert.rejects(b.getResult(m), ResultMissing);
});

test("namespaces separate results; prefix keys are readable", async () => {
  const a = new StubBackend({ namespace: "myns", useNamespacePrefixKeys: true });
  const m = new Message({ queueName: "default.DQ", actorName: "do_work", messageId: "id-1" });
  assert.equal(a.buildMessageKey(m), "myns:default:do_work:id-1");
  assert.equal(a.namespace, "myns");
  assert.equal(a.useNamespacePrefixKeys, true);
  const h = new StubBackend({ namespace: "myns" });
  assert.match(h.buildMessageKey(m), /^[0-9a-f]{32}$/);
});

test("Message: defaults, wire form, Python str, copy", () => {
  const m = new Message({ actorName: "add", args: [1, "x"], kwargs: { k: 2 }, options: { store_results: true } });
  assert.equal(m.queueName, "default");
  assert.match(m.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(Math.abs(m.messageTimestamp - Date.now()) < 60_000);
  assert.deepEqual(m.args, [1, "x"]);
  assert.deepEqual(m.kwargs, { k: 2 });
  assert.deepEqual(m.options, { store_results: true });
  assert.equal(String(m), "add(1, 'x', k=2)");
  const d = m.asDict();
  assert.deepEqual(Object.keys(d), ["queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"]);
  const back = Message.fromDict(d);
  assert.equal(back.messageId, m.messageId);
  assert.deepEqual(back.asDict(), d);
  assert.deepEqual(Message.decode(m.encode()).asDict(), d);
  const c = m.copy({ messageId: "known-id" });
  assert.equal(c.messageId, "known-id");
  assert.equal(c.actorName, "add");
});

test("Message: a lone surrogate Python wrote (surrogateescape) is read as one and written back as read", async () => {
  const body =
    '{"queue_name":"default","actor_name":"a","args":["caf\\udce9",{"k":"\\ud800x"}],"kwargs":{"p":"\\udfff"},' +
    '"options":{"o":["\\udc80"]},"message_id":"m1","message_timestamp":1700000000000}';
  const bytes = new TextEncoder().encode(body);
  const m = Message.decode(bytes);
  assert.deepEqual(m.args, ["caf\udce9", { k: "\ud800x" }]);
  assert.deepEqual(m.kwargs, { p: "\udfff" });
  assert.deepEqual(m.options, { o: ["\udc80"] });
  assert.equal(m.asDict().args[0], "caf\udce9");
  // str(message), as Python's (its repr escapes each lone surrogate).
  assert.equal(String(m), "a('caf\\udce9', {'k': '\\ud800x'}, p='\\udfff')");
  assert.equal(Message.decodeDict(bytes).args[0], "caf\udce9");
  // Written back byte for byte, and so is a retry's copy (options merged).
  assert.equal(new TextDecoder().decode(m.encode()), body);
  const retried = new TextDecoder().decode(m.copy({ options: { retries: 1 } }).encode());
  assert.ok(retried.includes('"args":["caf\\udce9",{"k":"\\ud800x"}],"kwargs":{"p":"\\udfff"},"options":{"o":["\\udc80"],"retries":1}'), retried);
  // A pair escaped as two is one character, as Python's json reads it.
  const pair = Message.decode(new TextEncoder().encode(body.replace("caf\\udce9", "\\ud83d\\ude00")));
  assert.equal(pair.args[0], "\u{1F600}");
  // And an actor's result of that text is stored as Python stores the str.
  const backend = new StubBackend();
  await backend.storeResult(m, m.args[0]);
  assert.equal(new TextDecoder().decode(await backend.getResultBytes(m)), '"caf\\udce9"');
  // A value the full decoder reads (an object with escapes, NaN) keeps them too.
  await backend.storeResultBytes(m, new TextEncoder().encode('{"args":["caf\\udce9"],"n":NaN}'));
  assert.deepEqual(await backend.getResult(m), { args: ["caf\udce9"], n: NaN });
  assert.deepEqual(new JSONEncoder().decode('{"k":["\\udfff\\ud800"]}'), { k: ["\udfff\ud800"] });
});

test("Message: a lone surrogate from JS (args, kwargs, options, fromDict, copy) is sent as Python writes it", () => {
  const text = (m) => new TextDecoder().decode(m.encode());
  const m = new Message({ actorName: "a", messageId: "x", messageTimestamp: 1, args: ["caf\udce9"], kwargs: { k: "\ud800" }, options: { o: ["\udfff"] } });
  assert.equal(text(m), '{"queue_name":"default","actor_name":"a","args":["caf\\udce9"],"kwargs":{"k":"\\ud800"},"options":{"o":["\\udfff"]},"message_id":"x","message_timestamp":1}');
  assert.equal(m.args[0], "caf\udce9");
  const dict = { queue_name: "q", actor_name: "a", args: ["\udc80"], kwargs: {}, options: {}, message_id: "y", message_timestamp: 2 };
  assert.ok(text(Message.fromDict(dict)).includes('"args":["\\udc80"]'));
  const copied = new Message({ actorName: "a", messageId: "z", messageTimestamp: 1 }).copy({ args: ["\udc80x"], options: { t: "\ud801" } });
  assert.ok(text(copied).includes('"args":["\\udc80x"],"kwargs":{},"options":{"t":"\\ud801"}'), text(copied));
  // A string that already holds a character of the stand-ins' range (U+10F800 and up,
  // private use) keeps the old reading: the lone surrogate as U+FFFD, that character as is.
  const held = new Message({ actorName: "a", messageId: "w", messageTimestamp: 1, args: ["\udc80", "\u{10F800}"] });
  assert.ok(text(held).includes('"args":["\\ufffd","\\udbfe\\udc00"]'), text(held));
  // Across fields too: one field's character keeps the others' lone surrogates off.
  const across = new Message({ actorName: "a", messageId: "v", messageTimestamp: 1, args: ["\udc80"], kwargs: { k: "\u{10F800}" }, options: { o: "\ud800" } });
  assert.ok(text(across).includes('"args":["\\ufffd"],"kwargs":{"k":"\\udbfe\\udc00"},"options":{"o":"\\ufffd"}'), text(across));
  // And a copy's new fields, beside such a character in the message.
  const plainCopy = new Message({ actorName: "a", messageId: "u", messageTimestamp: 1, kwargs: { k: "\u{10F800}" } }).copy({ args: ["\udc80"], options: { o: "\ud800" } });
  assert.ok(text(plainCopy).includes('"args":["\\ufffd"],"kwargs":{"k":"\\udbfe\\udc00"},"options":{"o":"\\ufffd"}'), text(plainCopy));
});

test("message.getResult with an explicit backend", async () => {
  const b = new StubBackend();
  const m = msg();
  await b.storeResult(m, [1, 2]);
  assert.deepEqual(await m.getResult({ backend: b }), [1, 2]);
  await assert.rejects(msg().getResult({ backend: b }), ResultMissing);
});

test("bad input: clear errors, and the module keeps working", async () => {
  const b = new StubBackend();
  const m = msg();
  const bad = [
    [() => b.getResult(undefined), TypeError],
    [() => b.getResult({ queueName: 1, actorName: "a", messageId: "x" }), TypeError],
    [() => b.getResult(m, { timeout: -1, block: true }), TypeError],
    [() => b.getResult(m, { timeout: NaN, block: true }), TypeError],
    [() => b.getResult(m, { timeout: "10" }), TypeError],
    [() => b.getResult(m, { block: "yes" }), TypeError],
    [() => b.getResult(m, { signal: {} }), TypeError],
    [() => b.getResult(m, 5), TypeError],
    [() => b.storeResult(m, () => 1), TypeError],
    [() => b.storeResult(m, { f: Symbol("s") }), TypeError],
    [() => b.storeResult(m, new Map([[1, 2]])), TypeError],
    [() => b.storeResult(m, new Uint8Array(2)), TypeError],
    [() => { const o = {}; o.self = o; return b.storeResult(m, o); }, TypeError],
    [() => b.storeResult(m, 1, -5), TypeError],
    [() => b.storeResult(m, 1, 1.5), TypeError],
    [() => b.storeResultBytes(m, 42), TypeError],
  ];
  for (const [call, Class] of bad) {
    await assert.rejects(call(), Class, String(call));
    // The instance still works after every refusal.
    await b.storeResult(m, "still fine");
    assert.equal(await b.getResult(m), "still fine");
  }
  assert.throws(() => new StubBackend({ namespace: 5 }), TypeError);
  assert.throws(() => new StubBackend({ encoder: {} }), TypeError);
  assert.throws(() => new Message({}), TypeError);
  assert.throws(() => new Message({ actorName: "a", args: "no" }), TypeError);
  assert.throws(() => Message.fromDict({ queue_name: "q" }), TypeError);
});

test("corrupt stored bytes: a ResultError naming the key, never a crash", async () => {
  const b = new StubBackend();
  const corrupt = [
    [new Uint8Array([0xff, 0xfe]), DecodeError],
    ["not json", DecodeError],
    ["", DecodeError],
    ['{"a":1', DecodeError],
    ["[".repeat(100_000), DecodeError],
    ['{"__t":"dramatiq.results.Result"}', ResultError],
    ['{"__t":"dramatiq.results.Result","exn":{"type":"E"}}', ResultError],
  ];
  for (const [bytes, Class] of corrupt) {
    const m = msg();
    await b.storeResultBytes(m, bytes);
    await assert.rejects(b.getResult(m), (err) => {
      assert.ok(err instanceof Class, `${err}`);
      assert.ok(!(err instanceof ResultFailure));
      assert.equal(err.messageKey, b.buildMessageKey(m));
      return true;
    });
    // Raw bytes are kept exactly.
    const raw = await b.getResultBytes(m);
    assert.deepEqual(raw, typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  }
  assert.throws(() => new JSONEncoder().decode("nope"), DecodeError);
  await b.storeResult(msg(), "fine");
});

test("objects with __proto__ keys come back as own data properties", async () => {
  const b = new StubBackend();
  const m = msg();
  await b.storeResultBytes(m, '{"__proto__":{"polluted":true},"constructor":{"prototype":1}}');
  const v = await b.getResult(m);
  assert.ok(Object.hasOwn(v, "__proto__"));
  assert.deepEqual(Object.getOwnPropertyDescriptor(v, "__proto__").value, { polluted: true });
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal({}.polluted, undefined);
});

test("random stored bytes never break the module (no wasm trap, only ResultErrors)", async () => {
  const b = new StubBackend();
  const enc = new JSONEncoder();
  const alphabet = '{}[]",:0123456789-+.eENaIfinitytrulsn\\u \t\n';
  let seed = 12345;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  let values = 0;
  for (let i = 0; i < 3000; i++) {
    let s = "";
    for (let j = rand(30); j > 0; j--) s += alphabet[rand(alphabet.length)];
    const m = msg();
    await b.storeResultBytes(m, i % 7 === 0 ? new Uint8Array([rand(256), rand(256)]) : s);
    try {
      await b.getResult(m);
      values++;
    } catch (err) {
      assert.ok(err instanceof ResultError, `${err} for ${JSON.stringify(s)}`);
    }
    try {
      enc.decode(s);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `${err}`);
    }
  }
  assert.ok(values > 5, `only ${values} random inputs were values`);
  const m = msg();
  await b.storeResult(m, { still: "working" });
  assert.deepEqual(await b.getResult(m), { still: "working" });
});

test("a custom encoder: its bytes are stored, and failures are still recognised", async () => {
  // A JSON variant with sorted keys and spaces, as a Python service with its own encoder might write.
  const sorted = (v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]))
      : v;
  const custom = {
    encode: (value) => new TextEncoder().encode(JSON.stringify(sorted(value), null, 1)),
    decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
  };
  const b = new StubBackend({ encoder: custom });
  assert.equal(b.encoder, custom);
  const m = msg();
  await b.storeResult(m, { b: 1, a: [1] });
  assert.equal(text(await b.getResultBytes(m)), '{\n "a": [\n  1\n ],\n "b": 1\n}');
  assert.deepEqual(await b.getResult(m), { a: [1], b: 1 });
  await b.storeException(m, new TypeError("bad"));
  await assert.rejects(b.getResult(m), (e) => e instanceof ResultFailure && e.exceptionType === "TypeError");
  const throwing = new StubBackend({ encoder: { encode: () => "1", decode: () => { throw new Error("nope"); } } });
  await throwing.storeResult(m, 1);
  await assert.rejects(throwing.getResult(m), (e) => e instanceof ResultError && e.cause?.message === "nope");
});

test("a message identity reads the same from a Message, an object, a dict, even with NULs", async () => {
  const b = new StubBackend({ useNamespacePrefixKeys: true });
  for (const [q, a, id] of [["default", "add", "1"], ["q\0x", "a\0", "\0id"], ["default.DQ", "é", "😀"]]) {
    const m = new Message({ queueName: q, actorName: a, messageId: id });
    const fromMessage = b.buildMessageKey(m);
    assert.equal(b.buildMessageKey(m), fromMessage, "cached identity");
    assert.equal(b.buildMessageKey({ queueName: q, actorName: a, messageId: id }), fromMessage);
    assert.equal(b.buildMessageKey({ queue_name: q, actor_name: a, message_id: id }), fromMessage);
    assert.ok(fromMessage.endsWith(`:${a}:${id}`), fromMessage);
    await b.storeResult(m, id);
    assert.equal(await b.getResult({ queue_name: q, actor_name: a, message_id: id }), id);
  }
  assert.throws(() => b.buildMessageKey({ queueName: "q", actorName: 5, messageId: "i" }), /actorName must be a string/);
  assert.throws(() => b.buildMessageKey("nope"), TypeError);
});

test("maxValueBytes: a 25 MiB value is read by default and refused over a set limit", async () => {
  const big = "x".repeat(25 << 20);
  const m = new Message({ actorName: "big" });
  const roomy = new StubBackend();
  await roomy.storeResult(m, big);
  assert.equal((await roomy.getResult(m)).length, big.length);

  const strict = new StubBackend({ maxValueBytes: 1 << 20 });
  const tooBig = await strict.storeResult(m, big).then(() => assert.fail("stored"), (e) => e);
  assert.ok(tooBig instanceof ResultError);
  assert.equal(tooBig.code, "RESULT_TOO_LARGE");
  assert.equal(tooBig.messageKey, strict.buildMessageKey(m));
  assert.match(tooBig.message, /over the limit of 1048576 bytes/);

  // Bytes another writer stored are refused on read: plain, blocking and batched.
  const shared = new Map();
  const adapter = { get: (k) => shared.get(k), put: (k, v) => void shared.set(k, v), delete: (k) => void shared.delete(k) };
  await new KvBackend(adapter).storeResult(m, [1, 2, 3, 4, 5, 6]);
  const reader = new KvBackend(adapter, { maxValueBytes: 10 });
  for (const read of [
    () => reader.getResult(m),
    () => reader.getResult(m, { block: true, timeout: 1000 }),
    () => reader.getResults([m], { timeout: 1000 }),
  ]) {
    await assert.rejects(read(), (e) => e instanceof ResultError && e.code === "RESULT_TOO_LARGE");
  }
  assert.deepEqual(await new KvBackend(adapter, { maxValueBytes: 13 }).getResult(m), [1, 2, 3, 4, 5, 6]);

  assert.throws(() => new StubBackend({ maxValueBytes: -1 }), TypeError);
  assert.throws(() => new StubBackend({ maxValueBytes: "1" }), TypeError);
  assert.ok(new StubBackend({ maxValueBytes: Infinity }));
});

test("the stub answers a value stored by storeResult exactly as the same bytes stored raw", async () => {
  // The StubBackend keeps the JSON.stringify text when it already is Python's bytes and
  // answers reads from it by JSON.parse alone; every read must see what the bytes say.
  const enc = new JSONEncoder();
  const kept = new StubBackend();
  const raw = new StubBackend();
  const outcome = (p) => p.then(
    (value) => ({ value }),
    (e) => ({ error: `${e.constructor.name}: ${e.message}` }),
  );
  const bytes = async (b, m) => text(await b.getResultBytes(m));
  const values = [
    42, -7, 0, 123456789012345, 1234567890123456, 2 ** 53 + 2, 0.5, 1e-7, -0, NaN, "x", "é", "",
    null, true, [], {}, { a: "b" }, [{ __t: "x" }], { a: 1, __t: 2 }, { __t: "dramatiq.results.Result" },
    { __t: "dramatiq.results.Result", exn: { type: "ValueError", msg: "bad" } },
    { "\u005f_t": "exception", exn: { type: "E", msg: "m" } },
    { a: "tab\there", b: "q\"uote" }, { "k\ney": 1 }, "\u0000\u0001NaN", 2n ** 70n,
    { rows: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `row ${i}`, score: i * 1.5 })) },
    { s: "a".repeat(300), t: "é".repeat(300) },
  ];
  for (const [i, value] of values.entries()) {
    const m = new Message({ actorName: "kept", messageId: `v${i}` });
    await kept.storeResult(m, value);
    await raw.storeResultBytes(m, enc.encode(value));
    const what = `value ${i}: ${String(JSON.stringify(value, (k, v) => (typeof v === "bigint" ? `${v}n` : v)))?.slice(0, 80)}`;
    assert.equal(await bytes(kept, m), await bytes(raw, m), what);
    for (const read of [
      (b) => b.getResult(m),
      (b) => b.tryGetResult(m),
      (b) => b.getResult(m, { block: true, timeout: 0 }),
      (b) => b.getResults([m]),
      // A read by a plain object, not the Message the value was stored with.
      (b) => b.getResult({ queueName: m.queueName, actorName: m.actorName, messageId: m.messageId }),
    ]) {
      const [a, b] = [await outcome(read(kept)), await outcome(read(raw))];
      assert.deepEqual(a, b, what);
      if (Object.is(b.value, -0)) assert.ok(Object.is(a.value, -0), what);
    }
  }
  // Kept texts expire, are deleted, are replaced by bytes, and wake waiters as bytes do.
  const m = msg();
  await kept.storeResult(m, { a: 1 }, 30);
  await sleep(60);
  await assert.rejects(kept.getResult(m), ResultMissing);
  await kept.storeResult(m, { a: 2 });
  await kept.deleteResult(m);
  assert.equal(await kept.tryGetResult(m), Missing);
  await kept.storeResult(m, { a: 3 });
  await kept.storeResultBytes(m, enc.encode({ a: 4 }));
  assert.deepEqual(await kept.getResult(m), { a: 4 });
  const late = msg("woken");
  const woken = kept.getResult(late, { block: true, timeout: 5_000 });
  await kept.storeResult(late, { b: "x".repeat(500) });
  assert.deepEqual(await woken, { b: "x".repeat(500) });
  // The limit on value size holds on this path too.
  const small = new StubBackend({ maxValueBytes: 10 });
  await assert.rejects(small.storeResult(m, { a: "long enough" }), (e) => e.code === "RESULT_TOO_LARGE");
  assert.equal(await small.tryGetResult(m), Missing);
});
