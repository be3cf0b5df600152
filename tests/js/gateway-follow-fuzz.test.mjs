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
// Between the two, single actions by id (`POST /api/messages/<id>/requeue`, `DELETE
// /api/messages/<id>`) on messages the model has in every state (dead-lettered, queued,
// delayed, held by the killed worker, in progress, gone) and on ids never sent (odd ones,
// percent-encoded): the answer docs/operators.md promises (200, 404 or 409, with `state`),
// one audit entry with the right fields, the broker afterwards where the model has it (read
// from Redis, nothing else moved), the history entered only by a request that moved the
// message, the failed run's result dropped by a requeue; the requeued ones then rerun once
// with the bulk ones, and the deleted ones never. They are drawn from a stream of their own,
// so a seed draws the same states and bulk actions as before they were added.
//
// The draw, the producer and oracle calls and the bulk actions' model are shared with the
// RabbitMQ variant (gateway-follow-fuzz-amqp.test.mjs) in follow-fuzz-common.mjs.
//
// Seeded: FUZZ_SEED=<n> reproduces a run; FOLLOW_FUZZ_JOBS=<n> sets its size (default 40,
// about 15 s; 120 about 21 s), FOLLOW_FUZZ_ROUNDS=<n> the bulk actions (default 6),
// FOLLOW_FUZZ_SINGLES=<n> the single actions (default 16).
import { test } from "node:test";
import { createClient } from "redis";
import { haveRedis, startRedis } from "./services.mjs";
import { eventually, openEvents, startGatewayBin } from "./gateway-helpers.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";
import { rng } from "./diff-fuzz-gen.mjs";
import { APP, NEVER_SENT, OPERATOR, QUEUES, VIEWER, caller, canonical, checkBulk, checkResultAnswer, collector, drawBulk, drawId, drawJob, pythonResults, ranCounts, send, settings, singlesSeed, until } from "./follow-fuzz-common.mjs";

const { SEED, JOBS, ROUNDS, SINGLES } = settings();
const skip = (!haveRedis && "redis-server is not installed (scripts/setup --services)") || (!havePython && "no Python Dramatiq (scripts/setup --python)");
const PREFIX = "follow-fuzz";

test(`follow any message by id, and the operator's actions by id and in bulk, over a random Python fleet (seed ${SEED}, ${JOBS} jobs)`, { skip, timeout: 600_000 }, async (t) => {
  const next = rng(SEED);
  t.diagnostic(`FUZZ_SEED=${SEED} FOLLOW_FUZZ_JOBS=${JOBS} FOLLOW_FUZZ_ROUNDS=${ROUNDS} FOLLOW_FUZZ_SINGLES=${SINGLES}`);
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const env = { url: redis.url, prefix: PREFIX };
  const workers = [];
  const streams = [];
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
  /** Where Redis holds each message, read as the gateway's lookup reads it (a body on its
   * list waits, one only in the hash is held by a worker): message_id → [{ queue, state,
   * rid, body }], `state` as the model names it (`held`: delayed, held by a worker). */
  const holding = async () => {
    const out = new Map();
    const put = (entry) => out.set(entry.body.message_id, [...(out.get(entry.body.message_id) ?? []), entry].sort((x, y) => (x.rid < y.rid ? -1 : 1)));
    for (const queue of QUEUES) {
      for (const [key, waiting, held] of [[`dramatiq:${queue}`, "queued", "in-progress"], [`dramatiq:${queue}.DQ`, "delayed", "held"]]) {
        const listed = new Set(await client.lRange(key, 0, -1));
        for (const [rid, raw] of Object.entries(await client.hGetAll(`${key}.msgs`))) put({ queue, state: listed.has(rid) ? waiting : held, rid, body: JSON.parse(raw) });
      }
      const dead = new Set(await client.zRange(`dramatiq:${queue}.XQ`, 0, -1));
      for (const [rid, raw] of Object.entries(await client.hGetAll(`dramatiq:${queue}.XQ.msgs`))) if (dead.has(rid)) put({ queue, state: "dead-lettered", rid, body: JSON.parse(raw) });
    }
    return out;
  };
  /** Whether the broker holds a message (`list`, from `holding`) where the model has it (`m`). */
  const sameHolding = (list, m) => (m.state === "gone" ? !list : list?.length === 1 && list[0].state === m.state && list[0].queue === m.queue);
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

    // --- Single actions by id (`POST /api/messages/<id>/requeue`, `DELETE /api/messages/<id>`)
    // on messages in every state, ids never sent among them, against the model. Drawn from a
    // stream of their own (the seed, salted) after the bulk rounds, so that a seed's states
    // and bulk actions are the ones it drew before this phase existed.
    const draw = rng(singlesSeed(SEED));
    // Where the model has each message now: dead-lettered, queued, delayed (waiting on
    // <q>.DQ), held (delayed until its eta by the killed worker: the gateway says
    // `delayed`), in-progress, or gone (done, expired, never sent, deleted).
    const model = new Map();
    for (const k of known) {
      const id = k.message.message_id;
      const s = k.expect.state;
      let state = ["dead-lettered", "queued", "in-progress"].includes(s) ? s : s === "delayed" ? (k.message.queue_name.endsWith(".DQ") ? "delayed" : "held") : "gone";
      if (deleted.has(id)) state = "gone";
      else if (requeued.has(id)) state = "queued";
      model.set(id, { state, queue: canonical(k.message.queue_name) });
    }
    const modelled = (id) => model.get(id) ?? { state: "gone", queue: null };
    // The model against the broker, before any single action.
    let snap = await holding();
    for (const [id, m] of model) check(sameHolding(snap.get(id), m), `before the single actions: ${id} is ${JSON.stringify(snap.get(id) ?? [])}, model ${JSON.stringify(m)}`);
    for (const id of snap.keys()) check(model.has(id), `before the single actions: ${id} in the broker, not in the model`);
    /** `GET /api/queues` against the model: held messages count as delayed (docs/operators.md). */
    const counted = async (what) => {
      const got = await call("/api/queues");
      for (const queue of QUEUES) {
        const n = (...states) => [...model.values()].filter((m) => m.queue === queue && states.includes(m.state)).length;
        const want = { name: queue, queued: n("queued"), delayed: n("delayed", "held"), inProgress: n("in-progress"), deadLettered: n("dead-lettered") };
        const row = got.body.find?.((q) => q.name === queue);
        check(JSON.stringify(row) === JSON.stringify(want), `${what}: queue ${JSON.stringify(row)}, model ${JSON.stringify(want)}`);
      }
    };
    await counted("before the single actions");
    /** What docs/operators.md promises of `kind` on a message the model has as `m`: a requeue
     * moves a dead letter (200), refuses any other message the broker holds (409: not
     * dead-lettered); a delete removes a dead-lettered, queued or delayed message (200) and
     * refuses one a worker holds (409: running, or held until its eta); either is 404 for a
     * message the broker does not hold. `shown` is the answer's `state`, `after` the model's. */
    const promised = (kind, m) => {
      const acts = kind === "requeue" ? m.state === "dead-lettered" : ["dead-lettered", "queued", "delayed"].includes(m.state);
      const shown = acts && kind === "requeue" ? "queued" : m.state === "held" ? "delayed" : m.state;
      return { kind, acts, status: acts ? 200 : m.state === "gone" ? 404 : 409, shown, before: m, after: acts ? { ...m, state: kind === "requeue" ? "queued" : "gone" } : m };
    };
    /** Whether `res` is the answer `e` (from `promised`) for `id`. */
    const answers = (res, e, id) =>
      e.status === 200
        ? res.status === 200 && JSON.stringify(res.body) === JSON.stringify({ messageId: id, matched: 1, done: 1, state: e.shown })
        : res.status === e.status && res.body.messageId === id && typeof res.body.error === "string" && (e.status === 404 ? res.body.complete === undefined : res.body.state === e.shown);
    /** Whether audit entry `a` records `e` on `id`, made between `t1` and `t2`: the id, what it
     * matched and did, and where (a 409's queue is optional: the delete's names it). */
    const audited = (a, e, id, t1, t2) =>
      a?.action === e.kind && a.role === "operator" && a.messageId === id && a.filter === undefined && a.at >= t1 && a.at <= t2 &&
      a.matched === (e.acts ? 1 : 0) && a.done === (e.acts ? 1 : 0) &&
      (e.acts ? a.queue === e.before.queue : e.status === 404 ? a.queue === undefined : a.queue === undefined || a.queue === e.before.queue) &&
      (e.kind === "delete" && e.acts ? a.state === e.shown : a.state === undefined);
    // The operator's entries in a message's history (the poller adds its own, in any order).
    const byOperator = (got) => (got.status === 200 ? (got.body.history ?? []).filter((h) => h.by === "operator").map((h) => h.event) : []);
    const singles = [];
    // Each action is also sent as an `audit` event, to every open event stream.
    const stream = await openEvents(`${gateway.url}/api/events`, { authorization: `Bearer ${OPERATOR}` });
    streams.push(stream);
    const logStart = (await call("/api/audit?limit=1000")).body.length;
    for (let i = 0; i < SINGLES; i++) {
      // A state first (each as likely, whatever the draw made of it), then one of its ids;
      // `unknown` is an id never sent: odd ones, and ones that look like routes.
      const present = ["dead-lettered", "queued", "delayed", "held", "in-progress", "gone"].filter((st) => [...model.values()].some((m) => m.state === st));
      const s = draw.pick([...present, "unknown"]);
      const id = s === "unknown" ? (draw.chance(0.5) ? drawId(draw, 100_000 + i) : draw.pick(NEVER_SENT)) : draw.pick([...model].filter(([, m]) => m.state === s).map(([x]) => x));
      // Mostly one request; sometimes two at once on the same id (a double click, a second
      // operator): each move is one atomic check-and-move, so the answers, the audit and the
      // broker are those of the two made one after the other, in one order or the other.
      const kinds = [draw.pick(["requeue", "delete"])];
      if (draw.chance(0.25)) kinds.push(draw.pick(["requeue", "delete"]));
      const m = modelled(id);
      const what = `single ${kinds.join(" + ")} ${JSON.stringify(id)} (${s}, ${model.has(id) ? byId.get(id).message.actor_name : "never sent"})`;
      const path = `/api/messages/${encodeURIComponent(id)}`;
      const before = await call(path);
      const logged = (await call("/api/audit?limit=1000")).body.length;
      const body = snap.get(id)?.[0]?.body;
      const t1 = Date.now();
      const res = await Promise.all(kinds.map((kind) => (kind === "requeue" ? call(`${path}/requeue`, { method: "POST", body: {} }) : call(path, { method: "DELETE", body: {} }))));
      const t2 = Date.now();
      singles.push(`${kinds.join("+")} ${s} ${res.map((r) => r.status).join("+")}`);
      const after = await holding();
      const serial = (kinds.length === 1 ? [[0]] : [[0, 1], [1, 0]]).map((order) => {
        const es = [];
        let cur = m;
        for (const j of order) cur = (es[j] = promised(kinds[j], cur)).after;
        return { es, end: cur };
      });
      // The answers and the broker afterwards (this message where the model now has it).
      const fits = serial.filter(({ es, end }) => es.every((e, j) => answers(res[j], e, id)) && sameHolding(after.get(id), end));
      check(
        fits.length > 0,
        `${what}: ${res.map((r) => `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`).join("; ")}, afterwards ${JSON.stringify(after.get(id) ?? []).slice(0, 300)}; expected ${serial.map(({ es, end }) => `${es.map((e) => `${e.status} ${e.shown}`).join(" + ")}, then ${end.state}`).join("; or ")}`,
      );
      const { es, end } = fits[0] ?? serial[0];
      if (model.has(id)) model.set(id, end);
      // One audit entry per request, each its own.
      const log = (await call("/api/audit?limit=1000")).body;
      const fresh = log.slice(0, kinds.length);
      check(log.length === logged + kinds.length, `${what}: ${log.length - logged} audit entries`);
      check(es.length === 1 ? audited(fresh[0], es[0], id, t1, t2) : (audited(fresh[0], es[0], id, t1, t2) && audited(fresh[1], es[1], id, t1, t2)) || (audited(fresh[0], es[1], id, t1, t2) && audited(fresh[1], es[0], id, t1, t2)), `${what}: audit ${JSON.stringify(fresh)}`);
      await counted(what);
      // Nothing else moved.
      for (const other of new Set([...snap.keys(), ...after.keys()])) if (other !== id) check(JSON.stringify(after.get(other)) === JSON.stringify(snap.get(other)), `${what}: ${other} moved, ${JSON.stringify(after.get(other) ?? []).slice(0, 300)}`);
      // Only a request that moved it enters the message's history; a refusal teaches the
      // gateway nothing of an id it did not know.
      const got = await call(path);
      const moved = es.filter((e) => e.acts);
      const entered = [...byOperator(before), ...moved.map((e) => (e.kind === "requeue" ? "requeued" : "deleted"))].sort();
      check(JSON.stringify([...byOperator(got)].sort()) === JSON.stringify(entered), `${what}: history ${JSON.stringify(got.body.history)}`);
      if (!moved.length && before.status === 404) check(got.status === 404, `${what}: afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
      if (end.state === "queued" && moved.some((e) => e.kind === "requeue")) {
        // Back on its queue as Dramatiq enqueues it: the canonical queue, no eta, retries 0.
        const revived = after.get(id)?.[0]?.body;
        check(revived?.queue_name === m.queue && (revived?.options?.retries ?? 0) === 0 && revived?.options?.eta === undefined && JSON.stringify(revived?.args) === JSON.stringify(body?.args), `${what}: requeued as ${JSON.stringify(revived).slice(0, 300)}`);
        check(got.status === 200 && got.body.state === "queued" && (got.body.message?.options?.retries ?? 0) === 0, `${what}: afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
        requeued.set(id, body);
      } else if (moved.some((e) => e.kind === "delete")) {
        check(!(got.status === 200 && ["queued", "delayed", "in-progress", "dead-lettered"].includes(got.body.state)), `${what}: afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
        // Deleted: it never runs again, requeued before or not.
        requeued.delete(id);
        deleted.add(id);
      }
      snap = after;
    }
    const auditLog = (await call("/api/audit?limit=1000")).body;
    const entries = auditLog.slice(0, auditLog.length - logStart).map((a) => JSON.stringify(a));
    const audits = () => stream.events.filter((e) => e.event === "audit").map((e) => JSON.stringify(e.data));
    // Waited for a while; the check below says what came.
    await eventually(async () => audits().length >= entries.length, 10_000, "the single actions' audit events").catch(() => {});
    check(JSON.stringify(audits().sort()) === JSON.stringify(entries.sort()), `single actions: ${audits().length} audit events, ${entries.length} log entries: ${audits().slice(0, 3).join(" ")}`);
    // A requeue dropped the failed run's result (results in this Redis): Python's get_result
    // and the gateway's /result find none until the message runs again.
    const back = [...requeued.keys()].filter((id) => byId.has(id)).map((id) => byId.get(id));
    if (back.length) {
      const py = await pythonResults(env, back);
      for (const [j, k] of back.entries()) {
        const r = await call(`/api/messages/${encodeURIComponent(k.message.message_id)}/result?timeout=0`);
        check(py[j].missing && r.status === 202, `requeued ${k.message.message_id}: result ${r.status} ${JSON.stringify(r.body).slice(0, 200)}; Python ${JSON.stringify(py[j]).slice(0, 200)}`);
        // And by id: queued, with no result (the failed run's is gone), as Python reads it.
        const got = await call(`/api/messages/${encodeURIComponent(k.message.message_id)}`);
        check(got.status === 200 && got.body.state === "queued" && got.body.result === null, `requeued ${k.message.message_id}: ${got.status} ${JSON.stringify({ ...got.body, message: undefined, options: undefined }).slice(0, 400)}; Python ${JSON.stringify(py[j]).slice(0, 200)}`);
      }
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
    report(t, SEED, `${known.length} messages, ${requeued.size} requeued, ${deleted.size} deleted; single actions: ${singles.join(", ")}`);
  } finally {
    for (const w of workers.reverse()) await w.kill().catch(() => {});
    for (const s of streams) s.close();
    await gateway.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});
