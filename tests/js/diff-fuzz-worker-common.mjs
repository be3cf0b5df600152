// What the worker diff-fuzzers share (tests/js/diff-fuzz-worker.test.mjs and
// diff-fuzz-worker-limits.test.mjs over Redis, tests/js/diff-fuzz-worker-amqp.test.mjs over
// RabbitMQ): case generation, our producer, settling, masking and the comparison of two
// runs' states.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { createClient } from "redis";
import { fileURLToPath } from "node:url";
import { GroupCallbacks, JSONEncoder, Message, RedisBroker, RedisRateLimiterBackend, defaultMiddleware, group, pipeline } from "dramatiq-results";
import { LATE_RECORDER, RECORDERS, quiet } from "./diff-fuzz-worker-actors.mjs";
import { runPython } from "./pyworker.mjs";
import { startRedis } from "./services.mjs";
import { drawLoneSurrogates, randomObject, randomString, randomValue } from "./diff-fuzz-gen.mjs";
import { sleep } from "./helpers.mjs";

// Who sends each case: Python's producer or ours, drawn per case ("both", the default).
const PRODUCER = process.env.FUZZ_WORKER_PRODUCER ?? "both";
const encoder = new JSONEncoder();
const BIN = fileURLToPath(new URL("../../pkg/bin/dramatiq-results.js", import.meta.url));
const TASKS = fileURLToPath(new URL("./diff-fuzz-worker-tasks.mjs", import.meta.url));
const text = (bytes) => new TextDecoder().decode(bytes);
// ---------------------------------------------------------------------------------------
// Generation.

/** An option's place: nowhere, at the actor, on the message, or both (the message wins). */
const place = (next) => next.pick(["none", "none", "actor", "message", "both"]);

/** A random step of a behaviour script, as Python JSON text; `raises` adds classes it may
 * raise. */
function randomStep(next, last, raises = []) {
  const r = next();
  if (r < (last ? 0.55 : 0.25)) return `["ret",${randomValue(next)}]`;
  if (r < 0.7) return `["raise",${JSON.stringify(next.pick(["ValueError", "RuntimeError", "AppError", ...raises]))},${JSON.stringify(randomString(next, 10, { lone: true }))}]`;
  if (r < 0.85) return `["retry",${next.pick(["null", "null", String(1 + next.int(50)), "600000", "0", "2.5", "-3", "600000.5"])}]`;
  return `["raise","Thrown",${JSON.stringify(randomString(next, 8, { lone: true }))}]`;
}

/** Python's truthiness of a JSON value (undefined: an option not given, falsy too). */
const truthy = (v) => !(v === undefined || v === null || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && Object.keys(v).length === 0));

/**
 * A step for tests/js/diff-fuzz-worker-limits.test.mjs: a plain step (`randomStep`), or one
 * wrapped in a sleep, a rate limiter or a hang (diff_fuzz_worker_app.py's module doc).
 * `short`: the message's time limit is short (≤ 300 ms, checked every 100 ms), so a sleep
 * of 700 ms runs past it and one of 30 ms ends well within (`tiny`: below 100 ms, every
 * step sleeps past it); otherwise it is 10 minutes or
 * more, which no attempt here reaches. A hang only where the message is notified of its
 * worker's shutdown and cannot time out first, and only while `budget.hangs` lasts (a
 * hung attempt holds one of the two threads until the worker stops).
 * Returns [step, its plain step].
 */
function limitStep(next, last, { short, tiny, notify, budget }) {
  const base = randomStep(next, last, ["TimeLimitExceeded", "RateLimitExceeded"]);
  // Below 100 ms (`true` is 1 ms) even a quick attempt may meet a check past its limit (on
  // either side, as the race goes): every attempt sleeps past it. So too under any short
  // limit in a batch whose blocking actors block in-process (`budget.blockingInProcess`):
  // they hold every attempt of the process, so one that should end within its limit may
  // be seen past it.
  if (tiny || (short && budget.blockingInProcess)) return [`["sleep",700,${base}]`, base];
  if (notify && !short && budget.hangs > 0 && next.chance(0.3)) {
    budget.hangs -= 1;
    return [`["hang",${base}]`, base];
  }
  const r = next();
  if (r < 0.35) return [base, base];
  if (r < 0.65) return [`["sleep",${short ? next.pick([700, 700, 30]) : next.pick([0, 30])},${base}]`, base];
  const kind = next.pick(["window", "bucket", "concurrent"]);
  const limit = 1 + next.int(2);
  return [kind === "concurrent" ? `["rl","concurrent",${limit},${1 + next.int(3)},${base}]` : `["rl","${kind}",${limit},${base}]`, base];
}

/** One case: its actor spec, what Python's producer sends, and its return values; `amqp`
 * draws AMQP priorities too. `limits` (`{ budget: { hangs } }`, shared by a batch's cases)
 * draws time limits, shutdown notifications and rate limiters too (limitStep), and
 * `blocking` actors (JS sleeps synchronously on the `worker` command's threads, and
 * in-process too with `blockingInProcess`, a batch's draw). */
export function genCase(next, seed, i, { amqp = false, limits = undefined } = {}) {
  drawLoneSurrogates(next.chance(0.3));
  const name = `fw_${i}`;
  const actorOptions = {};
  const messageOptions = []; // [name, JSON text], drawn per message
  // A recorder, or now and then an actor no broker has (both workers log it and go on).
  const target = () => JSON.stringify(next.chance(0.1) ? "fw_nobody" : next.pick(RECORDERS));
  const draws = {
    // Always somewhere: the default of 20 retries with a 15 s back-off would outlast a run.
    max_retries: { value: () => String(next.int(4)), always: true, odd: ["1.5", "0.5", "true", "false", "-1", '"2"'] },
    store_results: { value: () => (next.chance(0.75) ? "true" : "false"), odd: ["1", "0", "null", '""', '"x"', "[]", "{}"] },
    result_ttl: { value: () => next.pick(["60000", "3600000", "86400000"]) },
    on_success: { value: target, odd: ['""', "null", "false"] },
    on_failure: { value: target, odd: ['""', "null", "false"] },
    on_retry_exhausted: { value: target, odd: ['""', "null", "false"] },
    pipe_ignore: { value: () => (next.chance(0.5) ? "true" : "false"), odd: ["1", "0", '""', "null", '"x"'] },
    max_age: { value: () => next.pick(["60000", "86400000"]), odd: ["0", "null", "false", "60000.5", "86400000.5"] },
  };
  if (limits) {
    // Python reads `message time_limit or actor time_limit` (a falsy one falls through;
    // `true` is 1 ms) and `notify_shutdown` as the first that is not None, made a bool.
    draws.time_limit = { value: () => next.pick(["200", "300", "600000", "3600000"]), odd: ["0", "null", "false", "true", "250.5"] };
    draws.notify_shutdown = { value: () => (next.chance(0.6) ? "true" : "false"), odd: ["0", "1", '""', '"x"', "null"] };
  }
  // The back-offs: never both left to Dramatiq's defaults (15 s, 7 days), so every retry
  // without an explicit delay comes within a few hundred ms.
  const backoff = next.pick(["both", "both", "min", "max"]);
  // (0 too: no back-off at all, as Python's `compute_backoff` gives with a factor or cap of 0.)
  const small = () => String(next.chance(0.1) ? 0 : 1 + next.int(50));
  if (backoff !== "max") draws.min_backoff = { value: small, always: true, odd: ["10.5", "0.5", "true"] };
  if (backoff !== "min") draws.max_backoff = { value: small, always: true, odd: ["10.5", "0.5", "true", "false"] };
  for (const [option, { value, always, odd = [] }] of Object.entries(draws)) {
    let where = place(next);
    if (always && where === "none") where = "actor";
    if (where === "actor" || where === "both") actorOptions[option] = JSON.parse(value());
    // On the message, now and then a value only a producer writes (a float, a bool, a text,
    // null), read as Python reads it: truthiness, `or`, comparisons with ints.
    if (where === "message" || where === "both") messageOptions.push([option, () => (odd.length && next.chance(0.15) ? next.pick(odd) : value()), always && where === "message"]);
  }
  // `throws`: the classes by name ("Retry" is Dramatiq's; AppError is a ValueError).
  const throwing = [["Thrown"], ["Thrown"], ["ValueError"], ["Retry"], ["Thrown", "RuntimeError"]];
  if (limits) throwing.push(["TimeLimitExceeded"], ["Shutdown"], ["RateLimitExceeded"], ["TimeLimitExceeded", "Thrown"]);
  if (next.chance(0.3)) actorOptions.throws = next.pick(throwing);
  const spec = { name, options: actorOptions, ...(next.chance(0.3) ? { priority: next.int(10) } : {}) };
  if (limits && next.chance(0.5)) {
    spec.blocking = true;
    if (limits.budget.blockingInProcess) spec.blockingInProcess = true;
  }

  const values = [];
  const ids = [];
  const racyAttempts = [];
  let n = 0;
  // A message: its parts as Python JSON text, rendered for either producer by `pyMessage`
  // and `jsMessage`.
  const msg = () => {
    // Each option on most messages; one that is on no actor on every message (a message
    // without max_retries would retry 20 times, one without back-offs wait 15 s).
    // (Drawn in this order without `limits`, so a seed draws what it drew before them; with
    // them, the options first, which the steps depend on.)
    const drawOptions = () => messageOptions.filter(([, , always]) => always || next.chance(0.8)).map(([o, v]) => [o, v()]);
    const drawn = limits ? drawOptions() : undefined;
    const count = 1 + next.int(4);
    let steps;
    if (limits) {
      const on = Object.fromEntries(drawn.map(([o, v]) => [o, JSON.parse(v)]));
      const limit = truthy(on.time_limit) ? on.time_limit : (actorOptions.time_limit ?? 600000);
      const notify = (on.notify_shutdown ?? actorOptions.notify_shutdown ?? null) ?? false;
      const tiny = Number(limit) < 100;
      // Stopped anywhere from 1 ms in, such an attempt has recorded itself or not as the
      // race goes (on our threads more often not: the record crosses from the thread):
      // its attempt count is not compared (its retries, dead letter and results are).
      if (tiny) racyAttempts.push(`fw-${seed}-${i}-${n}`);
      const drawnSteps = Array.from({ length: count }, (_, k) => limitStep(next, k === count - 1, { short: Number(limit) <= 300, tiny, notify: truthy(notify), budget: limits.budget }));
      for (const [, base] of drawnSteps) if (base.startsWith('["ret",')) values.push(base.slice(7, -1));
      steps = drawnSteps.map(([step]) => step);
      // A hung attempt's retry (Shutdown, retried per Retries) is delayed by at least 5 s:
      // Python's idle worker threads still take a message for up to a second after a
      // stop (their `work_queue.get(timeout=worker_timeout)`), so a retry due sooner runs
      // again or not as that race goes; ours never starts one once stopping.
      // Likewise the callbacks it sends as it fails (Callbacks', Retries'
      // on_retry_exhausted) go to a recorder on a queue the workers leave alone, as the
      // stop leaves them: Python's idle threads may run them, as that race goes.
      if (steps.some((step) => step.startsWith('["hang",'))) {
        const late = ["on_success", "on_failure", "on_retry_exhausted"].map((o) => [o, JSON.stringify(LATE_RECORDER)]);
        const replaced = ["min_backoff", "max_backoff", ...late.map(([o]) => o)];
        drawn.splice(0, drawn.length, ...drawn.filter(([o]) => !replaced.includes(o)), ["min_backoff", "10000"], ["max_backoff", "10000"], ...late);
      }
    } else {
      steps = Array.from({ length: count }, (_, k) => randomStep(next, k === count - 1));
      for (const s of steps) if (s.startsWith('["ret",')) values.push(s.slice(7, -1));
    }
    const options = (drawn ?? drawOptions()).map(([o, v]) => `${JSON.stringify(o)}:${v}`);
    // A message sent with retries already counted (a requeued one): its script starts there.
    // Or a count Python's Retries counts on oddly (docs/python-users.md, "Odd `retries`
    // counts"): negative, fractional, or no number (the hook then fails: no retry).
    if (next.chance(0.1)) options.push(`"retries":${next.chance(0.7) ? next.int(3) : next.pick(["-2", "0.5", "1.5", '"x"', "null"])}`);
    // Over RabbitMQ, the AMQP priority Dramatiq's broker publishes with (broker_priority):
    // up to past a queue's x-max-priority, or none.
    if (amqp && next.chance(0.3)) options.push(`"broker_priority":${next.pick(["0", "1", "5", "9", "10", "12", "null"])}`);
    const kwargs = next.chance(0.2) ? randomObject(next, 1, 3) : "{}";
    const id = `fw-${seed}-${i}-${n++}`;
    ids.push(id);
    // Now and then for an actor neither worker declares: dead-lettered unrun by both.
    const actor = next.chance(0.04) ? "fw_undeclared" : name;
    return { queue: "fw", actor, args: `[{"s":[${steps.join(",")}]}]`, kwargs, options: `{${options.join(",")}}`, id, old: next.chance(0.15) };
  };
  const r = next();
  let shape;
  if (r < 0.5) shape = { kind: "single", children: [msg()], callbacks: [] };
  else if (r < 0.75) shape = { kind: "pipeline", children: Array.from({ length: 2 + next.int(2) }, msg), callbacks: [] };
  else {
    const children = Array.from({ length: 2 + next.int(2) }, () => (next.chance(0.25) ? [msg(), msg()] : msg()));
    // The completion callback: a recorder, or a message of the case's actor with a script of
    // its own (which may fail and retry in turn).
    const callbacks = next.chance(0.8)
      ? [next.chance(0.7) ? { queue: "fwcb", actor: next.pick(RECORDERS), args: `[${randomValue(next, 2)}]`, kwargs: "{}", options: "{}", id: `fw-${seed}-${i}-cb`, old: false } : msg()]
      : [];
    shape = { kind: "group", children, callbacks };
  }
  const producer = PRODUCER === "both" ? next.pick(["python", "js"]) : PRODUCER;
  // Over RabbitMQ, now and then sent with a delay (to <q>.DQ, moved by the worker when due):
  // whole or fractional ms, none (0), in the past, or ten minutes (left delayed).
  if (amqp && next.chance(0.2)) shape.delay = next.pick(["1", "30", "0", "2.5", "-5", "600000"]);
  const pyMessage = (m) => `{"queue_name":${JSON.stringify(m.queue)},"actor_name":${JSON.stringify(m.actor)},"args":${m.args},"kwargs":${m.kwargs},"options":${m.options},"message_id":${JSON.stringify(m.id)}${m.old ? ',"old":true' : ""}}`;
  const tree = (x) => (Array.isArray(x) ? `[${x.map(pyMessage).join(",")}]` : pyMessage(x));
  const line = `{"kind":"${shape.kind}","children":[${shape.children.map(tree).join(",")}],"callbacks":[${shape.callbacks.map(pyMessage).join(",")}]${shape.delay === undefined ? "" : `,"delay":${shape.delay}`}}`;
  return { i, spec, shape, line, producer, values, ids, racyAttempts, prefix: `fw-${seed}-${i}-` };
}
/** Our producer: the same messages, pipelines and groups as tests/py/diff_fuzz_worker.py
 * sends, built from the same text (so Python's float tokens and big integers stay), through
 * `broker` (whose middleware should be Dramatiq's defaults and GroupCallbacks). */
export async function sendCases(broker, cases) {
  const now = Date.now();
  const message = (m) => Message.decode(`{"queue_name":${JSON.stringify(m.queue)},"actor_name":${JSON.stringify(m.actor)},"args":${m.args},"kwargs":${m.kwargs},"options":${m.options},"message_id":${JSON.stringify(m.id)},"message_timestamp":${m.old ? now - 3_600_000 : now}}`);
  for (const { shape } of cases) {
    const delay = shape.delay === undefined ? {} : { delay: Number(shape.delay) };
    if (shape.kind === "single") {
      await broker.enqueue(message(shape.children[0]), delay);
    } else if (shape.kind === "pipeline") {
      const p = pipeline(shape.children.map(message), { broker });
      p.run(delay);
      await p.enqueued;
    } else {
      const g = group(shape.children.map((x) => (Array.isArray(x) ? pipeline(x.map(message), { broker }) : message(x))), { broker });
      for (const cb of shape.callbacks) g.addCompletionCallback(message(cb));
      g.run(delay);
      await g.enqueued;
    }
  }
}

/** `dramatiq-results worker diff-fuzz-worker-tasks.mjs -p 1 -t 2 ...args`: actors on
 * threads, `env` what diff-fuzz-worker-tasks.mjs reads (FW_REDIS_URL, FW_SPEC, FW_AMQP_URL).
 * Resolves with its stop(). */
export async function startCommandWorker(env, args = []) {
  const child = spawn(process.execPath, [BIN, "worker", TASKS, "-p", "1", "-t", "2", "--worker-shutdown-timeout", "10000", ...args], {
    env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  return async () => {
    child.kill("SIGTERM");
    let timer;
    const code = await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 30_000, "timeout")))]);
    clearTimeout(timer);
    if (code === "timeout") {
      child.kill("SIGKILL");
      await exited;
    }
    assert.equal(code, 0, `dramatiq-results worker did not stop cleanly (${code}):\n${output}`);
  };
}

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
export const TTLS = [60_000, 600_000, 3_600_000, 86_400_000, 604_800_000];

/** A text with what legitimately differs between two runs masked, forms kept: UUIDs (the
 * callbacks' message ids, redis_message_id, a group's barrier, a worker's id), clock values
 * (message_timestamp, requeue_timestamp, eta: int or float, eta soon or later) and the
 * traceback's text (a string, or what else it is: docs/python-users.md, "Differences from
 * Dramatiq, on purpose": "The `traceback` option `Retries` writes is the JavaScript stack
 * (Python writes its own traceback text)"). */
export function mask(s, now) {
  return s
    .replace(UUID, "<uuid>")
    .replace(/"(message_timestamp|requeue_timestamp)":(-?[0-9][0-9.eE+-]*)/g, (_, k, t) => `"${k}":"<${/[.eE]/.test(t) ? "float" : "int"}>"`)
    .replace(/"eta":(-?[0-9][0-9.eE+-]*)/g, (_, t) => `"eta":"<${Number(t) - now > 60_000 ? "later" : "soon"}:${/[.eE]/.test(t) ? "float" : "int"}>"`)
    .replace(/"traceback":"(?:[^"\\]|\\.)*"/g, '"traceback":"<text>"');
}

/** The masked state of one database (diff_fuzz.py dump): key → [type, value, TTL]. Lists,
 * sets and hashes are compared as sorted multisets (their order is the workers' timing);
 * the attempts list as a count per message id; a TTL as the nearest of the TTLs in play. */
export function maskState(state, now) {
  const out = {};
  for (const [key, [kind, value, pttl]] of Object.entries(state)) {
    let v;
    if (key === "fw:att") {
      v = {};
      for (const id of value) v[id] = (v[id] ?? 0) + 1;
      v = Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
    } else if (kind === "hash") v = Object.entries(value).map(([f, b]) => `${mask(f, now)} = ${mask(b, now)}`).sort();
    else if (kind === "zset") v = value.map(([m]) => mask(m, now)).sort();
    else if (kind === "list" || kind === "set") v = value.map((x) => mask(x, now)).sort();
    else v = mask(String(value), now);
    const ttl = pttl < 0 ? pttl : TTLS.reduce((a, b) => (Math.abs(b - pttl) < Math.abs(a - pttl) ? b : a));
    const name = mask(key, now);
    // Keys that differ only by a UUID (two workers' ack sets, two groups' barriers) add up.
    if (out[name]) out[name] = [kind, [out[name][1], v].flat().sort(), ttl, (out[name][3] ?? 1) + 1];
    else out[name] = [kind, v, ttl];
  }
  return out;
}

/**
 * The state with each window's and bucket's keys (`fwrl:<id>:window@<second>`,
 * `fwrl:<id>:bucket@<bucket start ms>`) as one key, `@<time>`, holding the sum of their
 * counts: which second or hour a count landed in is the clock's, how many there are is
 * the limiter's. (TTLs: a bucket's is its length from its start, so the largest is kept,
 * as maskState rounds it.)
 */
export function mergeBuckets(state) {
  const out = {};
  for (const [key, [kind, value, pttl]] of Object.entries(state)) {
    const m = /^(fwrl:.*:(?:window|bucket))@[0-9]+$/.exec(key);
    if (!m || kind !== "string") {
      out[key] = [kind, value, pttl];
      continue;
    }
    const name = `${m[1]}@<time>`;
    const [, sum = 0, ttl = -2] = out[name] ?? [];
    out[name] = ["string", String(Number(sum) + Number(value)), Math.max(ttl, pttl)];
  }
  return out;
}

/** `state` (maskState's) without the attempt counts of `batch`'s messages whose count is
 * a race (genCase's `racyAttempts`). */
export function withoutRacyAttempts(state, batch) {
  const racy = new Set(batch.flatMap((c) => c.racyAttempts ?? []));
  const att = state["fw:att"];
  if (!att || racy.size === 0) return state;
  return { ...state, "fw:att": [att[0], Object.fromEntries(Object.entries(att[1]).filter(([id]) => !racy.has(id))), att[2]] };
}

/**
 * The prefixes of `batch`'s cases whose return values JS reads otherwise than Python writes
 * them (docs/python-users.md, "Values: what comes back": an integral float is an int,
 * integer-like keys first), as Python's `views` tells: `compare` accepts only those.
 */
/**
 * A Redis fuzzer's servers, for the `describe` it is called in: one redis-server, Python's
 * side on database 1 and ours on 2, and a scratch folder (`tmp` its name's prefix), set up
 * by a `before` and taken down by an `after` registered here. The returned object's
 * `server`, `pyClient`, `jsClient` and `dir` are set once the `before` has run.
 */
export function redisFuzzServers(tmp) {
  const fx = {};
  before(async () => {
    fx.server = await startRedis();
    fx.pyClient = await createClient({ url: `${fx.server.url}/1` }).connect();
    fx.jsClient = await createClient({ url: `${fx.server.url}/2` }).connect();
    fx.dir = mkdtempSync(join(tmpdir(), tmp));
  });
  after(async () => {
    await fx.pyClient?.quit();
    await fx.jsClient?.quit();
    await fx.server?.stop();
    if (fx.dir) rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}

/**
 * `cases` in batches of `size`, each with its actors written to a spec file in `dir` (what
 * every side's worker loads): yields `{ from, batch, specFile }`.
 */
export function* specBatches(cases, size, dir) {
  for (let from = 0; from < cases.length; from += size) {
    const batch = cases.slice(from, from + size);
    const specFile = join(dir, `spec-${from}.json`);
    writeFileSync(specFile, JSON.stringify({ actors: batch.map((c) => c.spec) }));
    yield { from, batch, specFile };
  }
}

/**
 * Adds to `exercised` what a batch exercised, counted in Python's state `py` (so a run that
 * tests little shows it): attempts, retried messages, results, callbacks, dead letters,
 * delayed messages and group barriers. `broker`: where its keys are ("redis": Dramatiq's
 * `dramatiq:<q>.XQ.msgs` hashes; "rabbitmq": the queues' contents as `<q>.XQ` beside the
 * Redis results, under `amqp`).
 */
export function tallyExercised(exercised, py, broker) {
  const [msgs, prefix] = broker === "redis" ? [".msgs", "dramatiq"] : ["", "amqp"];
  const count = (pred) => Object.entries(py).filter(([k]) => pred(k)).reduce((n, [, [, v]]) => n + (Array.isArray(v) ? v.length : 1), 0);
  const attempts = Object.values(py["fw:att"]?.[1] ?? {});
  for (const [name, n] of [
    ["attempts", attempts.reduce((a, b) => a + b, 0)], ["retried", attempts.filter((n) => n > 1).length],
    ["results", count((k) => /^[0-9a-f]{32}$/.test(k))], ["callbacks", count((k) => k === "fw:cb")],
    ["dead", count((k) => k.endsWith(`.XQ${msgs}`))], ["delayed", count((k) => k.endsWith(`.DQ${msgs}`))],
    ["barriers", count((k) => !k.startsWith(prefix) && !k.startsWith("fw:") && !/^[0-9a-f]{32}$/.test(k))],
  ]) exercised[name] = (exercised[name] ?? 0) + n;
}

/**
 * Sends `batch` into `client`'s database, emptied first, as each case's producer would:
 * Python's cases through tests/py/diff_fuzz_worker.py (`env`: its runPython options), ours
 * through `sendCasesRedis`. A case Python's producer refuses fails the run, naming `seed`.
 */
export async function sendBatchRedis(client, batch, env, seed) {
  await client.flushDb();
  const byPython = batch.filter((c) => c.producer === "python");
  const input = byPython.map((c) => c.line).join("\n");
  const sent = byPython.length ? (await runPython("diff_fuzz_worker.py", ["send"], { ...env, input })).map((l) => JSON.parse(l)) : [];
  sent.forEach((s, k) => assert.ok(s.ok, `seed ${seed}: Python's producer refused case ${byPython[k].i}: ${s.error}\n${byPython[k].line}`));
  await sendCasesRedis(client, batch.filter((c) => c.producer === "js"));
}

/**
 * One side's run over `client`'s database (at `url`): `start()` resolves with its worker's
 * stop; once `settle(client)` says the worker is idle (or gave up), it is stopped and the
 * database dumped by tests/py/diff_fuzz.py. Answers `{ idle, state, now, timing }`: `now`
 * the clock the dump's TTLs are masked against, `timing` [settle, stop] in ms.
 */
export async function runSideRedis(client, url, start, settle = settledRedis) {
  const stop = await start();
  const t0 = Date.now();
  const idle = await settle(client);
  const t1 = Date.now();
  await stop();
  const timing = [t1 - t0, Date.now() - t1];
  const now = Date.now();
  const [state] = (await runPython("diff_fuzz.py", ["dump", url])).map((l) => JSON.parse(l));
  return { idle, state, now, timing };
}

export async function readOtherwise(batch) {
  const values = batch.flatMap((c) => c.values.map((v) => [c, v]));
  if (values.length === 0) return new Set();
  const views = (await runPython("diff_fuzz_worker.py", ["views"], { input: values.map(([, v]) => v).join("\n") })).map((l) => JSON.parse(l));
  return new Set(values.filter((_, k) => views[k].py !== views[k].view).map(([c]) => c.prefix));
}

export const clip = (s) => (s === undefined ? "(none)" : s.length > 1500 ? `${s.slice(0, 1500)}… (${s.length} chars)` : s);

/** A text as JS reads and writes its JSON (after a recorder's name, if any), or null. */
export function jsView(s) {
  const at = s.indexOf(" {");
  const [head, body] = at >= 0 && !s.startsWith("{") ? [s.slice(0, at + 1), s.slice(at + 1)] : ["", s];
  try {
    return head + text(encoder.encode(encoder.decode(new TextEncoder().encode(body))));
  } catch {
    return null;
  }
}
/**
 * Compares two masked states key by key. A value that differs only as JS reads a returned
 * value (docs/python-users.md, "Values: what comes back": "A Python float with an integral
 * value (`1.0`) reads as `1` and, stored back, is written as the int `1`"; "JS puts
 * integer-like keys (`"1"`) first in any object") is accepted when it belongs to a case one
 * of whose return values Python writes otherwise than JS reads it.
 */
export function compare(batch, py, js, viewed, accepted, failures, backend, side) {
  const caseOf = (s) => batch.find((c) => s.includes(`"${c.prefix}`) || s.includes(c.prefix));
  const keys = [...new Set([...Object.keys(py), ...Object.keys(js)])].sort();
  for (const key of keys) {
    const [p, j] = [py[key], js[key]];
    if (JSON.stringify(p) === JSON.stringify(j)) continue;
    // A result key (a list of one value, as Dramatiq's RedisBackend stores it) names its case
    // by its message's key.
    const keyCase = /^[0-9a-f]{32}$/.test(key)
      ? batch.find((x) => x.ids.some((id) => backend.buildMessageKey({ queueName: "fw", actorName: x.spec.name, messageId: id }) === key))
      : undefined;
    if (p && j && p[0] === j[0] && p[2] === j[2] && Array.isArray(p[1]) && Array.isArray(j[1]) && p[1].length === j[1].length) {
      // Item by item: strict first, then as JS reads a returned value.
      const rest = [...j[1]];
      const odd = [];
      for (const item of p[1]) {
        const k = rest.indexOf(item);
        if (k >= 0) rest.splice(k, 1);
        else odd.push(item);
      }
      const unmatched = [];
      const body = (item) => (p[0] === "hash" ? item.replace(/^[^=]* = /, "") : item);
      for (const item of odd) {
        const v = jsView(body(item));
        const k = rest.findIndex((x) => jsView(body(x)) === v);
        const c = caseOf(item) ?? keyCase;
        if (v !== null && k >= 0 && c && viewed.has(c.prefix)) {
          rest.splice(k, 1);
          accepted.set("returned value as JS reads it", (accepted.get("returned value as JS reads it") ?? 0) + 1);
        } else unmatched.push(item);
      }
      if (unmatched.length === 0) continue;
      failures.push(`${side}: ${key}:\n  python only: ${unmatched.map(clip).join("\n               ")}\n  js only:     ${rest.map(clip).join("\n               ")}`);
      continue;
    }
    failures.push(`${side}: ${key}:\n  python: ${clip(JSON.stringify(p))}\n  js:     ${clip(JSON.stringify(j))}`);
  }
}

// ---------------------------------------------------------------------------------------
// Over Redis: our producer, and when a worker is done.

/** Our producer over Redis (`sendCases`), with group completion barriers on `client`. */
export function sendCasesRedis(client, cases) {
  return sendCases(new RedisBroker(client, {
    logger: quiet, maintenanceChance: 0,
    middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) })],
  }), cases);
}

/**
 * Resolves true once the worker on `client`'s database is idle: fw and fwcb empty, no
 * message held in their ack sets (but those `heldIgnored(queue, redisMessageId)` says are
 * not work to wait for), no delayed message due within 30 s (a retry's back-off; a
 * `Retry(delay=600000)` is left delayed), and nothing changed for 3 s (Python's consumer
 * polls an empty queue at most once a second; `watch` names more lists whose length is
 * progress); false at `deadlineMs`.
 */
export async function settledRedis(client, { deadlineMs = 60_000, heldIgnored, watch = [] } = {}) {
  let last = "";
  let since = Date.now();
  for (const deadline = Date.now() + deadlineMs; Date.now() < deadline; await sleep(200)) {
    const acks = (await client.keys("dramatiq:__acks__.*")).filter((k) => !k.endsWith(".DQ"));
    const ignore = heldIgnored ? await heldIgnored() : undefined;
    let held = 0;
    for (const k of acks) {
      if (!ignore) {
        held += await client.sCard(k);
        continue;
      }
      const queue = k.slice(k.lastIndexOf(".") + 1);
      for (const id of await client.sMembers(k)) if (!(await ignore(queue, id))) held += 1;
    }
    // A delayed message due soon (a retry's back-off) is work to come, wherever it is held.
    let due = 0;
    for (const key of ["dramatiq:fw.DQ.msgs", "dramatiq:fwcb.DQ.msgs"]) {
      for (const body of Object.values(await client.hGetAll(key))) {
        const eta = Number(/"eta":(-?[0-9][0-9.eE+-]*)/.exec(body)?.[1]);
        if (!(eta > Date.now() + 30_000)) due += 1;
      }
    }
    const busy = (await client.lLen("dramatiq:fw")) + (await client.lLen("dramatiq:fwcb")) + held + due;
    const lists = ["fw:att", "fw:cb", ...watch];
    const now = JSON.stringify([busy, await client.dbSize(), ...(await Promise.all(lists.map((l) => client.lLen(l)))), await client.hLen("dramatiq:fw.DQ.msgs"), await client.hLen("dramatiq:fw.XQ.msgs")]);
    if (now !== last) [last, since] = [now, Date.now()];
    if (busy === 0 && Date.now() - since > 3000) return true;
  }
  return false;
}
