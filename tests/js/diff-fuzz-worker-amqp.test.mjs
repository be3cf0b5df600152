// tests/js/diff-fuzz-worker.test.mjs over RabbitMQ: the same generated cases (random actors
// and attempt-driven scripts, single messages, pipelines, groups with completion callbacks),
// sent through Dramatiq's RabbitmqBroker (Python's producer or ours, drawn per case; over
// RabbitMQ now and then with a delay, and with AMQP priorities, on queues declared with an
// x-max-priority of 10 or none, drawn per batch) and
// run by Python's `dramatiq` worker and by our in-process `Worker` over our RabbitmqBroker
// (and, with FUZZ_WORKER_JS=js,command, the `dramatiq-results worker` command),
// each side in a RabbitMQ vhost of its own, results, callback recordings, attempts and group
// barriers in a Redis database of its own. After each run settles and its worker stopped,
// every queue of the vhost (fw, fwcb and their .DQ and .XQ) is drained with amqplib's `get`
// and compared message by message: the body byte for byte (ids, clocks and traceback text
// masked as the Redis variant masks them), the AMQP properties (priority, delivery mode,
// content type and encoding, headers with x-death's times left out), redelivered; so are
// the queues' declarations and everything in Redis.
// Seeded: FUZZ_SEED=<n> reproduces a run; FUZZ_WORKER_AMQP_CASES=<n> sets its size (default
// 16: ~16 s, and ~11 s more to start the node and its vhosts); bigger runs go in batches
// of FUZZ_WORKER_BATCH (default 60): 200 cases with both our workers take about a minute.
// FUZZ_WORKER_PRODUCER=python|js sends with one only; FW_DEBUG=1 prints both states.
// FUZZ_WORKER_AMQP_LIMITS=1 draws the cases of diff-fuzz-worker-limits.test.mjs instead
// (time limits, shutdown notifications, rate limiters in actors; TimeLimit checking every
// 100 ms on every side; the workers leave queue fwlate alone, which is compared too).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqplib from "amqplib";
import { createClient } from "redis";
import { GroupCallbacks, RabbitmqBroker, RedisBackend, RedisRateLimiterBackend, Worker, defaultMiddleware } from "dramatiq-results";
import { declareActors, fuzzAmqpBroker, quiet } from "./diff-fuzz-worker-actors.mjs";
import { compare, genCase, mask, maskState, mergeBuckets, sendCases, specBatches, startCommandWorker, readOtherwise, tallyExercised, withoutRacyAttempts } from "./diff-fuzz-worker-common.mjs";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { rng } from "./diff-fuzz-gen.mjs";
import { sleep } from "./helpers.mjs";

const CASES = Number(process.env.FUZZ_WORKER_AMQP_CASES ?? 16);
const BATCH = Number(process.env.FUZZ_WORKER_BATCH ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const LIMITS = process.env.FUZZ_WORKER_AMQP_LIMITS === "1";
const QUEUES = ["fw", "fw.DQ", "fw.XQ", "fwcb", "fwcb.DQ", "fwcb.XQ", ...(LIMITS ? ["fwlate"] : [])];
// With LIMITS, what the workers consume (not fwlate) and how often TimeLimit checks.
const CONSUMED = LIMITS ? ["fw", "fwcb"] : undefined;
const INTERVAL = LIMITS ? "100" : "";
// Our workers: the in-process `Worker` ("js", the default), the `dramatiq-results worker`
// command ("command", actors on threads), or both: FUZZ_WORKER_JS=js,command.
const WORKERS = (process.env.FUZZ_WORKER_JS ?? "js").split(",");
const SIDES = Object.fromEntries(["python", ...WORKERS].map((side, k) => [side, { vhost: `fw_${side}`, db: k + 1 }]));

/** Runs `f(channel)` on a channel of its own; a channel closed by the server (a queue that
 * does not exist) is reported as `undefined`. */
async function onChannel(conn, f) {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  try {
    return await f(ch);
  } catch (e) {
    if (/NOT_FOUND|404/.test(String(e?.message))) return undefined;
    throw e;
  } finally {
    await ch.close().catch(() => {});
  }
}

/** Resolves once the run in `vhost` is idle: nothing changed for 3 s (Redis, and what each
 * queue has ready) and then RabbitMQ counts no message ready or held in fw and fwcb (a
 * `Retry(delay=600000)` stays held in fw.DQ), but for the attempts hanging until the worker
 * stops (each said so in `fw:hang`, and a hang is its message's last attempt of the run). */
async function settled(rabbit, conn, client, vhost, deadlineMs = 60_000) {
  let last = "";
  let since = Date.now();
  for (const deadline = Date.now() + deadlineMs; Date.now() < deadline; await sleep(200)) {
    const ready = [];
    for (const q of QUEUES) ready.push((await onChannel(conn, (ch) => ch.checkQueue(q)))?.messageCount ?? null);
    const now = JSON.stringify([ready, await client.dbSize(), await client.lLen("fw:att"), await client.lLen("fw:cb")]);
    if (now !== last) [last, since] = [now, Date.now()];
    if (ready[0] === 0 && ready[3] === 0 && Date.now() - since > 3000) {
      const counts = await queueCounts(rabbit, vhost);
      const hanging = { fw: await client.lLen("fw:hang"), fwcb: 0 };
      if (["fw", "fwcb"].every((q) => counts[q] && counts[q][0] === 0 && counts[q][1] === hanging[q])) return true;
      since = Date.now();
    }
  }
  return false;
}

async function queueCounts(rabbit, vhost) {
  const out = {};
  for (const line of (await rabbit.ctl("list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged")).split("\n")) {
    const [name, ready, unacked] = line.split("\t");
    if (/^\d+$/.test(ready ?? "")) out[name] = [Number(ready), Number(unacked)];
  }
  return out;
}

/** Every message of the vhost's queues, drained: `amqp <queue>` → [kind, items, -1] as
 * maskState gives a list, each item `props:<JSON> <masked body>`. amqplib's empty headers
 * table is counted in `emptyHeaders` and left out (docs/brokers.md: "amqplib sends an empty
 * `headers` table with every publish, where pika sends none"). */
async function drain(conn, now, emptyHeaders) {
  const out = {};
  for (const q of QUEUES) {
    const items = await onChannel(conn, async (ch) => {
      const got = [];
      for (;;) {
        const m = await ch.get(q, { noAck: true });
        if (!m) return got;
        const { headers, ...properties } = m.properties;
        const props = {};
        for (const [k, v] of Object.entries(properties)) if (v !== undefined) props[k] = v;
        if (headers && Object.keys(headers).length === 0) emptyHeaders.n += 1;
        else if (headers) {
          props.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, k === "x-death" ? v.map(({ time, ...d }) => d) : v]));
        }
        props.redelivered = m.fields.redelivered;
        got.push(`props:${JSON.stringify(props)} ${mask(m.content.toString("latin1"), now)}`);
      }
    });
    out[`amqp ${q}`] = items === undefined ? ["absent", null, -1] : ["list", items.sort(), -1];
  }
  return out;
}

/** The vhost's queues as declared: name, durability, arguments. */
async function declarations(rabbit, vhost) {
  const lines = (await rabbit.ctl("list_queues", "-p", vhost, "name", "durable", "auto_delete", "arguments")).split("\n").filter((l) => QUEUES.includes(l.split("\t")[0]));
  return { "amqp declarations": ["list", lines.sort(), -1] };
}

describe("diff-fuzz over RabbitMQ: what a worker does with a message", {
  skip: (!havePython && "no Python venv (scripts/setup --python)") || (!haveRedis && "no redis-server") || (!haveRabbitmq && "no rabbitmq-server (scripts/setup --services)"),
  timeout: Math.max(300_000, CASES * 8000),
}, () => {
  let redis;
  let rabbit;
  const clients = {};
  let dir;
  before(async () => {
    [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
    for (const [side, { vhost, db }] of Object.entries(SIDES)) {
      clients[side] = await createClient({ url: `${redis.url}/${db}` }).connect();
      await rabbit.ctl("add_vhost", vhost);
      await rabbit.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
    }
    dir = mkdtempSync(join(tmpdir(), "fwa-"));
  });
  after(async () => {
    for (const c of Object.values(clients)) await c?.quit();
    await rabbit?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`Python's worker and ours leave the same queues and the same Redis (seed ${SEED}, ${CASES} cases)`, async () => {
    const next = rng(SEED + 11);
    const budgets = [];
    const all = Array.from({ length: CASES }, (_, i) => {
      // (As diff-fuzz-worker-limits.test.mjs draws them, per batch.)
      const limits = LIMITS ? { budget: (budgets[Math.floor(i / BATCH)] ??= { hangs: 1, blockingInProcess: next.chance(0.5) }) } : undefined;
      return genCase(next, SEED, i, { amqp: true, limits });
    });
    const accepted = new Map();
    const failures = [];
    const exercised = {};
    for (const { from, batch, specFile } of specBatches(all, BATCH, dir)) {
      const viewed = await readOtherwise(batch);

      // Queues declared with an x-max-priority of 10 (Python's max_priority, our
      // maxPriority) or without one, drawn per batch: the same on every side.
      const maxPriority = rng(SEED + from + 13).chance(0.5) ? 10 : undefined;
      const runs = {};
      for (const [side, { vhost, db }] of Object.entries(SIDES)) {
        const client = clients[side];
        const url = `${rabbit.url}/${vhost}`;
        const env = { broker: "rabbitmq", url, resultsUrl: `${redis.url}/${db}`, queue: "fw", prefix: "fw", env: { CALLBACK_QUEUE: "fwcb", FW_SPEC: specFile, BROKER_MAX_PRIORITY: maxPriority ?? "", FW_TL_INTERVAL: INTERVAL } };
        await client.flushDb();
        const conn = await amqplib.connect(url);
        try {
          for (const q of QUEUES) await onChannel(conn, (ch) => ch.deleteQueue(q));
          const byPython = batch.filter((c) => c.producer === "python");
          const sent = byPython.length ? (await runPython("diff_fuzz_worker.py", ["send"], { ...env, input: byPython.map((c) => c.line).join("\n") })).map((l) => JSON.parse(l)) : [];
          sent.forEach((s, k) => assert.ok(s.ok, `seed ${SEED}: Python's producer refused case ${byPython[k].i}: ${s.error}\n${byPython[k].line}`));
          const producer = await RabbitmqBroker.connect(url, {
            logger: quiet, maxPriority, middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) })],
          });
          await sendCases(producer, batch.filter((c) => c.producer === "js"));
          await producer.close();
          let stop;
          if (side === "python") {
            const w = await startPythonWorker({ ...env, app: "diff_fuzz_worker_app", threads: 2, queues: CONSUMED });
            stop = () => w.stop();
          } else if (side === "command") {
            stop = await startCommandWorker({ FW_REDIS_URL: `${redis.url}/${db}`, FW_AMQP_URL: url, FW_SPEC: specFile, FW_MAX_PRIORITY: maxPriority ?? "", FW_TL_INTERVAL: INTERVAL }, CONSUMED ? ["-Q", ...CONSUMED] : []);
          } else {
            process.env.FW_TL_INTERVAL = INTERVAL;
            const broker = await fuzzAmqpBroker(url, client, { maxPriority });
            declareActors(broker, (key, value) => client.rPush(key, value), batch.map((c) => c.spec), new RedisRateLimiterBackend(client));
            const worker = new Worker(broker, { concurrency: 2, queues: CONSUMED }).start();
            stop = async () => {
              await worker.stop();
              await broker.close();
            };
          }
          const idle = await settled(rabbit, conn, client, vhost);
          await stop();
          const now = Date.now();
          const emptyHeaders = { n: 0 };
          const [state] = (await runPython("diff_fuzz.py", ["dump", `${redis.url}/${db}`])).map((l) => JSON.parse(l));
          const queues = await drain(conn, now, emptyHeaders);
          // docs/python-users.md, "A stopping worker starts nothing new": the retry a hung
          // attempt's Shutdown sends to fw.DQ while its worker stops reaches Python's
          // consumer (still consuming), which gives it back redelivered; ours had cancelled.
          const hung = state["fw:hang"]?.[1] ?? [];
          if (queues["amqp fw.DQ"][1]) {
            queues["amqp fw.DQ"][1] = queues["amqp fw.DQ"][1].map((item) => (hung.some((id) => item.includes(`"message_id":"${id}"`)) ? item.replace(/"redelivered":(true|false)/, '"redelivered":"<sent while stopping>"') : item)).sort();
          }
          runs[side] = { idle, emptyHeaders, state: { ...withoutRacyAttempts(maskState(mergeBuckets(state), now), batch), ...queues, ...(await declarations(rabbit, vhost)) } };
        } finally {
          await conn.close().catch(() => {});
        }
      }
      if (process.env.FW_DEBUG) for (const side of Object.keys(SIDES)) console.log(`# ${side}: ${JSON.stringify(runs[side].state, null, 1)}`);
      assert.ok(runs.python.idle, `seed ${SEED}: Python's worker never settled`);
      // docs/brokers.md: "amqplib sends an empty `headers` table with every publish, where
      // pika sends none" (a message our worker published, a retry or a callback, or our
      // producer, on both sides).
      for (const side of WORKERS) {
        assert.ok(runs[side].idle, `seed ${SEED}: our worker (${side}) never settled`);
        const n = runs[side].emptyHeaders.n - runs.python.emptyHeaders.n;
        if (n > 0) accepted.set("amqplib's empty headers table", (accepted.get("amqplib's empty headers table") ?? 0) + n);
        compare(batch, runs.python.state, runs[side].state, viewed, accepted, failures, new RedisBackend(clients[side]), side);
      }
      tallyExercised(exercised, runs.python.state, "rabbitmq");
    }
    console.log(`# worker diff-fuzz over RabbitMQ (seed ${SEED}): ${CASES} cases (${JSON.stringify(exercised)}), ${failures.length} differences, ${JSON.stringify(Object.fromEntries(accepted))} differ as documented`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
  });
});
