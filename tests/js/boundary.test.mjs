// The JavaScript boundary under attack: every exported entry point driven many times with
// values that run the caller's code (throwing getters, revoked and throwing Proxies,
// throwing toJSON / toString, hostile `this`) or hand in memory that is gone (detached
// buffers). A JS exception unwinding through wasm frames leaves wasm's stack pointer
// behind, and after ~1 000–3 000 of them every call fails; so each entry point must turn
// all of it into a thrown or rejected Error, and the module must still work afterwards.
// BOUNDARY_CALLS sets the calls per class of entry points (default 100 000).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  StubBackend,
  KvBackend,
  RedisBackend,
  Message,
  ResultError,
  ResultMissing,
  ResultFailure,
  StubBroker,
  Results,
  TimeLimit,
  AgeLimit,
  Pipelines,
  Retries,
  Middleware,
  Worker,
  actor,
  setBroker,
} from "dramatiq-results";
import { entryPoints, hostileObjects, healthy, outcome, detached, thrownValues } from "./hostile.mjs";

const CALLS = Number(process.env.BOUNDARY_CALLS ?? 100_000);

/** Entry points grouped by the class they belong to; each group shares CALLS calls. */
function groups() {
  const entries = Object.entries(entryPoints());
  const classOf = (name) =>
    /Message|message/.test(name) && !/hostile message/.test(name)
      ? "Message"
      : /JSONEncoder/.test(name)
        ? "JSONEncoder"
        : /Kv|Redis|Memcached|encoder/.test(name)
          ? "stores and encoders"
          : "ResultBackend";
  const out = new Map();
  for (const [name, entry] of entries) {
    const c = classOf(name);
    if (!out.has(c)) out.set(c, []);
    out.get(c).push([name, entry]);
  }
  return out;
}

for (const [group, entries] of groups()) {
  test(`${group}: ${CALLS} hostile calls leave the module working`, async () => {
    const perEntry = Math.ceil(CALLS / entries.length);
    let shapes = hostileObjects();
    const started = performance.now();
    for (const [name, entry] of entries) {
      const counts = {};
      for (let i = 0; i < perEntry; i++) {
        if (i % 997 === 0) shapes = hostileObjects(); // fresh detached buffers and Proxies
        const result = await outcome(entry, shapes[i % shapes.length], i);
        counts[result] = (counts[result] ?? 0) + 1;
      }
      const broken = Object.keys(counts).filter((k) => k.startsWith("RuntimeError"));
      assert.deepEqual(broken, [], `${name}: ${JSON.stringify(counts)}`);
      assert.ok(await healthy(), `${name}: a store and read after ${perEntry} hostile calls`);
    }
    const ms = performance.now() - started;
    console.log(`# ${group}: ${entries.length} entry points × ${perEntry} calls in ${ms.toFixed(0)} ms`);
  });
}

test("a throwing getter is a TypeError carrying what it threw, not a silent default", async () => {
  const backend = new StubBackend();
  const boom = new Error("getter");
  const message = { actorName: "a", messageId: "i", get queueName() { throw boom; } };
  const error = await backend.getResult(message).catch((e) => e);
  assert.ok(error instanceof TypeError, String(error));
  assert.equal(error.cause, boom);
  assert.throws(() => backend.buildMessageKey(message), (e) => e instanceof TypeError && e.cause === boom);
  const options = { get block() { throw boom; } };
  const blocked = await backend.getResult(new Message({ actorName: "a" }), options).catch((e) => e);
  assert.ok(blocked instanceof TypeError && blocked.cause === boom, String(blocked));
  assert.throws(() => new Message({ actorName: "a", get queueName() { throw boom; } }), (e) => e.cause === boom);
});

test("a KvBackend adapter answering a detached buffer rejects with a ResultError", async () => {
  const backend = new KvBackend({ get: () => detached(), put() {}, delete() {} });
  const m = new Message({ actorName: "a" });
  const error = await backend.getResult(m).catch((e) => e);
  assert.ok(error instanceof ResultError, String(error));
  assert.ok(error.cause instanceof TypeError, String(error.cause));
  const many = await backend.getResults([m], { block: false }).catch((e) => e);
  assert.ok(many instanceof ResultError, String(many));
});

test("a Redis client answering a thenable whose then throws rejects with a ResultError", async () => {
  const boom = new Error("then");
  const thenable = { get then() { throw boom; } };
  const promise = Promise.resolve(1);
  promise.then = () => {
    throw boom;
  };
  for (const answer of [thenable, promise]) {
    const backend = new RedisBackend({ sendCommand: () => answer });
    const error = await backend.getResult(new Message({ actorName: "a" })).catch((e) => e);
    assert.ok(error instanceof ResultError, String(error));
    assert.equal(error.cause, boom);
  }
});

test("methods on the wrong this, or after free(), throw a TypeError", async () => {
  const ResultBackend = Object.getPrototypeOf(StubBackend);
  const ok = { queueName: "q", actorName: "a", messageId: "m" };
  assert.throws(() => ResultBackend.prototype.getResult.call({}, ok), TypeError);
  assert.throws(() => Message.prototype.encode.call(new StubBackend()), TypeError);
  const backend = new StubBackend();
  backend.free();
  backend.free();
  assert.throws(() => backend.getResult(ok), TypeError);
  const message = new Message({ actorName: "a" });
  message.free();
  // The error names the public class, and a freed message never reaches the store.
  assert.throws(() => message.encode(), { name: "TypeError", message: /^Message\.encode called on an object that is not a live Message/ });
  await assert.rejects(async () => new StubBackend().storeResult(message, 1), TypeError);
  assert.ok(await healthy());
});

test("storing a thrown value of any type stores a failure", async () => {
  const backend = new StubBackend();
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  for (const thrown of [Object.create(null), proxy, Symbol("s"), { message: Object.create(null) }, { toString() { throw 1; } }]) {
    const m = new Message({ actorName: "a" });
    await backend.storeException(m, thrown);
    const error = await backend.getResult(m).catch((e) => e);
    assert.ok(error instanceof ResultError && !(error instanceof ResultMissing), String(error));
  }
});

// ---------------------------------------------------------------------------------------
// A worker survives anything an actor or a middleware hook does
// ---------------------------------------------------------------------------------------

test("a worker survives every kind of throw, bad return, hang and hook failure", async () => {
  const lines = [];
  const logger = { warn: (m) => lines.push(m), error: (m) => lines.push(m), info: () => {} };
  const middleware = [new AgeLimit(), new TimeLimit({ timeLimit: 50 }), new Pipelines(), new Retries()];
  const broker = new StubBroker({ logger, middleware });
  const backend = new StubBackend();
  broker.addMiddleware(new Results({ backend }));
  setBroker(broker);
  const options = { storeResults: true, maxRetries: 0 };
  const cases = [];
  for (const [i, thrown] of thrownValues().entries()) {
    cases.push(actor(() => { throw thrown; }, { actorName: `throws_${i}`, ...options }));
    cases.push(actor(async () => { throw thrown; }, { actorName: `rejects_${i}`, ...options }));
  }
  // Returns the encoder cannot hold: as in Dramatiq, nothing is stored, the failure to
  // store is logged, and the message is acked.
  const unencodable = [
    actor(() => () => 1, { actorName: "returns_a_function", ...options }),
    actor(() => new Map([[1, 2]]), { actorName: "returns_a_map", ...options }),
    actor(() => { const o = {}; o.o = o; return o; }, { actorName: "returns_a_cycle", ...options }),
  ];
  cases.push(actor(() => ({ then() { throw Object.create(null); } }), { actorName: "returns_a_bad_thenable", ...options }));
  cases.push(actor(() => new Promise(() => {}), { actorName: "never_settles", ...options }));
  const good = actor(() => 42, { actorName: "good", ...options });
  const worker = new Worker(broker, { concurrency: 2 });
  worker.start();
  try {
    const messages = cases.map((a) => a.send());
    const unstored = unencodable.map((a) => a.send());
    const last = good.send();
    await worker.join({ timeout: 10_000 });
    for (const m of messages) {
      const error = await backend.getResult(m).catch((e) => e);
      assert.ok(error instanceof ResultFailure, `${m.actorName}: ${String(error)}`);
    }
    for (const m of unstored) {
      const error = await backend.getResult(m).catch((e) => e);
      assert.ok(error instanceof ResultMissing, `${m.actorName}: ${String(error)}`);
    }
    assert.equal(await backend.getResult(last), 42, "the next message still runs");
    assert.ok(lines.length >= cases.length + unstored.length, "every failure is logged");
    assert.equal(lines.filter((l) => l.includes("afterProcessMessage of Results")).length, unstored.length);
    assert.equal(broker.deadLetters.length, cases.length, "every failed message is dead-lettered");
  } finally {
    await worker.stop();
  }
});

test("middleware hooks that throw hostile values do not stop the worker", async () => {
  const lines = [];
  const logger = { warn: (m) => lines.push(m), error: (m) => lines.push(m), info: () => {} };
  const broker = new StubBroker({ logger });
  const backend = new StubBackend();
  let n = 0;
  const thrown = thrownValues();
  class Hostile extends Middleware {}
  for (const hook of ["beforeProcessMessage", "afterProcessMessage", "beforeAck", "afterAck", "beforeNack", "afterNack"]) {
    Hostile.prototype[hook] = () => {
      throw thrown[n++ % thrown.length];
    };
  }
  broker.addMiddleware(new Results({ backend }));
  broker.addMiddleware(new Hostile());
  setBroker(broker);
  const a = actor(() => 1, { actorName: "hooked", storeResults: true, maxRetries: 0 });
  const worker = new Worker(broker, { concurrency: 1 });
  worker.start();
  try {
    for (let i = 0; i < 40; i++) a.send();
    await worker.join({ timeout: 10_000 });
    assert.ok(lines.length >= 40, `failures logged: ${lines.length}`);
  } finally {
    await worker.stop();
  }
});

test("Pipelines does not read the result of a message that pipes nowhere", async () => {
  const lines = [];
  const logger = { warn: (m) => lines.push(m), error: (m) => lines.push(m), info: () => {} };
  const broker = new StubBroker({ logger });
  setBroker(broker);
  const a = actor(() => () => 1, { actorName: "returns_a_function_nowhere" });
  const worker = new Worker(broker, { concurrency: 1 });
  worker.start();
  try {
    a.send();
    await worker.join({ timeout: 5_000 });
    assert.deepEqual(lines.filter((l) => l.includes("afterProcessMessage")), []);
  } finally {
    await worker.stop();
  }
});

test("iterResults: next() called again while one is pending waits its turn", async () => {
  const backend = new StubBackend();
  const messages = [0, 1, 2].map(() => new Message({ actorName: "a" }));
  const stream = backend.iterResults(messages, { timeout: 5_000 });
  const calls = [stream.next(), stream.next(), stream.next(), stream.next()];
  for (const [i, m] of messages.entries()) await backend.storeResult(m, i);
  const steps = await Promise.all(calls);
  assert.deepEqual(steps.map((s) => s.done), [false, false, false, true]);
  assert.deepEqual(steps.slice(0, 3).map((s) => s.value.value), [0, 1, 2]);
  assert.deepEqual((await stream.next()).done, true);
});

test("the boundary fuzzer, a short run (scripts/fuzz --boundary runs 10⁶ calls)", async () => {
  const { fuzz } = await import("./boundary-fuzz.mjs");
  const seed = Math.floor(Math.random() * 2 ** 32);
  const counts = await fuzz(Number(process.env.BOUNDARY_FUZZ_CALLS ?? 20_000), seed);
  assert.ok(counts.error > 0 && counts.ok >= 0, JSON.stringify(counts));
});

test("a custom decoder answering a Promise whose constructor getter throws rejects", async () => {
  const boom = new Error("constructor");
  const hostilePromise = () => {
    const p = Promise.resolve(1);
    Object.defineProperty(p, "constructor", { get() { throw boom; } });
    return p;
  };
  const backend = new StubBackend({ encoder: { encode: () => "1", decode: hostilePromise } });
  const m = new Message({ actorName: "a" });
  await backend.storeResult(m, 1);
  for (let i = 0; i < 5_000; i++) await backend.getResult(m).catch(() => {});
  assert.ok(await healthy());
});

test("timeout: Infinity never asks the host for a timer past its limit", async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    const backend = new StubBackend();
    const m = new Message({ actorName: "forever" });
    const waiting = backend.getResult(m, { block: true, timeout: Infinity });
    const many = backend.getResults([new Message({ actorName: "forever" })], { timeout: Infinity, signal: AbortSignal.timeout(50) });
    await new Promise((r) => setTimeout(r, 20));
    await backend.storeResult(m, 1);
    assert.equal(await waiting, 1);
    await many.catch(() => {});
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    process.off("warning", onWarning);
  }
});
