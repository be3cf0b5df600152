// RedisBackend against a real redis-server (started here on a free loopback port), through
// both client libraries users have, node-redis and ioredis, and the package's own
// connectRedis (failure cases of that one: connect-redis.test.mjs). The conformance suite runs on
// each; the rest checks Dramatiq's layout on the server itself, the server-side wait, batch
// reads in one round trip, bad clients, and the server going away mid-wait.
import assert from "node:assert/strict";
import { createConnection } from "node:net";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import IORedis from "ioredis";
import * as api from "dramatiq-results";
import { defineConformance } from "./conformance.mjs";
import { assertOutageAndRecovery, assertReadsAsPython, ofKind, storedText } from "./helpers.mjs";
import { haveRedis, startRedis } from "./services.mjs";
import { assertOutageIsWaitedOut, assertOutageLastsToTheDeadline } from "./outage.mjs";

const { RedisBackend, connectRedis, Message, ResultError, ResultTimeout, ResultMissing, ResultFailure } = api;

if (!haveRedis) throw new Error("redis-server is not installed: run scripts/setup --services");

let server;
let nodeRedis;
let nodeRedisBlocking;
let ioredis;
let ioredisBlocking;
let own;
let ownBlocking;

before(async () => {
  server = await startRedis();
  nodeRedis = await createClient({ url: server.url }).connect();
  nodeRedisBlocking = await createClient({ url: server.url }).connect();
  ioredis = new IORedis(server.port, "127.0.0.1");
  ioredisBlocking = new IORedis(server.port, "127.0.0.1");
  own = await connectRedis(server.url);
  ownBlocking = await own.duplicate();
});

after(async () => {
  for (const c of [nodeRedis, nodeRedisBlocking]) c?.destroy();
  for (const c of [ioredis, ioredisBlocking]) c?.disconnect();
  for (const c of [own, ownBlocking]) await c?.close();
  await server?.stop();
});

const lazy = (make) => (options) => make(options);
defineConformance(test, api, "RedisBackend (node-redis)", lazy((o) => new RedisBackend(nodeRedis, o)), { shared: true });
defineConformance(test, api, "RedisBackend (ioredis)", lazy((o) => new RedisBackend(ioredis, o)), { shared: true });
defineConformance(
  test,
  api,
  "RedisBackend (node-redis, blocking connection)",
  lazy((o) => new RedisBackend(nodeRedis, { ...o, blockingClient: nodeRedisBlocking })),
  { shared: true },
);
defineConformance(test, api, "RedisBackend (connectRedis)", lazy((o) => new RedisBackend(own, o)), { shared: true });
defineConformance(
  test,
  api,
  "RedisBackend (connectRedis, blocking connection)",
  lazy((o) => new RedisBackend(own, { ...o, blockingClient: ownBlocking })),
  { shared: true },
);

/** Every command the server executes while `fn` runs, as arrays of strings (MONITOR). */
async function monitored(fn) {
  const socket = createConnection({ port: server.port, host: "127.0.0.1" });
  let buffer = "";
  const lines = [];
  socket.setEncoding("latin1");
  const ready = new Promise((resolve) => {
    socket.on("data", (d) => {
      buffer += d;
      let i;
      while ((i = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (line === "+OK") resolve();
        else lines.push(line);
      }
    });
  });
  socket.write("MONITOR\r\n");
  await ready;
  try {
    await fn();
    // MONITOR lines come after the replies: a PING from here marks the end.
    await ioredis.ping("monitor-end");
    while (!lines.some((l) => l.includes('"monitor-end"'))) await new Promise((r) => setTimeout(r, 5));
  } finally {
    socket.destroy();
  }
  // `<time> [<db> <client>] "CMD" "arg"…`; commands a script runs say `[0 lua]`.
  return lines
    .filter((l) => !l.includes('"monitor-end"') && !l.includes('"MONITOR"'))
    .map((l) => {
      const argv = [...l.slice(l.indexOf('"')).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      argv[0] = argv[0].toUpperCase();
      return Object.assign(argv, { lua: l.includes(" lua]") });
    });
}

/** The commands the client sent (not those its scripts ran). */
const sent = (commands) => commands.filter((c) => !c.lua);

describe("RedisBackend on the server", () => {
  test("a result is Dramatiq's one-element list, with its TTL in milliseconds", async () => {
    const backend = new RedisBackend(nodeRedis);
    const m = new Message({ actorName: "layout" });
    const key = backend.buildMessageKey(m);
    await backend.storeResult(m, { n: 1.5 }, 45_000);
    assert.equal(await ioredis.type(key), "list");
    assert.equal(await ioredis.llen(key), 1);
    assert.equal(await ioredis.lindex(key, 0), '{"n":1.5}');
    const pttl = await ioredis.pttl(key);
    assert.ok(pttl > 40_000 && pttl <= 45_000, `PTTL ${pttl}`);
    await backend.storeResult(m, 2, 0);
    assert.equal(await ioredis.exists(key), 0, "a TTL of 0 expires the key at once");
  });

  test("a store is one atomic command; a read is LINDEX k 0", async () => {
    const backend = new RedisBackend(ioredis);
    const m = new Message({ actorName: "wire" });
    const key = backend.buildMessageKey(m);
    const commands = await monitored(async () => {
      await backend.storeResult(m, 42, 1500);
      await backend.getResult(m);
    });
    const client = sent(commands);
    assert.equal(client.length, 2, JSON.stringify(commands));
    assert.equal(client[0][0], "EVAL");
    assert.deepEqual(client[0].slice(2), ["1", key, "42", "1500"]);
    assert.deepEqual([...client[1]], ["LINDEX", key, "0"]);
    // What the script ran, in order, inside the one EVAL: Dramatiq's MULTI block.
    assert.deepEqual(
      commands.filter((c) => c.lua).map((c) => c.join(" ")),
      [`DEL ${key}`, `LPUSH ${key} 42`, `PEXPIRE ${key} 1500`],
    );
  });

  test("reads, blocking or not, never consume the value or its TTL", async () => {
    const backend = new RedisBackend(nodeRedis, { blockingClient: nodeRedisBlocking });
    const m = new Message({ actorName: "kept" });
    const key = backend.buildMessageKey(m);
    await backend.storeResult(m, "v", 60_000);
    for (let i = 0; i < 3; i++) {
      assert.equal(await backend.getResult(m), "v");
      assert.equal(await backend.getResult(m, { block: true, timeout: 1000 }), "v");
    }
    assert.equal(await ioredis.llen(key), 1);
    const pttl = await ioredis.pttl(key);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `PTTL ${pttl}`);
  });

  test("every result a Python worker stored in Redis reads back as Python read it", async () => {
    const cases = ofKind("actor_result").filter((v) => v.backend === "redis" && storedText(v) !== null);
    assert.ok(cases.length > 40, `only ${cases.length} cases`);
    for (const v of cases) {
      const stored = storedText(v);
      const bytes = Buffer.from(stored, "utf8");
      await ioredis.multi().del(v.key).lpush(v.key, bytes).pexpire(v.key, 60_000).exec();
      await assertReadsAsPython(v, (options) => new RedisBackend(ioredis, options));
    }
  });

  test("with a blocking connection, a wait is held by the server and ends when the value lands", async () => {
    const backend = new RedisBackend(ioredis, { blockingClient: ioredisBlocking });
    const m = new Message({ actorName: "woken" });
    const key = backend.buildMessageKey(m);
    let value;
    const commands = await monitored(async () => {
      const waiting = backend.getResult(m, { block: true, timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 1200));
      await new RedisBackend(nodeRedis).storeResult(m, "woken");
      value = await waiting;
    });
    assert.equal(value, "woken");
    const reads = sent(commands).filter((c) => c[0] !== "EVAL" && c.includes(key));
    // One server-side wait, posted at once as Dramatiq's BRPOPLPUSH is (no read before it):
    // no polling in 1.2 s (back-off polling reads 4-5 times).
    assert.deepEqual(reads.map((c) => c[0]), ["BLMOVE"], JSON.stringify(commands));
    assert.deepEqual(commands.find((c) => c[0] === "BLMOVE").slice(2, 5), [key, "RIGHT", "LEFT"]);
  });

  test("with a blocking connection, a result already stored is answered by the wait alone, and keeps its TTL", async () => {
    const backend = new RedisBackend(nodeRedis, { blockingClient: nodeRedisBlocking });
    const m = new Message({ actorName: "ready", args: [1] });
    const key = backend.buildMessageKey(m);
    await backend.storeResult(m, { n: 1 }, 60_000);
    let values;
    const commands = await monitored(async () => {
      values = [await backend.getResult(m, { block: true, timeout: 10_000 }), await backend.getResult(m, { block: true, timeout: 10_000 })];
    });
    assert.deepEqual(values, [{ n: 1 }, { n: 1 }], "the one-element list rotates onto itself: read twice, same value");
    const reads = sent(commands).filter((c) => c.includes(key));
    assert.deepEqual(reads.map((c) => c[0]), ["BLMOVE", "BLMOVE"], JSON.stringify(commands));
    assert.equal(await nodeRedis.lLen(key), 1);
    const ttl = await nodeRedis.pTTL(key);
    assert.ok(ttl > 50_000 && ttl <= 60_000, `TTL kept: ${ttl} ms`);
  });

  test("sub-second timeouts are honoured on the server (Dramatiq truncates them to 0 s)", async () => {
    const backend = new RedisBackend(ioredis, { blockingConnection: ioredisBlocking });
    assert.equal(backend.blockingClient, ioredisBlocking, "blockingConnection is blockingClient's other name");
    const m = new Message({ actorName: "never" });
    const started = performance.now();
    await assert.rejects(backend.getResult(m, { block: true, timeout: 400 }), ResultTimeout);
    const took = performance.now() - started;
    assert.ok(took >= 399, `rejected after ${took} ms, before its 400 ms deadline`);
  });

  test("concurrent waits share the blocking connection: one waits on the server, the others poll", async () => {
    const backend = new RedisBackend(nodeRedis, { blockingClient: nodeRedisBlocking });
    const messages = Array.from({ length: 5 }, (_, i) => new Message({ actorName: "many", args: [i] }));
    const waits = messages.map((m) => backend.getResult(m, { block: true, timeout: 10_000 }));
    await new Promise((r) => setTimeout(r, 100));
    for (const [i, m] of messages.entries()) await backend.storeResult(m, i);
    assert.deepEqual(await Promise.all(waits), [0, 1, 2, 3, 4]);
  });

  test("a wait abandoned through its signal frees the blocking connection within a round (5 s), not at its deadline", { timeout: 30_000 }, async () => {
    const backend = new RedisBackend(nodeRedis, { blockingClient: nodeRedisBlocking });
    const blocked = async () => Number(/blocked_clients:(\d+)/.exec(await ioredis.info("clients"))[1]);
    const until = async (what, ok, ms) => {
      const end = performance.now() + ms;
      while (!ok(await blocked())) {
        if (performance.now() > end) throw new Error(`${what}: still ${await blocked()} blocked client(s) after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const abandoned = new AbortController();
    const first = backend.getResult(new Message({ actorName: "abandoned" }), { block: true, timeout: 60_000, signal: abandoned.signal });
    await until("the first wait held by the server", (n) => n === 1, 5_000);
    abandoned.abort(new Error("gone"));
    await assert.rejects(first, /gone/);
    // Its command cannot be taken back; it ends with its round, not 60 s later.
    await until("the abandoned command ended", (n) => n === 0, 9_000);
    const m = new Message({ actorName: "next" });
    const next = backend.getResult(m, { block: true, timeout: 20_000 });
    await until("the next wait held by the server, not polling", (n) => n === 1, 5_000);
    await backend.storeResult(m, "next");
    assert.equal(await next, "next");
  });

  test("collecting 1 000 results is one round trip", async () => {
    const backend = new RedisBackend(ioredis);
    const messages = Array.from({ length: 1000 }, (_, i) => new Message({ actorName: "batch", args: [i] }));
    await Promise.all(messages.map((m, i) => (i % 7 === 3 ? null : backend.storeResult(m, i))));
    await Promise.all(messages.filter((_, i) => i % 7 === 3).map((m, i) => backend.storeException(m, new RangeError(`no ${i}`))));
    let results;
    const commands = await monitored(async () => {
      results = await backend.getResults(messages, { timeout: 5000 }).catch((e) => e);
    });
    // getResults rejects with the first failure, as group.getResults does in Dramatiq.
    assert.ok(results instanceof ResultFailure, String(results));
    assert.equal(sent(commands).length, 1, "one command");
    assert.equal(sent(commands)[0][0], "EVAL");
    assert.equal(sent(commands)[0][2], "1000");
    assert.equal(commands.filter((c) => c.lua && c[0] === "LINDEX").length, 1000, "1 000 LINDEX in its script");

    const seen = new Map();
    for await (const r of backend.iterResults(messages, { timeout: 5000 })) seen.set(r.message.messageId, r);
    assert.equal(seen.size, 1000);
    for (const [i, m] of messages.entries()) {
      const r = seen.get(m.messageId);
      if (i % 7 === 3) assert.ok(r.error instanceof ResultFailure, `${i}`);
      else assert.equal(r.value, i);
    }
  });

  test("prefix keys and a custom namespace land under the readable key", async () => {
    const backend = new RedisBackend(nodeRedis, { namespace: "team", useNamespacePrefixKeys: true });
    const m = new Message({ queueName: "reports.DQ", actorName: "build", messageId: "11111111-2222-4333-8444-555555555555" });
    await backend.storeResult(m, [1, 2]);
    assert.equal(await ioredis.lindex("team:reports:build:11111111-2222-4333-8444-555555555555", 0), "[1,2]");
  });

  test("values that are not UTF-8 come back byte for byte through node-redis, ioredis and connectRedis", async () => {
    const bytes = new Uint8Array([0x22, 0xff, 0x00, 0xfe, 0x22]);
    for (const client of [nodeRedis, ioredis, own]) {
      const backend = new RedisBackend(client);
      const m = new Message({ actorName: "binary" });
      await backend.storeResultBytes(m, bytes);
      assert.deepEqual([...(await backend.getResultBytes(m))], [...bytes]);
    }
  });

  test("a wrong client is a TypeError; a wrong answer or a failing client is a ResultError with the cause", async () => {
    assert.throws(() => new RedisBackend({}), TypeError);
    assert.throws(() => new RedisBackend(null), TypeError);
    assert.throws(() => new RedisBackend(nodeRedis, { blockingClient: nodeRedis }), /separate connection/);
    assert.throws(() => new RedisBackend(own, { blockingClient: own }), /separate connection/);
    assert.throws(() => new RedisBackend(nodeRedis, { blockingClient: 42 }), TypeError);
    const m = new Message({ actorName: "odd" });
    const answers = [{}, 1.5, [[[[[[[[[["deep"]]]]]]]]]], () => 1];
    for (const answer of answers) {
      const backend = new RedisBackend({ sendCommand: async () => answer });
      const e = await assert.rejects(backend.getResult(m), (e) => e instanceof ResultError && e.cause instanceof TypeError);
      void e;
    }
    const boom = new Error("connection refused");
    for (const sendCommand of [() => { throw boom; }, async () => { throw boom; }]) {
      const backend = new RedisBackend({ sendCommand });
      await assert.rejects(backend.storeResult(m, 1), (e) => e instanceof ResultError && e.cause === boom && e.messageKey === backend.buildMessageKey(m));
      await assert.rejects(backend.getResult(m, { block: true, timeout: 200 }), (e) => e instanceof ResultError && e.cause === boom);
    }
    // A client that never answers cannot hang a wait past its deadline.
    const hung = new RedisBackend({ sendCommand: () => new Promise(() => {}) });
    const started = performance.now();
    await assert.rejects(hung.getResult(m, { block: true, timeout: 300 }), ResultTimeout);
    assert.ok(performance.now() - started >= 299);
  });

  test("a key holding another Redis type is a ResultError with the server's WRONGTYPE as its cause", async () => {
    const m = new Message({ actorName: "wrong_type" });
    for (const backend of [new RedisBackend(nodeRedis), new RedisBackend(ioredis, { blockingClient: ioredisBlocking })]) {
      const key = backend.buildMessageKey(m);
      await ioredis.set(key, "not a list");
      for (const options of [undefined, { block: true, timeout: 300 }]) {
        const e = await backend.getResult(m, options).then(() => assert.fail("resolved"), (e) => e);
        assert.ok(e instanceof ResultError && !(e instanceof ResultTimeout), `${e}`);
        assert.equal(e.messageKey, key);
        assert.match(String(e.cause?.message ?? e.cause), /WRONGTYPE/);
      }
      // A store replaces it (DEL first), as Dramatiq's does.
      await backend.storeResult(m, "fixed");
      assert.equal(await backend.getResult(m), "fixed");
      await backend.deleteResult(m);
    }
  });

  test("the module keeps working after all of that", async () => {
    const backend = new RedisBackend(nodeRedis);
    const m = new Message({ actorName: "after" });
    await backend.storeResult(m, "fine");
    assert.equal(await backend.getResult(m), "fine");
    await assert.rejects(new RedisBackend(nodeRedis).getResult(new Message({ actorName: "absent" })), ResultMissing);
  });
});

describe("RedisBackend when the server goes away", () => {
  for (const [name, connect] of [
    ["node-redis", async (s) => createClient({ url: s.url, socket: { reconnectStrategy: () => 100 } }).on("error", () => {}).connect()],
    ["ioredis", async (s) => new IORedis(s.port, "127.0.0.1", { retryStrategy: () => 100, maxRetriesPerRequest: 1 }).on("error", () => {})],
    ["connectRedis", async (s) => connectRedis(s.url)],
  ]) {
    test(`${name}: a wait during an outage ends as a ResultError with its cause by the deadline; after a restart, calls work`, async () => {
      const own = await startRedis();
      const client = await connect(own);
      try {
        await assertOutageAndRecovery(own, new RedisBackend(client));
      } finally {
        if (client instanceof IORedis) client.disconnect();
        else if (client.destroy) client.destroy();
        else await client.close();
        await own.stop();
      }
    });
  }
});

describe("RedisBackend: store errors during a blocking wait are waited out to the deadline", () => {
  const connect = async (s) =>
    createClient({ url: s.url, socket: { reconnectStrategy: () => 100 } }).on("error", () => {}).connect();
  const retryStore = (backend) => async (m, v) => {
    for (let i = 0; i < 100; i++) {
      if (await backend.storeResult(m, v).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail("the server never came back");
  };
  for (const blocking of [false, true]) {
    const what = blocking ? "with a blockingClient" : "polling";
    test(`${what}: not restarted → a ResultTimeout at the deadline; restarted in time → the value`, async () => {
      const own = await startRedis();
      const clients = [await connect(own), await connect(own)];
      try {
        const options = blocking ? { blockingClient: clients[1] } : {};
        const backend = new RedisBackend(clients[0], options);
        await assertOutageIsWaitedOut(own, backend, retryStore(backend));
        await assertOutageLastsToTheDeadline(own, backend);
      } finally {
        for (const c of clients) c.destroy();
        await own.stop();
      }
    });
  }
});
