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
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  GroupCallbacks, JSONEncoder, Message, RedisBackend, RedisBroker, RedisRateLimiterBackend, Worker, defaultMiddleware, group, pipeline,
} from "dramatiq-results";
import { RECORDERS, declareActors, fuzzBroker, quiet } from "./diff-fuzz-worker-actors.mjs";
import { haveRedis, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { drawLoneSurrogates, randomObject, randomString, randomValue, rng } from "./diff-fuzz-gen.mjs";
import { sleep } from "./helpers.mjs";

const CASES = Number(process.env.FUZZ_WORKER_CASES ?? 30);
const BATCH = Number(process.env.FUZZ_WORKER_BATCH ?? 60);
// Who sends each case: Python's producer or ours, drawn per case ("both", the default).
const PRODUCER = process.env.FUZZ_WORKER_PRODUCER ?? "both";
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const encoder = new JSONEncoder();
const text = (bytes) => new TextDecoder().decode(bytes);
const BIN = fileURLToPath(new URL("../../pkg/bin/dramatiq-results.js", import.meta.url));
const TASKS = fileURLToPath(new URL("./diff-fuzz-worker-tasks.mjs", import.meta.url));
// Our workers: the in-process `Worker` ("js"), the `dramatiq-results worker` command
// ("command", actors on threads), or both (the default).
const WORKERS = (process.env.FUZZ_WORKER_JS ?? "js,command").split(",");
// ---------------------------------------------------------------------------------------
// Generation.

/** An option's place: nowhere, at the actor, on the message, or both (the message wins). */
const place = (next) => next.pick(["none", "none", "actor", "message", "both"]);

/** A random step of a behaviour script, as Python JSON text. */
function randomStep(next, last) {
  const r = next();
  if (r < (last ? 0.55 : 0.25)) return `["ret",${randomValue(next)}]`;
  if (r < 0.7) return `["raise",${JSON.stringify(next.pick(["ValueError", "RuntimeError", "AppError"]))},${JSON.stringify(randomString(next, 10, { lone: true }))}]`;
  if (r < 0.85) return `["retry",${next.pick(["null", "null", String(1 + next.int(50)), "600000", "0", "2.5", "-3", "600000.5"])}]`;
  return `["raise","Thrown",${JSON.stringify(randomString(next, 8, { lone: true }))}]`;
}

/** One case: its actor spec, what Python's producer sends, and its return values. */
function genCase(next, seed, i) {
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
  if (next.chance(0.3)) actorOptions.throws = next.pick([["Thrown"], ["Thrown"], ["ValueError"], ["Retry"], ["Thrown", "RuntimeError"]]);
  const spec = { name, options: actorOptions, ...(next.chance(0.3) ? { priority: next.int(10) } : {}) };

  const values = [];
  const ids = [];
  let n = 0;
  // A message: its parts as Python JSON text, rendered for either producer by `pyMessage`
  // and `jsMessage`.
  const msg = () => {
    const count = 1 + next.int(4);
    const steps = Array.from({ length: count }, (_, k) => randomStep(next, k === count - 1));
    for (const s of steps) if (s.startsWith('["ret",')) values.push(s.slice(7, -1));
    // Each option on most messages; one that is on no actor on every message (a message
    // without max_retries would retry 20 times, one without back-offs wait 15 s).
    const options = messageOptions.filter(([, , always]) => always || next.chance(0.8)).map(([o, v]) => `${JSON.stringify(o)}:${v()}`);
    // A message sent with retries already counted (a requeued one): its script starts there.
    // Or a count Python's Retries counts on oddly (docs/python-users.md, "Odd `retries`
    // counts"): negative, fractional, or no number (the hook then fails: no retry).
    if (next.chance(0.1)) options.push(`"retries":${next.chance(0.7) ? next.int(3) : next.pick(["-2", "0.5", "1.5", '"x"', "null"])}`);
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
  const pyMessage = (m) => `{"queue_name":${JSON.stringify(m.queue)},"actor_name":${JSON.stringify(m.actor)},"args":${m.args},"kwargs":${m.kwargs},"options":${m.options},"message_id":${JSON.stringify(m.id)}${m.old ? ',"old":true' : ""}}`;
  const tree = (x) => (Array.isArray(x) ? `[${x.map(pyMessage).join(",")}]` : pyMessage(x));
  const line = `{"kind":"${shape.kind}","children":[${shape.children.map(tree).join(",")}],"callbacks":[${shape.callbacks.map(pyMessage).join(",")}]}`;
  return { i, spec, shape, line, producer, values, ids, prefix: `fw-${seed}-${i}-` };
}

/** Our producer: the same messages, pipelines and groups as tests/py/diff_fuzz_worker.py
 * sends, built from the same text (so Python's float tokens and big integers stay). */
async function jsSend(client, cases) {
  const broker = new RedisBroker(client, {
    logger: quiet, maintenanceChance: 0,
    middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) })],
  });
  const now = Date.now();
  const message = (m) => Message.decode(`{"queue_name":${JSON.stringify(m.queue)},"actor_name":${JSON.stringify(m.actor)},"args":${m.args},"kwargs":${m.kwargs},"options":${m.options},"message_id":${JSON.stringify(m.id)},"message_timestamp":${m.old ? now - 3_600_000 : now}}`);
  for (const { shape } of cases) {
    if (shape.kind === "single") {
      await broker.enqueue(message(shape.children[0]));
    } else if (shape.kind === "pipeline") {
      const p = pipeline(shape.children.map(message), { broker });
      p.run();
      await p.enqueued;
    } else {
      const g = group(shape.children.map((x) => (Array.isArray(x) ? pipeline(x.map(message), { broker }) : message(x))), { broker });
      for (const cb of shape.callbacks) g.addCompletionCallback(message(cb));
      g.run();
      await g.enqueued;
    }
  }
}

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

/** `dramatiq-results worker diff-fuzz-worker-tasks.mjs -p 1 -t 2`: actors on threads. */
async function startCommandWorker(url, specFile) {
  const child = spawn(process.execPath, [BIN, "worker", TASKS, "-p", "1", "-t", "2", "--worker-shutdown-timeout", "10000"], {
    env: { ...process.env, FW_REDIS_URL: url, FW_SPEC: specFile }, stdio: ["ignore", "pipe", "pipe"],
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

// ---------------------------------------------------------------------------------------
// Settling, state and comparison.

/** Resolves once the worker on `client`'s database is idle: fw and fwcb empty, no message
 * held in their ack sets, no delayed message due within 30 s (a retry's back-off; a
 * `Retry(delay=600000)` is left delayed), and nothing changed for 3 s (Python's consumer
 * polls an empty queue at most once a second). */
async function settled(client, deadlineMs = 60_000) {
  let last = "";
  let since = Date.now();
  for (const deadline = Date.now() + deadlineMs; Date.now() < deadline; await sleep(200)) {
    const acks = (await client.keys("dramatiq:__acks__.*")).filter((k) => !k.endsWith(".DQ"));
    let held = 0;
    for (const k of acks) held += await client.sCard(k);
    // A delayed message due soon (a retry's back-off) is work to come, wherever it is held.
    let due = 0;
    for (const key of ["dramatiq:fw.DQ.msgs", "dramatiq:fwcb.DQ.msgs"]) {
      for (const body of Object.values(await client.hGetAll(key))) {
        const eta = Number(/"eta":(-?[0-9][0-9.eE+-]*)/.exec(body)?.[1]);
        if (!(eta > Date.now() + 30_000)) due += 1;
      }
    }
    const busy = (await client.lLen("dramatiq:fw")) + (await client.lLen("dramatiq:fwcb")) + held + due;
    const now = JSON.stringify([busy, await client.dbSize(), await client.lLen("fw:att"), await client.lLen("fw:cb"), await client.hLen("dramatiq:fw.DQ.msgs"), await client.hLen("dramatiq:fw.XQ.msgs")]);
    if (now !== last) [last, since] = [now, Date.now()];
    if (busy === 0 && Date.now() - since > 3000) return true;
  }
  return false;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const TTLS = [60_000, 600_000, 3_600_000, 86_400_000, 604_800_000];

/** A text with what legitimately differs between two runs masked, forms kept: UUIDs (the
 * callbacks' message ids, redis_message_id, a group's barrier, a worker's id), clock values
 * (message_timestamp, requeue_timestamp, eta: int or float, eta soon or later) and the
 * traceback's text (a string, or what else it is: docs/python-users.md, "Differences from
 * Dramatiq, on purpose": "The `traceback` option `Retries` writes is the JavaScript stack
 * (Python writes its own traceback text)"). */
function mask(s, now) {
  return s
    .replace(UUID, "<uuid>")
    .replace(/"(message_timestamp|requeue_timestamp)":(-?[0-9][0-9.eE+-]*)/g, (_, k, t) => `"${k}":"<${/[.eE]/.test(t) ? "float" : "int"}>"`)
    .replace(/"eta":(-?[0-9][0-9.eE+-]*)/g, (_, t) => `"eta":"<${Number(t) - now > 60_000 ? "later" : "soon"}:${/[.eE]/.test(t) ? "float" : "int"}>"`)
    .replace(/"traceback":"(?:[^"\\]|\\.)*"/g, '"traceback":"<text>"');
}

/** The masked state of one database (diff_fuzz.py dump): key → [type, value, TTL]. Lists,
 * sets and hashes are compared as sorted multisets (their order is the workers' timing);
 * the attempts list as a count per message id; a TTL as the nearest of the TTLs in play. */
function maskState(state, now) {
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

const clip = (s) => (s === undefined ? "(none)" : s.length > 1500 ? `${s.slice(0, 1500)}… (${s.length} chars)` : s);

/** A text as JS reads and writes its JSON (after a recorder's name, if any), or null. */
function jsView(s) {
  const at = s.indexOf(" {");
  const [head, body] = at >= 0 && !s.startsWith("{") ? [s.slice(0, at + 1), s.slice(at + 1)] : ["", s];
  try {
    return head + text(encoder.encode(encoder.decode(new TextEncoder().encode(body))));
  } catch {
    return null;
  }
}

describe("diff-fuzz: what a worker does with a message", { skip: (!havePython && "no Python venv (scripts/setup --python)") || (!haveRedis && "no redis-server"), timeout: Math.max(300_000, CASES * 8000) }, () => {
  let server;
  let pyClient;
  let jsClient;
  let dir;
  before(async () => {
    server = await startRedis();
    pyClient = await createClient({ url: `${server.url}/1` }).connect();
    jsClient = await createClient({ url: `${server.url}/2` }).connect();
    dir = mkdtempSync(join(tmpdir(), "fw-"));
  });
  after(async () => {
    await pyClient?.quit();
    await jsClient?.quit();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`retries, callbacks, results, dead letters, pipelines and groups: Python's worker and ours leave the same state (seed ${SEED}, ${CASES} cases)`, async () => {
    const next = rng(SEED + 11);
    const all = Array.from({ length: CASES }, (_, i) => genCase(next, SEED, i));
    const accepted = new Map();
    const failures = [];
    const exercised = {};
    for (let from = 0; from < all.length; from += BATCH) {
      const batch = all.slice(from, from + BATCH);
      // Which return values JS reads otherwise than Python writes them (docs/python-users.md,
      // "Values: what comes back": an integral float is an int, integer-like keys first).
      const values = batch.flatMap((c) => c.values.map((v) => [c, v]));
      const views = values.length ? (await runPython("diff_fuzz_worker.py", ["views"], { input: values.map(([, v]) => v).join("\n") })).map((l) => JSON.parse(l)) : [];
      const viewed = new Set(values.filter((_, k) => views[k].py !== views[k].view).map(([c]) => c.prefix));
      const specFile = join(dir, `spec-${from}.json`);
      writeFileSync(specFile, JSON.stringify({ actors: batch.map((c) => c.spec) }));
      const env = (db) => ({ url: `${server.url}/${db}`, queue: "fw", prefix: "fw", env: { CALLBACK_QUEUE: "fwcb", FW_SPEC: specFile } });

      const runs = {};
      const timings = {};
      for (const side of ["python", ...WORKERS]) {
        const [client, db] = side === "python" ? [pyClient, 1] : [jsClient, 2];
        await client.flushDb();
        const byPython = batch.filter((c) => c.producer === "python");
        const input = byPython.map((c) => c.line).join("\n");
        const sent = byPython.length ? (await runPython("diff_fuzz_worker.py", ["send"], { ...env(db), input })).map((l) => JSON.parse(l)) : [];
        sent.forEach((s, k) => assert.ok(s.ok, `seed ${SEED}: Python's producer refused case ${byPython[k].i}: ${s.error}\n${byPython[k].line}`));
        await jsSend(client, batch.filter((c) => c.producer === "js"));
        const stop = side === "python"
          ? await startPythonWorker({ ...env(db), app: "diff_fuzz_worker_app", threads: 2 }).then((w) => () => w.stop())
          : side === "command"
            ? await startCommandWorker(`${server.url}/${db}`, specFile)
            : await startJsWorker(client, batch.map((c) => c.spec));
        const t0 = Date.now();
        const idle = await settled(client);
        const t1 = Date.now();
        await stop();
        timings[side] = [t1 - t0, Date.now() - t1];
        const now = Date.now();
        const [state] = (await runPython("diff_fuzz.py", ["dump", `${server.url}/${db}`])).map((l) => JSON.parse(l));
        runs[side] = { idle, state: maskState(state, now) };
      }
      assert.ok(runs.python.idle, `seed ${SEED}: Python's worker never settled`);
      for (const side of WORKERS) {
        assert.ok(runs[side].idle, `seed ${SEED}: our worker (${side}) never settled`);
        compare(batch, runs.python.state, runs[side].state, viewed, accepted, failures, new RedisBackend(jsClient), side);
      }
      if (process.env.FW_DEBUG) console.log(`# timings (settle, stop) ms: ${JSON.stringify(timings)}`);
      // What the batch exercised, from Python's run: so a run that tests little shows it.
      const py = runs.python.state;
      const count = (pred) => Object.entries(py).filter(([k]) => pred(k)).reduce((n, [, [, v]]) => n + (Array.isArray(v) ? v.length : 1), 0);
      const attempts = Object.values(py["fw:att"]?.[1] ?? {});
      for (const [name, n] of [
        ["attempts", attempts.reduce((a, b) => a + b, 0)], ["retried", attempts.filter((n) => n > 1).length],
        ["results", count((k) => /^[0-9a-f]{32}$/.test(k))], ["callbacks", count((k) => k === "fw:cb")],
        ["dead", count((k) => k.endsWith(".XQ.msgs"))], ["delayed", count((k) => k.endsWith(".DQ.msgs"))],
        ["barriers", count((k) => !k.startsWith("dramatiq") && !k.startsWith("fw:") && !/^[0-9a-f]{32}$/.test(k))],
      ]) exercised[name] = (exercised[name] ?? 0) + n;
    }
    console.log(`# worker diff-fuzz (seed ${SEED}): ${CASES} cases (${JSON.stringify(exercised)}), ${failures.length} differences, ${JSON.stringify(Object.fromEntries(accepted))} differ as documented`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
  });
});

/**
 * Compares two masked states key by key. A value that differs only as JS reads a returned
 * value (docs/python-users.md, "Values: what comes back": "A Python float with an integral
 * value (`1.0`) reads as `1` and, stored back, is written as the int `1`"; "JS puts
 * integer-like keys (`"1"`) first in any object") is accepted when it belongs to a case one
 * of whose return values Python writes otherwise than JS reads it.
 */
function compare(batch, py, js, viewed, accepted, failures, backend, side) {
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
