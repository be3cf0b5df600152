// MemcachedBackend against a real memcached (started here on a free loopback port) through
// memjs. The conformance suite runs on it; the rest reads the server over its text protocol
// (not through the client under test) to check Dramatiq's layout: flags 0, the bytes, and
// expiries in whole seconds.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import memjs from "memjs";
import * as api from "dramatiq-results";
import { defineConformance } from "./conformance.mjs";
import { assertOutageAndRecovery, assertReadsAsPython, ofKind, storedText } from "./helpers.mjs";
import { haveMemcached, memcachedText, startMemcached } from "./services.mjs";
import { assertOutageIsWaitedOut, assertOutageLastsToTheDeadline } from "./outage.mjs";

const { MemcachedBackend, Message, ResultError, ResultFailure, ResultMissing, ResultTimeout } = api;

if (!haveMemcached) throw new Error("memcached is not installed: run scripts/setup --services");

const quiet = { log() {} };
let server;
let client;

before(async () => {
  server = await startMemcached();
  client = memjs.Client.create(server.address, { logger: quiet, retries: 0 });
});

after(async () => {
  client?.close();
  await server?.stop();
});

defineConformance(test, api, "MemcachedBackend (memjs)", (o) => new MemcachedBackend(client, o), {
  shared: true,
  // Memcached's expiries are whole seconds on a clock that ticks once a second.
  shortTtlMs: 1000,
  expiredAfterMs: 2300,
});

/** `mg <key> f t v`: flags, remaining TTL (-1 = never) and the value, from the server. */
async function meta(key) {
  const reply = await memcachedText(server.port, `mg ${key} f t v`);
  if (reply.startsWith("EN")) return null;
  const [head, value] = reply.split("\r\n");
  const flags = Number(/ f(\d+)/.exec(head)[1]);
  const ttl = Number(/ t(-?\d+)/.exec(head)[1]);
  return { flags, ttl, value };
}

describe("MemcachedBackend on the server", () => {
  test("a result is the encoded bytes with flags 0 and its TTL in seconds", async () => {
    const backend = new MemcachedBackend(client);
    const m = new Message({ actorName: "layout" });
    const key = backend.buildMessageKey(m);
    await backend.storeResult(m, { n: 1.5, s: "\u00e9" });
    const item = await meta(key);
    assert.equal(item.flags, 0);
    assert.equal(item.value, '{"n":1.5,"s":"\\u00e9"}');
    assert.ok(item.ttl > 595 && item.ttl <= 600, `TTL ${item.ttl}`);
    const text = await memcachedText(server.port, `get ${key}`);
    assert.match(text, new RegExp(`^VALUE ${key} 0 ${item.value.length}\\r\\n`));
  });

  test("a sub-second TTL is one second, not forever; over 30 days is an absolute time, not already expired", async () => {
    const backend = new MemcachedBackend(client);
    const brief = new Message({ actorName: "brief" });
    const month = new Message({ actorName: "month" });
    await backend.storeResult(brief, 1, 500);
    await backend.storeResult(month, 2, 31 * 24 * 3600 * 1000);
    const b = await meta(backend.buildMessageKey(brief));
    assert.ok(b.ttl >= 0 && b.ttl <= 1, `sub-second TTL kept ${b.ttl} s (Dramatiq: -1, never expires)`);
    const mo = await meta(backend.buildMessageKey(month));
    assert.ok(mo.ttl > 31 * 24 * 3600 - 10, `31-day TTL kept ${mo.ttl} s (Dramatiq: already expired)`);
    assert.equal(await backend.getResult(month), 2);
    await new Promise((r) => setTimeout(r, 2100));
    await assert.rejects(backend.getResult(brief), ResultMissing);
  });

  test("every result a Python worker stored in Memcached reads back as Python read it", async () => {
    const cases = ofKind("actor_result").filter((v) => v.backend === "memcached" && storedText(v) !== null);
    assert.ok(cases.length > 40, `only ${cases.length} cases`);
    for (const v of cases) {
      const stored = storedText(v);
      // Written the way pylibmc writes it: text protocol, flags 0.
      const reply = await memcachedText(server.port, `set ${v.key} 0 600 ${Buffer.byteLength(stored)}\r\n${stored}`);
      assert.equal(reply, "STORED\r\n", v.case);
      await assertReadsAsPython(v, (options) => new MemcachedBackend(client, options));
    }
  });

  test("batch reads: every get sent at once, or one getMulti when the client has it", async () => {
    const backend = new MemcachedBackend(client);
    const messages = Array.from({ length: 200 }, (_, i) => new Message({ actorName: "batch", args: [i] }));
    await Promise.all(messages.map((m, i) => backend.storeResult(m, i)));
    assert.deepEqual(await backend.getResults(messages, { timeout: 5000 }), messages.map((_, i) => i));

    const calls = [];
    const multi = {
      get: client.get.bind(client),
      set: client.set.bind(client),
      delete: client.delete.bind(client),
      async getMulti(keys) {
        calls.push(keys.length);
        const values = {};
        for (const k of keys) {
          const { value } = await client.get(k);
          if (value) values[k] = value;
        }
        return { values };
      },
    };
    const withMulti = new MemcachedBackend(multi);
    assert.deepEqual(await withMulti.getResults(messages, { timeout: 5000 }), messages.map((_, i) => i));
    assert.deepEqual(calls, [200]);
  });

  test("keys breaking Memcached's rules are refused with a clear error, not sent", async () => {
    const backend = new MemcachedBackend(client, { namespace: "has space", useNamespacePrefixKeys: true });
    const m = new Message({ actorName: "x" });
    const e = await assert.rejects(backend.storeResult(m, 1), (e) => e instanceof ResultError && /spaces/.test(e.message));
    void e;
    const long = new MemcachedBackend(client, { namespace: "n".repeat(300), useNamespacePrefixKeys: true });
    await assert.rejects(long.getResult(m), (e) => e instanceof ResultError && /250 bytes/.test(e.message));
  });

  test("a client's get may answer memjs's { value }, a string, bytes or an ArrayBuffer", async () => {
    const m = new Message({ actorName: "forms" });
    const bytes = new TextEncoder().encode('{"ok":1}');
    for (const answer of [{ value: Buffer.from(bytes) }, '{"ok":1}', bytes, bytes.buffer.slice(0), new DataView(bytes.buffer.slice(0))]) {
      const backend = new MemcachedBackend({ get: async () => answer, set: async () => true, delete: async () => true });
      assert.deepEqual(await backend.getResult(m), { ok: 1 }, String(answer?.constructor?.name));
    }
    for (const absent of [null, undefined, { value: null }]) {
      const backend = new MemcachedBackend({ get: async () => absent, set: async () => true, delete: async () => true });
      await assert.rejects(backend.getResult(m), ResultMissing);
    }
  });

  test("a wrong client is a TypeError; a failing or odd client is a ResultError with the cause", async () => {
    assert.throws(() => new MemcachedBackend({ get() {} }), TypeError);
    const m = new Message({ actorName: "odd" });
    const boom = new Error("ECONNREFUSED");
    const failing = new MemcachedBackend({ get: async () => { throw boom; }, set: () => { throw boom; }, delete: async () => {} });
    await assert.rejects(failing.getResult(m), (e) => e instanceof ResultError && e.cause === boom);
    await assert.rejects(failing.storeResult(m, 1), (e) => e instanceof ResultError && e.cause === boom);
    const odd = new MemcachedBackend({ get: async () => ({ value: 42 }), set: async () => true, delete: async () => true });
    await assert.rejects(odd.getResult(m), (e) => e instanceof ResultError && e.cause instanceof TypeError);
    const refusing = new MemcachedBackend({ get: async () => null, set: async () => false, delete: async () => true });
    await assert.rejects(refusing.storeResult(m, 1), (e) => e instanceof ResultError && /refused/.test(e.message));
  });
});

describe("MemcachedBackend when the server goes away", () => {
  test("a wait during an outage ends as a ResultError with its cause by the deadline; after a restart, calls work", async () => {
    const own = await startMemcached();
    const c = memjs.Client.create(own.address, { logger: quiet, retries: 0, timeout: 0.5, conntimeout: 0.5 });
    try {
      await assertOutageAndRecovery(own, new MemcachedBackend(c));
    } finally {
      c.close();
      await own.stop();
    }
  });
});

describe("MemcachedBackend: store errors during a blocking wait are waited out to the deadline", () => {
  test("not restarted → a ResultTimeout at the deadline; restarted in time → the value", async () => {
    const own = await startMemcached();
    const c = memjs.Client.create(own.address, { logger: quiet, retries: 0, timeout: 0.5, conntimeout: 0.5 });
    try {
      const backend = new MemcachedBackend(c);
      const write = async (m, v) => {
        for (let i = 0; i < 100; i++) {
          if (await backend.storeResult(m, v).then(() => true, () => false)) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.fail("the server never came back");
      };
      await assertOutageIsWaitedOut(own, backend, write);
      await assertOutageLastsToTheDeadline(own, backend);
    } finally {
      c.close();
      await own.stop();
    }
  });
});
