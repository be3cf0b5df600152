// KvBackend over injected adapters that misbehave in every way an adapter can: each gives a
// ResultError whose `cause` is what the adapter did, inside the caller's deadline, and the
// module keeps working after it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KvBackend, Message, ResultError, ResultTimeout, ResultMissing } from "dramatiq-results";
import { mapAdapter } from "./helpers.mjs";

const msg = () => new Message({ actorName: "task" });

test("a plain adapter stores Dramatiq's bytes as a string with the exact TTL", async () => {
  const adapter = mapAdapter();
  const backend = new KvBackend(adapter);
  const m = msg();
  await backend.storeResult(m, { a: [1, 2.5, "é"] }, 1500);
  const key = backend.buildMessageKey(m);
  assert.deepEqual(adapter.calls.at(-1), ["put", key, "string", 1500]);
  assert.equal(adapter.entries.get(key).value, '{"a":[1,2.5,"\\u00e9"]}');
  assert.deepEqual(await backend.getResult(m), { a: [1, 2.5, "é"] });
  assert.equal(backend.adapter, adapter);
});

test("valueType 'bytes' hands Uint8Arrays to put, and bytes read back", async () => {
  const adapter = mapAdapter();
  const backend = new KvBackend(adapter, { valueType: "bytes" });
  const m = msg();
  await backend.storeResult(m, 42);
  assert.ok(adapter.entries.get(backend.buildMessageKey(m)).value instanceof Uint8Array);
  assert.equal(await backend.getResult(m), 42);
});

test("ttl 0 deletes instead of storing forever", async () => {
  const adapter = mapAdapter();
  const backend = new KvBackend(adapter);
  const m = msg();
  await backend.storeResult(m, 1);
  await backend.storeResult(m, 2, 0);
  assert.deepEqual(adapter.calls.at(-1)[0], "delete");
  await assert.rejects(backend.getResult(m), ResultMissing);
});

test("a blocking wait polls the adapter and resolves when the value appears", async () => {
  const adapter = mapAdapter();
  const backend = new KvBackend(adapter);
  const m = msg();
  setTimeout(() => backend.storeResult(m, "late"), 250);
  assert.equal(await backend.getResult(m, { block: true, timeout: 5000 }), "late");
  const gets = adapter.calls.filter((c) => c[0] === "get").length;
  assert.ok(gets >= 2 && gets <= 4, `${gets} reads in 250 ms (back-off from 100 ms)`);
});

test("adapters of the wrong shape are refused at construction with a TypeError", () => {
  for (const bad of [undefined, null, 42, "redis", {}, { get() {}, put() {} }, { get: 1, put() {}, delete() {} }]) {
    assert.throws(() => new KvBackend(bad), TypeError);
  }
  assert.throws(() => new KvBackend(mapAdapter(), { valueType: "json" }), TypeError);
});

const boom = new Error("connection reset");
const faulty = {
  "throws synchronously": () => { throw boom; },
  "rejects": async () => { throw boom; },
  "throws a non-Error": () => { throw "plain string"; },
};

for (const [how, get] of Object.entries(faulty)) {
  test(`an adapter whose get ${how} gives a ResultError with the cause`, async () => {
    const backend = new KvBackend({ get, put() {}, delete() {} });
    const m = msg();
    for (const options of [{}, { block: true, timeout: 300 }]) {
      const err = await backend.getResult(m, options).then(
        () => assert.fail("resolved"),
        (e) => e,
      );
      assert.ok(err instanceof ResultError, String(err));
      assert.equal(err.messageKey, backend.buildMessageKey(m));
      assert.equal(err.cause, get === faulty["throws a non-Error"] ? "plain string" : boom);
      assert.match(err.message, /get\(\)/);
    }
  });
}

test("an adapter whose put or delete fails rejects the store with the cause", async () => {
  const backend = new KvBackend({ get() {}, put: async () => { throw boom; }, delete() { throw boom; } });
  for (const p of [backend.storeResult(msg(), 1), backend.storeException(msg(), new Error("x")), backend.deleteResult(msg())]) {
    const err = await p.then(() => assert.fail("resolved"), (e) => e);
    assert.ok(err instanceof ResultError);
    assert.equal(err.cause, boom);
  }
});

for (const [what, answer] of [["a number", 42], ["an object", { value: "1" }], ["a boolean", true], ["an array", [1]]]) {
  test(`an adapter whose get returns ${what} gives a ResultError, not a crash`, async () => {
    const backend = new KvBackend({ get: async () => answer, put() {}, delete() {} });
    const err = await backend.getResult(msg()).then(() => assert.fail("resolved"), (e) => e);
    assert.ok(err instanceof ResultError);
    assert.ok(err.cause instanceof TypeError);
    assert.match(err.message, /expected a string, bytes, null or undefined/);
  });
}

test("an adapter that never settles ends the wait at its deadline, not later", async () => {
  const backend = new KvBackend({ get: () => new Promise(() => {}), put() {}, delete() {} });
  const started = performance.now();
  const err = await backend.getResult(msg(), { block: true, timeout: 200 }).then(
    () => assert.fail("resolved"),
    (e) => e,
  );
  const took = performance.now() - started;
  assert.ok(err instanceof ResultTimeout, String(err));
  assert.ok(took >= 200, `rejected after ${took} ms`);
  assert.ok(err.cause instanceof Error);
  // Non-blocking reads are bounded by the timeout too.
  const err2 = await backend.getResult(msg(), { timeout: 50 }).then(() => assert.fail(), (e) => e);
  assert.ok(err2 instanceof ResultError && !(err2 instanceof ResultTimeout));
});

test("after every failure above the module still works", async () => {
  const backend = new KvBackend(mapAdapter());
  const m = msg();
  await backend.storeResult(m, [1, 2, 3]);
  assert.deepEqual(await backend.getResult(m), [1, 2, 3]);
});
