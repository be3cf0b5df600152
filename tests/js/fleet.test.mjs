// A JS worker in a Python fleet: Dramatiq 2.2.1's Callbacks (on_success / on_failure) and
// Retries' on_retry_exhausted, the same scenario run on a real Python worker and on a JS
// worker, over a real redis-server and a real RabbitMQ node, sent by the real Python
// producer and by a JS one. The callbacks go to recorder actors a Python worker runs
// (tests/py/broker_app.py's cb_record / cb_exhausted), so what each worker *sent* is
// recorded by the same code; the records of every run must equal the all-Python run's.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { CurrentMessage, JSONEncoder, RabbitmqBroker, RedisBackend, RedisBroker, Worker, actor, currentSignal } from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";
import { declarePythonAppActors, eventually, middlewareWith, recordingLogger } from "./broker-helpers.mjs";

const encoder = new JSONEncoder();
const QUEUE = "fleet";
const CALLBACKS = "fleet_cb";

// The scenario, as Python's produce.py reads it (its JSON parser keeps 1.0 a float).
const SPECS = [
  '{"actor":"cb_ok","args":[1]}', // actor option on_success → cb_record (dict, 2)
  '{"actor":"cb_ok","args":[2],"options":{"on_success":"cb_exhausted"}}', // message over actor
  '{"actor":"cb_fail","args":[3]}', // attempt 1 → cb_record; attempt 2 → cb_exhausted, cb_record
  '{"actor":"add","args":[1,2],"options":{"on_success":"cb_record"}}',
  '{"actor":"fail","args":["x"],"options":{"on_failure":"cb_record"}}', // max_retries=0
  '{"actor":"cb_ok","args":[5],"options":{"on_success":"nobody"}}', // unknown: logged, nothing sent
  '{"actor":"cb_fail","args":[6],"options":{"max_retries":0,"on_retry_exhausted":"cb_record"}}',
  '{"actor":"echo","args":[1.0,0.5],"kwargs":{"k":[true]},"options":{"on_success":"cb_record"}}',
];
const EXPECTED_RECORDS = 10;

/** A JSON text with sorted keys: a record's identity whatever its key order. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return typeof value === "bigint" ? `${value}n` : JSON.stringify(value);
}

/**
 * The recorded callbacks with what differs between two runs of one scenario replaced:
 * message ids by the scenario step (`#i`), times, the broker's own ids and the traceback
 * (Python's text or a JS stack). Sorted, since the worker runs them concurrently.
 */
function normalize(lines, ids) {
  const records = lines.map((line) => {
    const [recorder, dict, payload] = encoder.decode(new TextEncoder().encode(line));
    const options = { ...dict.options };
    for (const k of ["requeue_timestamp", "eta"]) if (k in options) options[k] = "<time>";
    if ("redis_message_id" in options) options.redis_message_id = "<id>";
    if (typeof options.traceback === "string") options.traceback = "<traceback>";
    const step = ids.get(dict.message_id);
    assert.ok(step !== undefined, `a callback for a message of the scenario: ${line}`);
    return [recorder, { ...dict, message_id: step, message_timestamp: "<time>", options }, payload];
  });
  return records.sort((a, b) => (canonical(a) < canonical(b) ? -1 : 1));
}

const skip = (!haveRedis && "no redis-server (scripts/setup --services)") ||
  (!havePython && "no Python Dramatiq in target/venv (scripts/setup --python)") || false;

for (const kind of ["redis", "rabbitmq"]) {
  const skipKind = skip || (kind === "rabbitmq" && !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)") || false;

  describe(`Callbacks and on_retry_exhausted: Python and JS workers agree over ${kind}`, { skip: skipKind, timeout: 300_000 }, () => {
    let redis;
    let rabbit;
    let client;
    let backend;
    let recorder; // the Python worker running cb_record / cb_exhausted, in every run
    const brokers = [];
    const prefix = `fleet-${kind}`;
    const conn = () => ({
      broker: kind,
      url: kind === "redis" ? redis.url : rabbit.url,
      resultsUrl: redis.url,
      queue: QUEUE,
      prefix,
      env: { CALLBACK_QUEUE: CALLBACKS },
    });
    const openBroker = async (options) => {
      const broker = kind === "redis" ? new RedisBroker(client, options) : await RabbitmqBroker.connect(rabbit.url, options);
      brokers.push(broker);
      return broker;
    };
    /** The all-Python run's records: the oracle the other runs are held to. */
    let oracle;

    before(async () => {
      redis = await startRedis();
      if (kind === "rabbitmq") rabbit = await startRabbitmq();
      client = createClient({ url: redis.url });
      client.on("error", () => {});
      await client.connect();
      backend = new RedisBackend(client);
      recorder = await startPythonWorker({ ...conn(), queues: [CALLBACKS], threads: 2 });
    });

    after(async () => {
      await recorder?.stop();
      for (const b of brokers) await b.close?.();
      await client?.quit().catch(() => {});
      await rabbit?.stop();
      await redis?.stop();
    });

    /** Waits for the scenario's callbacks (and a little more, to see that no extra one comes), then takes them. */
    async function takeRecords() {
      const key = `${prefix}:callbacks`;
      await eventually(async () => (await client.lLen(key)) >= EXPECTED_RECORDS, `${EXPECTED_RECORDS} callbacks`, 60_000);
      await sleep(1000);
      const lines = await client.lRange(key, 0, -1);
      await client.del(key);
      return lines;
    }

    /** Python's producer sends the scenario; message id → step. */
    async function pythonProduces() {
      const sent = await runPython("produce.py", ["send", ...SPECS], conn());
      assert.equal(sent.length, SPECS.length);
      return new Map(sent.map((line, i) => [JSON.parse(line).message_id, `#${i}`]));
    }

    /** A JS producer sends the scenario: remote actors, camelCase options, an Actor for a name. */
    async function jsProduces() {
      const broker = await openBroker({ middleware: [] });
      const remote = (name, queueName = QUEUE) => actor(name, { broker, queueName });
      const cbRecord = remote("cb_record", CALLBACKS);
      const cbExhausted = remote("cb_exhausted", CALLBACKS);
      const [cbOk, cbFail, add, fail, echo] = ["cb_ok", "cb_fail", "add", "fail", "echo"].map((n) => remote(n));
      const messages = [
        cbOk.messageWithOptions({ args: [1] }),
        cbOk.messageWithOptions({ args: [2], onSuccess: cbExhausted }),
        cbFail.messageWithOptions({ args: [3] }),
        add.messageWithOptions({ args: [1, 2], on_success: "cb_record" }),
        fail.messageWithOptions({ args: ["x"], onFailure: cbRecord }),
        cbOk.messageWithOptions({ args: [5], onSuccess: "nobody" }),
        cbFail.messageWithOptions({ args: [6], maxRetries: 0, onRetryExhausted: cbRecord }),
        echo.messageWithOptions({ args: [1.0, 0.5], kwargs: { k: [true] }, onSuccess: "cb_record" }),
      ];
      const ids = new Map();
      for (const [i, m] of messages.entries()) {
        const sent = await broker.enqueue(m);
        ids.set(sent.messageId, `#${i}`);
      }
      // Actor objects travel as their names, as Python's message_with_options sends them.
      assert.equal(messages[1].options.on_success, "cb_exhausted");
      assert.equal(messages[6].options.on_retry_exhausted, "cb_record");
      return ids;
    }

    /** Runs the scenario with `produce` on a worker `start`ed for it; its normalized records. */
    async function run(produce, start) {
      const worker = await start();
      try {
        const ids = await produce();
        return { lines: await takeRecords(), ids };
      } finally {
        await worker.stop();
      }
    }

    const pythonWorker = () => startPythonWorker({ ...conn(), queues: [QUEUE], threads: 4 });
    let jsLogger;
    const jsWorker = async () => {
      jsLogger = recordingLogger();
      const broker = await openBroker({ middleware: middlewareWith(backend), logger: jsLogger });
      const opts = { broker, queueName: QUEUE, storeResults: true };
      declarePythonAppActors(opts);
      const cbRecord = actor("cb_record", { broker, queueName: CALLBACKS });
      actor("cb_exhausted", { broker, queueName: CALLBACKS });
      actor((x) => x * 2, { broker, actorName: "cb_ok", queueName: QUEUE, onSuccess: "cb_record" });
      class AppError extends Error {}
      AppError.prototype.name = "AppError";
      actor((x) => {
        throw new AppError(`no ${x}`);
      }, {
        broker, actorName: "cb_fail", queueName: QUEUE,
        onFailure: cbRecord, onRetryExhausted: "cb_exhausted", maxRetries: 1, minBackoff: 10, maxBackoff: 20,
      });
      return new Worker(broker, { queues: [QUEUE], concurrency: 4 }).start();
    };

    test("Python producer → Python worker (the oracle)", async () => {
      const { lines, ids } = await run(pythonProduces, pythonWorker);
      oracle = normalize(lines, ids);
      assert.equal(oracle.length, EXPECTED_RECORDS);
      // What Python's Retries and Callbacks send, as read from the scenario.
      const exhausted = oracle.filter(([, , p]) => p && typeof p === "object" && "max_retries" in p);
      assert.deepEqual(exhausted.map(([r, d, p]) => [r, d.message_id, p]), [
        ["cb_exhausted", "#2", { retries: 1, max_retries: 1 }],
        ["cb_record", "#6", { retries: 0, max_retries: 0 }],
      ].sort((a, b) => (canonical(a) < canonical(b) ? -1 : 1)));
      const failures = oracle.filter(([, , p]) => p && typeof p === "object" && "type" in p);
      assert.equal(failures.length, 4, "cb_fail(3) twice, fail(x), cb_fail(6): every failed attempt");
      assert.ok(lines.some((l) => l.includes('"args":[1.0,0.5]')), "the dict carries the message's values exactly");
    });

    test("Python producer → JS worker: the same callbacks, payloads and counts", async (t) => {
      if (!oracle) return t.skip("no oracle");
      const { lines, ids } = await run(pythonProduces, jsWorker);
      assert.deepEqual(normalize(lines, ids), oracle);
      // The message's own values, kept exactly through the JS worker (1.0 stays a float).
      assert.ok(lines.some((l) => l.includes('"args":[1.0,0.5]')), lines.join("\n"));
      assert.ok(jsLogger.lines.some((l) => l.includes("afterProcessMessage of Callbacks") && l.includes("nobody")), jsLogger.lines.join("\n"));
    });

    test("JS producer → Python worker: the same callbacks, payloads and counts", async (t) => {
      if (!oracle) return t.skip("no oracle");
      const { lines, ids } = await run(jsProduces, pythonWorker);
      assert.deepEqual(normalize(lines, ids), oracle);
    });

    if (kind === "redis") {
      test("enqueue before ack: a JS worker's callback is in Redis before the message is acked", async () => {
        const sink = "fleet_sink";
        const seenAtAck = [];
        // The broker's client holds back every write to the sink queue a little, so a
        // callback whose write the worker did not wait for is not there yet at the ack.
        const mentionsSink = (args) => args.some((a) => String(a).includes(sink));
        const slowSink = {
          sendCommand: async (args, ...rest) => {
            if (mentionsSink(args)) await sleep(150);
            return client.sendCommand(args, ...rest);
          },
        };
        const broker = new RedisBroker(slowSink, { middleware: middlewareWith(backend), logger: recordingLogger() });
        // Runs before the ack's write: what the callbacks queue holds then.
        broker.addMiddleware({ beforeAck: async () => void seenAtAck.push(await client.hLen(`dramatiq:${sink}.msgs`)) });
        actor("sink", { broker, queueName: sink });
        const ok = actor((x) => x, { broker, actorName: "ack_ok", queueName: "fleet_ack", onSuccess: "sink" });
        const bad = actor(() => {
          throw new Error("no");
        }, { broker, actorName: "ack_bad", queueName: "fleet_ack", onFailure: "sink", maxRetries: 0 });
        const worker = new Worker(broker, { queues: ["fleet_ack"], concurrency: 1 }).start();
        try {
          await ok.sendWithOptions({ args: [1] }).enqueued;
          await eventually(() => seenAtAck.length === 1, "the first ack");
          await bad.send().enqueued;
          await eventually(async () => (await client.hLen(`dramatiq:${sink}.msgs`)) === 2, "both callbacks");
        } finally {
          await worker.stop();
        }
        assert.deepEqual(seenAtAck, [1], "the success callback was written before the ack");
      });
    }

    test("JS producer → JS worker: the same callbacks, payloads and counts", async (t) => {
      if (!oracle) return t.skip("no oracle");
      const { lines, ids } = await run(jsProduces, jsWorker);
      assert.deepEqual(normalize(lines, ids), oracle);
    });

    // Last: it leaves cb_stoppable's retry on the queue's delay queue, a day away.
    test("a time limit and a shutdown notification: the same failure callbacks from Python and JS workers", async (t) => {
      if (!oracle) return t.skip("no oracle");
      const specs = ['{"actor":"cb_overtime","args":[3000]}', '{"actor":"cb_stoppable","args":[8000]}'];
      const scenario = async (start, stop) => {
        const worker = await start();
        const sent = await runPython("produce.py", ["send", ...specs], conn());
        const ids = new Map(sent.map((line, i) => [JSON.parse(line).message_id, `#${i}`]));
        const key = `${prefix}:callbacks`;
        // The time limit fires (Python checks once a second), then the worker stops.
        await eventually(async () => (await client.lLen(key)) >= 1, "the time limit's callback", 30_000);
        await stop(worker);
        await eventually(async () => (await client.lLen(key)) >= 2, "the shutdown's callback", 30_000);
        await sleep(500);
        const lines = await client.lRange(key, 0, -1);
        await client.del(key);
        return normalize(lines, ids);
      };
      const python = await scenario(pythonWorker, (w) => w.stop());
      assert.deepEqual(python.map(([to, d, p]) => [to, d.message_id, d.options.retries, p]), [
        ["cb_record", "#0", 1, { type: "TimeLimitExceeded", message: "" }],
        ["cb_record", "#1", 1, { type: "Shutdown", message: "" }],
      ]);
      const js = await scenario(async () => {
        const worker = await jsWorker();
        const broker = worker.broker;
        broker.addMiddleware(new CurrentMessage()); // for currentSignal()
        actor(async (ms) => {
          await sleep(ms);
          return ms;
        }, { broker, actorName: "cb_overtime", queueName: QUEUE, onFailure: "cb_record", maxRetries: 0, timeLimit: 300 });
        actor(async (ms) => {
          const signal = currentSignal();
          await Promise.race([sleep(ms), new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
          return ms;
        }, { broker, actorName: "cb_stoppable", queueName: QUEUE, onFailure: "cb_record", notifyShutdown: true, maxRetries: 1, minBackoff: 86_400_000 });
        return worker;
      }, (w) => w.stop());
      assert.deepEqual(js, python);
    });
  });
}
