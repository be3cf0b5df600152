// The JavaScript boundary under attack: every exported entry point driven many times with
// values that run the caller's code (throwing getters, revoked and throwing Proxies,
// throwing toJSON / toString, hostile `this`) or hand in memory that is gone (detached
// buffers). A JS exception unwinding through wasm frames leaves wasm's stack pointer
// behind, and after ~1 000–3 000 of them every call fails; so each entry point must turn
// all of it into a thrown or rejected Error, and the module must still work afterwards.
// BOUNDARY_CALLS sets the calls per class of entry points (default 100 000).
import { test } from "node:test";
import assert from "node:assert/strict";
import { StubBackend, KvBackend, RedisBackend, Message, ResultError, ResultMissing } from "dramatiq-results";
import { entryPoints, hostileObjects, healthy, outcome, detached } from "./hostile.mjs";

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
