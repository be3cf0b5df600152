// What the two "follow any message by id" audits share: gateway-follow-fuzz.test.mjs (the
// gateway over Dramatiq's RedisBroker) and gateway-follow-fuzz-amqp.test.mjs (over its
// RabbitmqBroker, `serve --amqp`, results in Redis). Both drive the same Python fleet
// (tests/py/follow_fuzz_app.py, its broker chosen by `BROKER`) with the same producer and
// oracle (tests/py/follow_fuzz.py) into random states, and check the gateway against a model
// and against Python's `get_result`. Here: the seeded draw of jobs and message ids, the
// producer and oracle calls, the model of a bulk dead-letter action (filter drawn from the
// dead letters there are, matches predicted), and the small checks both make the same way.
// What each broker lets the gateway see differs (RabbitMQ shows dead letters only): each
// test models that itself.
import assert from "node:assert/strict";
import { runPython } from "./pyworker.mjs";

export const VIEWER = "viewer-token-for-the-follow-fuzz-01";
export const OPERATOR = "operator-token-for-the-follow-fuzz-9";
export const APP = "follow_fuzz_app";
export const ERRORS = ["AppError", "ValueError", "KeyError", "RuntimeError"];
/** The fleet's queues: `fa` and `fb` for the random jobs, `fc` for the live slow message. */
export const QUEUES = ["fa", "fb", "fc"];

/** The run's seed and sizes from the environment (FUZZ_SEED, FOLLOW_FUZZ_JOBS, FOLLOW_FUZZ_ROUNDS, FOLLOW_FUZZ_SINGLES). */
export function settings({ jobs = 40, rounds = 6, singles = 16 } = {}) {
  return {
    SEED: Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32)),
    JOBS: Number(process.env.FOLLOW_FUZZ_JOBS ?? jobs),
    ROUNDS: Number(process.env.FOLLOW_FUZZ_ROUNDS ?? rounds),
    SINGLES: Number(process.env.FOLLOW_FUZZ_SINGLES ?? singles),
  };
}

/** The seed of the single actions' own stream: drawn apart from the jobs and the bulk
 * actions, so adding or changing them leaves what a seed drew there as it was. */
export const singlesSeed = (seed) => (seed ^ 0x51e6e1d5) >>> 0;

/** Ids no producer sent, for the actions by id: odd ones, and ones that read as routes. */
export const NEVER_SENT = ["requeue", "x/requeue", "a/../b", "?q=1", "#frag", " ", "%", "%2F", "ünï/cødé ✓", "tab\there", "a\\b", "z".repeat(1000)];

/** Message ids Python accepts (any str): plain, and odd ones. */
export function drawId(next, n) {
  const odd = [
    () => `job-${n}`,
    () => `a.b:c_${n}-d`,
    () => `with space ${n}`,
    () => `slash/${n}/x`,
    () => `quote"${n}'`,
    () => `ünïcødé-${n}-✓`,
    () => `emoji-${n}-😀`,
    () => `${"long".repeat(55)}-${n}`,
    () => `percent%20${n}`,
    () => `${n}`,
  ];
  return next.chance(0.5) ? crypto.randomUUID() : next.pick(odd)();
}

/** Python's `str(exception)` of `kind(text)`: KeyError quotes its argument. */
export const pyStr = (kind, text) => (kind === "KeyError" ? `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'` : text);

/** A random job: what the producer sends, and what the model expects of each message (the
 * state it is in once its worker is done with it, or holds it, before any worker dies). */
export function drawJob(next, n, phase) {
  const queue = next.pick(["fa", "fb"]);
  const word = `w${n}x${next.int(1000)}`;
  const single = (actor, args, expect, extra = {}) => ({ job: { op: "send", queue, actor, args, id: drawId(next, n), ...extra }, expect: [expect] });
  if (phase === "idle") {
    // No worker on fa/fb: queued, or delayed ten minutes (on <q>.DQ).
    const actor = next.pick(["ok", "boom", "ghost"]);
    const args = actor === "boom" ? [next.pick(ERRORS), word] : [word];
    return next.chance(0.5) ? single(actor, args, { state: "queued" }) : single(actor, args, { state: "delayed" }, { delay: 600_000 });
  }
  switch (next.int(11)) {
    case 0:
    case 1:
      return single("ok", [next.chance(0.2) ? { big: "x".repeat(200_000 + next.int(100_000)), word } : next.pick([word, n, [word, n], { k: word }, null, true])], { state: "done" });
    case 2: {
      const kind = next.pick(ERRORS);
      return single("boom", [kind, `${word} failed`], { state: "dead-lettered", error: [kind, pyStr(kind, `${word} failed`)], runs: 1 });
    }
    case 3: {
      const kind = next.pick(ERRORS);
      return single("boom_twice", [kind, `${word} twice`], { state: "dead-lettered", error: [kind, pyStr(kind, `${word} twice`)], traceback: true, runs: 2 });
    }
    case 4:
      return single("silent", [`${word} silent`], { state: "dead-lettered", runs: 1 });
    case 5:
      return single("ghost", [word], { state: "dead-lettered", runs: 0 });
    case 6:
      return single("later", [word], { state: "delayed", traceback: true });
    case 7:
      return single("brief", [word], { state: "expired" });
    case 8:
      // At most two: each holds one of the worker's four threads until it is killed.
      if (next.slow === 2) return single("ok", [word], { state: "done" });
      next.slow = (next.slow ?? 0) + 1;
      return single("slow", [600_000, word], { state: "in-progress" });
    case 9: {
      // A pipeline of 2-3 steps; a failing step stops it (the later ones are never sent).
      const len = 2 + next.int(2);
      const failAt = next.chance(0.4) ? next.int(len) : -1;
      const steps = [];
      const expect = [];
      for (let i = 0; i < len; i++) {
        const q = next.pick(["fa", "fb"]);
        if (i === failAt) {
          const kind = next.pick(ERRORS);
          steps.push({ queue: q, actor: "boom", args: [kind, `${word} pipe ${i}`] });
          expect.push({ state: "dead-lettered", error: [kind, pyStr(kind, `${word} pipe ${i}`)], runs: 1 });
        } else {
          steps.push({ queue: q, actor: "ok", args: [`${word}-${i}`] });
          expect.push(failAt >= 0 && i > failAt ? { state: "never" } : { state: "done" });
        }
        // A step after the first is sent with the previous step's result appended.
        if (i > 0 && expect[i].state !== "never") expect[i].args = [...steps[i].args, `${word}-${i - 1}`];
      }
      return { job: { op: "pipeline", steps }, expect };
    }
    default: {
      // A group of 2-3 children with a completion callback, run once every child is done.
      const len = 2 + next.int(2);
      const children = Array.from({ length: len }, (_, i) => ({ queue: next.pick(["fa", "fb"]), actor: "ok", args: [`${word}-g${i}`] }));
      return { job: { op: "group", children, callback: { queue, actor: "ok", args: [`${word}-done`], id: drawId(next, n) } }, expect: [...children.map(() => ({ state: "done" })), { state: "done" }] };
    }
  }
}

/** Sends `jobs` with Python's producer → the known messages, each `{ message, expect }`. */
export async function send(env, jobs) {
  const lines = await runPython("follow_fuzz.py", ["send"], { ...env, input: jobs.map((j) => JSON.stringify(j.job)).join("\n") });
  assert.equal(lines.length, jobs.length);
  return lines.flatMap((line, i) => {
    const messages = JSON.parse(line);
    assert.equal(messages.length, jobs[i].expect.length);
    return messages.map((message, j) => ({ message, expect: { ...jobs[i].expect[j] } }));
  });
}

/** Python's `get_result` for each message (block with `timeout` when given). */
export async function pythonResults(env, known, timeout) {
  const lines = await runPython("follow_fuzz.py", ["results"], { ...env, input: known.map((k) => JSON.stringify({ message: k.message, ...(timeout === undefined ? {} : { timeout }) })).join("\n") });
  return lines.map((l) => JSON.parse(l));
}

/** A message's queue without the delay queue's suffix (where the gateway files it). */
export const canonical = (queue) => queue.replace(/\.DQ$/, "");

/** Polls `fn` until it answers `true`; anything else it answers is the detail of a timeout. */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

/** `call(path, { method, body })` → `{ status, body }` on the gateway at `url`, as the operator. */
export function caller(url) {
  return async (path, { method = "GET", body } = {}) => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${OPERATOR}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body && JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
}

/** Discrepancies collected rather than thrown, so one run reports them all. */
export function collector() {
  const failures = [];
  return {
    failures,
    check(ok, what) {
      if (!ok) failures.push(what);
    },
    /** Prints the first ones and fails the test when there is any. */
    report(t, seed, summary) {
      t.diagnostic(summary);
      for (const f of failures.slice(0, 60)) t.diagnostic(f.length > 400 ? `${f.slice(0, 400)}…` : f);
      assert.equal(failures.length, 0, `FUZZ_SEED=${seed}: ${failures.length} discrepancies (the first ones above)`);
    },
  };
}

/** Whether a result the gateway answers (`{ json }` or `{ exception }`) is the one Python read
 * (`py`: `{ value }`, `{ failure }` or `{ missing }`). */
export function sameResult(result, py) {
  if (py.value !== undefined) return result?.json !== undefined && JSON.stringify(JSON.parse(result.json)) === JSON.stringify(py.value);
  if (py.failure) return result?.exception?.type === py.failure[0] && result.exception.message === py.failure[1];
  return result === null || result === undefined;
}

/** Checks `GET /api/messages/<id>/result?timeout=0` (or `/api/results/…`) against Python's
 * `get_result(block=False)`: 200 with its value or exception, else `missing` (202, or 404
 * where the gateway cannot name the message). */
export function checkResultAnswer(check, where, r, py, { missing = [202] } = {}) {
  if (py.value !== undefined) check(r.status === 200 && r.body.state === "done" && sameResult(r.body.result, py), `result ${where}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}; Python ${JSON.stringify(py).slice(0, 200)}`);
  else if (py.failure) check(r.status === 200 && r.body.state === "failed" && sameResult(r.body.result, py), `result ${where}: ${r.status} ${JSON.stringify(r.body)}; Python ${JSON.stringify(py)}`);
  else check(missing.includes(r.status), `result ${where}: ${r.status} ${JSON.stringify(r.body)}; Python: missing`);
}

/** The text an `exception` filter looks in for dead letter `d` (`{ body }`): its traceback,
 * and the exception Python stored for it (`py`). */
export function errorTexts(d, py) {
  const tb = typeof d.body.options?.traceback === "string" ? d.body.options.traceback : "";
  return [tb, py?.failure ? `${py.failure[0]}: ${py.failure[1]}` : ""];
}

/**
 * A random bulk action over the dead letters there are (`all`: `[{ queue, at, body }]`,
 * `at` the time the broker says it died, in ms): `{ kind, filter, dryRun, expected }`,
 * `expected` the dead letters it must match. `pyOf(id)` is Python's reading of a message's
 * result. The draw order is the Redis audit's first one (a seed replays the same actions).
 */
export function drawBulk(next, all, pyOf) {
  const text = (d) => errorTexts(d, pyOf(d.body.message_id));
  const filter = {};
  if (next.chance(0.4)) filter.queue = next.pick(["fa", "fb"]);
  if (next.chance(0.4)) filter.actor = next.pick(["boom", "boom_twice", "silent", "ghost", "ok", "nobody"]);
  if (next.chance(0.4) && all.length) {
    const [tb, exc] = text(next.pick(all));
    const source = next.pick([tb, exc].filter(Boolean));
    if (source) {
      const start = next.int(source.length);
      filter.exception = source.slice(start, start + 1 + next.int(20));
    } else filter.exception = next.pick(ERRORS);
  }
  if (next.chance(0.3) && all.length) filter.since = Math.floor(next.pick(all).at);
  if (next.chance(0.3) && all.length) filter.until = Math.ceil(next.pick(all).at);
  const dryRun = next.chance(0.3);
  const kind = next.pick(["requeue", "delete"]);
  const expected = all.filter((d) => {
    if (filter.queue && d.queue !== filter.queue) return false;
    if (filter.actor && d.body.actor_name !== filter.actor) return false;
    if (filter.exception && !text(d).some((s) => s.includes(filter.exception))) return false;
    if (filter.since !== undefined && d.at < filter.since) return false;
    if (filter.until !== undefined && d.at > filter.until) return false;
    return true;
  });
  return { kind, filter, dryRun, expected };
}

/** Checks a bulk action's answer and its audit entry against the model. */
export async function checkBulk(check, call, { kind, filter, dryRun, expected }, res) {
  const what = `${kind} ${JSON.stringify(filter)} dryRun=${dryRun}`;
  check(res.status === 200 && res.body.matched === expected.length && res.body.done === (dryRun ? 0 : expected.length) && res.body.complete === true, `${what}: ${JSON.stringify(res.body)}, expected ${expected.length}: ${expected.map((d) => d.body.message_id).join(", ")}`);
  const audit = await call("/api/audit?limit=1");
  check(audit.body[0]?.action === `dead-letters/${kind}` && JSON.stringify(audit.body[0].filter) === JSON.stringify(filter) && audit.body[0].matched === res.body.matched && audit.body[0].done === res.body.done && audit.body[0].dryRun === dryRun, `${what}: audit ${JSON.stringify(audit.body[0])}`);
  return what;
}

/** How often each message id ran: the app's `<prefix>:ran` list, read with a node-redis `client`. */
export async function ranCounts(client, prefix) {
  const counts = new Map();
  for (const id of await client.lRange(`${prefix}:ran`, 0, -1)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}
