// The gateway against hostile producers, crowds and pages (issue 26), over a real
// redis-server: stray keys, hostile heartbeats, huge and malformed messages, a crowd of
// viewers, viewers that stop reading, DNS rebinding, what errors say, what /kv answers, and
// the headers of every answer. Each case reproduced what the gateway did before it was
// fixed (see the messages of the asserts); durations are asserted with generous bounds only
// (bench/ has the figures).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, request } from "node:http";
import { connect } from "node:net";
import { serve } from "@hono/node-server";
import { createClient } from "redis";
import { JSONEncoder, Message, RedisBackend, RedisBrokerKeys, StubBackend, connectRedis } from "dramatiq-results";
import { createGateway } from "dramatiq-results/gateway";
import { packageCodecs } from "../../pkg/src/gateway/codecs.js";
import { openRedis, redisReadKey } from "../../pkg/src/gateway/redis/redis.js";
import { haveRedis, startRedis, freePort } from "./services.mjs";
import { HandBroker, dict, openEvents, startGatewayBin } from "./gateway-helpers.mjs";
import { chromiumPath, launchChromium } from "./chromium.mjs";

const skip = !haveRedis && "redis-server is not installed (scripts/setup --services)";

/** A gateway in this process over `url` (the package's own connection and codecs), its log. */
async function gateway(url, options = {}) {
  const redis = await openRedis(connectRedis, url);
  const backend = new RedisBackend(redis);
  const log = [];
  const app = createGateway({
    redis,
    backend,
    readKey: redisReadKey(redis),
    brokerKeys: new RedisBrokerKeys("dramatiq"),
    ...packageCodecs({ JSONEncoder, StubBackend, Message }),
    resultsInRedis: true,
    log: (m) => log.push(m),
    ...options,
  });
  const get = (path, init) => app.fetch(new Request(`http://127.0.0.1${path}`, init));
  return { app, redis, backend, log, get, close: async () => (app.poller.stop(), await redis.close(), backend.free?.()) };
}

/** A gateway in this process over a fake `redis` (`{ sendCommand }`) and no server, `extra`
 * options on top: `{ app, close() }`. */
function fakeGateway(redis, extra = {}) {
  const backend = new RedisBackend({ sendCommand: async () => null });
  const app = createGateway({
    redis,
    backend,
    readKey: async () => null,
    brokerKeys: new RedisBrokerKeys("dramatiq"),
    ...packageCodecs({ JSONEncoder, StubBackend, Message }),
    ...extra,
  });
  return { app, close: () => (app.poller.stop(), backend.free?.()) };
}

/** Serves `app` on a free loopback port: `{ url, close() }`. */
async function listen(app) {
  const port = await freePort();
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () => resolve(s));
  });
  return { url: `http://127.0.0.1:${port}`, server, close: () => (server.closeAllConnections?.(), new Promise((r) => server.close(r))) };
}

/** The longest EVAL in Redis's slow log since `reset()` (µs). */
async function slowest(client) {
  const entries = await client.sendCommand(["SLOWLOG", "GET", "10000"]);
  let max = 0;
  for (const [, , micros, argv] of entries) if (String(argv[0]).toUpperCase() === "EVAL") max = Math.max(max, Number(micros));
  return max;
}

test("stray keys of any type under the namespace are skipped (and reported once), not a WRONGTYPE that stops everything", { skip, timeout: 60_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await gateway(server.url);
  try {
    const broker = new HandBroker(client);
    const m = dict("default", "add", [1, 2]);
    await broker.enqueue(m);
    const held = dict("default", "add", [3]);
    await broker.enqueue(held);
    await broker.fetch("w1", "default"); // w1 holds the first one
    // What other apps and people create under `dramatiq:`: every type, and in the broker's
    // own key shapes (a dead-letter "zset" that is a string, an acks "set" that is a list).
    await client.set("dramatiq:cache-flag", "1");
    await client.sAdd("dramatiq:set-flag", "a");
    await client.hSet("dramatiq:hash-flag", "a", "b");
    await client.xAdd("dramatiq:stream-flag", "*", { a: "b" });
    await client.set("dramatiq:default.XQ", "not a zset");
    await client.rPush("dramatiq:__acks__.w2.default", "x");
    await broker.heartbeat("w2");
    await client.set("dramatiq:other.msgs", "not a hash");
    await client.rPush("dramatiq:other", "rid-1");

    const queues = await gw.get("/api/queues");
    assert.equal(queues.status, 200, "/api/queues answered 503 (WRONGTYPE) before");
    const list = await queues.json();
    assert.deepEqual(list.map((q) => q.name), ["default", "other"], "names whose keys are all stray are no queues");
    assert.deepEqual(list[0], { name: "default", queued: 1, delayed: 0, inProgress: 1, deadLettered: 0 });
    for (const state of ["queued", "in-progress", "dead-lettered", "delayed"]) {
      const page = await gw.get(`/api/messages?queue=default&state=${state}`);
      assert.equal(page.status, 200, state);
    }
    assert.equal((await gw.get("/api/messages?queue=other")).status, 200);
    assert.equal((await gw.get("/api/messages?queue=cache-flag")).status, 200);

    for (let i = 0; i < 3; i++) await gw.app.poller.tick();
    assert.equal(gw.app.poller.status.ok, true, `polling: ${gw.app.poller.status.error}`);
    assert.deepEqual([...gw.app.poller.records.keys()].sort(), [m.message_id, held.message_id].sort(), "events flow");
    const strays = ["dramatiq:cache-flag", "dramatiq:set-flag", "dramatiq:hash-flag", "dramatiq:stream-flag", "dramatiq:default.XQ", "dramatiq:__acks__.w2.default", "dramatiq:other.msgs"];
    for (const key of strays) {
      assert.equal(gw.log.filter((l) => l.includes(`skipping ${key}:`)).length, 1, `${key} reported once: ${gw.log.join(" | ")}`);
    }
    assert.ok(gw.app.poller.status.stray.length > 0, "the status names them");

    // The heartbeats themselves of the wrong type: no workers, everything else goes on.
    await client.del("dramatiq:__heartbeats__");
    await client.set("dramatiq:__heartbeats__", "x");
    assert.equal((await gw.get("/api/workers")).status, 200);
    assert.equal((await gw.get("/api/queues")).status, 200);
    assert.equal((await gw.get("/api/messages?queue=default&state=in-progress")).status, 200);
    await gw.app.poller.tick();
    assert.equal(gw.app.poller.status.ok, true);
  } finally {
    await gw.close();
    await client.quit();
    await server.stop();
  }
});

test("100 000 hostile heartbeats (and a huge acks set) keep every script of a poll to a few ms", { skip, timeout: 120_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await gateway(server.url);
  try {
    const broker = new HandBroker(client);
    for (const q of ["a", "b", "c"]) await broker.enqueue(dict(q, "add"));
    const future = Date.now() + 365 * 86_400_000;
    for (let i = 0; i < 100_000; i += 10_000) {
      const batch = [];
      for (let j = i; j < i + 10_000; j++) batch.push({ score: j % 2 ? future : Date.now(), value: `fake-${j}` });
      await client.zAdd("dramatiq:__heartbeats__", batch);
    }
    // A fake worker's acks set of 200 000 ids.
    for (let i = 0; i < 200_000; i += 20_000) {
      await client.sAdd("dramatiq:__acks__.fake-2.a", Array.from({ length: 20_000 }, (_, j) => `id-${i + j}`));
    }
    await broker.fetch("real-worker", "a");
    await client.sendCommand(["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    await client.sendCommand(["CONFIG", "SET", "slowlog-max-len", "10000"]);
    await client.sendCommand(["SLOWLOG", "RESET"]);
    for (let i = 0; i < 3; i++) await gw.app.poller.tick();
    assert.equal(gw.app.poller.status.ok, true, gw.app.poller.status.error);
    for (const path of ["/api/queues", "/api/workers", "/api/messages?queue=a&state=in-progress", "/api/messages?queue=a&state=delayed"]) {
      assert.equal((await gw.get(path)).status, 200, path);
    }
    const micros = await slowest(client);
    console.log(`# longest script with 100 000 hostile heartbeats: ${(micros / 1000).toFixed(1)} ms`);
    // Before: one poll was one script of 0.3–2.7 s (every heartbeat, every queue).
    assert.ok(micros < 50_000, `longest script ${micros} µs`);
    const workers = await (await gw.get("/api/workers")).json();
    assert.ok(workers.length <= 1000 && workers.every((w) => w.lastSeen <= Date.now() + 60_000), "no heartbeat from the future is listed");
    assert.ok(workers.some((w) => w.id === "real-worker"), "the real worker is listed");
  } finally {
    await gw.close();
    await client.quit();
    await server.stop();
  }
});

test("woken by a storm of notifications, the poller reads a message that lives 35 ms; its early rounds are light and take at most half of its time", { skip, timeout: 120_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  // The poll interval is ten minutes: only wakes (what keyspace notifications call) run rounds.
  const gw = await gateway(server.url, { events: { intervalMs: 600_000 } });
  const { poller } = gw.app;
  let busy = 0;
  const tick = poller.tick.bind(poller);
  poller.tick = async (...args) => {
    const t0 = performance.now();
    try {
      await tick(...args);
    } finally {
      busy += performance.now() - t0;
    }
  };
  const storm = setInterval(() => poller.wake({}), 1); // a busy deployment's notifications
  try {
    const broker = new HandBroker(client);
    // Queues for the rounds to read, found by the first (whole) round.
    await broker.enqueue(dict("busy", "noise"));
    const first = await broker.enqueue(dict("quick", "noise"));
    poller.start();
    await new Promise((r) => setTimeout(r, 200));
    await broker.fetch("w1", "quick"); // its queue known, the noise goes
    await broker.ack("w1", "quick", first);
    const scans = async () => Number(/cmdstat_scan:calls=(\d+)/.exec(await client.sendCommand(["INFO", "commandstats"]))?.[1] ?? 0);
    const scans0 = await scans();
    const ticks0 = poller.ticks;
    const busy0 = busy;
    const t0 = performance.now();
    // Each message is enqueued, taken and acked by a worker 35 ms later, as a quick actor's
    // would be; the notifications around it are the storm's. With a fixed 50 ms between
    // early rounds, about one in four was never read.
    const sent = [];
    for (let i = 0; i < 10; i++) {
      const m = dict("quick", "echo", [i]);
      const rid = await broker.enqueue(m);
      poller.wake({});
      await new Promise((r) => setTimeout(r, 35));
      assert.equal(await broker.fetch("w1", "quick"), rid);
      await broker.ack("w1", "quick", rid);
      sent.push(m.message_id);
    }
    const elapsed = performance.now() - t0;
    const rounds = poller.ticks - ticks0;
    const share = (busy - busy0) / elapsed;
    console.log(`# ${rounds} early rounds in ${elapsed.toFixed(0)} ms, ${(share * 100).toFixed(0)} % of the time in rounds`);
    const unread = sent.filter((id) => !poller.records.get(id)?.message);
    assert.deepEqual(unread, [], `${unread.length} of 10 short-lived messages never read`);
    assert.ok(share <= 0.5, `rounds took ${(share * 100).toFixed(0)} % of the time`);
    assert.ok(rounds <= (elapsed / poller.minWakeGapMs) + 2, `${rounds} rounds in ${elapsed.toFixed(0)} ms`);
    // Woken rounds are light: the result keys' walk (SCAN) waits for the interval's rounds.
    assert.equal((await scans()) - scans0, 0, "no SCAN of the result keys in a woken round");
  } finally {
    clearInterval(storm);
    await gw.close();
    await client.quit();
    await server.stop();
  }
});

test("memory is bounded in bytes: huge messages and results are kept as summaries, the ring by its byte budget", { skip, timeout: 120_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await gateway(server.url, { events: { ringBytes: 256 * 1024 } });
  try {
    const broker = new HandBroker(client);
    const big = "x".repeat(5 * 1024 * 1024);
    const rids = [];
    for (let i = 0; i < 8; i++) rids.push(await broker.enqueue(dict("big", "load", [big], { message_id: `big-${i}` })));
    const heap = process.memoryUsage().heapUsed;
    await gw.app.poller.tick();
    // Moved between the queue and its delay queue, 14 times: every move is an event.
    for (let round = 0; round < 14; round++) {
      const [from, to] = round % 2 ? ["big.DQ", "big"] : ["big", "big.DQ"];
      for (const rid of rids) {
        const body = await client.hGet(`dramatiq:${from}.msgs`, rid);
        await client.multi().lRem(`dramatiq:${from}`, 0, rid).hDel(`dramatiq:${from}.msgs`, rid)
          .hSet(`dramatiq:${to}.msgs`, rid, body).rPush(`dramatiq:${to}`, rid).exec();
      }
      await gw.app.poller.tick();
    }
    const record = gw.app.poller.records.get("big-0");
    assert.ok(record.truncated > 5_000_000, "the record says how long the message was");
    assert.equal(record.message.message_id, "big-0");
    assert.equal(record.message.args, undefined, "its arguments are not kept");
    const { ringBytes, recordBytes, ringEvents } = gw.app.poller.memory;
    assert.ok(ringBytes <= 256 * 1024, `ring ${ringBytes} bytes`);
    assert.ok(ringEvents >= 8 * 14 || ringBytes > 200 * 1024, "the ring kept what its budget allows");
    assert.ok(recordBytes < 64 * 1024, `records ${recordBytes} bytes`);
    const grown = process.memoryUsage().heapUsed - heap;
    assert.ok(grown < 200 * 1024 * 1024, `heap grew by ${grown} bytes (before: 200 MB → 800 MB)`);

    // Actor names are the producer's too: a megabyte of one is kept as its first 200
    // characters, whatever the message's size (its key is still the whole name's).
    const huge = "a".repeat(1024 * 1024);
    for (let i = 0; i < 20; i++) await broker.enqueue(dict("big", huge, [], { message_id: `huge-actor-${i}` }));
    await gw.app.poller.tick({ light: false });
    const named = gw.app.poller.records.get("huge-actor-0");
    assert.equal(named.actor, `${"a".repeat(200)}…`);
    assert.equal(named.key, gw.backend.buildMessageKey({ queueName: "big", actorName: huge, messageId: "huge-actor-0" }));

    // A result value too long to keep: its length only.
    const m = dict("big", "load", [], { message_id: "big-result" });
    await gw.backend.storeResult(m, "y".repeat(1024 * 1024));
    await broker.enqueue(m);
    await gw.app.poller.tick();
    await client.del(["dramatiq:big", "dramatiq:big.msgs"]);
    await gw.app.poller.tick();
    const done = gw.app.poller.records.get("big-result");
    assert.equal(done.state, "done");
    assert.ok(done.result.omitted > 1024 * 1024, JSON.stringify(done.result).slice(0, 100));
    assert.equal((await gw.get(`/kv/${done.key}`)).status, 200, "the whole value is still at /kv");
  } finally {
    await gw.close();
    await client.quit();
    await server.stop();
  }
});

test("messages that are not JSON, not Dramatiq's, or nested deeper than 512 are listed as malformed, not hidden", { skip, timeout: 60_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await gateway(server.url);
  try {
    const broker = new HandBroker(client);
    const good = dict("q", "add");
    await broker.enqueue(good);
    const deep = `{"message_id":"d","actor_name":"a","args":${"[".repeat(600)}${"]".repeat(600)}}`;
    // JSON that no worker runs: a key that is no message field (Python's Message.decode
    // refuses it; so does the package's), and no `args`.
    const extra = JSON.stringify({ ...good, options: {}, stray: 1 });
    const { args: _a, ...noArgs } = { ...good, options: {} };
    for (const [rid, body] of [["r-text", "not json"], ["r-deep", deep], ["r-array", "[1,2]"], ["r-extra", extra], ["r-noargs", JSON.stringify(noArgs)]]) {
      await client.hSet("dramatiq:q.msgs", rid, body);
      await client.rPush("dramatiq:q", rid);
    }
    const counts = await (await gw.get("/api/queues")).json();
    assert.equal(counts[0].queued, 6);
    const page = await (await gw.get("/api/messages?queue=q")).json();
    assert.equal(page.items.length, 6, "every counted message is listed (before: 1 of 4)");
    assert.deepEqual(page.items.filter((i) => i.malformed).map((i) => [i.id, i.malformed]),
      [["r-text", "not JSON"], ["r-deep", "nested too deeply"], ["r-array", "not a Dramatiq message"], ["r-extra", "not a Dramatiq message"], ["r-noargs", "not a Dramatiq message"]]);
    await gw.app.poller.tick();
    const records = [...gw.app.poller.records.values()];
    assert.equal(records.length, 6, "and each is a record of the event stream");
    assert.deepEqual(records.filter((r) => r.malformed).map((r) => r.messageId).sort(), ["malformed:r-array", "malformed:r-deep", "malformed:r-extra", "malformed:r-noargs", "malformed:r-text"]);
  } finally {
    await gw.close();
    await client.quit();
    await server.stop();
  }
});

test("/kv/<key> answers only results: a list of exactly one element, as Dramatiq's RedisBackend leaves it", { skip, timeout: 60_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await gateway(server.url);
  try {
    const m = dict("q", "add");
    await gw.backend.storeResult(m, 42);
    const key = gw.backend.buildMessageKey({ queueName: "q", actorName: "add", messageId: m.message_id });
    assert.equal((await gw.get(`/kv/${key}`)).status, 200);
    const other = "0123456789abcdef0123456789abcdef";
    await client.rPush(other, ["someone else's", "list"]);
    assert.equal((await gw.get(`/kv/${other}`)).status, 404, "a two-element list (before: its first element)");
    await client.del(other);
    await client.set(other, "a string");
    assert.equal((await gw.get(`/kv/${other}`)).status, 404);
  } finally {
    await gw.close();
    await client.quit();
    await server.stop();
  }
});

test("a store failure is answered without internals (no address, no script hash or line)", { skip, timeout: 60_000 }, async () => {
  const port = await freePort();
  const gw = await gateway(`redis://127.0.0.1:${port}`);
  try {
    for (const path of ["/api/queues", "/api/messages?queue=q", "/kv/0123456789abcdef0123456789abcdef", "/api/status"]) {
      const res = await gw.get(path);
      assert.equal(res.status, 503, path);
      const text = await res.text();
      assert.doesNotMatch(text, new RegExp(`127\\.0\\.0\\.1|${port}|ECONN|f_[0-9a-f]{40}|user_script`), `${path}: ${text}`);
    }
    await gw.app.poller.tick();
    assert.doesNotMatch(gw.app.poller.statusJson(), new RegExp(`127\\.0\\.0\\.1|${port}`));
    assert.ok(gw.log.some((l) => l.includes(String(port))), "the details go to the log");
  } finally {
    await gw.close();
  }
  // A script error (the server refuses EVAL): its hash and line are not shown either.
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const broken = await gateway(server.url);
  try {
    await client.sendCommand(["CONFIG", "SET", "maxmemory", "1"]);
    await client.sendCommand(["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    await client.set("dramatiq:q", "x").catch(() => {});
    const res = await broken.get("/api/messages?queue=q");
    const text = await res.text();
    assert.doesNotMatch(text, /f_[0-9a-f]{40}|user_script|script:\d/, text);
  } finally {
    await broken.close();
    await client.quit();
    await server.stop();
  }
});

test("a request's failure goes to the log (503 and 500), its path escaped, while the answer names only its kind", { timeout: 30_000 }, async () => {
  // SECURITY.md: "the details go to the log". Before, only the poller's failures were logged:
  // a request whose store failed (a script error, a refused connection) or that hit an
  // internal error answered 503 or 500 and left no trace at all.
  const log = [];
  const { app, close } = fakeGateway(
    { sendCommand: async () => { throw new Error("connect ECONNREFUSED 10.9.8.7:6390"); } },
    { readKey: async () => { throw new Error("connect ECONNREFUSED 10.9.8.7:6391"); }, log: (m) => log.push(m) },
  );
  try {
    const res = await app.fetch(new Request("http://127.0.0.1/api/queues"));
    assert.equal(res.status, 503);
    assert.doesNotMatch(await res.text(), /10\.9\.8\.7/);
    assert.ok(log.some((l) => l.includes("/api/queues") && l.includes("10.9.8.7:6390")), `logged: ${log.join(" | ")}`);
    const kv = await app.fetch(new Request("http://127.0.0.1/kv/0123456789abcdef0123456789abcdef"));
    assert.equal(kv.status, 503);
    assert.ok(log.some((l) => l.includes("10.9.8.7:6391")), `logged: ${log.join(" | ")}`);
    // An id with a line break cannot add a line of its own to the log.
    log.length = 0;
    await app.fetch(new Request("http://127.0.0.1/api/messages/a%0Aforged%20line"));
    assert.ok(log.length >= 1 && log.every((l) => !l.includes("\nforged")), `logged: ${JSON.stringify(log)}`);
  } finally {
    close();
  }
});

/**
 * Sends 102 searches (`path`) to `app` while the fake store holds every read (`held`: the
 * releases), then one more: it must be 429 at once, never more than two may read at once
 * (`most()`: the most seen), and once the reads are released every waiting search must
 * answer `status`.
 */
async function checkSearchBound(app, path, held, most, status) {
  const search = () => app.fetch(new Request(`http://127.0.0.1${path}`));
  let done = 0;
  const waiting = Array.from({ length: 102 }, () => search().finally(() => done++));
  await new Promise((r) => setTimeout(r, 200));
  const extra = await Promise.race([search(), new Promise((r) => setTimeout(() => r({ status: "still reading after 2 s", headers: new Headers() }), 2000))]);
  assert.equal(extra.status, 429, "the 103rd search is refused at once");
  assert.equal(extra.headers.get("retry-after"), "1");
  assert.ok(most() <= 2, `at most two searches read at once (${most()} did)`);
  // The waiting ones run in turn as the reading ones end.
  for (let i = 0; done < 102 && i < 2000; i++) {
    while (held.length) held.shift()();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(done, 102, "every waiting search ran");
  assert.ok((await Promise.all(waiting)).every((r) => r.status === status), `each answered ${status}`);
  assert.ok(most() <= 2, `at most two searches read at once (${most()} did)`);
}

test("searches (?q=) read the broker two at a time, 100 wait, more are 429", { timeout: 30_000 }, async () => {
  // A search reads up to 50 000 bodies and matches them in the gateway (0.4 s of its CPU for
  // 50 000 bodies of 300 bytes). Before, nothing bounded how many ran at once: during 20
  // parallel searches of one viewer, another's /api/queues took 150 ms instead of 14.
  let inFlight = 0;
  let most = 0;
  const held = [];
  const { app, close } = fakeGateway({
    sendCommand: (argv) => {
      if (String(argv[0]).toUpperCase() !== "EVAL" && String(argv[0]).toUpperCase() !== "EVALSHA") return Promise.resolve(null);
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise((_, reject) => held.push(() => (inFlight--, reject(new Error("released")))));
    },
  });
  try {
    // Each read (and failed at) the fake store.
    await checkSearchBound(app, "/api/messages?q=needle&queue=big&state=queued", held, () => most, 503);
  } finally {
    while (held.length) held.shift()();
    close();
  }
});

test("over RabbitMQ too: searches read the dead letters two at a time, 100 wait, more are 429", { timeout: 30_000 }, async () => {
  // A search there takes each queue's turn (routes/amqp.js): with no bound, a viewer's crowd
  // of searches queued on the turns without end, and an operator's requeue on that queue
  // waited behind all of them.
  let inFlight = 0;
  let most = 0;
  const held = [];
  const amqp = {
    queueNames: ["big"],
    act: () => {
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise((resolve) => held.push(() => (inFlight--, resolve({ items: [], more: false }))));
    },
    counts: async () => [],
    ping: async () => {},
    close: async () => {},
  };
  const { app, close } = fakeGateway({ sendCommand: async () => null }, { amqp });
  try {
    await checkSearchBound(app, "/api/messages?q=needle&queue=big", held, () => most, 200);
  } finally {
    while (held.length) held.shift()();
    close();
  }
});

test("every answer carries nosniff (405, 413 and 414 included)", { skip, timeout: 60_000 }, async () => {
  const server = await startRedis();
  const gw = await gateway(server.url);
  try {
    const answers = [
      await gw.get("/api/queues", { method: "POST" }),
      await gw.get("/api/queues", { method: "GET", headers: { "content-length": "5" } }),
      await gw.get(`/api/queues?${"x".repeat(5000)}`),
    ];
    assert.deepEqual(answers.map((r) => r.status), [405, 413, 414]);
    for (const res of answers) assert.equal(res.headers.get("x-content-type-options"), "nosniff", String(res.status));
  } finally {
    await gw.close();
    await server.stop();
  }
});

/** `GET path` with a raw `Host` header: the status. */
const withHost = (url, path, host) =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", reject);
    req.end();
  });

test("DNS rebinding: a gateway without a token answers only to loopback names and its own host", { skip, timeout: 60_000 }, async () => {
  const server = await startRedis();
  const open = await startGatewayBin(["--redis", server.url]);
  const guarded = await startGatewayBin(["--redis", server.url, "--token", "a-token-of-sixteen-chars"]);
  try {
    const { port } = new URL(open.url);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "[::1]", "127.0.0.2"]) {
      assert.equal(await withHost(open.url, "/api/queues", host), 200, host);
    }
    for (const host of ["evil.example", `evil.example:${port}`, "127.0.0.1.nip.io", "0.0.0.0"]) {
      assert.equal(await withHost(open.url, "/api/queues", host), 421, `${host} (before: 200, the page's origin read the API)`);
      assert.equal(await withHost(open.url, "/api/messages?queue=q", host), 421, host);
      assert.equal(await withHost(open.url, "/", host), 421, host);
    }
    // With a token the token guards the API, whatever the host is called.
    assert.equal(await withHost(guarded.url, "/", "gateway.example"), 200);
  } finally {
    await open.stop();
    await guarded.stop();
    await server.stop();
  }
});

test("the page is served with a Content-Security-Policy allowing its import map by hash", { skip, timeout: 60_000 }, async () => {
  const server = await startRedis();
  const gw = await startGatewayBin(["--redis", server.url]);
  try {
    const res = await fetch(`${gw.url}/`);
    const policy = res.headers.get("content-security-policy");
    assert.match(policy ?? "", /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/=]+'/);
    assert.match(policy, /object-src 'none'/);
    assert.match(policy, /frame-ancestors 'none'/);
    const html = await res.text();
    const [, map] = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
    const digest = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(map))).toString("base64");
    assert.ok(policy.includes(`'sha256-${digest}'`), "the hash is the import map's");
  } finally {
    await gw.stop();
    await server.stop();
  }
});

/** Fills `queue`'s dead letters with `n` messages of about `size` bytes (pipelined). */
async function deadLetters(client, queue, n, size = 200) {
  const pad = "p".repeat(size);
  for (let i = 0; i < n; i += 2000) {
    const multi = client.multi();
    for (let j = i; j < Math.min(n, i + 2000); j++) {
      const m = dict(queue, "dead", [pad], { message_id: `dead-${j}`, options: { redis_message_id: `rid-${j}` } });
      multi.zAdd(`dramatiq:${queue}.XQ`, { score: Date.now() + j, value: `rid-${j}` });
      multi.hSet(`dramatiq:${queue}.XQ.msgs`, `rid-${j}`, JSON.stringify(m));
    }
    await multi.exec();
  }
}

test("viewers that stop reading are dropped by the write deadline in every phase, the snapshot included", { skip, timeout: 120_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await gateway(server.url, { writeTimeoutMs: 2000, events: { intervalMs: 200 } });
  const http = await listen(gw.app);
  const sockets = [];
  try {
    await deadLetters(client, "q", 10_000, 2000); // a snapshot of ~20 MB: more than any socket buffers
    await gw.app.poller.tick();
    const { port } = new URL(http.url);
    for (let i = 0; i < 20; i++) {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((r) => socket.once("connect", r));
      socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      socket.pause(); // and never reads
      sockets.push(socket);
    }
    const status = async () => (await (await fetch(`${http.url}/api/status`)).json()).events.watchers;
    let most = 0;
    for (const deadline = Date.now() + 20_000; most < 20 && Date.now() < deadline;) most = Math.max(most, await status());
    assert.ok(most > 0, "they were watching");
    const connections = () => new Promise((r) => http.server.getConnections((_, n) => r(n)));
    const until = Date.now() + 15_000;
    while (((await status()) > 0 || (await connections()) > 2) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await status(), 0, "every stalled viewer is dropped within the deadline (before: all still open after 45 s)");
    assert.ok((await connections()) <= 2, "and its connection closed");
    // The viewers see their connections reset once they read again, the snapshot unfinished.
    const ends = sockets.map((s) => new Promise((r) => {
      s.once("close", () => r(s.bytesRead));
      s.resume();
    }));
    const read = await Promise.race([Promise.all(ends), new Promise((r) => setTimeout(() => r(null), 15_000))]);
    assert.ok(read, "the viewers' connections end");
    assert.ok(read.every((n) => n < gw.app.poller.snapshot().chunks.reduce((a, c) => a + c.length, 0)), "before the whole snapshot was sent");
  } finally {
    for (const s of sockets) s.destroy();
    await http.close();
    await gw.close();
    await client.quit();
    await server.stop();
  }
});

test("a crowd: 500 viewers of 20 000 dead letters leave the API answering", { skip, timeout: 240_000 }, async () => {
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await startGatewayBin(["--redis", server.url]);
  const crowds = [];
  try {
    await deadLetters(client, "q", 20_000);
    // The poller has read them.
    const first = await openEvents(`${gw.url}/api/events`);
    await first.until((e) => e.event === "snapshot" && e.id !== null || e.event === "ready", 60_000);
    first.close();
    // The crowd runs in a process of its own, so this one measures the gateway, not itself.
    const crowd = spawn(process.execPath, ["--input-type=module", "-e", `
      const viewers = [];
      for (let i = 0; i < 500; i++) {
        viewers.push(fetch(${JSON.stringify(`${gw.url}/api/events`)}).then(async (res) => {
          for await (const chunk of res.body) {}
        }).catch(() => {}));
      }
      process.stdout.write("started\\n");
      await Promise.all(viewers);
    `], { stdio: ["ignore", "pipe", "inherit"] });
    crowds.push(crowd);
    await new Promise((resolve) => crowd.stdout.once("data", resolve));
    const latencies = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const res = await fetch(`${gw.url}/api/queues`);
      assert.equal(res.status, 200);
      await res.json();
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 200));
    }
    const rss = await rssOf(gw.child.pid);
    console.log(`# /api/queues under 500 viewers of 20 000 dead letters: ${latencies.map((l) => l.toFixed(0)).join(", ")} ms; gateway RSS ${(rss / 1e6).toFixed(0)} MB`);
    // Before: /api/queues timed out (10 s) for the whole storm and RSS reached 1.9 GB.
    // A generous bound (the machine is shared): bench/ has the figures.
    assert.ok(Math.max(...latencies) < 5000, `slowest /api/queues ${Math.max(...latencies)} ms`);
    assert.ok(rss < 1.2e9, `RSS ${rss}`);
  } finally {
    for (const c of crowds) c.kill("SIGKILL");
    await gw.stop();
    await client.quit();
    await server.stop();
  }
});

/** The resident set size of process `pid` (bytes), from /proc. */
async function rssOf(pid) {
  const { readFileSync } = await import("node:fs");
  let total = 0;
  // `serve` runs in the bin's process (no npx here): its RSS.
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  return total;
}

test("the page: the token never goes to another origin unasked, hostile numbers render as text, the CSP holds", { skip: skip || (!chromiumPath && "chromium is not installed (scripts/setup --browser)"), timeout: 180_000 }, async (t) => {
  const TOKEN = "hardening-token-0123456789abcdef";
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  const gw = await startGatewayBin(["--redis", server.url, "--token", TOKEN, "--poll-interval", "200"]);
  // The "attacker": records every request's Authorization, answers CORS preflights with yes.
  const seen = [];
  const attacker = createServer((req, res) => {
    seen.push({ method: req.method, authorization: req.headers.authorization ?? null });
    res.writeHead(req.method === "OPTIONS" ? 204 : 200, {
      "access-control-allow-origin": "*",
      "access-control-allow-headers": "authorization, last-event-id, accept",
      "content-type": "text/event-stream",
    });
    res.end();
  });
  await new Promise((r) => attacker.listen(0, "127.0.0.1", r));
  const evil = `http://localhost:${attacker.address().port}`; // another origin than the gateway's 127.0.0.1
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error" && !/^Failed to load resource|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_INVALID_CHUNKED|the gateway/.test(m.text())) errors.push(m.text());
    });
    const dialogs = [];
    let answer = false;
    page.on("dialog", async (d) => {
      dialogs.push(d.message());
      await (answer ? d.accept() : d.dismiss());
    });
    await page.goto(`${gw.url}/`);
    await page.waitForFunction(() => window.loaded);
    await page.evaluate((token) => sessionStorage.setItem("dramatiq-results:token", token), TOKEN);

    await t.test("its own gateway gets the token, and hostile numbers are text", async () => {
      const broker = new HandBroker(client);
      await broker.enqueue(dict("q", "add", [], { message_id: "far-future", options: { eta: 1e20 } }), { delay: 1 });
      await client.hSet("dramatiq:q.DQ.msgs", (await client.lRange("dramatiq:q.DQ", 0, 0))[0],
        JSON.stringify(dict("q.DQ", "add", [], { message_id: "far-future", message_timestamp: -1e300, options: { eta: 1e20 } })));
      await broker.enqueue(dict("q", "add", [], { message_id: "plain-one" }));
      await page.reload();
      await page.waitForFunction(() => window.loaded);
      await page.waitForFunction(() => window.dashboard.deployment?.stream.records.size >= 2, null, { timeout: 20_000 });
      await page.getByLabel("Find").fill("far-future");
      const cell = page.locator('#flow-rows .vrow[data-message-id="far-future"]:not([hidden]) .result');
      await cell.waitFor({ timeout: 10_000 });
      assert.equal(await cell.textContent(), "until 100000000000000000000");
      await page.getByLabel("Find").fill("plain-one");
      await page.locator('#flow-rows .vrow[data-message-id="plain-one"]:not([hidden])').waitFor({ timeout: 10_000 });
      assert.deepEqual(errors, [], "no RangeError: Invalid time value (before: search stopped filtering)");
      assert.deepEqual(dialogs, [], "its own origin needs no confirmation");
    });

    await t.test("?gateway=<another origin>: the token is sent only after a confirmation naming it", async () => {
      seen.length = 0;
      await page.goto(`${gw.url}/?source=deployment&gateway=${encodeURIComponent(evil)}`);
      await page.waitForFunction(() => window.loaded);
      await page.waitForFunction(() => window.dashboard.deployment?.stream.stats.connects >= 0);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(dialogs.length, 1, "asked once");
      assert.match(dialogs[0], new RegExp(`Send your gateway token to ${evil.replace(/[.]/g, "\\.")}`));
      assert.ok(seen.length > 0, "the page did read from the other origin");
      assert.ok(seen.every((r) => r.authorization === null), `no token sent when refused (before: Bearer ${TOKEN})`);

      // And with the user's yes, it is (the test can fail).
      answer = true;
      seen.length = 0;
      await page.goto(`${gw.url}/?source=http&endpoint=${encodeURIComponent(`${evil}/kv`)}`);
      await page.waitForFunction(() => window.loaded);
      await page.locator("#watch-input").fill("q add 0b4e1c2a-9f3d-4c1e-8a77-5d2f0c9e6b11");
      await page.getByRole("button", { name: "Watch" }).click();
      const until = Date.now() + 10_000;
      while (!seen.some((r) => r.method === "GET") && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      assert.equal(dialogs.length, 2);
      assert.ok(seen.some((r) => r.authorization === `Bearer ${TOKEN}`), "sent once agreed");
    });

    await t.test("the page runs under its Content-Security-Policy", async () => {
      const res = await page.goto(`${gw.url}/`);
      assert.match(res.headers()["content-security-policy"], /script-src/);
      await page.waitForFunction(() => window.loaded);
      await page.waitForFunction(() => /live$/.test(document.querySelector("#source-status").textContent), null, { timeout: 20_000 });
      assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused/.test(e)), []);
    });
  } finally {
    await browser.close();
    await new Promise((r) => attacker.close(r));
    await gw.stop();
    await client.quit();
    await server.stop();
  }
});
