// Randomized differential test of what a worker *does* with a message, the real Python
// Dramatiq 2.2.1 worker (`dramatiq`, RedisBroker) against ours (RedisBroker): random actors
// (max_retries 0–3, small back-offs, `throws`, stored results and their TTL, on_success /
// on_failure / on_retry_exhausted recorders, pipe_ignore, max_age, priority; each option at
// the actor, on the message, or both, the message's winning as in Dramatiq; on the message
// now and then a value only a producer writes), each message running a random script driven
// by its attempt number (the `retries` option): return a random JSON value, raise
// ValueError / RuntimeError / AppError, raise a class the actor `throws`, raise
// Retry(delay=…) (a back-off, a few ms, or ten minutes). Cases are single messages,
// pipelines of 2–3 steps and groups (some children pipelines) with a completion callback (a
// recorder, or a scripted message); a few messages are for an actor nobody declared. Each
// case is sent by Python's producer (tests/py/diff_fuzz_worker.py) or by ours (drawn per
// case; FUZZ_WORKER_PRODUCER=python|js for one only), the same to two Redis databases;
// Python's worker (tests/py/diff_fuzz_worker_app.py) runs one, ours the other (our
// in-process `Worker`, then `dramatiq-results worker` with the actors on threads;
// FUZZ_WORKER_JS=js or =command for one), each until settled, then stopped. Everything each
// database holds is compared: stored results (keys, bytes, TTLs), what the recorders were
// sent, how many attempts each message took, dead letters, queues, delay queues, ack sets,
// heartbeats and group barriers, with only ids, clocks and traceback text masked (their
// presence and form kept, as strings "<int>", "<soon:int>", "<text>", …).
// Seeded: FUZZ_SEED=<n> reproduces a run; FUZZ_WORKER_CASES=<n> sets its size (default 30,
// one run of each worker, ~16 s); bigger runs go in batches of FUZZ_WORKER_BATCH (default
// 60): FUZZ_WORKER_CASES=400 takes about 3 minutes. FW_DEBUG=1 prints each side's timings.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RedisBackend, Worker } from "dramatiq-results";
import { declareActors, fuzzBroker } from "./diff-fuzz-worker-actors.mjs";
import { compare, genCase, maskState, readOtherwise, redisFuzzServers, runSideRedis, sendBatchRedis, specBatches, startCommandWorker, tallyExercised } from "./diff-fuzz-worker-common.mjs";
import { haveRedis } from "./services.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";
import { rng } from "./diff-fuzz-gen.mjs";

const CASES = Number(process.env.FUZZ_WORKER_CASES ?? 30);
const BATCH = Number(process.env.FUZZ_WORKER_BATCH ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
// Our workers: the in-process `Worker` ("js"), the `dramatiq-results worker` command
// ("command", actors on threads), or both (the default).
const WORKERS = (process.env.FUZZ_WORKER_JS ?? "js,command").split(",");

// ---------------------------------------------------------------------------------------
// Our workers: the same actors as tests/py/diff_fuzz_worker_app.py
// (diff-fuzz-worker-actors.mjs), in this process or in `dramatiq-results worker`.

async function startJsWorker(client, specs) {
  const broker = fuzzBroker(client);
  declareActors(broker, (key, value) => client.rPush(key, value), specs);
  const worker = new Worker(broker, { concurrency: 2 }).start();
  return async () => {
    await worker.stop();
  };
}

// ---------------------------------------------------------------------------------------
// The run (settling, state and comparison: diff-fuzz-worker-common.mjs).

describe("diff-fuzz: what a worker does with a message", { skip: (!havePython && "no Python venv (scripts/setup --python)") || (!haveRedis && "no redis-server"), timeout: Math.max(300_000, CASES * 8000) }, () => {
  const fx = redisFuzzServers("fw-");

  test(`retries, callbacks, results, dead letters, pipelines and groups: Python's worker and ours leave the same state (seed ${SEED}, ${CASES} cases)`, async () => {
    const { server, jsClient, pyClient, dir } = fx;
    const next = rng(SEED + 11);
    const all = Array.from({ length: CASES }, (_, i) => genCase(next, SEED, i));
    const accepted = new Map();
    const failures = [];
    const exercised = {};
    for (const { batch, specFile } of specBatches(all, BATCH, dir)) {
      const viewed = await readOtherwise(batch);
      const env = (db) => ({ url: `${server.url}/${db}`, queue: "fw", prefix: "fw", env: { CALLBACK_QUEUE: "fwcb", FW_SPEC: specFile } });

      const runs = {};
      const timings = {};
      for (const side of ["python", ...WORKERS]) {
        const [client, db] = side === "python" ? [pyClient, 1] : [jsClient, 2];
        await sendBatchRedis(client, batch, env(db), SEED);
        const start = () => side === "python"
          ? startPythonWorker({ ...env(db), app: "diff_fuzz_worker_app", threads: 2 }).then((w) => () => w.stop())
          : side === "command"
            ? startCommandWorker({ FW_REDIS_URL: `${server.url}/${db}`, FW_SPEC: specFile })
            : startJsWorker(client, batch.map((c) => c.spec));
        const { idle, state, now, timing } = await runSideRedis(client, `${server.url}/${db}`, start);
        timings[side] = timing;
        runs[side] = { idle, state: maskState(state, now) };
      }
      assert.ok(runs.python.idle, `seed ${SEED}: Python's worker never settled`);
      for (const side of WORKERS) {
        assert.ok(runs[side].idle, `seed ${SEED}: our worker (${side}) never settled`);
        compare(batch, runs.python.state, runs[side].state, viewed, accepted, failures, new RedisBackend(jsClient), side);
      }
      if (process.env.FW_DEBUG) console.log(`# timings (settle, stop) ms: ${JSON.stringify(timings)}`);
      tallyExercised(exercised, runs.python.state, "redis");
    }
    console.log(`# worker diff-fuzz (seed ${SEED}): ${CASES} cases (${JSON.stringify(exercised)}), ${failures.length} differences, ${JSON.stringify(Object.fromEntries(accepted))} differ as documented`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
  });
});
