// Dramatiq 2.2.1's own result and composition scenarios (its tests/test_results.py and
// tests/test_composition.py) across the wire, on a real redis-server broker with the
// results on Redis or on Memcached:
//   Python → JS: the real Python Dramatiq is the producer and the result reader, exactly as
//     Dramatiq's tests are written (tests/py/oracle_results.py `run`), and a JS Worker runs
//     the actors; what Python reads must be what Dramatiq's tests assert.
//   JS → Python: a real Python worker (`dramatiq oracle_results`) runs the actors, and our
//     package is the producer and reader, through its pipeline / group / getResult API.
// The scenarios of each direction run concurrently (each on its own messages), so the file
// takes about as long as its slowest scenario. Timing is never asserted.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import memjs from "memjs";
import {
  MemcachedBackend,
  RedisBackend,
  RedisBroker,
  ResultFailure,
  ResultMissing,
  ResultTimeout,
  Results,
  Worker,
  actor,
  defaultMiddleware,
  group,
  pipeline,
  setBroker,
} from "dramatiq-results";
import { haveMemcached, haveRedis, startMemcached, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";

const skip = (!haveRedis && "no redis-server (scripts/setup --services)") ||
  (!haveMemcached && "no memcached (scripts/setup --services)") ||
  (!havePython && "no Python Dramatiq in target/venv (scripts/setup --python)") || false;

const quiet = { warn() {}, error() {}, info() {}, debug() {} };

let redis;
let memcached;
let client;
let blocking;
let mc;

before(async () => {
  if (skip) return;
  [redis, memcached] = await Promise.all([startRedis(), startMemcached()]);
  client = createClient({ url: redis.url });
  client.on("error", () => {});
  blocking = createClient({ url: redis.url });
  blocking.on("error", () => {});
  await Promise.all([client.connect(), blocking.connect()]);
  mc = memjs.Client.create(memcached.address, { logger: { log() {} }, retries: 0 });
});

after(async () => {
  await client?.quit().catch(() => {});
  await blocking?.quit().catch(() => {});
  mc?.close();
  await Promise.all([redis?.stop(), memcached?.stop()]);
});

/** What a Python read gave, as oracle_results.py's `outcome` prints it, from one of ours. */
async function outcome(read) {
  try {
    return { value: await read() };
  } catch (e) {
    if (e instanceof ResultFailure) return { failure: { str: e.message, type: e.exceptionType, msg: e.exceptionValue } };
    if (e instanceof ResultTimeout) return { timeout: true };
    if (e instanceof ResultMissing) return { missing: true };
    throw e;
  }
}

/** Every distinct completedCount seen while polling `composition`, until it is completed. */
async function countsUntilCompleted(composition, limitMs = 20_000) {
  const counts = [];
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const done = await composition.completed();
    // Counted after `completed` was read, so the last count is the completed one.
    const count = await composition.completedCount();
    if (counts.at(-1) !== count) counts.push(count);
    if (done) break;
    await sleep(20);
  }
  return { counts, completed: await composition.completed() };
}

/**
 * Whether the `counts` a poll saw never fall, pass through a partial count and end at `end`
 * (the steps finish 500 ms or more apart; on a loaded machine a poll may still miss one of
 * several partial counts, or its first answer come after the first step finished).
 */
function risesToEnd(counts, end) {
  return counts.at(-1) === end && counts.every((c, i) => i === 0 || c > counts[i - 1]) &&
    counts.some((c) => c > 0 && c < end);
}

const RESULTS = {
  redis: {
    url: () => redis.url,
    backend: (namespace) => new RedisBackend(client, { namespace, blockingClient: blocking }),
  },
  memcached: {
    url: () => `memcached://${memcached.address}`,
    backend: (namespace) => new MemcachedBackend(mc, { namespace }),
  },
};

// What Dramatiq's tests assert, for the scenarios both directions run. `n` is how the
// scenario's failure reads: ours says "AppError", as Python names the class.
const EXPECTED = {
  store_results: { value: 42 },
  backwards_compatible: { value: 42 },
  exceptions: { failure: { str: "actor raised AppError: failed", type: "AppError", msg: "failed" } },
  missing_then_timeout: { missing: { missing: true }, timeout: { timeout: true }, value: { value: 3000 } },
  inferred_backend: { given: { value: 5 }, inferred: { value: 5 } },
  retried: { value: 2 },
  failure_after_retries: { failure: { str: "actor raised AppError: doomed", type: "AppError", msg: "doomed" } },
  age_limit: {
    first: { failure: { str: "actor raised SkipMessage: Message age limit exceeded", type: "SkipMessage", msg: "Message age limit exceeded" } },
    again: { failure: { str: "actor raised SkipMessage: Message age limit exceeded", type: "SkipMessage", msg: "Message age limit exceeded" } },
  },
  pipe_ignore: { results: [[1], [2], [3, [2]]] },
  pipeline_results: { result: 10, results: [3, 6, 10] },
  pipeline_timeout: { timeout: true },
  pipeline_incomplete: { completed: false, count: 0 },
  pipeline_delays: { own: { timeout: true }, first: { timeout: true }, second: { timeout: true }, bigger: { timeout: true } },
  group_results: { results: [0, 2, 4, 6, 8, 6], completed: true, count: 6 },
  inner_groups: { results: [[0, 0], [2, 2], [4, 4]], completed: true },
  group_timeout: { wait: { timeout: true }, completed: false },
  group_failure: { failure: { str: "actor raised AppError: boom", type: "AppError", msg: "boom" } },
};

/** Checks one scenario's observations against Dramatiq's assertions. */
function check(name, got, kind) {
  const { name: _, ...seen } = got;
  if (name === "result_ttl") {
    assert.deepEqual(seen.value, { value: 2 }, name);
    if (kind === "redis") {
      assert.ok(seen.ttl > 60_000 && seen.ttl <= 120_000, `${name}: a result_ttl option of 120 s, PTTL ${seen.ttl}`);
      assert.ok(seen.default_ttl > 120_000 && seen.default_ttl <= 600_000, `${name}: Results' default of 10 min, PTTL ${seen.default_ttl}`);
    }
  } else if (name === "pipeline_stats" || name === "group_stats") {
    const end = name === "pipeline_stats" ? 2 : 3;
    assert.equal(seen.completed, true, `${name} completes`);
    assert.ok(risesToEnd(seen.counts, end), `${name}: completed_count rises through a partial count to ${end}: ${JSON.stringify(seen.counts)}`);
  } else {
    assert.deepEqual(seen, EXPECTED[name], name);
  }
}

const SCENARIOS = [...Object.keys(EXPECTED), "result_ttl", "pipeline_stats", "group_stats"];

// The two stores' runs at once (their queues, namespaces and keys are apart).
describe("Dramatiq's result scenarios across the wire", { skip, timeout: 120_000, concurrency: 2 }, () => {
for (const [kind, results] of Object.entries(RESULTS)) {
  describe(`results on ${kind}`, () => {
    test("Python produces and reads as Dramatiq's tests do; a JS worker runs the actors", async () => {
      const queue = `oracle_js_${kind}`;
      const namespace = `oracle-js-${kind}`;
      const broker = new RedisBroker(client, { middleware: [...defaultMiddleware(), new Results({ backend: results.backend(namespace) })], logger: quiet });
      const opts = { broker, queueName: queue, storeResults: true };
      class AppError extends Error {}
      AppError.prototype.name = "AppError";
      const attempts = new Map();
      actor((x, y = 0) => x + y, { ...opts, actorName: "add" });
      actor((...args) => args, { ...opts, actorName: "return_args" });
      actor((msg) => { throw new AppError(msg); }, { ...opts, actorName: "fail", maxRetries: 0 });
      actor(async (ms) => { await sleep(ms); return ms; }, { ...opts, actorName: "wait" });
      actor((key) => {
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        if (attempts.get(key) === 1) throw new AppError(`first attempt for ${key}`);
        return attempts.get(key);
      }, { ...opts, actorName: "flaky", maxRetries: 3, minBackoff: 10, maxBackoff: 20 });
      actor(() => 42, { ...opts, actorName: "too_old", maxAge: 1 });
      let doomedRuns = 0;
      actor((msg) => { doomedRuns += 1; throw new AppError(msg); }, { ...opts, actorName: "doomed", maxRetries: 2, minBackoff: 10, maxBackoff: 20 });
      const worker = new Worker(broker, { concurrency: 16 }).start();
      try {
        const env = { url: redis.url, queue, prefix: `oracle-js-${kind}`, env: { RESULTS_URL: results.url(), RESULTS_NAMESPACE: namespace } };
        // Three Python processes, each a share of the scenarios, at once.
        const shares = [0, 1, 2].map((i) => SCENARIOS.filter((_, j) => j % 3 === i));
        const lines = (await Promise.all(shares.map((names) => runPython("oracle_results.py", ["run", ...names], env)))).flat();
        const got = new Map(lines.map((l) => JSON.parse(l)).map((o) => [o.name, o]));
        assert.deepEqual([...got.keys()].sort(), [...SCENARIOS].sort());
        for (const name of SCENARIOS) check(name, got.get(name), kind);
        assert.equal(doomedRuns, 3, "the first attempt and two retries, then the failure stored");
      } finally {
        await worker.stop();
      }
    });

    test("JS produces and reads through its pipeline, group and getResult; a Python worker runs the actors", async () => {
      const queue = `oracle_py_${kind}`;
      const namespace = `oracle-py-${kind}`;
      const backend = results.backend(namespace);
      const python = await startPythonWorker({
        app: "oracle_results", url: redis.url, queue, threads: 16, prefix: `oracle-py-${kind}`,
        env: { RESULTS_URL: results.url(), RESULTS_NAMESPACE: namespace },
      });
      try {
        const broker = new RedisBroker(client, { middleware: [...defaultMiddleware(), new Results({ backend })], logger: quiet });
        // As in Dramatiq's tests, the pipelines and groups run on the global broker.
        setBroker(broker);
        const opts = { broker, queueName: queue, storeResults: true };
        const declare = (actorName) => actor(() => {}, { ...opts, actorName });
        const [add, returnArgs, fail, wait, flaky, tooOld, doomed] =
          ["add", "return_args", "fail", "wait", "flaky", "too_old", "doomed"].map(declare);
        const encoder = new TextEncoder();
        const scenario = {
          store_results: () => outcome(() => backend.getResult(add.send(40, 2), { block: true })),
          async backwards_compatible() {
            const m = add.message(1);
            await backend.storeResultBytes(m, encoder.encode("42"), 3600000);
            return outcome(() => backend.getResult(m, { block: true }));
          },
          exceptions: () => outcome(() => backend.getResult(fail.send("failed"), { block: true })),
          async missing_then_timeout() {
            const m = wait.send(3000);
            await m.enqueued;
            return {
              missing: await outcome(() => backend.getResult(m)),
              timeout: await outcome(() => backend.getResult(m, { block: true, timeout: 1000 })),
              value: await outcome(() => backend.getResult(m, { block: true, timeout: 10_000 })),
            };
          },
          async inferred_backend() {
            const m = add.send(2, 3);
            return { given: await outcome(() => m.getResult({ backend, block: true })), inferred: await outcome(() => m.getResult({ block: true })) };
          },
          retried: () => outcome(() => flaky.send(`k${Date.now()}`).getResult({ block: true, timeout: 10_000 })),
          failure_after_retries: () => outcome(() => doomed.send("doomed").getResult({ block: true, timeout: 10_000 })),
          async age_limit() {
            const m = tooOld.sendWithOptions({ args: [], kwargs: {}, delay: 2 });
            const first = await outcome(() => backend.getResult(m, { block: true }));
            await sleep(200);
            return { first, again: await outcome(() => backend.getResult(m)) };
          },
          async result_ttl() {
            const m = add.sendWithOptions({ args: [1, 1], resultTtl: 120000 });
            const value = await outcome(() => backend.getResult(m, { block: true }));
            const d = add.send(1, 2);
            await outcome(() => backend.getResult(d, { block: true }));
            const pttl = (message) => (kind === "redis" ? client.pTTL(backend.buildMessageKey(message)) : null);
            return { value, ttl: await pttl(m), default_ttl: await pttl(d) };
          },
          async pipe_ignore() {
            const p = pipeline([returnArgs.message(1), returnArgs.messageWithOptions({ pipeIgnore: true, args: [2] }), returnArgs.message(3)]).run();
            await p.getResult({ block: true, timeout: 10_000 });
            return { results: await p.getResults() };
          },
          async pipeline_results() {
            const p = pipeline([add.message(1, 2), pipeline([add.message(3), add.message(4)])]).run();
            return { result: await p.getResult({ block: true, timeout: 10_000 }), results: await p.getResults() };
          },
          pipeline_timeout: () => outcome(() => pipeline([wait.message(3000), add.message(1), add.message(2)]).run().getResults({ block: true, timeout: 1000 })),
          pipeline_stats: () => countsUntilCompleted(pipeline([wait.message(800), wait.message()]).run()),
          async pipeline_incomplete() {
            const p = pipeline([add.message(1), add.messageWithOptions({ pipeIgnore: true })]).run({ delay: 60_000 });
            await p.enqueued;
            return { completed: await p.completed(), count: await p.completedCount() };
          },
          async pipeline_delays() {
            const runs = {
              own: () => pipeline([add.message(1, 2), add.message(3)]).run({ delay: 10_000 }),
              first: () => pipeline([add.messageWithOptions({ args: [1, 2], delay: 10_000 }), add.message(3)]).run(),
              second: () => pipeline([add.message(1, 2), add.messageWithOptions({ args: [3], delay: 10_000 })]).run(),
              bigger: () => pipeline([add.messageWithOptions({ args: [1, 2], delay: 100 }), add.message(3)]).run({ delay: 10_000 }),
            };
            const out = {};
            await Promise.all(Object.entries(runs).map(async ([name, run]) => {
              out[name] = await outcome(() => run().getResults({ block: true, timeout: 1000 }));
            }));
            return { own: out.own, first: out.first, second: out.second, bigger: out.bigger };
          },
          async group_results() {
            const g = group([...[0, 1, 2, 3, 4].map((i) => add.message(i, i)), pipeline([add.message(1, 2), add.message(3)])]).run();
            await g.wait({ timeout: 10_000 });
            return { results: await g.getResults(), completed: await g.completed(), count: await g.completedCount() };
          },
          async inner_groups() {
            const g = group([0, 1, 2].map((n) => group([add.message(n, n), add.message(n, n)]))).run();
            return { results: await g.getResults({ block: true, timeout: 10_000 }), completed: await g.completed() };
          },
          async group_timeout() {
            const g = group([wait.message(3000), wait.message(3000)]).run();
            return { wait: await outcome(() => g.wait({ timeout: 1000 })), completed: await g.completed() };
          },
          group_stats: () => countsUntilCompleted(group([1500, 300, 800].map((ms) => wait.message(ms))).run()),
          async group_failure() {
            const g = group([add.message(1, 1), fail.message("boom")]).run();
            await sleep(500);
            return outcome(() => g.getResults({ block: true, timeout: 10_000 }));
          },
        };
        assert.deepEqual(Object.keys(scenario).sort(), [...SCENARIOS].sort());
        // Beyond Dramatiq's tests: many results as they come (iterResults), and one read of
        // several (getResults), over what the Python worker stored.
        const streamed = (async () => {
          const ms = [wait.message(1200), fail.message("odd"), wait.message(400)];
          for (const m of ms) broker.send(m);
          const order = [];
          for await (const item of backend.iterResults(ms, { timeout: 10_000 })) {
            order.push(item.error ? `${item.error.exceptionType}: ${item.error.exceptionValue}` : item.value);
          }
          const non = await outcome(() => backend.getResults([ms[0], ms[2]], { block: false }));
          const one = await outcome(() => backend.getResults(ms, { block: true, timeout: 5000 }));
          return { order, non, one };
        })();
        const got = await Promise.all(SCENARIOS.map(async (name) => ({ name, ...(await scenario[name]()) })));
        for (const seen of got) check(seen.name, seen, kind);
        assert.deepEqual(await streamed, {
          order: ["AppError: odd", 400, 1200],
          non: { value: [1200, 400] },
          one: { failure: { str: "actor raised AppError: odd", type: "AppError", msg: "odd" } },
        });
      } finally {
        await python.stop();
      }
    });
  });
}
});
