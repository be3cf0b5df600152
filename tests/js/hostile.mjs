// Hostile JavaScript values and the package's entry points, shared by the boundary test
// (tests/js/boundary.test.mjs) and the boundary fuzzer (scripts/fuzz --boundary): every shape
// here runs the caller's code at the boundary (a getter, a Proxy trap, toJSON, toString) or
// hands in memory that is gone (a detached buffer), and every call must end in a thrown or
// rejected Error — never a WebAssembly RuntimeError, never a dead module.
import {
  StubBackend,
  KvBackend,
  RedisBackend,
  MemcachedBackend,
  Message,
  JSONEncoder,
} from "dramatiq-results";

const ResultBackend = Object.getPrototypeOf(StubBackend);

/** Things JS code may throw: Errors and everything else. */
export function thrownValues() {
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  return [
    new Error("boom"),
    Object.create(null),
    revoked,
    { toString() { throw new Error("toString"); } },
    Symbol("thrown"),
    { get message() { throw Object.create(null); } },
    { message: Object.create(null) },
    null,
    undefined,
    42n,
  ];
}

/** A Uint8Array whose buffer has been transferred away. */
export function detached() {
  const bytes = new Uint8Array([49, 50]);
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
  return bytes;
}

/** Objects that throw when read in some way, each a fresh instance. */
export function hostileObjects() {
  const thrown = thrownValues();
  const pick = (i) => thrown[i % thrown.length];
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  const { proxy: revokedArray, revoke: revokeArray } = Proxy.revocable([], {});
  revokeArray();
  const trap = (i) => () => {
    throw pick(i);
  };
  const everyTrap = (target, i) =>
    new Proxy(target, {
      get: trap(i),
      has: trap(i + 1),
      ownKeys: trap(i + 2),
      getOwnPropertyDescriptor: trap(i + 3),
      getPrototypeOf: trap(i + 4),
    });
  const getters = (i) => {
    const o = {};
    for (const name of [
      "queueName", "queue_name", "actorName", "messageId", "block", "timeout", "signal",
      "onProgress", "namespace", "encoder", "useNamespacePrefixKeys", "maxValueBytes",
      "args", "kwargs", "options", "backend", "valueType", "blockingClient", "get", "put",
      "delete", "sendCommand", "set", "aborted", "addEventListener", "reason", "then",
      "length", "toJSON", "message", "name", "constructor",
    ]) {
      Object.defineProperty(o, name, { get: trap(i++), enumerable: true });
    }
    return o;
  };
  return [
    revoked,
    revokedArray,
    everyTrap({}, 0),
    everyTrap([], 1),
    everyTrap(new Uint8Array(4), 2),
    getters(0),
    getters(3),
    { toJSON() { throw new Error("toJSON"); } },
    { toJSON() { throw Object.create(null); } },
    [{ toJSON: trap(5) }],
    { toString: trap(6), valueOf: trap(7) },
    Object.create(null),
    detached(),
    (() => {
      const view = new DataView(new ArrayBuffer(4));
      structuredClone(view.buffer, { transfer: [view.buffer] });
      return view;
    })(),
    Object.defineProperties({ queueName: "q", actorName: "a", messageId: "i" }, Object.getOwnPropertyDescriptors(getters(2))),
    Object.assign(Object.create(Message.prototype), { __wbg_ptr: 0 }),
    new Proxy(new Message({ actorName: "a" }), { get: trap(8) }),
    Symbol("s"),
  ];
}

const ok = { queueName: "q", actorName: "a", messageId: "m" };

/**
 * Every exported entry point, each as `(hostile, i) => result` (a result or a Promise). The
 * hostile value goes where a caller's value goes: argument, option, message, `this`.
 */
export function entryPoints() {
  const stub = new StubBackend();
  const methods = [
    "buildMessageKey", "getResult", "tryGetResult", "getResultBytes", "storeResult",
    "storeException", "storeResultBytes", "deleteResult", "getResults", "iterResults",
  ];
  const entries = {};
  for (const name of methods) {
    const method = ResultBackend.prototype[name];
    entries[`${name}(hostile message)`] = (h) => method.call(stub, h, h, h);
    entries[`${name}(options: hostile)`] = (h) =>
      name.startsWith("store") ? method.call(stub, ok, h, h) : method.call(stub, name === "getResults" || name === "iterResults" ? [ok, h] : ok, h);
    entries[`${name} with a hostile this`] = (h) => method.call(h, ok, { block: false });
  }
  entries["iterResults().next()"] = (h) => stub.iterResults([h], { block: false }).next();
  entries["getResults([...])"] = (h) => stub.getResults([ok, h, ok], { block: false });
  entries["new StubBackend(hostile options)"] = (h) => new StubBackend(h);
  entries["new StubBackend({ encoder: hostile })"] = (h) => new StubBackend({ encoder: h });
  entries["custom encoder answering hostile values"] = (h, i) => {
    const encoder = { encode: () => h, decode: () => h };
    const backend = new StubBackend({ encoder });
    return i % 2 ? backend.storeResult(ok, 1) : backend.storeResultBytes(ok, "1").then(() => backend.getResult(ok));
  };
  entries["new KvBackend(hostile adapter)"] = (h) => new KvBackend(h);
  entries["KvBackend adapter answering hostile values"] = (h, i) => {
    const backend = new KvBackend({ get: () => h, put: () => h, delete: () => h });
    return i % 3 === 0 ? backend.storeResult(ok, 1) : i % 3 === 1 ? backend.getResult(ok) : backend.getResults([ok, ok], { block: false });
  };
  entries["KvBackend adapter throwing hostile values"] = (h, i) => {
    const fail = () => {
      throw h;
    };
    const backend = new KvBackend({ get: fail, put: fail, delete: fail });
    return i % 2 ? backend.storeResult(ok, 1) : backend.getResult(ok);
  };
  entries["new RedisBackend(hostile client)"] = (h) => new RedisBackend(h);
  entries["RedisBackend client answering hostile values"] = (h, i) => {
    const backend = new RedisBackend({ sendCommand: () => (i % 2 ? h : [h, [h]]) });
    return i % 3 === 0 ? backend.storeResult(ok, 1) : i % 3 === 1 ? backend.getResult(ok) : backend.getResults([ok, ok], { block: false });
  };
  entries["new MemcachedBackend(hostile client)"] = (h) => new MemcachedBackend(h);
  entries["MemcachedBackend client answering hostile values"] = (h, i) => {
    const backend = new MemcachedBackend({ get: () => h, set: () => h, delete: () => h, getMulti: () => h });
    return i % 3 === 0 ? backend.storeResult(ok, 1) : i % 3 === 1 ? backend.getResult(ok) : backend.getResults([ok, ok], { block: false });
  };
  entries["new Message(hostile fields)"] = (h) => new Message(h);
  entries["new Message({ args: hostile })"] = (h) => new Message({ actorName: "a", args: [h], kwargs: { k: h } });
  entries["Message.fromDict(hostile)"] = (h) => Message.fromDict(h);
  entries["Message.decode(hostile)"] = (h) => Message.decode(h);
  entries["message.copy(hostile)"] = (h) => new Message({ actorName: "a" }).copy(h);
  entries["message.getResult(hostile options)"] = (h) => new Message({ actorName: "a" }).getResult({ backend: h });
  entries["Message methods with a hostile this"] = (h, i) => {
    const names = ["encode", "asDict", "copy", "toString", "getResult"];
    return Message.prototype[names[i % names.length]].call(h, {});
  };
  entries["JSONEncoder.encode(hostile)"] = (h) => new JSONEncoder().encode(h);
  entries["JSONEncoder.decode(hostile)"] = (h) => new JSONEncoder().decode(h);
  entries["JSONEncoder with a hostile this"] = (h, i) => JSONEncoder.prototype[i % 2 ? "encode" : "decode"].call(h, "1");
  entries["storeException(hostile error)"] = (_h, i) => {
    const thrown = thrownValues();
    return stub.storeException(ok, thrown[i % thrown.length]);
  };
  return entries;
}

/** Calls `entry` and settles what it answers: "ok", or the Error class name it failed with.
 * A WebAssembly.RuntimeError (or anything not an Error-like failure) is returned as such. */
export async function outcome(entry, hostile, i) {
  try {
    const out = entry(hostile, i);
    if (out && typeof out.then === "function") await out;
    return "ok";
  } catch (error) {
    let runtime = false;
    try {
      runtime = error instanceof WebAssembly.RuntimeError;
    } catch {
      // A revoked Proxy thrown back as it was: the caller's own value, not a broken module.
    }
    return runtime ? `RuntimeError: ${error.message}` : "error";
  }
}

/** Whether the module still works: a store and a read round-trip on a fresh backend. */
export async function healthy() {
  const backend = new StubBackend();
  const message = new Message({ actorName: "health" });
  await backend.storeResult(message, { ok: [1, "two"] });
  const value = await backend.getResult(message);
  return JSON.stringify(value) === '{"ok":[1,"two"]}';
}
