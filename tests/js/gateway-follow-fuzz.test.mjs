// Randomized, outside-in audit of "follow any message by id" and the operator's dead-letter
// actions, against a real Python Dramatiq 2.2.1 fleet (tests/py/follow_fuzz_app.py) on a real
// redis-server, through the gateway as users run it (`dramatiq-results serve`, a child).
//
// A seeded draw of jobs, sent by Python's producer (tests/py/follow_fuzz.py), drives messages
// into every state: done with a stored value (big ones too), failed and dead-lettered at
// once (its exception stored), dead-lettered after a retry (a traceback in the body),
// dead-lettered storing nothing, for an actor nobody declared, retried and waiting ten
// minutes (held by a worker, which is then killed: its acks set is orphaned), in progress
// (held by a worker killed with SIGKILL, and by one running a slow actor), with a result
// that expired, pipelines (some broken half-way: later steps never sent) and groups with a
// completion callback; then queued and delayed (eta ten minutes ahead, on `<q>.DQ`) with no
// worker on their queue. Message ids are UUIDs and other strings Python accepts (dots,
// colons, spaces, slashes, quotes, unicode, 200+ characters).
//
// For every message sent: `GET /api/messages/<id>` says the state and queue the model
// predicts, with the body that was sent; `?q=<id>` finds a message the broker holds in
// that state; `/result?timeout=` answers as Python's `get_result` does (value, exception,
// or none: 202, and a wait for a missing result times out as Python's does). Then random
// bulk actions (`POST /api/dead-letters/{requeue,delete}`, random filters, `dryRun`) match
// exactly the dead letters a plain model predicts, move each once, and are audited; finally
// a Python worker runs the requeued messages: each runs exactly as often as Dramatiq runs
// it (once, twice with a retry, never for an undeclared actor), lands back in the dead
// letters once, and `/result?timeout=` answers its new outcome as Python reads it.
//
// The draw, the producer and oracle calls and the bulk actions' model are shared with the
// RabbitMQ variant (gateway-follow-fuzz-amqp.test.mjs) in follow-fuzz-common.mjs.
//
// Seeded: FUZZ_SEED=<n> reproduces a run; FOLLOW_FUZZ_JOBS=<n> sets its size (default 40,
// about 15 s; 120 about 21 s), FOLLOW_FUZZ_ROUNDS=<n> the bulk actions (default 6).
import { test } from "node:test";
import { createClient } from "redis";
import { haveRedis, startRedis } from "./services.mjs";
import { eventually, startGatewayBin } from "./gateway-helpers.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";
import { rng } from "./diff-fuzz-gen.mjs";
import { APP, OPERATOR, VIEWER, caller, canonical, checkBulk, checkResultAnswer, collector, drawBulk, drawJob, pythonResults, ranCounts, send, settings, until } from "./follow-fuzz-common.mjs";

const { SEED, JOBS, ROUNDS } = settings();
const skip = (!haveRedis && "redis-server is not installed (scripts/setup --services)") || (!havePython && "no Python Dramatiq (scripts/setup --python)");
const PREFIX = "follow-fuzz";

test(`follow any message by id, and bulk dead-letter actions, over a random Python fleet (seed ${SEED}, ${JOBS} jobs)`, { skip, timeout: 600_000 }, async (t) => {
  const next = rng(SEED);
  t.diagnostic(`FUZZ_SEED=${SEED} FOLLOW_FUZZ_JOBS=${JOBS} FOLLOW_FUZZ_ROUNDS=${ROUNDS}`);
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const env = { url: redis.url, prefix: PREFIX };
  const workers = [];
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "100"], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = caller(gateway.url);
  const ran = () => ranCounts(client, PREFIX);
  /** The dead letters Redis holds: message_id → [{ queue, rid, at, body }]. */
  const deadLetters = async () => {
    const out = new Map();
    for (const queue of ["fa", "fb"]) {
      for (const { value: rid, score } of await client.zRangeWithScores(`dramatiq:${queue}.XQ`, 0, -1)) {
        const body = JSON.parse(await client.hGet(`dramatiq:${queue}.XQ.msgs`, rid));
        const list = out.get(body.message_id) ?? [];
        list.push({ queue, rid, at: score, body });
        out.set(body.message_id, list);
      }
    }
    return out;
  };
  const { check, report } = collector();
  try {
    // --- Phase 1: a worker runs a random mix, then dies (SIGKILL) holding what it holds.
    const jobs1 = Array.from({ length: JOBS }, (_, n) => drawJob(next, n, "run"));
    const w1 = await startPythonWorker({ ...env, app: APP, threads: 4 });
    workers.push(w1);
    const known = await send(env, jobs1);
    const held = known.filter((k) => ["in-progress", "delayed"].includes(k.expect.state));
    const finals = known.filter((k) => !["in-progress", "delayed", "never"].includes(k.expect.state));
    await until(async () => {
      const counts = await ran();
      const dead = await deadLetters();
      const doneIds = new Set(counts.keys());
      const settled = finals.filter((k) => !(k.expect.state === "dead-lettered" ? dead.has(k.message.message_id) : doneIds.has(k.message.message_id)));
      // The slow and retried ones started (so they are held: in the acks sets).
      const started = held.filter((k) => !doneIds.has(k.message.message_id));
      const waiting = (await client.lLen("dramatiq:fa")) + (await client.lLen("dramatiq:fb"));
      return settled.length === 0 && started.length === 0 && waiting === 0 ? true : { detail: [{ waiting }, ...[...settled, ...started].map((k) => `${k.message.message_id} ${k.message.actor_name} ${k.expect.state}`)] };
    }, 60_000, "phase 1 settled");
    // Held messages sit in the worker's acks sets; a later one was re-enqueued to <q>.DQ
    // and taken from there by the worker (held until its eta).
    await eventually(async () => {
      const inDq = await Promise.all(["fa", "fb"].map((q) => client.lLen(`dramatiq:${q}.DQ`)));
      return inDq.every((n) => n === 0);
    }, 30_000, "retries taken from the delay queues");
    await w1.kill();
    // The brief results expire (400 ms): wait until they are gone, as a reader would find them.
    const briefs = known.filter((k) => k.expect.state === "expired");
    await eventually(async () => (await pythonResults(env, briefs)).every((r) => r.missing), 30_000, "brief results expired");

    // --- Phase 2: no worker on fa/fb: queued and delayed messages; a live worker on fc running a slow actor.
    const jobs2 = Array.from({ length: Math.max(4, Math.floor(JOBS / 4)) }, (_, n) => drawJob(next, JOBS + n, "idle"));
    known.push(...(await send(env, jobs2)));
    const w2 = await startPythonWorker({ ...env, app: APP, threads: 1, queues: ["fc"] });
    workers.push(w2);
    const live = await send(env, [{ job: { op: "send", queue: "fc", actor: "slow", args: [600_000, "live"], id: `live-${SEED}` }, expect: [{ state: "in-progress" }] }]);
    known.push(...live);
    await eventually(async () => (await ran()).has(`live-${SEED}`), 30_000, "the live slow message started");

    // The gateway finds a message it never saw (done between two polls) by its result,
    // under the queue and actor pairs of the messages it saw: one `ok` message queued on
    // each queue, seen by the poller, makes every done `ok` message findable (with
    // Dramatiq's MD5 result keys nothing else can name them; docs/operators.md).
    const witnesses = await send(env, ["fa", "fb"].map((queue) => ({ job: { op: "send", queue, actor: "ok", args: ["witness"], id: `witness-${queue}-${SEED}` }, expect: [{ state: "queued" }] })));
    known.push(...witnesses);
    for (const w of witnesses) await eventually(async () => (await call(`/api/messages/${w.message.message_id}`)).body.history?.length > 0, 30_000, `the poller sees ${w.message.message_id}`);

    // --- Checks by id, by search and by result, against the model and Python's get_result.
    const oracle = await pythonResults(env, known);
    for (const [i, k] of known.entries()) {
      const id = k.message.message_id;
      const queue = canonical(k.message.queue_name);
      const where = `${id} (${k.message.actor_name}, expected ${k.expect.state})`;
      const got = await call(`/api/messages/${encodeURIComponent(id)}`);
      const py = oracle[i];
      if (k.expect.state === "never") {
        check(got.status === 404, `GET ${where}: never sent, yet ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
      } else if (k.expect.state === "expired") {
        // Gone from the broker, its result expired: what the poller saw, or nothing.
        check((got.status === 200 && got.body.state === "expired" && got.body.result === null) || got.status === 404, `GET ${where}: ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
      } else {
        check(got.status === 200, `GET ${where}: ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
        if (got.status === 200) {
          const b = got.body;
          check(b.messageId === id && b.state === k.expect.state && b.queue === queue && b.actor === k.message.actor_name, `GET ${where}: ${JSON.stringify({ state: b.state, queue: b.queue, actor: b.actor, messageId: b.messageId })}, expected queue ${queue}`);
          const inBroker = k.expect.state !== "done";
          if (inBroker || b.message) {
            check(b.message?.message_id === id && JSON.stringify(b.message?.args) === JSON.stringify(k.expect.args ?? k.message.args), `GET ${where}: body ${JSON.stringify(b.message)?.slice(0, 200)}`);
          }
          if (k.expect.traceback && b.message) check(typeof b.message.options?.traceback === "string" && b.message.options.traceback.includes("Error"), `GET ${where}: no traceback in ${JSON.stringify(b.message.options).slice(0, 200)}`);
          // Its result as Python reads it.
          if (py.value !== undefined) check(b.result?.json !== undefined && JSON.stringify(JSON.parse(b.result.json)) === JSON.stringify(py.value), `GET ${where}: result ${JSON.stringify(b.result)?.slice(0, 200)}, Python ${JSON.stringify(py).slice(0, 200)}`);
          if (py.failure) check(b.result?.exception?.type === py.failure[0] && b.result.exception.message === py.failure[1], `GET ${where}: result ${JSON.stringify(b.result)}, Python ${JSON.stringify(py)}`);
          if (py.missing) check(b.result === null, `GET ${where}: result ${JSON.stringify(b.result)}, Python has none`);
        }
      }
      // /result?timeout=0 answers as get_result(block=False).
      if (k.expect.state !== "never") {
        const r = await call(`/api/messages/${encodeURIComponent(id)}/result?timeout=0`);
        checkResultAnswer(check, where, r, py, { missing: k.expect.state === "expired" ? [202, 404] : [202] });
      }
      // A search by its id finds a message the broker holds, in its state.
      if (["queued", "delayed", "in-progress", "dead-lettered"].includes(k.expect.state)) {
        const s = await call(`/api/messages?q=${encodeURIComponent(id)}&limit=1000`);
        const hits = s.status === 200 ? s.body.items.filter((it) => it.message?.message_id === id) : [];
        check(hits.length === 1 && hits[0].state === k.expect.state && hits[0].queue === queue, `search ${where}: ${s.status} ${JSON.stringify(hits.map((h) => [h.state, h.queue]))}`);
      }
    }
    // A wait for a missing result times out, as Python's get_result(block=True) does.
    const missing = known.filter((k, i) => oracle[i].missing && ["queued", "delayed", "in-progress", "dead-lettered"].includes(k.expect.state)).slice(0, 3);
    if (missing.length) {
      const py = await pythonResults(env, missing, 300);
      for (const [j, k] of missing.entries()) {
        const r = await call(`/api/messages/${encodeURIComponent(k.message.message_id)}/result?timeout=300`);
        check(py[j].timeout && r.status === 202, `wait ${k.message.message_id}: ${r.status} ${JSON.stringify(r.body)}; Python ${JSON.stringify(py[j])}`);
      }
    }

    // --- Random bulk actions on the dead letters, against a plain model.
    const byId = new Map(known.map((k, i) => [k.message.message_id, { ...k, py: oracle[i] }]));
    const requeued = new Map(); // message_id → the dead letter's body before
    const deleted = new Set();
    for (let round = 0; round < ROUNDS; round++) {
      const dead = await deadLetters();
      const all = [...dead.values()].flat();
      const action = drawBulk(next, all, (id) => byId.get(id)?.py);
      const { kind, filter, dryRun, expected } = action;
      const res = await call(`/api/dead-letters/${kind}`, { method: "POST", body: { ...filter, ...(dryRun ? { dryRun } : {}) } });
      const what = await checkBulk(check, call, action, res);
      const after = await deadLetters();
      for (const d of expected) {
        const id = d.body.message_id;
        if (dryRun) check(after.has(id), `${what}: ${id} moved by a dry run`);
        else {
          check(!after.has(id), `${what}: ${id} still dead-lettered`);
          if (kind === "requeue") requeued.set(id, d.body);
          else deleted.add(id);
          const got = await call(`/api/messages/${encodeURIComponent(id)}`);
          if (kind === "requeue") check(got.status === 200 && got.body.state === "queued" && (got.body.message?.options?.retries ?? 0) === 0, `${what}: ${id} afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
          else check(!(got.status === 200 && ["queued", "delayed", "in-progress", "dead-lettered"].includes(got.body.state)), `${what}: ${id} afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
        }
      }
      // Nothing else moved.
      for (const [id, list] of dead) if (!expected.some((d) => d.body.message_id === id)) check(after.get(id)?.length === list.length, `${what}: ${id} moved unmatched`);
    }

    // --- A Python worker runs what was requeued, as Dramatiq runs any message: once per
    // attempt, back to the dead letters once; what was deleted never runs again.
    const before = await ran();
    const w3 = await startPythonWorker({ ...env, app: APP, threads: 4, queues: ["fa", "fb"] });
    workers.push(w3);
    const reruns = [...requeued.keys()].filter((id) => byId.has(id));
    await eventually(async () => {
      const dead = await deadLetters();
      return reruns.every((id) => dead.has(id)) && (await client.lLen("dramatiq:fa")) === 0 && (await client.lLen("dramatiq:fb")) === 0;
    }, 60_000, "the requeued messages dead-lettered again");
    const afterRuns = await ran();
    const dead = await deadLetters();
    for (const id of reruns) {
      const k = byId.get(id);
      check(dead.get(id).length === 1, `rerun ${id}: ${dead.get(id).length} dead letters`);
      check((afterRuns.get(id) ?? 0) - (before.get(id) ?? 0) === k.expect.runs, `rerun ${id} (${k.message.actor_name}): ran ${(afterRuns.get(id) ?? 0) - (before.get(id) ?? 0)} times, expected ${k.expect.runs}; requeued ${JSON.stringify(requeued.get(id)).slice(0, 600)}`);
    }
    for (const id of deleted) check((afterRuns.get(id) ?? 0) === (before.get(id) ?? 0), `deleted ${id} ran again`);
    if (reruns.length) {
      // Those that store their exception, waited for (a blocking read of a result never
      // stored fails in redis-py's socket read); the others read once.
      const sample = reruns.slice(0, 5).map((id) => byId.get(id)).filter((k) => k.expect.error);
      const py = await pythonResults(env, sample, 5000);
      for (const [j, k] of sample.entries()) {
        const r = await call(`/api/messages/${encodeURIComponent(k.message.message_id)}/result?timeout=5000`);
        if (py[j].failure) check(r.status === 200 && r.body.result?.exception?.type === py[j].failure[0] && r.body.result.exception.message === py[j].failure[1], `rerun result ${k.message.message_id}: ${r.status} ${JSON.stringify(r.body)}; Python ${JSON.stringify(py[j])}`);
        else check(false, `rerun result ${k.message.message_id}: ${r.status} ${JSON.stringify(r.body)}; Python ${JSON.stringify(py[j])}`);
      }
    }
    for (const id of reruns.filter((x) => !byId.get(x).expect.error)) {
      const r = await call(`/api/messages/${encodeURIComponent(id)}/result?timeout=0`);
      check(r.status === 202, `rerun result ${id}: ${r.status} ${JSON.stringify(r.body)}; Python stores none`);
    }
    report(t, SEED, `${known.length} messages, ${requeued.size} requeued, ${deleted.size} deleted`);
  } finally {
    for (const w of workers.reverse()) await w.kill().catch(() => {});
    await gateway.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});
