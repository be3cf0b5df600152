// A mixed fleet's acceptance check, as an outside tester runs it: one scenario of unusual
// messages (options nobody declared, big integers, unicode names, falsy and fractional
// retry and age limits, eta options Python's worker rewrites, pipelines with delays,
// callbacks, stored failures), sent by the real Python Dramatiq 2.2.1 producer, run once by
// a real Python worker (tests/py/parity_app.py) and once by a JS worker declaring the same
// actors, over a real redis-server and a real RabbitMQ node. Everything each worker leaves
// behind is read back raw (Redis keys, values and TTLs; every message RabbitMQ holds, with
// its properties), and the JS run must leave exactly what the Python run left.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import amqplib from "amqplib";
import { createClient } from "redis";
import {
  ConcurrentRateLimiter, JSONEncoder, Message, RabbitmqBroker, RedisBackend, RedisBroker, RedisRateLimiterBackend, Results, Retry, Worker, actor,
  defaultMiddleware,
} from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";
import { eventually } from "./broker-helpers.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const encoder = new JSONEncoder();
const QUEUES = ["pq", "q_u"];
const ALL_QUEUES = [...QUEUES, "sink"].flatMap((q) => [q, `${q}.DQ`, `${q}.XQ`]);

// Read by Python's json (NaN and big integers are fine there). `sink` is consumed by
// nobody: what a worker sends onward stays there to be compared.
const SCENARIO = `[
 {"id":"m-ok","actor":"ok","args":[1180591620717411303424,"h\\u00e9 \\ud83d\\ude00"],"options":{"custom":{"nested":[1,{"x":null}]},"x-y":null,"on_success":"sink"}},
 {"id":"m-kw","actor":"ok","kwargs":{"a":1,"b":[true]},"options":{"on_success":"sink"}},
 {"id":"m-none","actor":"none_","options":{"on_success":"sink"}},
 {"id":"m-boom","actor":"boom","args":["multi\\nline \\u2622 'q' \\"dq\\""],"options":{"on_failure":"sink","weird":[1.5]}},
 {"id":"m-retry","actor":"boom_retry","args":["r"],"options":{"on_retry_exhausted":"sink","on_failure":"sink"}},
 {"id":"m-plain-sr","actor":"plain","args":[7],"options":{"store_results":true,"result_ttl":120000}},
 {"id":"m-ok-nosr","actor":"ok","args":[8],"options":{"store_results":false}},
 {"id":"m-ttl0","actor":"ok","args":[9],"options":{"result_ttl":0}},
 {"id":"m-thrower","actor":"thrower","args":["t"],"options":{"on_failure":"sink"}},
 {"id":"m-uni","actor":"ünï✓","queue":"q_u","args":[{"ü":"✓"}],"options":{"on_success":"sink"}},
 {"id":"m-pipe","actor":"piper","args":[3],"options":{"pipe_target":{"queue_name":"pq","actor_name":"ok","args":[10],"kwargs":{},"options":{"delay":60000,"zz":1},"message_id":"m-pipe2","message_timestamp":1}}},
 {"id":"m-pipe-b","actor":"ok","args":[4],"options":{"pipe_target":{"queue_name":"sink","actor_name":"sink","args":[10],"kwargs":{"k":1},"options":{"pipe_ignore":false},"message_id":"m-pipe3","message_timestamp":1}}},
 {"id":"m-age","actor":"ok","args":[5],"ts_offset":-100000,"options":{"max_age":1000,"on_failure":"sink"}},
 {"id":"m-age-frac","actor":"ok","args":[11],"ts_offset":-5000,"options":{"max_age":1000.5}},
 {"id":"m-age-neg","actor":"ok","args":[12],"options":{"max_age":-1}},
 {"id":"m-age-true","actor":"ok","args":[13],"ts_offset":-5000,"options":{"max_age":true}},
 {"id":"m-minb0","actor":"boom_slow","args":["b0"],"options":{"min_backoff":0,"on_retry_exhausted":"sink"}},
 {"id":"m-minb-frac","actor":"boom_slow","args":["bf"],"options":{"min_backoff":10.5,"on_retry_exhausted":"sink"}},
 {"id":"m-maxr-frac","actor":"boom_retry","args":["f"],"options":{"max_retries":1.5,"on_retry_exhausted":"sink"}},
 {"id":"m-eta-null","actor":"ok","args":[14],"options":{"eta":null,"on_success":"sink"}},
 {"id":"m-eta-text","actor":"ok","args":[15],"options":{"eta":"soon","on_success":"sink"}},
 {"id":"m-unknown","actor":"nobody","args":[16],"options":{"on_failure":"sink"}},
 {"id":"m-held-1","actor":"held","args":[1500],"options":{"on_failure":"sink"}},
 {"id":"m-held-2","actor":"held","args":[1500],"options":{"on_failure":"sink"}},
 {"id":"m-spin","actor":"spin","args":[2500],"options":{"time_limit":300,"on_success":"sink","on_failure":"sink"}},
 {"id":"m-ts-frac","actor":"ok","args":[17],"ts_fraction":0.5,"options":{"on_success":"sink"}},
 {"id":"m-ts-frac-old","actor":"ok","args":[18],"ts_fraction":0.5,"ts_offset":-5000,"options":{"max_age":1000}},
 {"id":"m-pipe-frac","actor":"ok","args":[19],"options":{"pipe_target":{"queue_name":"sink","actor_name":"sink","args":[],"kwargs":{},"options":{"delay":1.5},"message_id":"m-pipe4","message_timestamp":1}}},
 {"id":"m-pipe-neg","actor":"ok","args":[20],"options":{"pipe_target":{"queue_name":"sink","actor_name":"sink","args":[],"kwargs":{},"options":{"delay":-5},"message_id":"m-pipe5","message_timestamp":1}}},
 {"id":"m-pipe-text","actor":"ok","args":[21],"options":{"pipe_target":{"queue_name":"sink","actor_name":"sink","args":[],"kwargs":{},"options":{"delay":"soon"},"message_id":"m-pipe6","message_timestamp":1}}},
 {"id":"m-pipe-extra","actor":"ok","args":[22],"options":{"pipe_target":{"queue_name":"sink","actor_name":"sink","args":[],"kwargs":{},"options":{},"message_id":"m-pipe7","message_timestamp":1,"zz":1}}},
 {"id":"m-retries-neg","actor":"boom_retry","args":["n"],"options":{"retries":-2,"on_failure":"sink","on_retry_exhausted":"sink"}},
 {"id":"m-retries-frac","actor":"boom_retry","args":["fr"],"options":{"retries":0.5,"on_failure":"sink","on_retry_exhausted":"sink"}},
 {"id":"m-retries-text","actor":"boom_retry","args":["tr"],"options":{"retries":"x","on_failure":"sink","on_retry_exhausted":"sink"}},
 {"id":"m-maxr-text","actor":"boom_retry","args":["mt"],"options":{"max_retries":"3","on_failure":"sink","on_retry_exhausted":"sink"}},
 {"id":"m-minb-null","actor":"boom_retry","args":["mn"],"options":{"min_backoff":null,"on_failure":"sink","on_retry_exhausted":"sink"}},
 {"id":"m-retry-frac","actor":"retry_later","args":[60000.5]},
 {"id":"m-retry-bare","actor":"retry_later","args":[10],"options":{"max_retries":0,"on_failure":"sink"}}
]`;
// Result keys the scenario leaves once done (m-ok-nosr, m-ttl0, m-unknown and the three
// whose Retries hook fails, m-retries-text, m-maxr-text and m-minb-null, leave none).
const RESULTS = 31;
const IDS = new Set([...SCENARIO.matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]));
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** A decoded value with what differs between two runs replaced; keys keep their order. */
function normalize(value, now) {
  if (Array.isArray(value)) return value.map((v) => normalize(v, now));
  if (typeof value === "string") return value.replace(UUID, "<uuid>");
  if (!value || typeof value !== "object") return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    // Which of the two `held` messages gets the mutex is a race in either language.
    if (k === "message_id") out[k] = String(v).startsWith("m-held-") ? "m-held-#" : IDS.has(v) || String(v).startsWith("m-") ? v : "<uuid>";
    else if (k === "message_timestamp" || k === "requeue_timestamp") out[k] = "<time>";
    else if (k === "redis_message_id") out[k] = "<id>";
    else if (k === "traceback") out[k] = typeof v === "string" ? "<traceback>" : v;
    // Due within seconds (a back-off of 10–20 ms) or much later (a minute or more); a
    // fractional delay makes a fractional eta in Python (`now + 1.5`).
    else if (k === "eta") {
      const when = typeof v === "number" && v - now > 10_000 ? "<later>" : v === null ? null : "<soon>";
      out[k] = typeof v === "number" && !Number.isInteger(v) ? `${when} (fractional)` : when;
    }
    else out[k] = normalize(v, now);
  }
  return out;
}

const text = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
const decode = (bytes) => {
  try {
    return encoder.decode(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  } catch {
    return bytes.toString();
  }
};

const skip = (!haveRedis && "no redis-server (scripts/setup --services)") ||
  (!havePython && "no Python Dramatiq in target/venv (scripts/setup --python)") || false;

for (const kind of ["redis", "rabbitmq"]) {
  const skipKind = skip || (kind === "rabbitmq" && !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)") || false;

  describe(`one scenario, a Python worker and a JS worker over ${kind}: the same state left behind`, { skip: skipKind, timeout: 300_000 }, () => {
    let redis;
    let rabbit;
    let client;
    const conn = () => ({ broker: kind, url: kind === "redis" ? redis.url : rabbit.url, resultsUrl: redis.url });

    before(async () => {
      redis = await startRedis();
      if (kind === "rabbitmq") rabbit = await startRabbitmq();
      client = createClient({ url: redis.url });
      client.on("error", () => {});
      await client.connect();
    });

    after(async () => {
      await client?.quit().catch(() => {});
      await rabbit?.stop();
      await redis?.stop();
    });

    /** Empties Redis and deletes the scenario's RabbitMQ queues. */
    async function reset() {
      await client.flushAll();
      if (kind !== "rabbitmq") return;
      const admin = await amqplib.connect(rabbit.url);
      const ch = await admin.createChannel();
      for (const q of ALL_QUEUES) await ch.deleteQueue(q);
      await admin.close();
    }

    /** The result keys stored so far (the backend's keys are 32 hex digits). */
    const resultKeys = async () => (await client.keys("*")).filter((k) => /^[0-9a-f]{32}$/.test(k));

    /**
     * Everything the run left: each Redis key (but a worker's own heartbeats and acks) with
     * its type, TTL (to the minute) and value, a result key named by its value (its name is
     * a hash of a random id when the message was a callback), and over RabbitMQ every
     * message of every queue with its properties and routing.
     */
    async function state() {
      const now = Date.now();
      const out = {};
      for (const key of await client.keys("*")) {
        if (key.includes("__heartbeats__") || key.includes("__acks__")) continue;
        const type = await client.type(key);
        const ttl = await client.pTTL(key);
        let value;
        if (type === "string") value = decode(await client.get(key));
        else if (type === "list") value = (await client.lRange(key, 0, -1)).map(decode);
        else if (type === "hash") value = Object.values(await client.hGetAll(key)).map((v) => text(normalize(decode(v), now))).sort();
        else if (type === "zset") value = await client.zCard(key);
        else value = type;
        value = normalize(value, now);
        const name = /^[0-9a-f]{32}$/.test(key) ? `result ${text(value)}` : key.replace(UUID, "<uuid>");
        const entry = { type, ttl: ttl < 0 ? ttl : `${Math.round(ttl / 60_000)} min`, value };
        // Results of equal value share a name: counted, so none hides another.
        if (out[name]) out[name].count = (out[name].count ?? 1) + 1;
        else out[name] = entry;
      }
      if (kind === "rabbitmq") {
        const admin = await amqplib.connect(rabbit.url);
        const ch = await admin.createChannel();
        for (const q of ALL_QUEUES) {
          const messages = [];
          for (;;) {
            const m = await ch.get(q, { noAck: true });
            if (!m) break;
            const { timestamp, messageId, headers = {}, ...properties } = m.properties;
            const deaths = (headers["x-death"] ?? []).map((d) => ({ reason: d.reason, queue: d.queue, count: d.count }));
            messages.push(text({
              body: normalize(decode(m.content), now),
              properties: { ...properties, headers: { ...headers, "x-death": deaths } },
              routingKey: m.fields.routingKey,
              redelivered: m.fields.redelivered,
            }));
          }
          out[`amqp ${q}`] = messages.sort();
        }
        await admin.close();
      }
      return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
    }

    /** Sends the scenario with Python's producer on a fresh broker state, waits for it to settle, stops the worker; the state. */
    async function run(start) {
      await reset();
      const worker = await start();
      try {
        await runPython("parity_app.py", ["send"], { ...conn(), input: SCENARIO });
        // Every result stored, and a second for the hooks after it (after-hooks run in
        // reverse, so a success's callbacks follow its result by a moment); a worker that
        // never gets there is compared as it is, so the diff says what it missed.
        const deadline = Date.now() + 30_000;
        while ((await resultKeys()).length < RESULTS && Date.now() < deadline) await sleep(100);
        await sleep(1000);
      } finally {
        await worker.stop();
      }
      return state();
    }

    const pythonWorker = () => startPythonWorker({ ...conn(), app: "parity_app", queues: QUEUES, threads: 4 });

    /** parity_app.py's actors, declared in JS on a broker of this kind. */
    async function jsWorker() {
      const quiet = { info() {}, warn() {}, error() {}, debug() {} };
      const options = {
        logger: quiet,
        middleware: [...defaultMiddleware(), new Results({ backend: new RedisBackend(client) })],
      };
      const broker = kind === "redis" ? new RedisBroker(client, options) : await RabbitmqBroker.connect(rabbit.url, options);
      class AppError extends Error {}
      AppError.prototype.name = "AppError";
      const fail = (msg) => {
        throw new AppError(msg);
      };
      const on = { broker, queueName: "pq", storeResults: true };
      actor((...a) => a[0] ?? {}, { ...on, actorName: "ok" });
      actor(() => null, { ...on, actorName: "none_" });
      actor(fail, { ...on, actorName: "boom", maxRetries: 0 });
      actor(fail, { ...on, actorName: "boom_retry", maxRetries: 1, minBackoff: 10, maxBackoff: 20 });
      actor(fail, { ...on, actorName: "boom_slow", maxRetries: 1, minBackoff: 60_000, maxBackoff: 120_000 });
      actor((x) => x, { broker, queueName: "pq", actorName: "plain" });
      actor((x) => x, { ...on, actorName: "piper", pipeIgnore: true });
      actor(fail, { ...on, actorName: "thrower", throws: [AppError] });
      actor("sink", { broker, queueName: "sink" });
      actor((ms) => {
        throw new Retry("", { delay: ms });
      }, { ...on, actorName: "retry_later" });
      actor((x) => x, { ...on, actorName: "ünï✓", queueName: "q_u" });
      const mutex = new ConcurrentRateLimiter(new RedisRateLimiterBackend(client), "mutex\u00a0\u200b\u2028ü", { limit: 1 });
      actor((ms) => mutex.acquire(() => sleep(ms).then(() => ms)), { ...on, actorName: "held", maxRetries: 0 });
      actor((ms) => {
        const end = Date.now() + ms;
        while (Date.now() < end);
        return ms;
      }, { ...on, actorName: "spin", maxRetries: 0 });
      const worker = new Worker(broker, { queues: QUEUES, concurrency: 4 }).start();
      return {
        stop: async () => {
          await worker.stop();
          if (kind === "rabbitmq") await broker.close();
        },
      };
    }

    let python;

    test("the Python worker's run (the oracle) is what Dramatiq 2.2.1 does with these options", async () => {
      python = await run(pythonWorker);
      // Python's own reading of the unusual options, which the JS run is held to.
      const skipped = python['result [{"__t":"dramatiq.results.Result","exn":{"type":"SkipMessage","msg":"Message age limit exceeded"}}]'];
      assert.equal(skipped?.count, 5, "max_age 1000.5, -1 and true skip the message, as 1000 does (and with a float timestamp)");
      assert.ok(python["result [17]"], "a message whose timestamp is a float runs");
      const dead = kind === "redis" ? python["dramatiq:pq.XQ.msgs"].value : python["amqp pq.XQ"];
      assert.ok(dead.some((m) => m.includes('"m-minb0"')), "min_backoff 0 retries at once, so boom_slow is dead before its minute");
      assert.ok(dead.some((m) => m.includes('"m-minb-frac"')), "min_backoff 10.5 retries within milliseconds");
      assert.ok(dead.some((m) => m.includes('"m-maxr-frac"') && m.includes('"retries":2')), "max_retries 1.5 allows two retries");
      const sent = kind === "redis" ? python["dramatiq:sink.msgs"].value : python["amqp sink"];
      for (const id of ["m-eta-null", "m-eta-text"]) {
        const callback = sent.find((m) => m.includes(`"${id}"`));
        assert.ok(callback && !callback.includes('"eta"'), `${id}: the worker dropped its eta before running it`);
      }
      assert.ok(python['result [{"__t":"dramatiq.results.Result","exn":{"type":"TimeLimitExceeded","msg":""}}]'], "a synchronous actor past its time limit fails");
      const delayed = kind === "redis" ? python["dramatiq:sink.DQ.msgs"].value : python["amqp sink.DQ"];
      const pipedFrac = delayed.find((m) => m.includes('"m-pipe4"'));
      const retriedFrac = (kind === "redis" ? python["dramatiq:pq.DQ.msgs"].value : python["amqp pq.DQ"]).find((m) => m.includes('"m-retry-frac"'));
      assert.ok(retriedFrac?.includes('"eta":"<later> (fractional)"'), `Retry(delay=60000.5) gives a fractional eta: ${retriedFrac}`);
      assert.ok(pipedFrac?.includes('"eta":"<soon> (fractional)"'), `a pipeline delay of 1.5 ms gives a fractional eta: ${pipedFrac}`);
      for (const id of ["m-pipe6", "m-pipe7"]) {
        assert.ok(![...sent, ...delayed].some((m) => m.includes(`"${id}"`)), `${id}: Python's Pipelines raised, nothing sent`);
      }
      // Odd retry counts, as Python's Retries counts them: -2 runs four times (-2, -1, 0, 1),
      // 0.5 twice; "x" makes the hook raise, so the message is neither retried nor dead.
      const failures = (id) => sent.filter((m) => m.includes(`"${id}"`) && m.includes('"type":"AppError"')).length;
      assert.equal(failures("m-retries-neg"), 4);
      assert.equal(failures("m-retries-frac"), 2);
      assert.equal(failures("m-retries-text"), 1);
      assert.ok(sent.some((m) => m.includes('{"retries":1,"max_retries":1}]') && m.includes('"m-retries-neg"')), "exhausted at 1");
      assert.ok(sent.some((m) => m.includes('{"retries":1.5,"max_retries":1}]') && m.includes('"m-retries-frac"')), "exhausted at 1.5");
      assert.ok(dead.some((m) => m.includes('"m-retries-frac"') && m.includes('"retries":1.5')), "0.5 counts on as a float");
      assert.ok(!dead.some((m) => m.includes('"m-retries-text"')), "a retries option of \"x\": not dead-lettered");
      // A limit or back-off Python cannot compute with fails its Retries hook too, after the
      // count was bumped: one failure callback that says retries 1, no retry, no dead letter.
      for (const id of ["m-maxr-text", "m-minb-null"]) {
        assert.equal(failures(id), 1, id);
        assert.ok(sent.some((m) => m.includes(`"${id}"`) && m.includes('"retries":1,"traceback"')), `${id}: bumped`);
        assert.ok(!dead.some((m) => m.includes(`"${id}"`)), `${id}: not dead-lettered`);
      }
      const limited = "rate limit exceeded for key 'mutex\\xa0\\u200b\\u2028ü'";
      assert.ok(sent.some((m) => m.includes(`{"type":"RateLimitExceeded","message":${JSON.stringify(limited)}}`)), "the mutex's key as Python's repr writes it");
    });

    test("the JS worker leaves exactly the same keys, values, TTLs, messages and properties", async (t) => {
      if (!python) return t.skip("no oracle");
      const js = await run(jsWorker);
      assert.deepEqual(js, python);
    });

    // Bodies Python's `Message.decode` refuses (`Message(**fields)`: an unknown top-level
    // key, a missing `kwargs`), put on the queue raw, then a good message once the worker
    // has had them. Neither worker runs them. RabbitMQ: both reject them to pq.XQ. Redis:
    // Python's consumer crashes on the body and restarts 3 s later, leaving it (and the rest
    // of its prefetched batch) held in its ack set until the worker dies; ours dead-letters
    // it with a logged reason, as it does every body that is not a Dramatiq message.
    test("a body Python's decoder refuses is run by neither worker; one without message_id is run by both", async () => {
      const body = (id, change) => {
        const b = {
          queue_name: "pq", actor_name: "ok", args: [id], kwargs: {},
          options: { redis_message_id: `r-${id}`, on_success: "sink" }, message_id: id, message_timestamp: Date.now(),
        };
        change(b);
        return b;
      };
      const bodies = [body("m-extra", (b) => (b.zzz = 1)), body("m-no-kwargs", (b) => delete b.kwargs)];
      const refused = async (start) => {
        await reset();
        const worker = await start();
        try {
          await runPython("parity_app.py", ["raw"], { ...conn(), input: JSON.stringify(bodies) });
          // The next messages must come in a later fetch than these bodies: Python's Redis
          // consumer drops the whole batch a refused body is in (a slow start on a loaded
          // machine had fetched the good message with them).
          const taken = Date.now() + 20_000;
          if (kind === "redis") while ((await client.lLen("dramatiq:pq")) > 0 && Date.now() < taken) await sleep(50);
          await sleep(1000);
          // A body without message_id is one Python runs (its default: a fresh uuid4).
          await runPython("parity_app.py", ["raw"], { ...conn(), input: JSON.stringify([body("m-no-id", (b) => delete b.message_id)]) });
          await runPython("parity_app.py", ["send"], { ...conn(), input: '[{"id":"m-after","actor":"ok","args":[1],"options":{"on_success":"sink"}}]' });
          const deadline = Date.now() + 30_000;
          while ((await resultKeys()).length < 2 && Date.now() < deadline) await sleep(100);
          await sleep(1000);
        } finally {
          await worker.stop();
        }
        return state();
      };
      const py = await refused(pythonWorker);
      const js = await refused(jsWorker);
      for (const [who, left] of [["Python", py], ["JS", js]]) {
        assert.ok(left["result [1]"], `${who}: the good message after them ran`);
        assert.ok(left['result ["m-no-id"]'], `${who}: the message without an id ran`);
        assert.equal(Object.keys(left).filter((k) => k.startsWith("result")).length, 2, `${who}: no result but the good ones'`);
        const sent = kind === "redis" ? left["dramatiq:sink.msgs"].value : left["amqp sink"];
        assert.deepEqual(sent.map((m) => m.match(/"m-[a-z-]+"/)[0]).sort(), ['"m-after"', '"m-no-id"'], `${who}: only the good messages' callbacks`);
      }
      if (kind === "rabbitmq") {
        assert.equal(py["amqp pq.XQ"].length, 2, "Python rejects both to pq.XQ");
        assert.deepEqual(js, py);
      } else {
        const held = py["dramatiq:pq.msgs"]?.value ?? [];
        assert.equal(held.length, 2, "Python leaves both bodies held by its ack set");
        assert.equal(js["dramatiq:pq.msgs"], undefined);
        assert.deepEqual(js["dramatiq:pq.XQ.msgs"].value, held, "ours dead-letters exactly those bodies");
      }
    });
  });
}

// Found by tests/js/diff-fuzz-worker.test.mjs: a worker stopped cleanly leaves its heartbeat
// in `<ns>:__heartbeats__` (Python's does; maintenance drops it after the heartbeat timeout),
// where the worker command's supervisor, releasing the stopped process as it releases a
// crashed one, took it out at once.
describe("the worker command beside Python's worker", { skip, timeout: 120_000 }, () => {
  let redis;
  let client;
  before(async () => {
    redis = await startRedis();
    client = await createClient({ url: redis.url }).connect();
  });
  after(async () => {
    await client?.quit();
    await redis?.stop();
  });

  /** The worker ids in the heartbeats once `start()`'s worker has run a while and stopped. */
  async function heartbeatsAfter(start) {
    await client.flushAll();
    const stop = await start();
    // Polled at least once by each consumer: a heartbeat each time.
    await eventually(async () => (await client.zCard("dramatiq:__heartbeats__")) > 0, "a heartbeat", 30_000);
    await sleep(500);
    await stop();
    return client.zRange("dramatiq:__heartbeats__", 0, -1);
  }

  // Found by tests/js/diff-fuzz-worker.test.mjs too: on the command's worker threads an
  // error of a subclass of a `throws` class was stored under the listed class's name, and
  // CurrentMessage's copy of the message had its integer-like keys first.
  test("the worker command's threads: a thrown subclass of a `throws` class is stored under its own name, and CurrentMessage's message encodes as the bytes that came", async () => {
    await client.flushAll();
    const dir = mkdtempSync(join(tmpdir(), "th-"));
    try {
      const spec = join(dir, "spec.json");
      writeFileSync(spec, JSON.stringify({ actors: [{ name: "fw_t", options: { throws: ["ValueError"], max_retries: 0, store_results: true } }] }));
      const broker = new RedisBroker(client, { logger: { info() {}, warn() {}, error() {}, debug() {} } });
      const raw = (actorName, queueName, args, kwargs) => Message.decode(`{"queue_name":"${queueName}","actor_name":"${actorName}","args":${args},"kwargs":${kwargs},"options":{},"message_id":"th-${actorName}","message_timestamp":1700000000000}`);
      const failing = await broker.enqueue(raw("fw_t", "fw", '[{"s":[["raise","AppError","x"]]}]', "{}"));
      const recorded = await broker.enqueue(raw("fw_rec_a", "fwcb", '[1.0,{"b":1,"1":2}]', '{"z":0,"10":[2.5e3]}'));
      const bin = fileURLToPath(new URL("../../pkg/bin/dramatiq-results.js", import.meta.url));
      const tasks = fileURLToPath(new URL("./diff-fuzz-worker-tasks.mjs", import.meta.url));
      const child = spawn(process.execPath, [bin, "worker", tasks, "-p", "1", "-t", "1"], {
        env: { ...process.env, FW_REDIS_URL: redis.url, FW_SPEC: spec }, stdio: "ignore",
      });
      const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
      try {
        const key = new RedisBackend(client).buildMessageKey(failing);
        await eventually(async () => (await client.exists(key)) && (await client.lLen("fw:cb")) > 0, "both run", 30_000);
        assert.deepEqual(await client.lRange(key, 0, -1), ['{"__t":"dramatiq.results.Result","exn":{"type":"AppError","msg":"x"}}'], "as Python stores type(e).__name__");
        assert.deepEqual(await client.lRange("fw:cb", 0, -1), [`fw_rec_a ${new TextDecoder().decode(recorded.encode())}`]);
      } finally {
        child.kill("SIGTERM");
        assert.equal(await exited, 0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a worker stopped cleanly leaves its heartbeat, as Python's does: one left by each", async () => {
    const python = await heartbeatsAfter(async () => {
      const worker = await startPythonWorker({ url: redis.url, queue: "fw", prefix: "fw", env: { CALLBACK_QUEUE: "fwcb" } });
      return () => worker.stop();
    });
    assert.equal(python.length, 1, "Python's stopped worker leaves its heartbeat");
    const dir = mkdtempSync(join(tmpdir(), "hb-"));
    try {
      const spec = join(dir, "spec.json");
      writeFileSync(spec, '{"actors":[]}');
      const js = await heartbeatsAfter(async () => {
        const bin = fileURLToPath(new URL("../../pkg/bin/dramatiq-results.js", import.meta.url));
        const tasks = fileURLToPath(new URL("./diff-fuzz-worker-tasks.mjs", import.meta.url));
        const child = spawn(process.execPath, [bin, "worker", tasks, "-p", "1", "-t", "1"], {
          env: { ...process.env, FW_REDIS_URL: redis.url, FW_SPEC: spec }, stdio: "ignore",
        });
        const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
        return async () => {
          child.kill("SIGTERM");
          assert.equal(await exited, 0, "a clean stop");
        };
      });
      assert.equal(js.length, 1, "the worker command's stopped worker process leaves its heartbeat");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
