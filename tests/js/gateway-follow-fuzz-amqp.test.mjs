// The RabbitMQ variant of gateway-follow-fuzz.test.mjs: a randomized, outside-in audit of
// "follow any message by id" and the operator's dead-letter actions, against a real Python
// Dramatiq 2.2.1 fleet on Dramatiq's RabbitmqBroker (tests/py/follow_fuzz_app.py with
// BROKER=rabbitmq, results in Redis), through the gateway as users run it (`dramatiq-results
// serve --amqp … --redis … --queues fa,fb,fc`, a child), on a real rabbitmq-server and
// redis-server. The draw, the producer and oracle and the bulk actions' model are shared
// with the Redis audit (follow-fuzz-common.mjs); what differs is what RabbitMQ lets a client
// see (docs/operators.md, "A RabbitMQ deployment"), which this file models:
//
//   - dead letters (`q.XQ`) are visible: by id (`GET /api/messages/<id>` says
//     `dead-lettered`, with the body RabbitMQ holds and the result Python reads), by `?q=`,
//     and to the single and bulk requeue and delete (filters, `dryRun`), whose `exception`
//     filter looks in the traceback and in the exception Python stored, as over Redis;
//   - queued, delayed and held messages are not: RabbitMQ hands a message to a consumer to
//     show it. They are 404 by id and absent from `?q=`; `/api/queues` counts the *ready*
//     ones exactly (a message a worker held when it was killed is ready again: RabbitMQ
//     requeues what a dead connection held unacked, so the slow and the retried-later ones
//     of the killed worker are queued and delayed again, unlike over Redis);
//   - a message done is found by its result under the queue and actor pairs of the dead
//     letters the gateway has read (two `ok` dead letters, one per queue, are the
//     witnesses), and `/api/results/<q>/<actor>/<id>` answers as Python's `get_result` for
//     any message.
//
// Finally a Python worker runs the requeued messages: each runs as often as Dramatiq runs it
// and lands back in the dead letters once; the deleted ones never run again.
//
// Seeded: FUZZ_SEED=<n> reproduces a run; FOLLOW_FUZZ_JOBS=<n> sets its size (default 20),
// FOLLOW_FUZZ_ROUNDS=<n> the bulk actions (each followed by one by id, from the same draw),
// FOLLOW_FUZZ_SINGLES=<n> the actions by id after them (default 8, from a stream of their own:
// ids never sent too, and two requests at once on one id).
import { test } from "node:test";
import amqplib from "amqplib";
import { createClient } from "redis";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { eventually, startGatewayBin } from "./gateway-helpers.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";
import { rng } from "./diff-fuzz-gen.mjs";
import { APP, NEVER_SENT, OPERATOR, QUEUES, VIEWER, caller, canonical, checkBulk, checkResultAnswer, collector, drawBulk, drawId, drawJob, pythonResults, ranCounts, sameResult, send, settings, singlesSeed, until } from "./follow-fuzz-common.mjs";

const { SEED, JOBS, ROUNDS, SINGLES } = settings({ jobs: 20, singles: 8 });
const skip =
  [!haveRedis && "no redis-server (scripts/setup --services)", !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)", !havePython && "no Python Dramatiq (scripts/setup --python)"]
    .filter(Boolean)
    .join("; ") || false;
const PREFIX = "follow-fuzz-amqp";
const IN_BROKER = ["queued", "delayed", "in-progress"];

/** The x-death time RabbitMQ recorded on a dead letter, in ms (it keeps whole seconds). */
function deadAt(properties) {
  const time = properties?.headers?.["x-death"]?.[0]?.time;
  const seconds = typeof time === "object" && time !== null ? Number(time.value) : Number(time);
  return Number.isFinite(seconds) ? seconds * 1000 : null;
}

test(`follow any message by id, and dead-letter actions, over a random Python fleet on RabbitMQ (seed ${SEED}, ${JOBS} jobs)`, { skip, timeout: 600_000 }, async (t) => {
  const next = rng(SEED);
  const t0 = Date.now();
  t.diagnostic(`FUZZ_SEED=${SEED} FOLLOW_FUZZ_JOBS=${JOBS} FOLLOW_FUZZ_ROUNDS=${ROUNDS} FOLLOW_FUZZ_SINGLES=${SINGLES}`);
  const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const admin = await amqplib.connect(rabbit.url);
  admin.on("error", () => {});
  const env = { broker: "rabbitmq", url: rabbit.url, resultsUrl: redis.url, prefix: PREFIX };
  const workers = [];
  let gateway;
  /** What RabbitMQ says is ready on each of `names` (0 for a queue it does not have). */
  const ready = async (...names) => {
    let sum = 0;
    for (const name of names) {
      const ch = await admin.createChannel();
      ch.on("error", () => {});
      try {
        sum += (await ch.checkQueue(name)).messageCount;
        await ch.close();
      } catch (error) {
        if (error?.code !== 404) throw error;
      }
    }
    return sum;
  };
  /** The dead letters RabbitMQ holds, read as the gateway reads them (taken unacked, then
   * put back): message_id → [{ queue, at, body }]. */
  const deadLetters = async () => {
    const out = new Map();
    const ch = await admin.createChannel();
    try {
      for (const queue of QUEUES) {
        for (;;) {
          const m = await ch.get(`${queue}.XQ`, { noAck: false });
          if (m === false) break;
          const body = JSON.parse(m.content.toString("utf8"));
          const list = out.get(body.message_id) ?? [];
          list.push({ queue, at: deadAt(m.properties), body });
          out.set(body.message_id, list);
        }
      }
      ch.nackAll(true);
    } finally {
      await ch.close();
    }
    return out;
  };
  const ran = () => ranCounts(client, PREFIX);
  const { check, report } = collector();
  // How long each phase took, for the summary (what a bigger run costs, and where).
  const phases = [];
  let phaseStart = t0;
  const phase = (name) => {
    phases.push(`${name} ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`);
    phaseStart = Date.now();
  };
  try {
    gateway = await startGatewayBin(["--amqp", rabbit.url, "--redis", redis.url, "--queues", QUEUES.join(",")], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
    const call = caller(gateway.url);
    phase("servers");

    // --- Phase 1: a worker runs a random mix, then dies (SIGKILL) holding what it holds.
    // Besides the draw, one `ok` message per queue dead-lettered (a keyword `ok` does not
    // take: a TypeError before it runs): the witnesses by which the gateway learns where
    // `ok`'s messages go, and so finds the done ones by their results.
    const jobs1 = Array.from({ length: JOBS }, (_, n) => drawJob(next, n, "run"));
    for (const queue of ["fa", "fb"]) jobs1.push({ job: { op: "send", queue, actor: "ok", args: ["witness"], kwargs: { nope: 1 }, id: `witness-${queue}-${SEED}` }, expect: [{ state: "dead-lettered", runs: 0, error: true }] });
    const w1 = await startPythonWorker({ ...env, app: APP, threads: 4 });
    workers.push(w1);
    const known = await send(env, jobs1);
    const held = known.filter((k) => ["in-progress", "delayed"].includes(k.expect.state));
    const finals = known.filter((k) => !["in-progress", "delayed", "never"].includes(k.expect.state));
    await until(async () => {
      const counts = await ran();
      const dead = await deadLetters();
      const settled = finals.filter((k) => !(k.expect.state === "dead-lettered" ? dead.has(k.message.message_id) : counts.has(k.message.message_id)));
      const started = held.filter((k) => !counts.has(k.message.message_id));
      const waiting = await ready("fa", "fb", "fa.DQ", "fb.DQ");
      return settled.length === 0 && started.length === 0 && waiting === 0 ? true : { detail: [{ waiting }, ...[...settled, ...started].map((k) => `${k.message.message_id} ${k.message.actor_name} ${k.expect.state}`)] };
    }, 60_000, "phase 1 settled");
    await w1.kill();
    // RabbitMQ gives back what the dead worker's connection held unacked: the slow messages
    // are ready on their queue again, the retried `later` ones (taken from <q>.DQ until their
    // eta) on their delay queue. Over Redis they stay held (in-progress, delayed) until
    // Dramatiq's maintenance gives them back; here they are queued and delayed at once.
    for (const k of known) if (k.expect.state === "in-progress") k.expect.state = "queued";
    const readyIn = (queue, state) => known.filter((k) => k.expect.state === state && canonical(k.message.queue_name) === queue && !k.expect.live).length;
    await until(async () => {
      const got = [await ready("fa"), await ready("fb"), await ready("fa.DQ"), await ready("fb.DQ")];
      const want = [readyIn("fa", "queued"), readyIn("fb", "queued"), readyIn("fa", "delayed"), readyIn("fb", "delayed")];
      return JSON.stringify(got) === JSON.stringify(want) ? true : { got, want };
    }, 30_000, "the killed worker's messages back in RabbitMQ");
    const briefs = known.filter((k) => k.expect.state === "expired");
    await eventually(async () => (await pythonResults(env, briefs)).every((r) => r.missing), 30_000, "brief results expired");

    phase("phase 1");
    // --- Phase 2: no worker on fa/fb: queued and delayed messages; a live worker on fc running a slow actor.
    const jobs2 = Array.from({ length: Math.max(4, Math.floor(JOBS / 4)) }, (_, n) => drawJob(next, JOBS + n, "idle"));
    known.push(...(await send(env, jobs2)));
    const w2 = await startPythonWorker({ ...env, app: APP, threads: 1, queues: ["fc"] });
    workers.push(w2);
    const live = await send(env, [{ job: { op: "send", queue: "fc", actor: "slow", args: [600_000, "live"], id: `live-${SEED}` }, expect: [{ state: "in-progress", live: true }] }]);
    known.push(...live);
    await eventually(async () => (await ran()).has(`live-${SEED}`), 30_000, "the live slow message started");

    phase("phase 2");
    // --- The counts: RabbitMQ's ready messages, as the model has them; what a worker holds is not counted.
    const queues = await call("/api/queues");
    for (const name of QUEUES) {
      const row = queues.body.find?.((q) => q.name === name);
      const want = { name, queued: readyIn(name, "queued"), delayed: readyIn(name, "delayed"), inProgress: null, deadLettered: readyIn(name, "dead-lettered") };
      check(JSON.stringify(row) === JSON.stringify(want), `queues ${name}: ${JSON.stringify(row)}, expected ${JSON.stringify(want)}`);
    }

    // The gateway learns queue and actor pairs from the dead letters it reads: a search
    // reads them all (and finds the witnesses).
    const seen = await call(`/api/messages?q=${encodeURIComponent(`witness-`)}&limit=1000`);
    check(seen.status === 200 && seen.body.items.filter((i) => i.message?.message_id?.startsWith("witness-")).length === 2, `search witnesses: ${seen.status} ${JSON.stringify(seen.body).slice(0, 300)}`);
    const pairs = new Set([...(await deadLetters()).values()].flat().map((d) => `${d.queue}\0${d.body.actor_name}`));

    // --- Checks by id, by search and by result, against the model and Python's get_result.
    const oracle = await pythonResults(env, known);
    for (const [i, k] of known.entries()) {
      const id = k.message.message_id;
      const queue = canonical(k.message.queue_name);
      const where = `${id} (${k.message.actor_name}, expected ${k.expect.state})`;
      const py = oracle[i];
      const state = k.expect.state;
      const byResult = state === "done" && pairs.has(`${queue}\0${k.message.actor_name}`);
      const got = await call(`/api/messages/${encodeURIComponent(id)}`);
      const b = got.body;
      const brief = `${got.status} ${JSON.stringify(b).slice(0, 300)}`;
      if (state === "dead-lettered") {
        // RabbitMQ shows dead letters: the gateway finds one by id as its requeue by id does.
        check(got.status === 200 && b.messageId === id && b.state === "dead-lettered" && b.queue === queue && b.actor === k.message.actor_name, `GET ${where}: ${brief}, expected queue ${queue}`);
        if (got.status === 200) {
          check(b.message?.message_id === id && JSON.stringify(b.message?.args) === JSON.stringify(k.expect.args ?? k.message.args), `GET ${where}: body ${JSON.stringify(b.message)?.slice(0, 200)}`);
          if (k.expect.traceback) check(typeof b.message?.options?.traceback === "string" && b.message.options.traceback.includes("Error"), `GET ${where}: no traceback in ${JSON.stringify(b.message?.options)?.slice(0, 200)}`);
          check(sameResult(b.result, py), `GET ${where}: result ${JSON.stringify(b.result)?.slice(0, 200)}, Python ${JSON.stringify(py).slice(0, 200)}`);
        }
      } else if (byResult) {
        check(got.status === 200 && b.state === "done" && b.queue === queue && b.actor === k.message.actor_name && b.knownBy === "result" && sameResult(b.result, py), `GET ${where}: ${brief}; Python ${JSON.stringify(py).slice(0, 200)}`);
      } else if (state === "expired") {
        check(got.status === 404 || (got.status === 200 && b.state === "expired" && b.result === null), `GET ${where}: ${brief}`);
      } else {
        // Never sent, done under a pair the gateway has not read, or in RabbitMQ but not
        // dead-lettered (queued, delayed, held): nothing the gateway can see names it.
        check(got.status === 404, `GET ${where}: ${brief}`);
      }
      if (state !== "never") {
        // /result?timeout=0 answers as get_result(block=False) for a message the gateway
        // knows; one it cannot name is 404 (it points at /api/results/<q>/<actor>/<id>),
        // which answers for any message.
        const r = await call(`/api/messages/${encodeURIComponent(id)}/result?timeout=0`);
        if (state === "dead-lettered" || byResult) checkResultAnswer(check, where, r, py);
        else check(r.status === 404, `result ${where}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        const any = await call(`/api/results/${encodeURIComponent(queue)}/${encodeURIComponent(k.message.actor_name)}/${encodeURIComponent(id)}?timeout=0`);
        checkResultAnswer(check, `${where} by key`, any, py);
      }
      // A search by its id finds a dead letter, and nothing else (RabbitMQ shows no other message).
      const s = await call(`/api/messages?q=${encodeURIComponent(id)}&limit=1000`);
      const hits = s.status === 200 ? s.body.items.filter((it) => it.message?.message_id === id) : [];
      if (state === "dead-lettered") check(hits.length === 1 && hits[0].state === "dead-lettered" && hits[0].queue === queue, `search ${where}: ${s.status} ${JSON.stringify(s.status === 200 ? hits.map((h) => [h.state, h.queue]) : s.body)}`);
      else check(s.status === 200 && hits.length === 0, `search ${where}: ${s.status} ${JSON.stringify(s.status === 200 ? hits.map((h) => [h.state, h.queue]) : s.body)}`);
    }
    // A wait for a missing result times out, as Python's get_result(block=True) does.
    const missing = known.filter((k, i) => oracle[i].missing && k.expect.state === "dead-lettered").slice(0, 3);
    if (missing.length) {
      const py = await pythonResults(env, missing, 300);
      for (const [j, k] of missing.entries()) {
        const r = await call(`/api/messages/${encodeURIComponent(k.message.message_id)}/result?timeout=300`);
        check(py[j].timeout && r.status === 202, `wait ${k.message.message_id}: ${r.status} ${JSON.stringify(r.body)}; Python ${JSON.stringify(py[j])}`);
      }
    }

    phase("checks");
    // --- Random dead-letter actions, in bulk and one by one, against a plain model.
    const byId = new Map(known.map((k, i) => [k.message.message_id, { ...k, py: oracle[i] }]));
    const requeued = new Map(); // message_id → the dead letter's body before
    const deleted = new Set();
    const actions = [];
    const afterAction = async (what, kind, id) => {
      const got = await call(`/api/messages/${encodeURIComponent(id)}`);
      if (kind === "requeue") {
        // Back on its queue, where RabbitMQ shows it to no one but a worker: the gateway
        // says what it did (the history) and that it no longer knows where it is; the
        // failed run's result was dropped before the copy went out.
        check(got.status === 200 && got.body.state === "unknown" && got.body.result === null && got.body.history?.at(-1)?.event === "requeued" && got.body.history.at(-1).by === "operator", `${what}: ${id} afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
      } else check(!(got.status === 200 && [...IN_BROKER, "dead-lettered"].includes(got.body.state)), `${what}: ${id} afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
    };
    /** What docs/operators.md promises of `kind` by id on a message that is a dead letter of
     * `queue` (`dead`) or not: 200 `{ messageId, matched: 1, done: 1, state }` (`queued` for
     * the requeued copy, `dead-lettered` for the deleted one), else 404 (RabbitMQ reaches
     * dead letters only). */
    const promised = (kind, dead, queue) => ({ kind, acts: dead, queue, shown: kind === "requeue" ? "queued" : "dead-lettered" });
    const answers = (res, e, id) =>
      e.acts ? res.status === 200 && JSON.stringify(res.body) === JSON.stringify({ messageId: id, matched: 1, done: 1, state: e.shown }) : res.status === 404 && res.body.messageId === id && typeof res.body.error === "string";
    /** Whether audit entry `a` records `e` on `id`, made between `t1` and `t2`. */
    const audited = (a, e, id, t1, t2) =>
      a?.action === e.kind && a.role === "operator" && a.messageId === id && a.filter === undefined && a.at >= t1 && a.at <= t2 && a.matched === (e.acts ? 1 : 0) && a.done === (e.acts ? 1 : 0) && a.queue === (e.acts ? e.queue : undefined);
    /** Sends `kinds` (one request, or two at once) on `id`, the dead letters being `dead`, and
     * checks the answers, the audit entries and the dead letters afterwards (the id's gone,
     * nothing else moved) → the dead letters afterwards. Two at once take turns (one request
     * at a time reads a queue's dead letters): the first acts, the second finds nothing (404),
     * in one order or the other. */
    const actOn = async (kinds, id, what, dead) => {
      const d = dead.get(id)?.[0];
      const logged = (await call("/api/audit?limit=1000")).body.length;
      const t1 = Date.now();
      const res = await Promise.all(kinds.map((kind) => (kind === "requeue" ? call(`/api/messages/${encodeURIComponent(id)}/requeue`, { method: "POST", body: {} }) : call(`/api/messages/${encodeURIComponent(id)}`, { method: "DELETE", body: {} }))));
      const t2 = Date.now();
      actions.push(`${kinds.join("+")}(1) ${res.map((r) => r.status).join("+")}`);
      const serial = (kinds.length === 1 ? [[0]] : [[0, 1], [1, 0]]).map((order) => {
        const es = [];
        order.forEach((j, n) => (es[j] = promised(kinds[j], !!d && n === 0, d?.queue)));
        return es;
      });
      const fits = serial.filter((es) => es.every((e, j) => answers(res[j], e, id)));
      check(fits.length > 0, `${what}: ${res.map((r) => `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`).join("; ")}, expected ${serial.map((es) => es.map((e) => (e.acts ? `200 ${e.shown}` : "404")).join(" + ")).join("; or ")}`);
      const es = fits[0] ?? serial[0];
      const log = (await call("/api/audit?limit=1000")).body;
      const fresh = log.slice(0, kinds.length);
      check(log.length === logged + kinds.length, `${what}: ${log.length - logged} audit entries`);
      check(es.length === 1 ? audited(fresh[0], es[0], id, t1, t2) : (audited(fresh[0], es[0], id, t1, t2) && audited(fresh[1], es[1], id, t1, t2)) || (audited(fresh[0], es[1], id, t1, t2) && audited(fresh[1], es[0], id, t1, t2)), `${what}: audit ${JSON.stringify(fresh)}`);
      const after = await deadLetters();
      check(!after.has(id), `${what}: still dead-lettered`);
      for (const [other, list] of dead) if (other !== id) check(after.get(other)?.length === list.length, `${what}: ${other} moved`);
      const acted = es.find((e) => e.acts);
      if (acted) {
        if (acted.kind === "requeue") requeued.set(id, d.body);
        else {
          requeued.delete(id);
          deleted.add(id);
        }
        await afterAction(what, acted.kind, id);
      }
      return after;
    };
    for (let round = 0; round < ROUNDS; round++) {
      const dead = await deadLetters();
      const all = [...dead.values()].flat();
      const action = drawBulk(next, all, (id) => byId.get(id)?.py);
      const { kind, filter, dryRun, expected } = action;
      const res = await call(`/api/dead-letters/${kind}`, { method: "POST", body: { ...filter, ...(dryRun ? { dryRun } : {}) } });
      const what = await checkBulk(check, call, action, res);
      actions.push(`${kind}${dryRun ? "?" : ""} ${res.body.matched}`);
      let after = await deadLetters();
      for (const d of expected) {
        const id = d.body.message_id;
        if (dryRun) check(after.has(id), `${what}: ${id} moved by a dry run`);
        else {
          check(!after.has(id), `${what}: ${id} still dead-lettered`);
          if (kind === "requeue") requeued.set(id, d.body);
          else deleted.add(id);
          await afterAction(what, kind, id);
        }
      }
      // Nothing else moved.
      for (const [id, list] of dead) if (!expected.some((d) => d.body.message_id === id)) check(after.get(id)?.length === list.length, `${what}: ${id} moved unmatched`);

      // One message by id: a dead letter is requeued or deleted (200); any other is 404
      // (RabbitMQ reaches dead letters only; over Redis a queued one could be deleted).
      // Mostly one of the dead letters there are, else any message (never sent, queued, done…).
      const deadNow = known.filter((k) => after.has(k.message.message_id));
      const target = deadNow.length && next.chance(0.7) ? next.pick(deadNow) : next.pick(known);
      const id = target.message.message_id;
      const one = next.pick(["requeue", "delete"]);
      after = await actOn([one], id, `${one} ${id} (${target.message.actor_name}, ${after.has(id) ? "dead-lettered" : "not dead-lettered"})`, after);
    }
    // More by id, from a stream of their own (the seed, salted) after the rounds, so that a
    // seed's bulk actions are what they were: ids never sent too, and sometimes two requests
    // at once on one id (a double click, a second operator).
    const draw = rng(singlesSeed(SEED));
    let letters = await deadLetters();
    for (let i = 0; i < SINGLES; i++) {
      const deadNow = known.filter((k) => letters.has(k.message.message_id));
      const roll = draw();
      const id = deadNow.length && roll < 0.6 ? draw.pick(deadNow).message.message_id : roll < 0.85 ? draw.pick(known).message.message_id : draw.chance(0.5) ? drawId(draw, 100_000 + i) : draw.pick(NEVER_SENT);
      const kinds = [draw.pick(["requeue", "delete"])];
      if (draw.chance(0.35)) kinds.push(draw.pick(["requeue", "delete"]));
      letters = await actOn(kinds, id, `single ${kinds.join(" + ")} ${JSON.stringify(id)} (${letters.has(id) ? "dead-lettered" : "not dead-lettered"})`, letters);
    }

    phase("actions");
    // --- A Python worker runs what was requeued, as Dramatiq runs any message: once per
    // attempt, back to the dead letters once; what was deleted never runs again.
    const before = await ran();
    const w3 = await startPythonWorker({ ...env, app: APP, threads: 4, queues: ["fa", "fb"] });
    workers.push(w3);
    const reruns = [...requeued.keys()].filter((id) => byId.has(id) && !deleted.has(id));
    await until(async () => {
      const dead = await deadLetters();
      const left = reruns.filter((id) => !dead.has(id));
      const waiting = await ready("fa", "fb");
      return left.length === 0 && waiting === 0 ? true : { waiting, left };
    }, 60_000, "the requeued messages dead-lettered again");
    const afterRuns = await ran();
    const dead = await deadLetters();
    for (const id of reruns) {
      const k = byId.get(id);
      check(dead.get(id).length === 1, `rerun ${id}: ${dead.get(id).length} dead letters`);
      check((afterRuns.get(id) ?? 0) - (before.get(id) ?? 0) === k.expect.runs, `rerun ${id} (${k.message.actor_name}): ran ${(afterRuns.get(id) ?? 0) - (before.get(id) ?? 0)} times, expected ${k.expect.runs}`);
      // Found by id again where it died again, its history saying the operator requeued it.
      const got = await call(`/api/messages/${encodeURIComponent(id)}`);
      check(got.status === 200 && got.body.state === "dead-lettered" && got.body.message?.message_id === id && got.body.history?.some((h) => h.event === "requeued" && h.by === "operator"), `rerun ${id}: afterwards ${got.status} ${JSON.stringify(got.body).slice(0, 300)}`);
    }
    for (const id of deleted) check((afterRuns.get(id) ?? 0) === (before.get(id) ?? 0) && !dead.has(id), `deleted ${id} ran again`);
    // Each rerun's new outcome, as Python reads it (those that store their exception waited
    // for; the others read once).
    const sample = reruns.slice(0, 5).map((id) => byId.get(id)).filter((k) => k.expect.error);
    const py = await pythonResults(env, sample, 5000);
    for (const [j, k] of sample.entries()) {
      const r = await call(`/api/messages/${encodeURIComponent(k.message.message_id)}/result?timeout=5000`);
      check(py[j].failure && r.status === 200 && sameResult(r.body.result, py[j]), `rerun result ${k.message.message_id}: ${r.status} ${JSON.stringify(r.body)}; Python ${JSON.stringify(py[j])}`);
    }
    for (const id of reruns.filter((x) => !byId.get(x).expect.error)) {
      const r = await call(`/api/messages/${encodeURIComponent(id)}/result?timeout=0`);
      check(r.status === 202, `rerun result ${id}: ${r.status} ${JSON.stringify(r.body)}; Python stores none`);
    }
    phase("reruns");
    report(t, SEED, `${known.length} messages, ${requeued.size} requeued, ${deleted.size} deleted (${actions.join(", ")}); ${phases.join(", ")}`);
  } finally {
    for (const w of workers.reverse()) await w.kill().catch(() => {});
    await gateway?.stop();
    await admin.close().catch(() => {});
    await client.quit().catch(() => {});
    await Promise.all([redis.stop(), rabbit.stop()]);
  }
});
