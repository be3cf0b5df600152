// Randomized differential tests against the real Python Dramatiq 2.2.1, each side's output
// compared byte for byte: random messages (names, nested values, big integers, float edges,
// unicode, options, delays) re-encoded, and enqueued by Python's RedisBroker and
// RabbitmqBroker and by ours (the Redis keys, lists, hashes and heartbeats; RabbitMQ's
// queues, declare arguments, bodies and properties); random pipelines and groups with
// completion callbacks run by both (the Redis state, barriers included); random results and
// exceptions stored by Python's worker and by ours, and read back by both; and mutated
// bodies run by both workers over RabbitMQ, whose outcomes (ran, where the body is left)
// must match or differ as docs/python-users.md says.
// Seeded: FUZZ_SEED=<n> reproduces a run, FUZZ_CASES=<n> sets its size (default 150; the
// pipelines and groups take a third, the decoding FUZZ_DECODE_CASES, default 40, in batches
// of 50 queues). The long run: FUZZ_CASES=20000 FUZZ_DECODE_CASES=1000 node --test
// tests/js/diff-fuzz.test.mjs (~30 min). A failure names the seed and the case.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import amqplib from "amqplib";
import { createClient } from "redis";
import {
  CurrentMessage, GroupCallbacks, JSONEncoder, Message, RabbitmqBroker, RedisBackend, RedisBroker, RedisRateLimiterBackend, ResultFailure, Results,
  Worker, actor, defaultMiddleware, group, pipeline,
} from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { drawLoneSurrogates, mutatedBody, randomDelay, randomMessage, randomString, randomValue, rng } from "./diff-fuzz-gen.mjs";
import { sleep } from "./helpers.mjs";

const CASES = Number(process.env.FUZZ_CASES ?? 150);
// Decoding cases each take a queue of their own in one run of each worker: fewer.
const DECODE_CASES = Number(process.env.FUZZ_DECODE_CASES ?? Math.min(CASES, 40));
const COMPOSE_CASES = Number(process.env.FUZZ_COMPOSE_CASES ?? Math.ceil(CASES / 3));
// Long runs give the Python scripts time in proportion.
const PY_TIMEOUT = Math.max(60_000, CASES * 30);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const quiet = { warn() {}, error() {}, info() {}, debug() {} };
const text = (bytes) => new TextDecoder().decode(bytes);
const encoder = new JSONEncoder();

/** `count` random enqueue cases: `{ id, message (Python JSON text), delay (token or
 * undefined), path }`; `path` says how the JS side builds its Message: "decode" (from the
 * bytes, exactly) or "fields" (from the JS values, so the documented reading applies). */
function cases(seed, count, options) {
  const next = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const id = `fz-${seed}-${i}`;
    drawLoneSurrogates(next.chance(0.3));
    return { id, message: randomMessage(next, id, options), delay: randomDelay(next), path: next.chance(0.5) ? "decode" : "fields" };
  });
}

const pyLine = (c) => `{"message":${c.message}${c.delay === undefined ? "" : `,"delay":${c.delay}`}}`;

/** The JS side's Message for a case (or the error building it). */
function jsMessage(c) {
  const decoded = Message.decode(c.message);
  if (c.path === "decode") return decoded;
  return new Message({
    queueName: decoded.queueName, actorName: decoded.actorName, args: decoded.args, kwargs: decoded.kwargs,
    options: decoded.options, messageId: decoded.messageId, messageTimestamp: decoded.messageTimestamp,
  });
}

/** `delay` as JS passes it: the same number (a Python float that is integral, `2.5e3`, is
 * the JS number 2500: that call cannot be written in JS, see `etaKind`). */
const jsDelay = (c) => (c.delay === undefined ? undefined : Number(c.delay));

/** The eta Python writes for this delay is a float unless the delay token is an int. */
const pyFloatDelay = (token) => /[.eE]/.test(token);

const ETA = /"eta":(-?[0-9][0-9.eE+-]*)/;

/**
 * A body with what legitimately differs between two enqueues replaced: the
 * `redis_message_id` (a fresh UUID each time) and, after a delay, the `eta` (the clock's
 * now + delay; checked here to be within the run's time, and its form: int or float and the
 * fraction's digits). `notes` collects what was checked.
 */
function normalizeBody(body, c, rmid, window) {
  let out = rmid ? body.split(rmid).join("<rmid>") : body;
  if (c.delay !== undefined) {
    const m = ETA.exec(out);
    assert.ok(m, `no eta in ${out}`);
    const eta = Number(m[1]);
    const delay = Number(c.delay);
    assert.ok(eta >= window[0] + delay - 1 && eta <= window[1] + delay + 1, `eta ${m[1]} not within the run (delay ${c.delay})`);
    const kind = /[.eE]/.test(m[1]) ? `float${m[1].slice(m[1].indexOf("."))}` : "int";
    out = out.replace(ETA, `"eta":<eta>`);
    return { body: out, etaKind: kind };
  }
  return { body: out, etaKind: null };
}

/** The top-level message_id of an encoded message (the last one: options come first). */
const messageIdOf = (body) => [...body.matchAll(/"message_id":"([^"\\]*)"/g)].at(-1)?.[1];

function describeCase(c) {
  return `seed ${SEED}, case ${c.id} (${c.path}, delay ${c.delay}): ${c.message}`;
}

/**
 * Compares one case's JS body with Python's: exact bytes for "decode", Python's bytes or
 * their documented JS reading for "fields". An eta whose form differs only because the
 * delay was an integral Python float (which JS cannot write) is accepted.
 */
function compareBody(c, py, js) {
  const why = describeCase(c);
  // The eta's form (int, or float and its fraction's digits), judged on its own.
  if (c.delay !== undefined && py.etaKind !== js.etaKind) {
    const inexpressible = pyFloatDelay(c.delay) && Number.isInteger(Number(c.delay));
    assert.ok(inexpressible, `eta ${js.etaKind} where Python writes ${py.etaKind}: ${why}`);
  }
  const expected = c.path === "decode" ? [py.ok] : [py.ok, py.view];
  // A timestamp Python wrote as an integral float (`1.7e12`, `-0.0`) is, given as a JS
  // number to `new Message`, that integer: the same inexpressible case as the eta's.
  const ts = /"message_timestamp":(-?[0-9][0-9.eE+-]*)\}$/.exec(py.ok ?? "")?.[1];
  if (c.path === "fields" && ts && pyFloatDelay(ts) && Number.isInteger(Number(ts))) {
    const asJs = (body) => body?.replace(/"message_timestamp":[^}]*\}$/, `"message_timestamp":${Math.trunc(Number(ts)) || 0}}`);
    expected.push(...expected.map(asJs));
  }
  if (expected.includes(js.body)) return;
  assert.fail(`body differs: ${why}\n python: ${py.ok}\n     js: ${js.body}${c.path === "fields" ? `\n   view: ${py.view}` : ""}`);
}

describe("diff-fuzz", { skip: !havePython && "no Python venv (scripts/setup --python)", timeout: Math.max(600_000, CASES * 300) }, () => {
  test(`Message.decode(…).encode(): Python's bytes (seed ${SEED}, ${CASES * 2} cases)`, async () => {
    const all = [...cases(SEED, CASES), ...cases(SEED + 1, CASES, { amqp: true })];
    const py = (await runPython("diff_fuzz.py", ["reencode"], { input: all.map((c) => JSON.stringify(c.message)).join("\n"), timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
    all.forEach((c, i) => {
      let js;
      try {
        js = { ok: text(jsMessage(c).encode()) };
      } catch (e) {
        js = { error: e.name };
      }
      if (py[i].error || js.error) {
        assert.equal(Boolean(js.error), Boolean(py[i].error), `${describeCase(c)}\n python: ${JSON.stringify(py[i])}\n js: ${JSON.stringify(js)}`);
        return;
      }
      compareBody(c, { ...py[i], etaKind: null }, { body: js.ok, etaKind: null });
    });
  });

  describe("RedisBroker", { skip: !haveRedis && "no redis-server" }, () => {
    let server;
    let client;
    before(async () => {
      server = await startRedis();
      client = await createClient({ url: `${server.url}/2` }).connect();
    });
    after(async () => {
      await client?.quit();
      await server?.stop();
    });

    test(`enqueue: the same keys, bodies, lists and heartbeats as Python's RedisBroker (seed ${SEED}, ${CASES} cases)`, async () => {
      const all = cases(SEED + 2, CASES);
      await client.flushAll();
      const window = [Date.now()];
      const py = (await runPython("diff_fuzz.py", ["enqueue"], { broker: "redis", url: `${server.url}/1`, input: all.map(pyLine).join("\n"), timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
      // Maintenance runs at random: off, as on the Python side.
      const broker = new RedisBroker(client, { logger: quiet, maintenanceChance: 0 });
      const js = [];
      for (const c of all) {
        try {
          js.push({ ok: text((await broker.enqueue(jsMessage(c), { delay: jsDelay(c) })).encode()) });
        } catch (e) {
          js.push({ error: `${e.name}: ${e.message}` });
        }
      }
      window.push(Date.now());
      const [pyState] = (await runPython("diff_fuzz.py", ["dump", `${server.url}/1`], { timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
      const [jsState] = (await runPython("diff_fuzz.py", ["dump", `${server.url}/2`], { timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
      compareRedis(all, py, js, pyState, jsState, window);
    });
  });

  describe("RedisBroker: pipelines and groups", { skip: !haveRedis && "no redis-server" }, () => {
    let server;
    let client;
    before(async () => {
      server = await startRedis();
      client = await createClient({ url: `${server.url}/2` }).connect();
    });
    after(async () => {
      await client?.quit();
      await server?.stop();
    });

    test(`pipeline(…).run() and group(…).run() with completion callbacks: the same Redis state as Python's (seed ${SEED}, ${COMPOSE_CASES} cases)`, async () => {
      const next = rng(SEED + 6);
      const all = Array.from({ length: COMPOSE_CASES }, (_, i) => {
        let n = 0;
        drawLoneSurrogates(next.chance(0.3));
        const m = () => randomMessage(next, `fc-${SEED}-${i}-${n++}`);
        const kind = next.chance(0.4) ? "pipeline" : "group";
        const children = kind === "pipeline"
          ? Array.from({ length: 1 + next.int(4) }, m)
          : Array.from({ length: 1 + next.int(4) }, () => (next.chance(0.3) ? Array.from({ length: 1 + next.int(3) }, m) : m()));
        const callbacks = kind === "group" && next.chance(0.6) ? Array.from({ length: 1 + next.int(2) }, m) : [];
        const delay = next.chance(0.3) ? next.pick(["0", "1000", "2.5"]) : undefined;
        return { kind, children, callbacks, delay };
      });
      const line = (c) => `{"kind":"${c.kind}","children":[${c.children.map((x) => (Array.isArray(x) ? `[${x.join(",")}]` : x)).join(",")}],"callbacks":[${c.callbacks.join(",")}]${c.delay === undefined ? "" : `,"delay":${c.delay}`}}`;
      await client.flushAll();
      const window = [Date.now()];
      const py = (await runPython("diff_fuzz.py", ["compose"], { url: `${server.url}/1`, input: all.map(line).join("\n"), timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
      const broker = new RedisBroker(client, {
        logger: quiet, maintenanceChance: 0,
        middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) })],
      });
      const js = [];
      for (const c of all) {
        const build = (x) => (Array.isArray(x) ? pipeline(x.map((t) => Message.decode(t)), { broker }) : Message.decode(x));
        const delay = c.delay === undefined ? undefined : Number(c.delay);
        try {
          if (c.kind === "pipeline") {
            const p = pipeline(c.children.map((t) => Message.decode(t)), { broker });
            p.run({ delay });
            await p.enqueued;
          } else {
            const g = group(c.children.map(build), { broker });
            for (const cb of c.callbacks) g.addCompletionCallback(Message.decode(cb));
            g.run({ delay });
            await g.enqueued;
          }
          js.push({ ok: true });
        } catch (e) {
          js.push({ error: `${e.name}: ${e.message}` });
        }
      }
      window.push(Date.now());
      all.forEach((c, i) => assert.equal(Boolean(js[i].error), Boolean(py[i].error), `seed ${SEED}: ${line(c)}\n python: ${JSON.stringify(py[i])}\n js: ${JSON.stringify(js[i])}`));
      const [pyState] = (await runPython("diff_fuzz.py", ["dump", `${server.url}/1`], { timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
      const [jsState] = (await runPython("diff_fuzz.py", ["dump", `${server.url}/2`], { timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
      const [pyMasked, jsMasked] = [maskComposed(pyState, window), maskComposed(jsState, window)];
      assert.deepEqual(Object.keys(jsMasked).sort(), Object.keys(pyMasked).sort(), `seed ${SEED}: the same keys`);
      for (const key of Object.keys(pyMasked)) assert.deepEqual(jsMasked[key], pyMasked[key], `seed ${SEED}: key ${key}`);
    });
  });

  describe("results: Python's worker and ours", { skip: !haveRedis && "no redis-server" }, () => {
    let server;
    let client;
    before(async () => {
      server = await startRedis();
      client = await createClient({ url: `${server.url}/2` }).connect();
    });
    after(async () => {
      await client?.quit();
      await server?.stop();
    });

    /** Random `fz_echo(value)` and `fz_raise(type, msg)` messages on queue `fz`. */
    function resultCases(seed, count) {
      const next = rng(seed);
      return Array.from({ length: count }, (_, i) => {
        const id = `fr-${seed}-${i}`;
        const raise = next.chance(0.25);
        drawLoneSurrogates(next.chance(0.3));
        const type = next.chance(0.5) ? next.pick(["ValueError", "AppError", "E", "Ünï✓Error", "_"]) : `E${randomString(next, 6).replaceAll("\0", "0")}`; // (Python refuses NUL in a class name)
        const args = raise ? `[${JSON.stringify(type)},${JSON.stringify(randomString(next, 20, { lone: true }))}]` : `[${randomValue(next)}]`;
        const message = `{"queue_name":"fz","actor_name":"${raise ? "fz_raise" : "fz_echo"}","args":${args},"kwargs":{},"options":{},"message_id":"${id}","message_timestamp":1700000000000}`;
        return { id, raise, message, path: "decode" };
      });
    }

    /** Resolves once every case's result is stored in db `db` (read through `backend`). */
    async function allStored(backend, all) {
      for (const c of all) {
        try {
          await backend.getResult(Message.decode(c.message), { block: true, timeout: 60_000 });
        } catch (e) {
          if (!(e instanceof ResultFailure)) throw e;
        }
      }
    }

    /** JS's reading of one result: `{ value: Python JSON text }` or `{ failure: [type, msg] }`. */
    async function jsRead(backend, c) {
      try {
        return { value: text(encoder.encode(await backend.getResult(Message.decode(c.message)))) };
      } catch (e) {
        if (e instanceof ResultFailure) return { failure: [e.exceptionType, e.exceptionValue] };
        return { error: `${e.name}: ${e.message}` };
      }
    }

    test(`the same result bytes and keys, each read alike by both (seed ${SEED}, ${CASES} cases)`, async () => {
      const all = resultCases(SEED + 4, CASES);
      await client.flushAll();
      const input = all.map((c) => `{"message":${c.message}}`).join("\n");
      const urls = [`${server.url}/1`, `${server.url}/2`];
      for (const url of urls) await runPython("diff_fuzz.py", ["enqueue"], { url, input, timeout: PY_TIMEOUT });

      // Python's worker on db 1.
      const py = await startPythonWorker({ app: "diff_fuzz_app", url: urls[0], queues: ["fz"], threads: 4 });
      const pyClient = await createClient({ url: urls[0] }).connect();
      try {
        await allStored(new RedisBackend(pyClient), all);
      } finally {
        await py.stop();
      }
      // Ours on db 2.
      const backend = new RedisBackend(client);
      const broker = new RedisBroker(client, { logger: quiet, middleware: [...defaultMiddleware(), new Results({ backend })] });
      actor((value) => value, { broker, actorName: "fz_echo", queueName: "fz", storeResults: true, maxRetries: 0 });
      actor((type, msg) => {
        throw Object.assign(new Error(msg), { name: type });
      }, { broker, actorName: "fz_raise", queueName: "fz", storeResults: true, maxRetries: 0 });
      const worker = new Worker(broker, { concurrency: 4 }).start();
      try {
        await allStored(backend, all);
      } finally {
        await worker.stop();
      }

      const results = async (url) => {
        const [state] = (await runPython("diff_fuzz.py", ["dump", url], { timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
        // Result keys are bare MD5 hex digests (Dramatiq's default keys); the rest is the broker's.
        return Object.fromEntries(Object.entries(state).filter(([k]) => /^[0-9a-f]{32}$/.test(k)));
      };
      const [pyStored, jsStored] = [await results(urls[0]), await results(urls[1])];
      assert.deepEqual(Object.keys(jsStored).sort(), Object.keys(pyStored).sort(), `seed ${SEED}: the same result keys`);
      const keys = Object.keys(pyStored);
      assert.equal(keys.length, all.length, "a result per case");
      const views = (await runPython("diff_fuzz.py", ["view"], { input: keys.map((k) => pyStored[k][1][0]).join("\n"), timeout: PY_TIMEOUT })).map((l) => JSON.parse(l).view);
      keys.forEach((k, n) => {
        const [kind, [bytes], pttl] = pyStored[k];
        const [jsKind, jsValue, jsPttl] = jsStored[k];
        assert.equal(jsKind, kind);
        assert.ok(pttl > 0 && jsPttl > 0 && Math.abs(pttl - jsPttl) < 120_000, `TTLs ${pttl} / ${jsPttl}`);
        assert.equal(jsValue.length, 1, `one element at ${k}`);
        // Our worker's actor got the value as JS reads it, so it stores that reading.
        if (jsValue[0] !== bytes && jsValue[0] !== views[n]) {
          assert.fail(`seed ${SEED}: result ${k} differs\n python: ${bytes}\n     js: ${jsValue[0]}\n   view: ${views[n]}`);
        }
      });

      // The reading side, both ways: what each language reads of each store.
      for (const [db, url] of urls.entries()) {
        const pyReads = (await runPython("diff_fuzz.py", ["read"], { url, input: all.map((c) => {
          const m = Message.decode(c.message);
          return JSON.stringify({ queue_name: m.queueName, actor_name: m.actorName, message_id: m.messageId });
        }).join("\n"), timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
        const readClient = db === 0 ? await createClient({ url }).connect() : client;
        const reader = new RedisBackend(readClient);
        for (const [i, c] of all.entries()) {
          const js = await jsRead(reader, c);
          assert.deepEqual(js, pyReads[i], `seed ${SEED}, db ${db + 1} (${db === 0 ? "Python" : "JS"} stored), ${c.id}: ${c.message}`);
        }
        if (db === 0) await readClient.quit();
      }
      await pyClient.quit();
    });
  });

  describe("RabbitmqBroker", { skip: (!haveRabbitmq || !haveRedis) && "no rabbitmq-server or redis-server" }, () => {
    let rabbit;
    let redis;
    before(async () => {
      [rabbit, redis] = await Promise.all([startRabbitmq(), startRedis()]);
    });
    after(async () => {
      await rabbit?.stop();
      await redis?.stop();
    });

    /** Every queue (its declaration) and every message in it, then the queues deleted. */
    async function takeState(all) {
      const lines = (await rabbit.ctl("list_queues", "name", "durable", "auto_delete", "exclusive", "arguments", "messages_ready"))
        .split("\n").filter((l) => l.trim() !== "");
      // Declaring "" (the queue of a message on ".DQ") makes RabbitMQ name a queue itself.
      const generated = lines.map((l) => l.split("\t")[0]).filter((n) => n.startsWith("amq.gen-"));
      const layout = lines.map((l) => l.replace(/^amq\.gen-[^\t]*/, "amq.gen-<server-named>")).sort();
      const names = new Set([...generated, ...all.flatMap((c) => {
        const q = Message.decode(c.message).queueName;
        const base = q.endsWith(".DQ") || q.endsWith(".XQ") ? q.slice(0, -3) : q;
        return [q, base, `${base}.DQ`, `${base}.XQ`];
      })]);
      const connection = await amqplib.connect(rabbit.url);
      const messages = [];
      try {
        for (const q of names) {
          const ch = await connection.createChannel();
          ch.on("error", () => {});
          try {
            await ch.checkQueue(q);
          } catch {
            continue; // no such queue (the channel closed)
          }
          for (let m; (m = await ch.get(q, { noAck: true })); ) {
            messages.push({ queue: q, exchange: m.fields.exchange, routingKey: m.fields.routingKey, properties: m.properties, body: m.content.toString("latin1") });
          }
          await ch.deleteQueue(q);
          await ch.close();
        }
      } finally {
        await connection.close();
      }
      return { layout, messages };
    }

    /**
     * Puts body i on its own queue `fd<i>` (so one that stalls a consumer stalls only its
     * own), lets `run(queues)` start a worker on them, waits until every queue is empty or
     * nothing has changed for a while (a stalled consumer), stops the worker, and classifies
     * each body: how often `fz_mark` ran for its tag, and where the body is left
     * (`fd<i>`, `.DQ`, `.XQ`, or gone).
     */
    async function decodeOutcomes(bodies, run, redisClient) {
      const queues = bodies.map((_, i) => `fd${i}`);
      const connection = await amqplib.connect(rabbit.url);
      const where = new Map();
      try {
        const ch = await connection.createChannel();
        for (const q of queues) {
          for (const x of [q, `${q}.DQ`, `${q}.XQ`]) await ch.deleteQueue(x);
          await ch.assertQueue(`${q}.XQ`, { durable: true, arguments: { "x-message-ttl": 604800000 } });
          for (const x of [q, `${q}.DQ`]) await ch.assertQueue(x, { durable: true, arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${q}.XQ` } });
        }
        bodies.forEach(({ body }, i) => ch.sendToQueue(queues[i], Buffer.from(body), { deliveryMode: 2 }));
        await ch.close();
        await redisClient.del("fz:runs");
        const stop = await run(queues);
        // Settled: every fd<i> empty, or the same counts for 4 s (Python's consumer restarts
        // 3 s after an error, so a body it stalls on is seen again within that).
        let last = "";
        let since = Date.now();
        for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
          const counts = await rabbit.counts("fd");
          const busy = queues.filter((q) => (counts[q]?.[0] ?? 0) + (counts[q]?.[1] ?? 0) > 0);
          const now = JSON.stringify(counts);
          if (now !== last) [last, since] = [now, Date.now()];
          if (busy.length === 0 ? Date.now() - since > 500 : Date.now() - since > 4000) break;
          await sleep(250);
        }
        await stop();
        const c = await connection.createChannel();
        for (const q of queues) {
          for (const x of [q, `${q}.DQ`, `${q}.XQ`]) {
            for (let m; (m = await c.get(x, { noAck: true })); ) where.set(m.content.toString("latin1"), x.replace(/^fd\d+/, "fd"));
          }
        }
        await c.close();
      } finally {
        await connection.close();
      }
      const runs = await redisClient.lRange("fz:runs", 0, -1);
      return bodies.map(({ tag }) => {
        const left = [...where].filter(([body]) => body.includes(tag)).map(([, q]) => q);
        return { ran: runs.filter((r) => r.includes(tag)).length, left: left.join(",") || "gone" };
      });
    }

    test(`decoding: mutated bodies have the same outcome under Python's worker and ours (seed ${SEED}, ${DECODE_CASES} cases)`, async () => {
      const next = rng(SEED + 5);
      // In batches of 50 queues: one run of each worker per batch.
      const BATCH = 50;
      const bodies = Array.from({ length: DECODE_CASES }, (_, i) => {
        const tag = `fdtag-${SEED}-${i}-`;
        return { tag, ...mutatedBody(next, tag, `fd${i % BATCH}`) };
      });
      const redisClient = await createClient({ url: redis.url }).connect();
      const failures = [];
      const accepted = new Map();
      try {
        for (let from = 0; from < bodies.length; from += BATCH) {
          const batch = bodies.slice(from, from + BATCH);
          const py = await decodeOutcomes(batch, async (queues) => {
            const worker = await startPythonWorker({
              app: "diff_fuzz_app", broker: "rabbitmq", url: rabbit.url, resultsUrl: redis.url, queues,
              // A thread per body and more: a body whose queue_name is another queue's kills
              // the worker thread that takes it, and with none left nothing else would run.
              threads: queues.length + 4,
              env: { FD_QUEUES: String(queues.length) },
            });
            // A Python worker may hang in its shutdown after some bodies (seen once in 1000:
            // its main thread waiting on a connection for ever): SIGKILL after 30 s.
            return () => Promise.race([worker.stop(), sleep(30_000).then(() => worker.kill())]);
          }, redisClient);
          const js = await decodeOutcomes(batch, async (queues) => {
            const broker = await RabbitmqBroker.connect(rabbit.url, { logger: quiet, middleware: [...defaultMiddleware(), new CurrentMessage(), new Results({ backend: new RedisBackend(redisClient) })] });
            const mark = async (...args) => {
              const m = CurrentMessage.getCurrentMessage();
              const options = m.options && typeof m.options === "object" ? m.options : {};
              await redisClient.rPush("fz:runs", JSON.stringify([String(m.messageId), text(encoder.encode(args)), String(options.fz_tag)]));
            };
            actor(mark, { broker, actorName: "fz_mark", queueName: "fd", maxRetries: 0 });
            actor((v) => v, { broker, actorName: "fz_echo", queueName: "fz", storeResults: true, maxRetries: 0 });
            for (const q of queues) broker.declareQueue(q);
            const worker = new Worker(broker, { concurrency: 4, queues }).start();
            return async () => {
              await worker.stop();
              await broker.close();
            };
          }, redisClient);
          batch.forEach((b, i) => {
            const d = { ...b, py: py[i], js: js[i] };
            if (d.py.ran === d.js.ran && d.py.left === d.js.left) return;
            const why = deliberate(d);
            if (why) accepted.set(why, (accepted.get(why) ?? 0) + 1);
            else failures.push(`${d.what.join("; ")}: python ${JSON.stringify(d.py)}, js ${JSON.stringify(d.js)}\n    ${d.body}`);
          });
        }
      } finally {
        await redisClient.quit();
      }
      const differ = [...accepted.values()].reduce((a, b) => a + b, 0) + failures.length;
      console.log(`# decoding (seed ${SEED}): ${bodies.length - differ} alike, ${JSON.stringify(Object.fromEntries(accepted))} differ as documented, ${failures.length} otherwise`);
      assert.deepEqual(failures, [], `seed ${SEED}`);
    });

    test(`enqueue: the same queues, declarations, bodies and properties as Python's RabbitmqBroker (seed ${SEED}, ${CASES} cases)`, async () => {
      const all = cases(SEED + 3, CASES, { amqp: true });
      const window = [Date.now()];
      const py = (await runPython("diff_fuzz.py", ["enqueue"], { broker: "rabbitmq", url: rabbit.url, resultsUrl: redis.url, input: all.map(pyLine).join("\n"), timeout: PY_TIMEOUT })).map((l) => JSON.parse(l));
      const pyState = await takeState(all);
      const broker = await RabbitmqBroker.connect(rabbit.url, { logger: quiet });
      const js = [];
      try {
        for (const c of all) {
          try {
            js.push({ ok: text((await broker.enqueue(jsMessage(c), { delay: jsDelay(c) })).encode()) });
          } catch (e) {
            js.push({ error: `${e.name}: ${e.message}` });
          }
        }
      } finally {
        await broker.close();
      }
      window.push(Date.now());
      const jsState = await takeState(all);
      all.forEach((c, i) => {
        assert.equal(Boolean(js[i].error), Boolean(py[i].error), `${describeCase(c)}\n python: ${JSON.stringify(py[i])}\n js: ${JSON.stringify(js[i])}`);
      });
      assert.deepEqual(jsState.layout, pyState.layout, `seed ${SEED}: the queues and their declarations`);
      assert.equal(jsState.messages.length, pyState.messages.length, `seed ${SEED}: as many messages`);
      const byId = new Map(all.map((c, i) => [c.id, i]));
      pyState.messages.forEach((p, n) => {
        const j = jsState.messages[n];
        const id = messageIdOf(p.body);
        const i = byId.get(id);
        const c = all[i];
        assert.equal(messageIdOf(j.body), id, `seed ${SEED}: message ${n} in the same order`);
        const { body: pyStored, etaKind } = normalizeBody(p.body, c, null, window);
        assert.equal(pyStored, normalizeBody(py[i].ok, c, null, window).body, "Python's published body is its encode()");
        compareBody(c, { ok: pyStored, view: normalizeBody(py[i].view, c, null, window).body, etaKind }, normalizeBody(j.body, c, null, window));
        const { body: _pb, ...pyRest } = p;
        const { body: _jb, ...jsRest } = j;
        // amqplib's publish always writes a headers table, empty here; pika writes none.
        // No consumer tells them apart (noted in the report of session 13's diff-fuzz).
        if (jsRest.properties.headers && Object.keys(jsRest.properties.headers).length === 0 && pyRest.properties.headers === undefined) {
          jsRest.properties = { ...jsRest.properties, headers: undefined };
        }
        assert.deepEqual(jsRest, pyRest, `seed ${SEED}: queue, routing and properties of ${describeCase(c)}`);
      });
    });
  });
});

/**
 * Why a decoding case's outcomes may differ, as docs/python-users.md says ("A body that is
 * not a message"), or null. Our worker dead-letters (`.XQ`, never run) a body whose fields
 * do not have a message's types (a queue or actor name, or message_id, that is no string,
 * `args` no array, `kwargs` / `options` no object, a timestamp no number within 64 bits), which Python's
 * `Message.decode` builds anyway: its worker then runs it (`args: "ab"` as `("a", "b")`) or
 * stalls the queue (a consumer or worker thread dies on it and restarts for ever). A message
 * whose `queue_name` is not the queue it was taken from stalls Python's worker (its worker
 * thread dies on a KeyError); ours runs it.
 */
function deliberate({ body, py, js }, queue) {
  let dict;
  try {
    dict = JSON.parse(body);
  } catch {
    return null;
  }
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const ts = dict.message_timestamp;
  const typed = typeof dict.queue_name === "string" && typeof dict.actor_name === "string" && Array.isArray(dict.args)
    && isObject(dict.kwargs) && isObject(dict.options) && (dict.message_id === undefined || typeof dict.message_id === "string")
    && (ts === undefined || ts === null || (typeof ts === "number" && Math.abs(ts) < 9.2e18));
  const pyStalls = py.left === "fd";
  if (!typed && js.ran === 0 && js.left === "fd.XQ" && (pyStalls || py.ran > 0 || py.left === "gone")) return "ill-typed field: dead-lettered here";
  if (typed && pyStalls && typeof dict.queue_name === "string" && !/^fd\d+$/.test(dict.queue_name)) return "another queue's name: Python stalls";
  return null;
}

/**
 * A Redis dump with what differs between two runs masked: each `redis_message_id` (named by
 * its message's id), the heartbeat, etas within the run (their form kept: int or float), and
 * every other UUID (a group's barrier) numbered in order of first appearance.
 */
function maskComposed(state, window) {
  const rmids = new Map();
  for (const [key, [kind, value]] of Object.entries(state)) {
    if (kind === "hash" && key.endsWith(".msgs")) for (const [field, body] of Object.entries(value)) rmids.set(field, messageIdOf(body));
  }
  const uuids = new Map();
  const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  // Numbered in the order they appear in the bodies, taken in message-id order (the
  // random UUIDs themselves order the keys differently on each run).
  const bodies = Object.values(state).filter(([kind]) => kind === "hash").flatMap(([, value]) => Object.values(value));
  bodies.sort((a, b) => (messageIdOf(a) < messageIdOf(b) ? -1 : 1));
  for (const body of bodies) {
    for (const [u] of body.matchAll(UUID)) if (!rmids.has(u) && !uuids.has(u)) uuids.set(u, `<uuid#${uuids.size}>`);
  }
  const mask = (s) => {
    let out = s;
    for (const [rmid, id] of rmids) out = out.split(rmid).join(`<rmid:${id}>`);
    out = out.replace(/"eta":(-?[0-9][0-9.eE+-]*)/g, (all, token) => {
      const eta = Number(token);
      return eta >= window[0] - 1 && eta <= window[1] + 10_000 ? `"eta":<${/[.eE]/.test(token) ? `float${token.slice(token.indexOf("."))}` : "int"}>` : all;
    });
    return out.replace(UUID, (u) => {
      if (!uuids.has(u)) uuids.set(u, `<uuid#${uuids.size}>`);
      return uuids.get(u);
    });
  };
  const out = {};
  for (const key of Object.keys(state).sort()) {
    const [kind, value, pttl] = state[key];
    if (key.endsWith(":__heartbeats__")) {
      out[key] = [kind, value.length];
      continue;
    }
    const v = kind === "hash"
      ? Object.fromEntries(Object.entries(value).map(([f, b]) => [mask(f), mask(b)]).sort(([a], [b]) => (a < b ? -1 : 1)))
      : JSON.parse(mask(JSON.stringify(value)));
    // A barrier's TTL (a day) ticks: only whether there is one.
    out[mask(key)] = [kind, v, pttl > 0 ? "ttl" : pttl];
  }
  return out;
}

/** Each side's state with its UUIDs and clock values masked, bodies checked one by one. */
function compareRedis(all, py, js, pyState, jsState, window) {
  const byId = new Map(all.map((c, i) => [c.id, i]));
  all.forEach((c, i) => {
    if (py[i].error || js[i].error) {
      assert.equal(Boolean(js[i].error), Boolean(py[i].error), `${describeCase(c)}\n python: ${JSON.stringify(py[i])}\n js: ${JSON.stringify(js[i])}`);
    }
  });
  const pyRmids = new Map();
  const mask = (state, bodies, rmidOf = new Map()) => {
    const rmids = new Map();
    const heartbeats = Object.entries(state).find(([k]) => k.endsWith(":__heartbeats__"));
    const worker = heartbeats?.[1][1][0]?.[0];
    for (const [key, [kind, value]] of Object.entries(state)) {
      if (kind === "hash" && key.endsWith(".msgs")) {
        for (const [field, body] of Object.entries(value)) {
          rmids.set(field, messageIdOf(body));
          rmidOf.set(messageIdOf(body), field);
        }
      }
    }
    const name = (s) => {
      let out = s;
      for (const [rmid, id] of rmids) out = out.split(rmid).join(`<rmid:${id}>`);
      return worker ? out.split(worker).join("<worker>") : out;
    };
    const masked = {};
    for (const [key, [kind, value, pttl]] of Object.entries(state)) {
      let v;
      if (kind === "hash") {
        v = {};
        for (const [field, body] of Object.entries(value)) {
          const id = rmids.get(field);
          const c = all[byId.get(id)];
          assert.ok(c, `a body of no case: ${body}`);
          bodies.set(id, normalizeBody(body, c, field, window));
          v[name(field)] = `<body:${id}>`;
        }
      } else if (kind === "zset" && key.endsWith(":__heartbeats__")) {
        for (const [, score] of value) assert.ok(score >= window[0] - 1000 && score <= window[1] + 1000, `heartbeat ${score} not within the run`);
        v = value.map(([m]) => [name(m), "<now>"]);
      } else {
        v = JSON.parse(name(JSON.stringify(value)));
      }
      masked[name(key)] = [kind, v, pttl];
    }
    return masked;
  };
  const pyBodies = new Map();
  const jsBodies = new Map();
  const pyMasked = mask(pyState, pyBodies, pyRmids);
  const jsMasked = mask(jsState, jsBodies);
  // Every body first (the most telling difference), then the layout around them.
  all.forEach((c, i) => {
    if (py[i].error) return;
    const pyBody = pyBodies.get(c.id);
    assert.ok(pyBody, `Python's body for ${c.id} is not in Redis`);
    const jsBody = jsBodies.get(c.id);
    assert.ok(jsBody, `no JS body for ${describeCase(c)}`);
    // Python's own output for this case, masked as its stored body was.
    const rmid = pyRmids.get(c.id);
    const ok = normalizeBody(py[i].ok, c, rmid, window);
    assert.equal(pyBody.body, ok.body, "Python's stored body is its encode()");
    const view = normalizeBody(py[i].view, c, rmid, window);
    compareBody(c, { ok: ok.body, view: view.body, etaKind: ok.etaKind }, jsBody);
  });
  assert.deepEqual(Object.keys(jsMasked).sort(), Object.keys(pyMasked).sort(), `seed ${SEED}: the same keys`);
  for (const key of Object.keys(pyMasked)) assert.deepEqual(jsMasked[key], pyMasked[key], `seed ${SEED}: key ${key}`);
}
