// Randomized differential test of time limits, shutdown notifications and rate limiters
// inside actors: the real Python Dramatiq 2.2.1 worker (`dramatiq`, RedisBroker) against
// ours, as tests/js/diff-fuzz-worker.test.mjs does (its cases, producers, workers and
// comparison, from diff-fuzz-worker-common.mjs), with these drawn too (genCase's `limits`):
// - `time_limit` at the actor, on the message or both (a falsy message value falls
//   through, `true` is 1 ms, a float), short (≤ 300 ms) or ten minutes and more, TimeLimit
//   checking every 100 ms on both sides (FW_TL_INTERVAL); steps that sleep past a short
//   limit (700 ms) or end well within it (30 ms): TimeLimitExceeded, retried, stored,
//   called back and dead-lettered as any failure, or listed in `throws`;
// - `notify_shutdown` (actor, message, odd message values) and steps that hang until the
//   worker stops (at most one per batch, so a thread is always free): Python's Shutdown,
//   retried per Retries (a delayed retry left on the delay queue) or dead-lettered. Its
//   retry is delayed 5-10 s and its callbacks go to a queue no worker consumes (fwlate):
//   Python's idle threads still take messages for up to a second after a stop, ours none
//   (docs/python-users.md, "A stopping worker starts nothing new");
// - steps inside a Concurrent (nested acquisitions past its limit), Window (60 s) or
//   Bucket (1 h) rate limiter over a Redis rate limiter backend, raise_on_failure:
//   RateLimitExceeded reaches the worker and is retried as any failure is (Python's worker
//   logs it at debug only); the limiters' keys are compared too, a window's or bucket's
//   time in its key masked and the counts of one limiter's buckets summed (which second a
//   count landed in is the clock's).
// Actors with `blocking` sleep synchronously on the `worker` command's threads (terminated
// at the limit or stop), and in half the batches in-process too (where the attempt fails
// once the code returns or throws past its limit; those batches draw no quick attempts
// under a short limit, as a blocked process stalls the other attempts' clocks:
// docs/python-users.md); other actors, and every hang in-process, sleep asynchronously.
// Under a limit below 100 ms (`true`), every attempt sleeps past it and its attempt count
// is not compared (its record races the stop on both sides; its retries are compared).
// Seeded: FUZZ_SEED=<n>; FUZZ_WORKER_LIMITS_CASES=<n> (default 8, ~17 s: one run of each
// worker), in batches of FUZZ_WORKER_BATCH (default 40; 20 for more hangs: 40 cases then
// take 1-2 minutes); FUZZ_WORKER_JS=js|command for one
// of our workers; FW_DEBUG=1 prints timings, FW_DUMP=<path prefix>
// writes each side's raw state.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { RedisBackend, RedisRateLimiterBackend, Worker } from "dramatiq-results";
import { declareActors, fuzzBroker } from "./diff-fuzz-worker-actors.mjs";
import { compare, genCase, maskState, mergeBuckets, readOtherwise, redisFuzzServers, runSideRedis, sendBatchRedis, settledRedis, specBatches, startCommandWorker, withoutRacyAttempts } from "./diff-fuzz-worker-common.mjs";
import { haveRedis } from "./services.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";
import { rng } from "./diff-fuzz-gen.mjs";
import { sleep } from "./helpers.mjs";

const CASES = Number(process.env.FUZZ_WORKER_LIMITS_CASES ?? 8);
const BATCH = Number(process.env.FUZZ_WORKER_BATCH ?? 40);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const WORKERS = (process.env.FUZZ_WORKER_JS ?? "js,command").split(",");
const INTERVAL = "100";
// Every worker leaves `fwlate` alone (diff-fuzz-worker-actors.mjs' LATE_RECORDER).
const QUEUES = ["fw", "fwcb"];

async function startJsWorker(client, specs) {
  process.env.FW_TL_INTERVAL = INTERVAL;
  const broker = fuzzBroker(client);
  declareActors(broker, (key, value) => client.rPush(key, value), specs, new RedisRateLimiterBackend(client));
  const worker = new Worker(broker, { concurrency: 2, queues: QUEUES }).start();
  return () => worker.stop();
}

/** The step a message's next attempt runs (behave's choice), or undefined. */
function currentStep(body) {
  try {
    const m = JSON.parse(body);
    const steps = m.args[0].s;
    const attempt = m.options.retries ?? 0;
    return steps[typeof attempt === "number" ? Math.max(0, Math.min(Math.trunc(attempt), steps.length - 1)) : 0];
  } catch {
    return undefined;
  }
}

/** Resolves once the worker on `client`'s database is idle (`settledRedis`), but for
 * attempts hanging until the worker stops: a message held in an ack set whose step is a
 * hang, and which has said it hangs (`fw:hang`), is not work to wait for. */
function settled(client) {
  return settledRedis(client, {
    watch: ["fw:hang"],
    heldIgnored: async () => {
      const hanging = new Set(await client.lRange("fw:hang", 0, -1));
      return async (queue, id) => {
        const body = await client.hGet(`dramatiq:${queue}.msgs`, id);
        const step = body === null ? undefined : currentStep(body);
        return step?.[0] === "hang" && hanging.has(JSON.parse(body).message_id);
      };
    },
  });
}

describe("diff-fuzz: time limits, shutdown notifications and rate limiters in actors", { skip: (!havePython && "no Python venv (scripts/setup --python)") || (!haveRedis && "no redis-server"), timeout: Math.max(300_000, CASES * 10_000) }, () => {
  const fx = redisFuzzServers("fwl-");

  test(`time limits, shutdowns and rate limits: Python's worker and ours leave the same state (seed ${SEED}, ${CASES} cases)`, async () => {
    const { server, jsClient, pyClient, dir } = fx;
    const next = rng(SEED + 23);
    const budgets = [];
    const all = Array.from({ length: CASES }, (_, i) => {
      const budget = (budgets[Math.floor(i / BATCH)] ??= { hangs: 1, blockingInProcess: next.chance(0.5) });
      return genCase(next, SEED, i, { limits: { budget } });
    });
    const accepted = new Map();
    const failures = [];
    const exercised = {};
    for (const { from, batch, specFile } of specBatches(all, BATCH, dir)) {
      const viewed = await readOtherwise(batch);
      const env = (db) => ({ url: `${server.url}/${db}`, queue: "fw", prefix: "fw", env: { CALLBACK_QUEUE: "fwcb", FW_SPEC: specFile, FW_TL_INTERVAL: INTERVAL } });

      const runs = {};
      const timings = {};
      for (const side of ["python", ...WORKERS]) {
        const [client, db] = side === "python" ? [pyClient, 1] : [jsClient, 2];
        await sendBatchRedis(client, batch, env(db), SEED);
        const start = () => side === "python"
          ? startPythonWorker({ ...env(db), app: "diff_fuzz_worker_app", threads: 2, queues: QUEUES }).then((w) => () => w.stop())
          : side === "command"
            ? startCommandWorker({ FW_REDIS_URL: `${server.url}/${db}`, FW_SPEC: specFile, FW_TL_INTERVAL: INTERVAL }, ["-Q", ...QUEUES])
            : startJsWorker(client, batch.map((c) => c.spec));
        const { idle, state, now, timing } = await runSideRedis(client, `${server.url}/${db}`, start, settled);
        timings[side] = timing;
        runs[side] = { idle, raw: state, state: withoutRacyAttempts(maskState(mergeBuckets(state), now), batch) };
        if (process.env.FW_DUMP) writeFileSync(`${process.env.FW_DUMP}-${from}-${side}.json`, JSON.stringify(state, null, 1));
      }
      assert.ok(runs.python.idle, `seed ${SEED}: Python's worker never settled`);
      for (const side of WORKERS) {
        assert.ok(runs[side].idle, `seed ${SEED}: our worker (${side}) never settled`);
        compare(batch, runs.python.state, runs[side].state, viewed, accepted, failures, new RedisBackend(jsClient), side);
      }
      if (process.env.FW_DEBUG) console.log(`# timings (settle, stop) ms: ${JSON.stringify(timings)}`);
      // What the batch exercised, from Python's run: the values (results, callbacks, retried
      // and dead messages with their tracebacks) that name each interruption.
      const py = runs.python.state;
      const values = Object.values(runs.python.raw).flatMap(([, v]) => (v && typeof v === "object" ? Object.values(v) : [v])).map(String);
      // (A stored failure or failure callback says `"type":"<class>"`, a traceback ends
      // with the class's module path; a script's names say neither.)
      const naming = (what, module) => values.filter((v) => v.includes(`"type":"${what}"`) || v.includes(`${module}.${what}`)).length;
      const attempts = Object.values(py["fw:att"]?.[1] ?? {});
      for (const [name, n] of [
        ["attempts", attempts.reduce((a, b) => a + b, 0)], ["retried", attempts.filter((n) => n > 1).length],
        ["timeLimitExceeded", naming("TimeLimitExceeded", "time_limit")], ["hung", (py["fw:hang"]?.[1] ?? []).length],
        ["shutdown", naming("Shutdown", "shutdown")], ["rateLimitExceeded", naming("RateLimitExceeded", "errors")],
        ["limiterKeys", Object.keys(py).filter((k) => k.startsWith("fwrl:")).length],
        ["dead", (py["dramatiq:fw.XQ.msgs"]?.[1] ?? []).length],
      ]) exercised[name] = (exercised[name] ?? 0) + n;
    }
    console.log(`# worker limits diff-fuzz (seed ${SEED}): ${CASES} cases (${JSON.stringify(exercised)}), ${failures.length} differences, ${JSON.stringify(Object.fromEntries(accepted))} differ as documented`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
  });
});
