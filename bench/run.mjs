// The benchmarks: our package against Python Dramatiq and a plain-JS equivalent, measured
// side by side in one run on this machine. Prints a table and writes bench/results.md,
// bench/results.json and bench/plot.svg. It asserts nothing about time: a benchmark
// measures, the tests check behaviour.
//
//   scripts/bench            (builds the package in release mode first)
//   node bench/run.mjs [--quick]
import { spawnSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync, readdirSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { StubBackend, KvBackend, Message } from "dramatiq-results";
import { plot } from "./plot.mjs";
import { PlainJsStore } from "./plain_js_store.mjs";
import { firstCallCode, nodeStartup, workerdStartup } from "./startup.mjs";
import { leverTable, startupLevers } from "./startup_levers.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const quick = process.argv.includes("--quick");
const python = process.env.PYTHON ?? `${root}target/venv/bin/python`;
const haveRedis = process.env.BENCH_REDIS_PORT ? Number(process.env.BENCH_REDIS_PORT) : null;

// --- helpers ---------------------------------------------------------------------------

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs) => quantile(xs, 0.5);
const fmt = (x, digits = 0) =>
  x == null ? "—" : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a, b) => (a != null && b ? `${(a / b).toFixed(2)}×` : "—");

/** Runs the Python side of a benchmark, or explains why it could not. */
function pythonBench(...args) {
  if (!existsSync(python)) return { error: `no Python with dramatiq at ${python} (run scripts/setup --python)` };
  const run = spawnSync(python, [`${root}bench/python_baseline.py`, ...args], { encoding: "utf8", timeout: 120_000 });
  if (run.status !== 0) return { error: (run.stderr || run.error?.message || "failed").trim().split("\n").pop() };
  return JSON.parse(run.stdout);
}

/** The same Python run, started now and collected later (for the 30 s benchmark). */
function pythonBenchLater(...args) {
  if (!existsSync(python)) return Promise.resolve({ error: `no Python at ${python}` });
  return new Promise((resolve) => {
    const child = spawn(python, [`${root}bench/python_baseline.py`, ...args]);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => resolve(code === 0 ? JSON.parse(out) : { error: err.trim().split("\n").pop() }));
  });
}

// --- 1. store + get throughput ---------------------------------------------------------

const values = {
  "small int": 42,
  "1 KB object": Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, `value-${i}-xxxx`])),
  "100 KB object": { rows: Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `row ${i}`, score: i * 1.5 })) },
};
const messages = Array.from({ length: 1000 }, (_, i) => new Message({ actorName: "bench", messageId: `id-${i}` }));
// The plain-JS store gets plain objects, as its users would hand it: reading a wasm
// `Message`'s fields goes through getters into the module, a cost that is ours, not its.
const plainMessages = Array.from({ length: 1000 }, (_, i) => ({ queueName: "default", actorName: "bench", messageId: `id-${i}` }));

async function opsPerSecond(store, value, ms, list = messages) {
  let ops = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) {
      const m = list[ops % list.length];
      await store.storeResult(m, value);
      await store.getResult(m);
      ops++;
    }
  }
  return (ops * 1000) / (performance.now() - start);
}

async function throughput() {
  const ms = quick ? 300 : 1000;
  const contenders = { ours: new StubBackend(), plainJs: new PlainJsStore() };
  const out = {};
  for (const [name, value] of Object.entries(values)) {
    out[name] = {};
    // Alternate the contenders over three rounds and keep each one's best, so a burst of
    // load on the machine does not land on one of them only.
    const list = (who) => (who === "plainJs" ? plainMessages : messages);
    for (const who of Object.keys(contenders)) await opsPerSecond(contenders[who], value, 150, list(who));
    for (let round = 0; round < 3; round++) {
      for (const [who, store] of Object.entries(contenders)) {
        const ops = await opsPerSecond(store, value, ms, list(who));
        out[name][who] = Math.max(out[name][who] ?? 0, ops);
      }
    }
  }
  const py = pythonBench("throughput");
  for (const name of Object.keys(values)) out[name].python = py.error ? null : py[name];
  return { rows: out, pythonError: py.error };
}

// --- 2. wake latency -------------------------------------------------------------------

async function wakeLatency() {
  const backend = new StubBackend();
  const trials = quick ? 200 : 1000;
  const latencies = [];
  for (let i = 0; i < trials; i++) {
    const m = new Message({ actorName: "wake", messageId: `wake-${i}` });
    let storedAt = 0;
    const waiting = backend.getResult(m, { block: true, timeout: 10_000 }).then(() => performance.now() - storedAt);
    await new Promise((r) => setTimeout(r, Math.random() * 2));
    storedAt = performance.now();
    backend.storeResult(m, i);
    latencies.push(await waiting);
  }
  const py = pythonBench("wake");
  return {
    ours: { p50: median(latencies), p99: quantile(latencies, 0.99), n: latencies.length },
    python: py.error
      ? { error: py.error }
      : { p50: median(py.delays_ms), p99: quantile(py.delays_ms, 0.99), n: py.delays_ms.length },
  };
}

// --- 3. reads and detection delay of 30 s waits on a polling store ----------------------

async function polling() {
  const waitMs = quick ? 6_000 : 30_000;
  const pyRun = quick ? Promise.resolve({ error: "skipped in --quick" }) : pythonBenchLater("polling");
  const reads = new Map();
  const entries = new Map();
  const adapter = {
    get(key) {
      reads.set(key, (reads.get(key) ?? 0) + 1);
      return entries.get(key) ?? null;
    },
    put(key, value) {
      entries.set(key, value);
    },
    delete(key) {
      entries.delete(key);
    },
  };
  const backend = new KvBackend(adapter);
  const waits = Array.from({ length: 40 }, async (_, i) => {
    const m = new Message({ actorName: "poll", messageId: `poll-${i}` });
    const key = backend.buildMessageKey(m);
    const start = performance.now();
    const storeAt = i === 0 ? null : 100 + Math.random() * (waitMs - 600);
    if (storeAt != null) setTimeout(() => backend.storeResult(m, i), storeAt);
    let outcome = "value";
    await backend.getResult(m, { block: true, timeout: waitMs }).catch(() => (outcome = "timeout"));
    const elapsed = performance.now() - start;
    return { outcome, reads: reads.get(key), elapsed, delay: storeAt == null ? null : elapsed - storeAt };
  });
  const ours = await Promise.all(waits);
  const py = await pyRun;
  const summarize = (list, delayOf, elapsedOf) => {
    const full = list.find((w) => w.outcome === "timeout");
    const found = list.filter((w) => w.outcome === "value");
    return {
      readsFullWait: full?.reads ?? null,
      fullWaitEndedMs: full ? elapsedOf(full) : null,
      delayP50: median(found.map(delayOf)),
      delayP99: quantile(found.map(delayOf), 0.99),
      readsMedian: median(found.map((w) => w.reads)),
    };
  };
  return {
    waitMs,
    ours: summarize(ours, (w) => w.delay, (w) => w.elapsed),
    python: py.error ? { error: py.error } : summarize(py.waits, (w) => w.delay_ms, (w) => w.elapsed_ms),
  };
}

// --- 4. many waiters -------------------------------------------------------------------

function waiters() {
  const run = spawnSync(process.execPath, ["--expose-gc", `${root}bench/waiters.mjs`, quick ? "2000" : "10000"], {
    encoding: "utf8",
    cwd: root,
  });
  if (run.status !== 0) return { error: run.stderr.trim().split("\n").pop() };
  return JSON.parse(run.stdout);
}

// --- 5. Redis batch --------------------------------------------------------------------

async function redisBatch() {
  if (!haveRedis) return { error: "set BENCH_REDIS_PORT to a running redis-server (scripts/bench does)" };
  let RedisBackend;
  try {
    ({ RedisBackend } = await import("dramatiq-results"));
  } catch {}
  if (!RedisBackend) return { error: "RedisBackend is not in this build" };
  const { createClient } = await import("redis");
  const client = createClient({ url: `redis://127.0.0.1:${haveRedis}` });
  await client.connect();
  try {
    const backend = new RedisBackend(client);
    const n = 1000;
    const batch = Array.from({ length: n }, (_, i) => new Message({ actorName: "batch", messageId: `batch-${i}` }));
    for (const [i, m] of batch.entries()) await backend.storeResult(m, { i, ok: true });
    // Warm the JIT first (Python's side needs none: it is interpreted), then best of 10.
    for (let round = 0; round < 20; round++) await backend.getResults(batch, { timeout: 30_000 });
    let best = Infinity;
    for (let round = 0; round < 10; round++) {
      const start = performance.now();
      const got = await backend.getResults(batch, { timeout: 30_000 });
      best = Math.min(best, performance.now() - start);
      if (got[n - 1].i !== n - 1) throw new Error("wrong batch result");
    }
    const py = pythonBench("redis", String(haveRedis), String(n));
    return { n, oursMs: best, pythonMs: py.error ? null : py.ms, pythonError: py.error };
  } finally {
    await client.quit();
  }
}

// --- 5b. the benches that run in their own process, with their own servers ----------

/** Runs bench/<file> with `args`; its stdout is one JSON object (or an error row). */
function subBench(file, args, timeout) {
  const run = spawnSync(process.execPath, [`${root}bench/${file}`, ...args], { encoding: "utf8", timeout });
  try {
    return JSON.parse(run.stdout);
  } catch {
    return { error: (run.stderr || run.stdout || "no output").trim().split("\n").slice(-3).join(" ") };
  }
}

const brokerArgs = ["--n", String(quick ? 2000 : 10_000), "--threads", "8"];

// --- 5c. the dashboard: 10 000 rows streaming in headless Chromium ----------------------

/**
 * The Deployment source's frame figures, measured where the page really runs: the Chromium
 * test (tests/js/gateway-www.test.mjs: a real gateway, redis-server and 10 000 messages
 * moving through every state while the page scrolls) writes them to
 * target/test-output/deployment-frames.json; this runs that test and reads the file.
 */
function dashboardFrames() {
  const file = `${root}target/test-output/deployment-frames.json`;
  const run = spawnSync(process.execPath, ["--test", `${root}tests/js/gateway-www.test.mjs`], {
    cwd: `${root}tests/js`,
    encoding: "utf8",
    timeout: 600_000,
  });
  if (run.status !== 0) return { error: (run.stdout + run.stderr).trim().split("\n").filter((l) => /not ok|error/.test(l)).slice(0, 3).join(" ") || "the Chromium test failed" };
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    return { error: `no figures in ${file}: ${error.message}` };
  }
}

// --- 6. sizes --------------------------------------------------------------------------

function sizes() {
  const dist = `${root}pkg/dist/`;
  const measure = (file) => {
    const bytes = readFileSync(`${dist}${file}`);
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  const wasm = measure("dramatiq_results_bg.wasm");
  const slim = measure("slim.js");
  return {
    wasmRaw: wasm.raw,
    wasmGzip: wasm.gzip,
    // The JS without the module (dist/slim.js), and the main entry with it inlined.
    glueRaw: slim.raw,
    glueGzip: slim.gzip,
    inlineRaw: measure("index.js").raw,
    inlineGzip: measure("index.js").gzip,
  };
}

// --- run, report -----------------------------------------------------------------------

const started = Date.now();
console.error("[bench] throughput…");
const tp = await throughput();
console.error("[bench] wake latency…");
const wake = await wakeLatency();
console.error(`[bench] polling (${quick ? 6 : 30} s)…`);
const poll = await polling();
console.error("[bench] 10 000 waiters…");
const many = waiters();
console.error("[bench] redis batch…");
const redis = await redisBatch();
console.error("[bench] connectRedis…");
// connectRedis vs node-redis, and in workerd (its own redis-server and Miniflare).
const connect = subBench("connect_redis.mjs", quick ? ["--quick"] : [], 900_000);
console.error("[bench] RedisBroker…");
// RedisBroker vs Python's RedisBroker (its own redis-server, Python's figures on it).
const broker = subBench("redis_broker.mjs", brokerArgs, 900_000);
console.error("[bench] RabbitmqBroker…");
// RabbitmqBroker vs Python's (its own RabbitMQ node and redis-server).
const rabbit = subBench("rabbitmq_broker.mjs", brokerArgs, 1_500_000);
console.error("[bench] RabbitMQ send → result in fresh processes: ours, plain Node, Python…");
// The floor under the tail: the same round trip in plain Node (amqplib + node-redis).
const rabbitFloor = subBench("rabbitmq_latency_floor.mjs", quick ? ["--rounds", "3", "--runs", "200"] : [], 900_000);
console.error("[bench] dashboard, 10 000 rows in Chromium…");
const dashboard = dashboardFrames();
const size = sizes();
console.error("[bench] start-up (fresh Node processes, fresh workerd)…");
const startup = { node: nodeStartup(quick ? 5 : 15), workerd: await workerdStartup(quick ? 3 : 7), firstCall: firstCallCode() };
// Other Node binaries to measure the levers under too (say Node 22), space-separated paths.
const leverNodes = [process.execPath, ...(process.env.BENCH_EXTRA_NODES ?? "").split(" ").filter(Boolean)];
let levers;
try {
  levers = startupLevers(quick ? 5 : 21, leverNodes);
} catch (error) {
  levers = { error: error.message.split("\n")[0] };
}
startup.levers = levers;

const kb = (b) => `${fmt(b / 1024, 1)} KB`;
const lines = [];
lines.push("# Benchmarks", "");
lines.push(
  `Measured by \`scripts/bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ` +
    `${os.cpus()[0]?.model ?? "unknown CPU"} × ${os.cpus().length}${quick ? " (quick run)" : ""}. ` +
    "Every row compares contenders measured side by side in this one run. Python is dramatiq 2.2.1; " +
    "\"plain JS\" is `bench/plain_js_store.mjs`'s `PlainJsStore` (md5 + JSON.stringify/parse + a Map, async methods), " +
    "written only for the comparison and not byte-compatible with Python.",
  "",
);
lines.push("## Store + get on the in-memory stub (ops/s, best of 3)", "");
lines.push("| value | ours | plain JS | Python Dramatiq | ours / plain JS | ours / Python |", "|---|---:|---:|---:|---:|---:|");
for (const [name, r] of Object.entries(tp.rows)) {
  lines.push(`| ${name} | ${fmt(r.ours)} | ${fmt(r.plainJs)} | ${fmt(r.python)} | ${ratio(r.ours, r.plainJs)} | ${ratio(r.ours, r.python)} |`);
}
if (tp.pythonError) lines.push("", `Python: ${tp.pythonError}`);
lines.push("", "## Wake latency: store → blocked waiter resolves (ms)", "");
lines.push("| | p50 | p99 | samples |", "|---|---:|---:|---:|");
lines.push(`| ours (stub wakes waiters) | ${fmt(wake.ours.p50, 3)} | ${fmt(wake.ours.p99, 3)} | ${wake.ours.n} |`);
lines.push(
  wake.python.error
    ? `| Python (polling stub) | — | — | ${wake.python.error} |`
    : `| Python (polling stub) | ${fmt(wake.python.p50, 1)} | ${fmt(wake.python.p99, 1)} | ${wake.python.n} |`,
);
lines.push("", `## A ${poll.waitMs / 1000} s wait on a polling store (40 concurrent waits)`, "");
lines.push(
  "| | reads in a full wait | full wait ended at (ms) | detection delay p50 (ms) | p99 (ms) | reads until found (median) |",
  "|---|---:|---:|---:|---:|---:|",
);
for (const [who, r] of [["ours (KvBackend)", poll.ours], ["Python (get_result polling)", poll.python]]) {
  lines.push(
    r.error
      ? `| ${who} | ${r.error} | | | | |`
      : `| ${who} | ${fmt(r.readsFullWait)} | ${fmt(r.fullWaitEndedMs)} | ${fmt(r.delayP50)} | ${fmt(r.delayP99)} | ${fmt(r.readsMedian)} |`,
  );
}
lines.push("", "## Blocked waiters on the stub", "");
lines.push(
  many.error
    ? `Failed: ${many.error}`
    : `${fmt(many.waiters)} waiters: ${fmt(many.bytesPerWaiter)} bytes of JS heap + external memory each ` +
        `(${fmt(many.rssPerWaiter)} bytes of RSS); storing all their results took ${fmt(many.storeAllMs, 1)} ms ` +
        `and all had resolved after ${fmt(many.wakeAllMs, 1)} ms. The same results arriving one by one, ` +
        `collected by one \`getResults\`: ${fmt(many.getResultsMs, 1)} ms; by one \`iterResults\`: ` +
        `${fmt(many.iterResultsMs, 1)} ms (target: within 3× of the single waiters).`,
);
lines.push("", "## Collecting 1 000 results from real Redis", "");
lines.push(
  redis.error
    ? `Not measured: ${redis.error}.`
    : `ours, \`getResults\` (one round trip): ${fmt(redis.oursMs, 1)} ms; Python, a loop of \`get_result\`: ` +
        `${fmt(redis.pythonMs, 1)} ms (${ratio(redis.pythonMs, redis.oursMs)} faster).` +
        (redis.pythonError ? ` Python: ${redis.pythonError}` : ""),
);
lines.push("", "## connectRedis against node-redis (loopback redis-server), and in workerd", "");
if (connect.error) {
  lines.push(`Not measured: ${connect.error}.`);
} else {
  lines.push(
    "| | connectRedis | node-redis | ours / node-redis |",
    "|---|---:|---:|---:|",
    `| store + get, ${connect.callers} concurrent callers (pairs/s) | ${fmt(connect.storeGetPerSec.ours)} | ${fmt(connect.storeGetPerSec.nodeRedis)} | ${ratio(connect.storeGetPerSec.ours, connect.storeGetPerSec.nodeRedis)} |`,
    `| raw \`sendCommand(["GET", k])\`, ${connect.callers} concurrent callers, no backend (replies/s) | ${fmt(connect.rawGetPerSec.ours)} | ${fmt(connect.rawGetPerSec.nodeRedis)} | ${ratio(connect.rawGetPerSec.ours, connect.rawGetPerSec.nodeRedis)} |`,
    `| store + get, one caller (pairs/s) | ${fmt(connect.serialPerSec.ours)} | ${fmt(connect.serialPerSec.nodeRedis)} | ${ratio(connect.serialPerSec.ours, connect.serialPerSec.nodeRedis)} |`,
    `| getResults of 1 000 (ms, median) | ${fmt(connect.batch1000Ms.ours, 1)} | ${fmt(connect.batch1000Ms.nodeRedis, 1)} | ${ratio(connect.batch1000Ms.nodeRedis, connect.batch1000Ms.ours)} faster |`,
    "",
    `workerd (Miniflare), one request = connectRedis + getResult + close, ${connect.workerd.requests} requests: ` +
      `inside the Worker median ${fmt(connect.workerd.insideMedianMs, 1)} ms, p99 ${fmt(connect.workerd.insideP99Ms, 1)} ms ` +
      `(workerd's clock moves in whole ms, on I/O); around dispatchFetch median ${fmt(connect.workerd.roundTripMedianMs, 1)} ms, ` +
      `p99 ${fmt(connect.workerd.roundTripP99Ms, 1)} ms.`,
  );
}
lines.push("", "## RedisBroker against Python Dramatiq's RedisBroker (loopback redis-server)", "");
if (broker.error) {
  lines.push(`Not measured: ${broker.error}.`);
} else {
  const py = broker.python?.redis;
  const pyProc = py?.process?.find((p) => p.threads === broker.threads);
  lines.push(
    `${fmt(broker.n)} messages; ${broker.threads} threads (Python) / concurrency ${broker.threads} (ours).`,
    "",
    "| | ours | Python Dramatiq | ours / Python |",
    "|---|---:|---:|---:|",
    `| enqueue, one after another, over node-redis (msg/s) | ${fmt(broker.ours.enqueueSerialPerSec)} | ${fmt(py?.enqueue?.msgs_per_s)} | ${ratio(broker.ours.enqueueSerialPerSec, py?.enqueue?.msgs_per_s)} |`,
    `| enqueue, all sent at once, over node-redis (msg/s) | ${fmt(broker.ours.enqueueConcurrentPerSec)} | — | |`,
    `| enqueue, one after another, over connectRedis (msg/s) | ${fmt(broker.ours.enqueueSerialConnectPerSec)} | ${fmt(py?.enqueue?.msgs_per_s)} | ${ratio(broker.ours.enqueueSerialConnectPerSec, py?.enqueue?.msgs_per_s)} |`,
    `| enqueue, all sent at once, over connectRedis (msg/s) | ${fmt(broker.ours.enqueueConcurrentConnectPerSec)} | — | |`,
    `| no-op processing, one worker (msg/s) | ${fmt(broker.ours.processPerSec)} | ${fmt(pyProc?.msgs_per_s)} | ${ratio(broker.ours.processPerSec, pyProc?.msgs_per_s)} |`,
    `| send → blocking result, p50 (ms) | ${fmt(broker.ours.latencyP50Ms, 1)} | ${fmt(py?.latency?.p50_ms, 1)} | |`,
    `| send → blocking result, p99 (ms) | ${fmt(broker.ours.latencyP99Ms, 1)} | ${fmt(py?.latency?.p99_ms, 1)} | |`,
  );
  if (!py) lines.push("", `Python: ${broker.python?.error ?? "not run"}`);
}
lines.push("", "## RabbitmqBroker against Python Dramatiq's RabbitmqBroker (loopback RabbitMQ)", "");
if (rabbit.error) {
  lines.push(`Not measured: ${rabbit.error}.`);
} else {
  const py = rabbit.python;
  const pyProc = py?.process?.find((p) => p.threads === rabbit.threads);
  const lr = rabbit.latencyRounds;
  const latRounds = lr ? `, ${lr.rounds} alternating rounds of ${lr.perRound}, pooled` : "";
  const row = (what, ours, theirs, digits = 0) =>
    `| ${what} | ${fmt(ours, digits)} | ${fmt(theirs, digits)} | ${theirs == null ? "" : ratio(ours, theirs)} |`;
  lines.push(
    `${fmt(rabbit.n)} messages; ${rabbit.threads} threads (Python) / concurrency ${rabbit.threads} (ours). See bench/rabbitmq_broker.md.`,
    "",
    "| | ours | Python Dramatiq | ours / Python |",
    "|---|---:|---:|---:|",
    row("enqueue, one after another (msg/s)", rabbit.ours.enqueueSerialPerSec, py?.enqueue?.msgs_per_s),
    row(
      `enqueue, one after another, publisher confirms: median of ${rabbit.confirmRounds?.ours?.length ?? "?"} alternating rounds (msg/s)`,
      rabbit.ours.enqueueSerialConfirmPerSec,
      py?.enqueue_confirm?.msgs_per_s,
    ),
    row("enqueue, one after another, publisher confirms: each alone, minutes apart (msg/s)", rabbit.ours.enqueueSerialConfirmAlonePerSec, py?.enqueue_confirm_alone?.msgs_per_s),
    row("enqueue, all sent at once (msg/s)", rabbit.ours.enqueueConcurrentPerSec, null),
    row("enqueue, all sent at once, publisher confirms (msg/s)", rabbit.ours.enqueueConcurrentConfirmPerSec, null),
    row("no-op processing, one worker (msg/s)", rabbit.ours.processPerSec, pyProc?.msgs_per_s),
    `| send → blocking result, p50 (ms)${latRounds} | ${fmt(rabbit.ours.latencyP50Ms, 1)} | ${fmt(py?.latency?.p50_ms, 1)} | |`,
    `| send → blocking result, p99 (ms)${latRounds} | ${fmt(rabbit.ours.latencyP99Ms, 1)} | ${fmt(py?.latency?.p99_ms, 1)} | |`,
    ...(rabbit.latencyRoundsWarm
      ? [
          `| send → blocking result, p50 (ms), the same rounds after ${fmt(rabbit.latencyRoundsWarm.warmup)} more sends of ours | ${fmt(rabbit.latencyRoundsWarm.ours.p50_ms, 1)} | ${fmt(rabbit.latencyRoundsWarm.python?.p50_ms, 1)} | |`,
          `| send → blocking result, p99 (ms), the same rounds after ${fmt(rabbit.latencyRoundsWarm.warmup)} more sends of ours | ${fmt(rabbit.latencyRoundsWarm.ours.p99_ms, 1)} | ${fmt(rabbit.latencyRoundsWarm.python?.p99_ms, 1)} | |`,
        ]
      : []),
    ...(py?.latency_alone
      ? [`| send → blocking result, p99 (ms): Python's own run, minutes apart | | ${fmt(py.latency_alone.p99_ms, 1)} | |`]
      : []),
    ...(rabbitFloor.error
      ? [`| send → blocking result, fresh processes: not measured (${rabbitFloor.error.replaceAll("|", "/")}) | | | |`]
      : [
          `| send → blocking result, p50 (ms), each side a fresh process per round (${rabbitFloor.rounds} alternating rounds of ${fmt(rabbitFloor.runs)}, pooled) | ${fmt(rabbitFloor.ours.p50_ms, 2)} | ${fmt(rabbitFloor.python.p50_ms, 2)} | |`,
          row(`send → blocking result, p99 (ms), the same fresh processes`, rabbitFloor.ours.p99_ms, rabbitFloor.python.p99_ms, 2),
          row(`… the floor: the same round trip in plain Node, no package (amqplib + node-redis, one process), p99 (ms)`, rabbitFloor.node.p99_ms, rabbitFloor.python.p99_ms, 2),
        ]),
  );
  if (!py || py.error) lines.push("", `Python: ${py?.error ?? "not run"}`);
}
lines.push("", "## Dashboard: 10 000 rows streaming (headless Chromium)", "");
if (dashboard.error) lines.push(`Not measured: ${dashboard.error}`);
else {
  lines.push(
    `${fmt(dashboard.messages)} messages through the gateway's event stream into the Deployment table (queued → in progress → done, ` +
      `with results), the page scrolled half way; ${fmt(dashboard.frames)} frames over ${fmt(dashboard.streamedMs / 1000, 1)} s, ` +
      `${dashboard.domRows} rows in the DOM, load ${fmt(dashboard.loadPerCore, 2)} per core while measured. Task CPU is Chromium's trace ` +
      "of the page's main thread (what the page did); frame gaps are wall-clock (they also count the machine keeping the page waiting).",
    "",
    "| | measured | target |",
    "|---|---:|---:|",
    `| dashboard: 10 000 rows streaming, longest main-thread task (CPU) | ${fmt(dashboard.longestTaskCpuMs, 1)} ms | ≤ 50 ms |`,
    `| dashboard: 10 000 rows streaming, longest frame gap | ${fmt(dashboard.maxFrameGapMs, 1)} ms | ≤ 50 ms |`,
    `| dashboard: 10 000 rows streaming, p99 frame gap | ${fmt(dashboard.p99FrameGapMs, 1)} ms | |`,
    `| frames over 50 ms / main-thread tasks over 50 ms | ${fmt(dashboard.framesOver50ms)} / ${fmt(dashboard.tasksOver50msCpu)} | 0 / 0 |`,
  );
}
lines.push("", "## Size", "");
lines.push("| | raw | gzip -9 |", "|---|---:|---:|");
lines.push(`| .wasm | ${kb(size.wasmRaw)} | ${kb(size.wasmGzip)} |`);
lines.push(`| JS without the module (\`dist/slim.js\`) | ${kb(size.glueRaw)} | ${kb(size.glueGzip)} |`);
lines.push(`| main entry, module inlined (\`dist/index.js\`) | ${kb(size.inlineRaw)} | ${kb(size.inlineGzip)} |`);
lines.push("", "## Start-up (medians)", "");
lines.push(
  "Node: a fresh process per run, `await import` + a first store and get, against the same on a plain-JS " +
    "store (MD5 + JSON + Map), interleaved. CPU is the process's user + system time (steadier than wall " +
    "time on a busy machine). workerd (Miniflare): a fresh workerd per run; ready = started, the Worker's modules " +
    "compiled and evaluated (the package instantiated, and warmed up by one store and get of its own); first request = " +
    "a store and a get on a new backend, against a hello-world Worker's first request. The Node floor rows " +
    "(`bench/startup.mjs`) are measured the same way in the same processes' rounds, against the same baseline: " +
    "what importing any package costs, the plain-JS store imported as a package, and the smallest store built " +
    "like this package (`bench/startup_floor`: Rust + wasm-bindgen, an MD5 key and a map of JSON text).",
  "",
);
lines.push("| | ours | baseline | ours / baseline |", "|---|---:|---:|---:|");
const ms = (x) => `${fmt(x, 1)} ms`;
lines.push(`| Node: import + first store/get, wall | ${ms(startup.node.ours.wall)} | ${ms(startup.node.plainJs.wall)} | ${ratio(startup.node.ours.wall, startup.node.plainJs.wall)} |`);
lines.push(`| Node: import + first store/get, CPU | ${ms(startup.node.ours.cpu)} | ${ms(startup.node.plainJs.cpu)} | ${ratio(startup.node.ours.cpu, startup.node.plainJs.cpu)} |`);
if (startup.node.floor) {
  const { floor } = startup.node;
  const plain = startup.node.plainJs.wall;
  lines.push(
    `| Node floor: an empty package, import only | ${ms(floor.emptyPackage.wall)} | ${ms(plain)} | ${ratio(floor.emptyPackage.wall, plain)} |`,
    `| Node floor: the plain-JS store as a package | ${ms(floor.plainJsPackage.wall)} | ${ms(plain)} | ${ratio(floor.plainJsPackage.wall, plain)} |`,
    `| Node floor: smallest Rust + wasm-bindgen store (${kb(floor.wasmBytes)} .wasm) | ${ms(floor.wasmBindgenFloor.wall)} | ${ms(plain)} | ${ratio(floor.wasmBindgenFloor.wall, plain)} |`,
    `| Node: ours against the plain-JS store as a package, wall | ${ms(startup.node.ours.wall)} | ${ms(floor.plainJsPackage.wall)} | ${ratio(startup.node.ours.wall, floor.plainJsPackage.wall)} |`,
    `| Node: ours against the plain-JS store as a package, CPU | ${ms(startup.node.ours.cpu)} | ${ms(floor.plainJsPackage.cpu)} | ${ratio(startup.node.ours.cpu, floor.plainJsPackage.cpu)} |`,
  );
} else lines.push(`| Node floor rows | not measured: ${startup.node.floorError} | | |`);
lines.push(`| workerd: ready | ${ms(startup.workerd.ours.ready)} | ${ms(startup.workerd.hello.ready)} | ${ratio(startup.workerd.ours.ready, startup.workerd.hello.ready)} |`);
lines.push(`| workerd: first request | ${ms(startup.workerd.ours.first)} | ${ms(startup.workerd.hello.first)} | ${ratio(startup.workerd.ours.first, startup.workerd.hello.first)} |`);
lines.push(
  `| workerd: first request, Liftoff code kept (\`--no-flush-liftoff-code\`: workerd flushes it when Miniflare loads its own Workers after ours) | ` +
    `${ms(startup.workerd.oursKept.first)} | ${ms(startup.workerd.helloKept.first)} | ${ratio(startup.workerd.oursKept.first, startup.workerd.helloKept.first)} |`,
);
const fc = startup.firstCall;
lines.push(
  "",
  `The wasm a first store + get compiles (V8 compiles each function on its first call; \`firstCallCode\` in ` +
    `\`bench/startup.mjs\`): ${fc.functions} of ${fc.moduleFunctions} functions, ${kb(fc.bytes)} ` +
    `(${kb(fc.gzip)} gzip -9), of a module of ${kb(fc.moduleBytes)} (${kb(fc.moduleGzip)} gzip -9).`,
);
lines.push(
  "",
  "### What a results-only start would save (`bench/startup_levers.mjs`)",
  "",
  "The package as built against copies of it without the broker, worker-rule and RESP-connection exports in the " +
    ".wasm (`results-wasm`), without the broker and worker JS (`results-js`: an entry exporting only the results API), " +
    "and both (`results-both`), each imported with a first store + get in fresh processes, interleaved with the plain-JS store as a package.",
  "",
);
if (levers.error) lines.push(`Not measured: ${levers.error}`);
else for (const result of levers) lines.push(...leverTable(result), "");
lines.push("", "![wake latency and throughput](plot.svg)", "");

const results = { date: new Date().toISOString(), quick, node: process.version, throughput: tp, wake, polling: poll, waiters: many, redis, broker, rabbitmq: rabbit, rabbitmqFloor: rabbitFloor, connect, dashboard, size, startup };
const notesFile = `${root}bench/notes.md`;
const notes = existsSync(notesFile) ? readFileSync(notesFile, "utf8") : "";
const report = `${lines.join("\n")}\n${notes ? `\n${notes}` : ""}`;
writeFileSync(`${root}bench/results.md`, report);
writeFileSync(`${root}bench/results.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${root}bench/plot.svg`, plot(results));
console.log(lines.join("\n"));
console.error(`[bench] done in ${((Date.now() - started) / 1000).toFixed(0)} s: bench/results.md, results.json, plot.svg`);
