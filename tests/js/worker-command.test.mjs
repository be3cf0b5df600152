// `npx dramatiq-results worker`, run as a user runs it: the packed tarball installed into a
// fresh project (one install for this file), a tasks.mjs that sets a broker and declares
// actors, a real redis-server (and rabbitmq-server), the real Python Dramatiq producer,
// and real signals sent to the supervisor (found through --pid-file) and its processes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { RedisBackend } from "dramatiq-results";
import { haveRabbitmq, haveRedis, freePort, groupAlive, killGroup, reapOnExit, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython } from "./pyworker.mjs";

const skip = (!haveRedis && "redis-server is not installed") || (!havePython && "no Python Dramatiq (scripts/setup --python)");

// The user's module: a broker from the environment, Results on Redis, and the actors the
// tests send to. Every actor records what it does in Redis (list "started" / "finished":
// JSON { tag, pid, at }), so a test sees which process ran what, when.
const TASKS = `
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { RabbitmqBroker, RedisBackend, RedisBroker, Results, actor, connectRedis, defaultMiddleware, setBroker } from "dramatiq-results";

const queueName = process.env.QUEUE;
const rec = await connectRedis(process.env.RECORD_URL);
const middleware = [...defaultMiddleware(), new Results({ backend: new RedisBackend(rec) })];
setBroker(
  process.env.BROKER === "rabbitmq"
    ? await RabbitmqBroker.connect(process.env.BROKER_URL, { middleware })
    : new RedisBroker(await connectRedis(process.env.BROKER_URL), { middleware }),
);
const note = (list, tag) => rec.sendCommand(["RPUSH", list, JSON.stringify({ tag, pid: process.pid, at: Date.now() })]);

actor(async (tag, ms) => {
  await note("started", tag);
  await sleep(ms);
  await note("finished", tag);
}, { actorName: "job", queueName });

// Synchronous and CPU-bound: only its thread is busy, and its time limit stops it.
actor((ms) => {
  appendFileSync("spin.log", \`\${Date.now()}\\n\`);
  const end = Date.now() + ms;
  while (Date.now() < end);
  return ms;
}, { actorName: "spin", queueName, timeLimit: 1000, maxRetries: 0, storeResults: true });

actor(async (tag) => {
  await note("quick", tag);
  return tag;
}, { actorName: "quick", queueName, storeResults: true });

// Synchronous, and asks to hear of a shutdown (Dramatiq's test_shutdown_notifications_are_
// received): a stop ends its thread, and the attempt fails with Shutdown.
actor((ms) => {
  appendFileSync("stoppable.log", \`\${Date.now()}\\n\`);
  const end = Date.now() + ms;
  while (Date.now() < end);
  return ms;
}, { actorName: "stoppable", queueName, notifyShutdown: true, maxRetries: 0, storeResults: true });

actor((x, y) => x + y, { actorName: "add", queueName, storeResults: true });
actor((text) => {
  console.log(text);
  console.error(\`\${text} (stderr)\`);
}, { actorName: "say", queueName });
actor((msg) => {
  throw new Error(msg);
}, { actorName: "fail", queueName, maxRetries: 0, storeResults: true });
`;

// A module whose broker has CurrentMessage: its actors run on worker threads and ask for
// the message they run for, synchronously and after an await.
const CURRENT = `
import { setTimeout as sleep } from "node:timers/promises";
import { threadId } from "node:worker_threads";
import { CurrentMessage, RedisBackend, RedisBroker, Results, actor, connectRedis, currentSignal, defaultMiddleware, setBroker } from "dramatiq-results";

const middleware = [...defaultMiddleware(), new CurrentMessage(), new Results({ backend: new RedisBackend(await connectRedis(process.env.RECORD_URL)) })];
setBroker(new RedisBroker(await connectRedis(process.env.BROKER_URL), { middleware }));
const seen = () => {
  const m = CurrentMessage.getCurrentMessage();
  return m && { messageId: m.messageId, queueName: m.queueName, actorName: m.actorName, args: m.args, kwargs: m.kwargs, text: String(m), signal: currentSignal() instanceof AbortSignal, threadId };
};
actor((x) => seen(), { actorName: "whoami", queueName: process.env.QUEUE, storeResults: true });
actor(async (x) => {
  await sleep(50);
  return seen();
}, { actorName: "whoamiLater", queueName: process.env.QUEUE, storeResults: true });
// Outside any attempt (a module's top level, in each thread): none.
if (CurrentMessage.getCurrentMessage() !== null) throw new Error("a current message outside an actor");
`;

// Threads that take long to start (their imports), TimeLimit stopping an attempt at its
// limit itself: a time limit that counted the wait for a replaced thread would stop "quick".
const SLOW_THREADS = `
import { setTimeout as sleep } from "node:timers/promises";
import { isMainThread } from "node:worker_threads";
import { RedisBackend, RedisBroker, Results, TimeLimit, actor, connectRedis, defaultMiddleware, setBroker } from "dramatiq-results";

if (!isMainThread) await sleep(1000);
const middleware = [...defaultMiddleware().map((m) => (m instanceof TimeLimit ? new TimeLimit({ interval: 0 }) : m)), new Results({ backend: new RedisBackend(await connectRedis(process.env.RECORD_URL)) })];
setBroker(new RedisBroker(await connectRedis(process.env.BROKER_URL), { middleware }));
actor((ms) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
  return ms;
}, { actorName: "spin", queueName: process.env.QUEUE, timeLimit: 200, maxRetries: 0, storeResults: true });
actor((tag) => tag, { actorName: "quick", queueName: process.env.QUEUE, timeLimit: 300, maxRetries: 0, storeResults: true });
`;

// The module of the --watch test: its actors record which version of watched/version.mjs
// ran them (list "versions": JSON { tag, version, pid }).
const WATCHED = `
import { setTimeout as sleep } from "node:timers/promises";
import { RedisBroker, actor, connectRedis, setBroker } from "dramatiq-results";
import { VERSION } from "./watched/version.mjs";

const rec = await connectRedis(process.env.RECORD_URL);
setBroker(new RedisBroker(await connectRedis(process.env.BROKER_URL)));
actor(async (tag, ms) => {
  await sleep(ms);
  await rec.sendCommand(["RPUSH", "versions", JSON.stringify({ tag, version: VERSION, pid: process.pid })]);
}, { actorName: "versioned", queueName: process.env.QUEUE });
`;

// The metrics workload's actors, in JS and (with Dramatiq's Prometheus middleware) in
// Python: the same names, queues, retries and outcomes, so the two /metrics must agree.
const PROM_MJS = `
import { RedisBroker, actor, connectRedis, defaultMiddleware, setBroker } from "dramatiq-results";

setBroker(new RedisBroker(await connectRedis(process.env.BROKER_URL), { middleware: defaultMiddleware() }));
const queueName = process.env.QUEUE;
actor((x, y) => x + y, { actorName: "add", queueName });
actor((m) => {
  throw new Error(m);
}, { actorName: "flaky", queueName, maxRetries: 2, minBackoff: 10, maxBackoff: 20 });
actor((m) => {
  throw new Error(m);
}, { actorName: "fail0", queueName, maxRetries: 0 });
`;
const PROM_APP_PY = `
import os
import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.prometheus import Prometheus

broker = RedisBroker(url=os.environ["BROKER_URL"])
broker.add_middleware(Prometheus())
dramatiq.set_broker(broker)
queue = os.environ["QUEUE"]

@dramatiq.actor(actor_name="add", queue_name=queue)
def add(x, y):
    return x + y

@dramatiq.actor(actor_name="flaky", queue_name=queue, max_retries=2, min_backoff=10, max_backoff=20)
def flaky(m):
    raise Exception(m)

@dramatiq.actor(actor_name="fail0", queue_name=queue, max_retries=0)
def fail0(m):
    raise Exception(m)
`;
// The workload, through the real Python producer: 5 adds, 2 adds delayed 1.5 s (or, with
// "held", 2 delayed a minute), 2 messages failing 3 times each, 1 failing once, and 2 of
// actors nobody declares (one named with a quote, a backslash and a newline).
const PROM_SEND_PY = `
import os, sys
import dramatiq
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=os.environ["BROKER_URL"])
queue = os.environ["QUEUE"]
def m(actor, *args):
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})
if sys.argv[1:] == ["held"]:
    for i in range(2):
        broker.enqueue(m("add", i, 100), delay=60_000)
    sys.exit(0)
for i in range(5):
    broker.enqueue(m("add", i, 1))
for i in range(2):
    broker.enqueue(m("add", i, 10), delay=1500)
for i in range(2):
    broker.enqueue(m("flaky", "boom"))
broker.enqueue(m("fail0", "once"))
broker.enqueue(m("nosuch", 1))
broker.enqueue(m('no"such\\\\actor\\n', 1))
`;
// Prometheus' own text parser (prometheus_client, strict: it raises on anything malformed),
// the families as JSON.
const PROM_PARSE_PY = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families

families = [
    {"name": f.name, "type": f.type, "help": f.documentation,
     "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
    for f in text_string_to_metric_families(sys.stdin.read())
]
print(json.dumps(families))
`;
// A module that sets no global broker: it exports one (Python's "module:broker" form names
// it), or a function that sets it up ("module:setup_broker").
const EXPORTED = `
import { RedisBroker, actor, connectRedis, setBroker } from "dramatiq-results";

const rec = await connectRedis(process.env.RECORD_URL);
export const app = { broker: new RedisBroker(await connectRedis(process.env.BROKER_URL)) };
export const setup = () => setBroker(app.broker);
actor(async (how) => {
  await rec.sendCommand(["RPUSH", "exported", how]);
}, { broker: app.broker, actorName: "exported", queueName: process.env.QUEUE });
`;
const venvBin = fileURLToPath(new URL("../../target/venv/bin/", import.meta.url));
const haveProm = havePython && spawnSync(join(venvBin, "python"), ["-c", "import prometheus_client"]).status === 0;

let dir;
let redis;
let rabbit;
let rec;
let backend;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "dramatiq-results-worker-cmd-"));
  const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: fileURLToPath(new URL("../../pkg/", import.meta.url)),
    encoding: "utf8",
  });
  const tarball = join(dir, out.trim().split("\n").at(-1));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "tasks", private: true, type: "module" }));
  const deps = [tarball, ...(haveRabbitmq ? ["amqplib"] : [])];
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...deps], { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "tasks.mjs"), TASKS);
  writeFileSync(join(dir, "current.mjs"), CURRENT);
  writeFileSync(join(dir, "slow_threads.mjs"), SLOW_THREADS);
  writeFileSync(join(dir, "watch.mjs"), WATCHED);
  mkdirSync(join(dir, "watched"));
  writeFileSync(join(dir, "watched", "version.mjs"), `export const VERSION = "v1";\n`);
  writeFileSync(join(dir, "broken.mjs"), `import "./tasks.mjs";\nthrow new Error("this module is broken");\n`);
  writeFileSync(join(dir, "syntax.mjs"), `import "./tasks.mjs";\nimport "./syntax_inner.mjs";\n`);
  writeFileSync(join(dir, "syntax_inner.mjs"), `export const a = 1;\nconst b = {;\n`);
  writeFileSync(join(dir, "throws.mjs"), `import "./tasks.mjs";\n\nnull.boom;\n`);
  writeFileSync(join(dir, "slowstart.mjs"), `await new Promise((r) => setTimeout(r, 4000));\nawait import("./tasks.mjs");\n`);
  writeFileSync(join(dir, "prom.mjs"), PROM_MJS);
  writeFileSync(join(dir, "exported.mjs"), EXPORTED);
  writeFileSync(join(dir, "notbroker.mjs"), `export const fakebroker = {};\nexport class BrokerHolder {\n  static fakebroker = {};\n}\n`);
  writeFileSync(join(dir, "prom_app.py"), PROM_APP_PY);
  writeFileSync(join(dir, "prom_send.py"), PROM_SEND_PY);
  writeFileSync(join(dir, "prom_parse.py"), PROM_PARSE_PY);
  redis = await startRedis();
  rec = await createClient({ url: redis.url }).connect();
  backend = new RedisBackend(rec);
});

after(async () => {
  await rec?.quit();
  await redis?.stop();
  await rabbit?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
/**
 * Starts `npx dramatiq-results worker tasks.mjs …args` in the project, its own process
 * group. Resolves once every worker process is ready. Returns `{ output, supervisor
 * (pid), workers() (the worker processes' pids, from their ready lines), brokerIds,
 * until(regex), exited (the exit code), kill() }`. `pidFile` names the PID file (default: a
 * fresh one); `direct` runs node_modules/.bin/dramatiq-results itself, not through npx (as
 * docs/operators.md's systemd unit does; npx also resets the umask to npm's).
 */
async function startWorker(args, { queue, broker = "redis", brokerUrl = redis.url, module = "tasks.mjs", ready = true, env = {}, pidFile = join(dir, `worker-${++runs}.pid`), direct = false } = {}) {
  const [command, ...pre] = direct ? [join(dir, "node_modules", ".bin", "dramatiq-results")] : ["npx", "--offline", "dramatiq-results"];
  const child = spawn(command, [...pre, "worker", module, "--pid-file", pidFile, ...args], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, QUEUE: queue, BROKER: broker, BROKER_URL: brokerUrl, RECORD_URL: redis.url, ...env },
  });
  const reaped = reapOnExit(child.pid);
  const w = { output: "", pidFile, group: child.pid };
  const waiters = new Set();
  const onData = (d) => {
    w.output += d;
    for (const check of waiters) check();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  w.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  w.until = (re, ms = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => (waiters.delete(check), reject(new Error(`no ${re} within ${ms} ms:\n${w.output}`))), ms);
      function check() {
        const m = re.exec(w.output);
        if (m) (clearTimeout(timer), waiters.delete(check), resolve(m));
      }
      waiters.add(check);
      check();
      w.exited.then(() => setTimeout(() => waiters.has(check) && (clearTimeout(timer), waiters.delete(check), reject(new Error(`exited before ${re}:\n${w.output}`))), 50));
    });
  w.kill = async () => {
    if (groupAlive(child.pid)) await killGroup(child.pid, "SIGKILL");
    reaped();
  };
  w.workers = () => [...w.output.matchAll(/\[PID (\d+)\] \[MainThread\] \[dramatiq\.WorkerProcess\(\d+\)\] \[INFO\] Worker process is ready/g)].map((m) => Number(m[1]));
  w.brokerIds = () => Object.fromEntries([...w.output.matchAll(/\[PID (\d+)\][^\n]*Worker process is ready[^\n]*broker id ([0-9a-f-]+)/g)].map((m) => [m[1], m[2]]));
  if (ready) {
    try {
      await w.until(/Every worker process is ready for action/, 60_000);
      w.supervisor = Number(readFileSync(pidFile, "utf8"));
    } catch (error) {
      await w.kill();
      throw error;
    }
  }
  return w;
}

/** Enqueues messages through the real Python Dramatiq (`produce.py enqueue`). */
async function pySend(queue, messages, { broker = "redis", url = redis.url } = {}) {
  const input = messages.map((m) => JSON.stringify({ queue_name: queue, kwargs: {}, options: {}, ...m }) + "\n").join("");
  return runPython("produce.py", ["enqueue"], { broker, url, resultsUrl: redis.url, queue, input });
}

const records = async (list) => (await rec.lRange(list, 0, -1)).map((s) => JSON.parse(s));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) {
      const seen = { started: await rec.lLen("started"), finished: await rec.lLen("finished") };
      throw new Error(`timed out waiting for ${what} (records: ${JSON.stringify(seen)})`);
    }
    await sleep(20);
  }
}
const count = (xs) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map());

test("the thread pool: results and errors cross back, hostile actors and time limits cost one thread each", { timeout: 30_000 }, async () => {
  const { ThreadPool } = await import("../../pkg/src/worker/node/pool.js");
  const { RateLimitExceeded, Retry, TimeLimitExceeded } = await import("dramatiq-results");
  const logged = [];
  const logger = { info() {}, warn: (m) => logged.push(m), error: (m) => logged.push(m) };
  const modules = [new URL("./worker-pool-actors.mjs", import.meta.url).href];
  // What the threads log (the actors' own lines, stray errors) goes to this file.
  const threadLog = join(mkdtempSync(join(tmpdir(), "pool-log-")), "threads.log");
  const pool = new ThreadPool({ size: 2, modules, logger, log: { index: 1, file: threadLog } });
  await pool.start();
  const run = (actorName, args = [], signal) => pool.run({ actorName }, args, { message: actorName, signal });
  try {
    assert.equal(await run("double", [21]), 42);
    // Two threads: two calls run at once. Each waits for the other to have started (a
    // rendezvous, not two 300 ms waits timed against 550 ms, which a loaded machine's thread
    // scheduling could break): calls run one after the other would each meet no one.
    const shared = new SharedArrayBuffer(4);
    assert.deepEqual(await Promise.all([run("meet", [shared, 2]), run("meet", [shared, 2])]), ["met", "met"], "both threads ran at once");
    // What is thrown is described as the main thread describes it (Results stores the same
    // type and message wherever the actor ran): what can be read is kept.
    await assert.rejects(run("revoked"), { name: "Error", message: "a Proxy that cannot be read (revoked, or its traps throw)" });
    await assert.rejects(run("getter"), { name: "Error", message: "x" });
    await assert.rejects(run("nameGetterThrows"), { name: "Error", message: "readable" });
    await assert.rejects(run("cyclicCause"), { name: "Error", message: "cyclic" });
    await assert.rejects(run("string"), { name: "Error", message: "a string" });
    // A value no store holds comes back as the attempt's result, which a store then refuses
    // (as on the main thread: nothing stored, the message acked), not as the actor's failure.
    const fnResult = await run("functionResult");
    assert.throws(() => JSON.stringify(fnResult), { name: "TypeError", message: /returned a value that cannot be stored: .*could not be cloned/ });
    const refused = await run("toJSONThrows");
    assert.throws(() => JSON.stringify(refused), { name: "TypeError", message: "toJSON refused" });
    // toJSON is honoured in the thread, as the main thread's store honours it.
    assert.deepEqual(await run("jsonish"), { price: "12.5 EUR", at: "1970-01-01T00:00:00.000Z", big: 2n ** 70n, nan: NaN, nested: ["0.01 EUR"] });
    // What an actor sent has settled before its call is reported done.
    const mark = join(mkdtempSync(join(tmpdir(), "pool-send-")), "mark");
    assert.equal(await run("sendsSlowly", [mark]), "sent");
    assert.ok(existsSync(mark), "the send had settled when the call resolved");
    // Sends that stray work keeps making do not hold the calls run on that thread later.
    assert.equal(await run("sendsOnATimer", [mark]), "started");
    const later = Promise.all([1, 2, 3, 4].map((n) => run("double", [n])));
    const held = sleep(5_000).then(() => "held");
    assert.deepEqual(await Promise.race([later, held]), [2, 4, 6, 8]);
    // A stray throw after an actor returned is logged; the thread, and the next call on it, go on.
    assert.equal(await run("stray"), "returned");
    await sleep(100);
    assert.deepEqual(await Promise.all([run("wait", [50]), run("wait", [60]), run("double", [5])]), [50, 60, 10]);
    const threadLines = readFileSync(threadLog, "utf8");
    assert.match(threadLines, /\[ERROR\] Uncaught exception in Thread-\d, from work an actor left running .*a stray timer/);
    assert.match(threadLines, /\[ERROR\] Unhandled promise rejection in Thread-\d, from work an actor left running .*a stray rejection/);
    assert.ok(!logged.some((m) => /exited with code/.test(m)), logged.join("\n"));
    await assert.rejects(run("range"), (e) => e.name === "RangeError" && e.message === "out of range" && /worker thread Thread-/.test(e.stack));
    await assert.rejects(run("retry"), (e) => e instanceof Retry && e.delay === 1234);
    // One of the actor's `throws` classes comes back as the main thread's class (the
    // thread's is another copy), so Retries fails it at once, as Python's does.
    class AppError extends Error {}
    const appActor = { actorName: "appError", options: { throws: [RangeError, AppError] } };
    await assert.rejects(pool.run(appActor, [], { message: "appError" }), (e) => e instanceof AppError && e.message === "known" && /Thread-/.test(e.stack));
    // Not listed: an Error named after its class, the type Python would store.
    await assert.rejects(run("appErrorUnlisted"), (e) => !(e instanceof AppError) && e.name === "AppError" && e.message === "unlisted");
    await assert.rejects(run("limited"), (e) => e instanceof RateLimitExceeded && e.message === "rate limit exceeded for key 'k'");
    // process.exit() ends the thread only, and fails the call as Python's sys.exit(3) fails its actor.
    await assert.rejects(run("exits"), (e) => e.name === "SystemExit" && e.message === "3" && /Thread-\d exited with code 3 while running actor exits/.test(e.stack));
    const stopped = Date.now();
    const limit = new AbortController();
    setTimeout(() => limit.abort(new TimeLimitExceeded("")), 300);
    await assert.rejects(run("forever", [], limit.signal), (e) => e instanceof TimeLimitExceeded && /^Thread-/.test(e[Object.getOwnPropertySymbols(e)[0]] ?? ""));
    // "forever" never ends by itself: any bound shows the abort stopped it. A loose one (the
    // abort comes at 300 ms), so a loaded machine's slow thread termination cannot break it.
    assert.ok(Date.now() - stopped < 5000, "stopped at its limit");
    await assert.rejects(run("double", [1], AbortSignal.abort(new Error("already"))), /already/);
    // The pool is whole again: both replaced threads run calls.
    assert.deepEqual(await Promise.all([run("double", [1]), run("double", [2]), run("double", [3])]), [2, 4, 6]);
    assert.ok(logged.some((m) => /was stopped running forever \(TimeLimitExceeded\)/.test(m)), logged.join("\n"));
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run({ actorName: "double" }, [1], {}), /closed/);
});

test("the command's log: an error that is its own cause, or has a long chain of causes, is one short entry", async () => {
  const { createLogger } = await import("../../pkg/src/worker/node/log.js");
  const file = join(mkdtempSync(join(tmpdir(), "log-causes-")), "worker.log");
  const logger = createLogger({ component: "dramatiq.Test", file });
  const cyclic = new Error("its own cause");
  cyclic.cause = cyclic;
  let chain = new Error("the first");
  for (let i = 0; i < 1000; i++) chain = new Error(`wrapped ${i}`, { cause: chain });
  logger.error("Failed.", cyclic);
  logger.error("Failed too.", chain);
  const text = readFileSync(file, "utf8");
  // Before: the cycle was followed until the stack overflowed, a 2 MB entry per failure.
  assert.ok(text.length < 20_000, `${text.length} bytes logged`);
  assert.match(text, /its own cause[\s\S]*Caused by: \(the error above: a cycle of causes\)/);
  assert.match(text, /wrapped 999[\s\S]*Caused by: \(more causes, not shown\)/);
});

test("the command line: Python's flags, -Q taking several queues, the metrics environment variables", async () => {
  const { parseWorkerArgs } = await import("../../pkg/src/worker/node/cli.js");
  const file = fileURLToPath(import.meta.url);
  const c = parseWorkerArgs([file, "-p", "3", "-t", "16", "-Q", "a", "b", "--worker-shutdown-timeout", "1500", "-v"], {});
  assert.deepEqual(
    { processes: c.processes, threads: c.threads, queues: c.queues, shutdownTimeout: c.shutdownTimeout, verbose: c.verbose, metrics: c.metrics },
    { processes: 3, threads: 16, queues: ["a", "b"], shutdownTimeout: 1500, verbose: true, metrics: undefined },
  );
  assert.deepEqual(c.modules, [file]);
  const d = parseWorkerArgs([file, "--queues=x,y"], { dramatiq_prom_port: "9300", dramatiq_prom_host: "127.0.0.1" });
  assert.deepEqual(d.queues, ["x", "y"]);
  // -Q given twice consumes both lists (Python's argparse keeps the last; docs/operators.md).
  assert.deepEqual(parseWorkerArgs([file, "-Q", "a", "-Q", "b", "c", "-p", "1"], {}).queues, ["a", "b", "c"]);
  assert.deepEqual(d.metrics, { port: 9300, host: "127.0.0.1" });
  assert.equal(d.threads, 8);
  assert.equal(d.shutdownTimeout, 600_000);
  assert.ok(d.processes >= 1);
  assert.equal(d.watchPolling, false);
  // argparse's attached forms, as in a unit file written for Python's dramatiq.
  const attached = parseWorkerArgs([file, "-Qdefault", "-p2", "-t4", "--processes=3"], {});
  assert.deepEqual([attached.queues, attached.processes, attached.threads], [["default"], 3, 4]);
  // `-Q=default` is argparse's attached form too: the queue "default", not "=default".
  const equals = parseWorkerArgs([file, "-Q=default", "-p=2", "-t=4"], {});
  assert.deepEqual([equals.queues, equals.processes, equals.threads], [["default"], 2, 4]);
  const here = fileURLToPath(new URL(".", import.meta.url));
  assert.equal(parseWorkerArgs([file, "--watch", here, "--watch-use-polling"], {}).watchPolling, true);
  assert.deepEqual(parseWorkerArgs(["--help"], {}), { help: true });
  // A module after -Q is one of its queues (as with Python's argparse): the error says so.
  const bin = fileURLToPath(new URL("../../pkg/bin/dramatiq-results.js", import.meta.url));
  const after = spawnSync(process.execPath, [bin, "worker", "-Q", "default", file], { encoding: "utf8" });
  assert.equal(after.status, 2, after.stderr);
  assert.match(after.stderr, /was read as a queue: name the modules before -Q/);
});

test("worker --help, a broken module, an unreachable broker: Python's exit codes", { skip, timeout: 60_000 }, async () => {
  const help = execFileSync("npx", ["--offline", "dramatiq-results", "worker", "--help"], { cwd: dir, encoding: "utf8" });
  for (const flag of ["--processes", "--threads", "--queues", "--pid-file", "--log-file", "--watch", "--worker-shutdown-timeout", "--metrics-port", "--verbose"]) {
    assert.ok(help.includes(flag), flag);
  }
  const broken = await startWorker([], { queue: "codes", module: "broken.mjs", ready: false });
  assert.equal(await broken.exited, 2, broken.output);
  assert.match(broken.output, /Could not import the modules: this module is broken/);
  // A PID file naming a running process (this test's): another worker is running.
  const pidFile = join(dir, "running.pid");
  writeFileSync(pidFile, `${process.pid}\n`);
  const twice = spawn("npx", ["--offline", "dramatiq-results", "worker", "tasks.mjs", "--pid-file", pidFile], { cwd: dir, stdio: "ignore" });
  assert.equal(await new Promise((r) => twice.once("exit", r)), 4);
  assert.equal(readFileSync(pidFile, "utf8"), `${process.pid}\n`, "the PID file is left alone");
  const port = await freePort();
  const down = await startWorker([], { queue: "codes", brokerUrl: `redis://127.0.0.1:${port}`, ready: false });
  assert.equal(await down.exited, 3, down.output);
  assert.match(down.output, /Broker connection failed/);
});

test("SIGTERM mid-batch: started messages finish, prefetched ones go to the other worker at once, exit 0", { skip, timeout: 60_000 }, async (t) => {
  const queue = "term";
  await rec.del(["started", "finished"]);
  // A: 2 threads, so it runs 2 and holds 2 more (Dramatiq's prefetch: threads × 2).
  const a = await startWorker(["-p", "1", "-t", "2"], { queue });
  let b;
  try {
    const tags = Array.from({ length: 10 }, (_, i) => `t${i}`);
    // Long enough that A is still on its first two when B has started (B's start-up
    // takes a few seconds on a loaded machine).
    await pySend(queue, tags.map((tag) => ({ actor_name: "job", args: [tag, 5000] })));
    const [aPid] = a.workers();
    await until("A running 2", async () => (await records("started")).filter((r) => r.pid === aPid).length === 2);
    b = await startWorker(["-p", "1", "-t", "8"], { queue });
    // B takes what A does not hold (6), then A is stopped while it holds 2 it has not started.
    await until("B running 6", async () => (await records("started")).length === 8);
    assert.equal((await records("finished")).length, 0, "A still runs its first two");
    const sigterm = Date.now();
    process.kill(a.supervisor, "SIGTERM");
    await until("all 10 started", async () => (await records("started")).length >= 10, 10_000);
    const started = await records("started");
    const late = started.filter((r) => r.at >= sigterm);
    assert.equal(late.length, 2, "A's two prefetched messages run on B");
    t.diagnostic(`A's prefetched messages started on B ${late.map((r) => r.at - sigterm).join(" and ")} ms after SIGTERM`);
    for (const r of late) {
      assert.notEqual(r.pid, aPid);
      assert.ok(r.at - sigterm <= 2000, `taken ${r.at - sigterm} ms after SIGTERM (expected about 1 s at most)`);
    }
    assert.equal(await a.exited, 0, a.output);
    await until("all 10 finished", async () => (await records("finished")).length >= 10, 15_000);
    const finished = await records("finished");
    assert.deepEqual([...count(started.map((r) => r.tag)).values()].filter((n) => n !== 1), [], "none ran twice");
    assert.deepEqual(finished.map((r) => r.tag).sort(), [...tags].sort(), "none lost");
    for (const r of started.filter((r) => r.pid === aPid)) assert.ok(finished.some((f) => f.tag === r.tag && f.pid === aPid), `A finished ${r.tag}`);
    assert.match(a.output, /Stopping worker process/);
    // Worker processes are numbered from 0, as Python's (`dramatiq.WorkerProcess(0)`).
    assert.match(a.output, /\[dramatiq\.WorkerProcess\(0\)\] \[INFO\] Worker process is ready for action/);
    // Python's Worker.stop lines, under its logger's name, between the process's own.
    assert.match(a.output, /Stopping worker process[^]*\[dramatiq\.worker\.Worker\] \[INFO\] Shutting down\.\.\.\n[^]*\[dramatiq\.worker\.Worker\] \[INFO\] Worker has been shut down\.\n[^]*Worker process stopped\./);
    process.kill(b.supervisor, "SIGTERM");
    assert.equal(await b.exited, 0, b.output);
  } finally {
    await a.kill();
    await b?.kill();
  }
});

test("SIGKILL of a worker process: restarted, its messages back in their queue at once", { skip, timeout: 60_000 }, async (t) => {
  const queue = "crash";
  await rec.del(["started", "finished"]);
  const w = await startWorker(["-p", "2", "-t", "2"], { queue });
  try {
    const tags = Array.from({ length: 8 }, (_, i) => `k${i}`);
    await pySend(queue, tags.map((tag) => ({ actor_name: "job", args: [tag, 1500] })));
    await until("4 running", async () => (await records("started")).length >= 4);
    const [victim] = w.workers();
    const ackKey = `dramatiq:__acks__.${w.brokerIds()[victim]}.${queue}`;
    assert.ok((await rec.sCard(ackKey)) > 0, "the victim holds messages");
    const killed = Date.now();
    process.kill(victim, "SIGKILL");
    await until("the victim's messages back", async () => (await rec.exists(ackKey)) === 0, 10_000);
    const back = Date.now() - killed;
    assert.ok(back <= 2000, `back after ${back} ms`);
    t.diagnostic(`the killed process's messages were back in their queue ${back} ms after SIGKILL`);
    await w.until(/died \(signal SIGKILL\); restarting it/);
    await until("every message finished", async () => new Set((await records("finished")).map((r) => r.tag)).size === 8, 20_000);
    assert.equal(w.workers().length, 3, "a new worker process started");
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("SIGHUP restarts the worker processes; nothing lost, nothing twice (test_cli_can_be_reloaded_on_sighup)", { skip, timeout: 60_000 }, async () => {
  const queue = "hup";
  await rec.del(["started", "finished"]);
  const w = await startWorker(["-p", "1", "-t", "2"], { queue });
  try {
    const tags = Array.from({ length: 8 }, (_, i) => `h${i}`);
    await pySend(queue, tags.map((tag) => ({ actor_name: "job", args: [tag, 400] })));
    await until("2 running", async () => (await records("started")).length >= 2);
    const [first] = w.workers();
    process.kill(w.supervisor, "SIGHUP");
    await w.until(/Restarting the worker processes \(SIGHUP\)/);
    await until("a new worker process", async () => w.workers().length === 2, 20_000);
    await until("all finished", async () => (await records("finished")).length >= 8, 20_000);
    const started = await records("started");
    assert.deepEqual([...count(started.map((r) => r.tag)).values()].filter((n) => n !== 1), [], "none ran twice");
    assert.deepEqual((await records("finished")).map((r) => r.tag).sort(), tags.sort());
    assert.ok(started.some((r) => r.pid !== first), "the new process ran some");
    // A second SIGTERM stops at once: the long messages in progress go back to the queue.
    await pySend(queue, [{ actor_name: "job", args: ["long1", 20_000] }, { actor_name: "job", args: ["long2", 20_000] }]);
    await until("both long ones running", async () => (await records("started")).length === 10);
    const t0 = Date.now();
    process.kill(w.supervisor, "SIGTERM");
    await w.until(/Stopping \(SIGTERM\)/);
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 1, w.output);
    assert.ok(Date.now() - t0 < 5000, "stopped at once");
    assert.equal(await rec.lLen(`dramatiq:${queue}`), 2, "the two interrupted messages are back in their queue");
  } finally {
    await w.kill();
  }
});

test("--worker-shutdown-timeout: messages still running at the timeout go back to their queue", { skip, timeout: 60_000 }, async () => {
  const queue = "timeout";
  await rec.del(["started", "finished"]);
  const w = await startWorker(["-p", "1", "-t", "2", "--worker-shutdown-timeout", "500"], { queue });
  try {
    await pySend(queue, [{ actor_name: "job", args: ["long1", 20_000] }, { actor_name: "job", args: ["long2", 20_000] }]);
    await until("both running", async () => (await records("started")).length === 2);
    const t0 = Date.now();
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output); // the supervisor stopped as asked
    assert.ok(Date.now() - t0 < 5000, "the timeout cut the wait");
    assert.match(w.output, /Shutdown timeout of 500 ms reached with 2 message\(s\) in progress/);
    // Not the in-process Worker's "once this worker's heartbeat times out": they are back now.
    assert.doesNotMatch(w.output, /heartbeat times out/);
    assert.equal(await rec.lLen(`dramatiq:${queue}`), 2, "both are back in their queue");
    assert.equal((await records("finished")).length, 0);
  } finally {
    await w.kill();
  }
});

test("a 4 s synchronous actor with a 1 s limit: quick actors keep finishing, it fails with TimeLimitExceeded; /metrics counts it all", { skip, timeout: 60_000 }, async (t) => {
  const queue = "limits";
  await rec.del(["quick"]);
  const port = await freePort();
  const w = await startWorker(["-p", "2", "-t", "4", "--metrics-port", String(port), "--metrics-host", "127.0.0.1"], { queue });
  try {
    rmSync(join(dir, "spin.log"), { force: true });
    const quick = Array.from({ length: 20 }, (_, i) => ({ actor_name: "quick", args: [`q${i}`] }));
    const adds = Array.from({ length: 30 }, (_, i) => ({ actor_name: "add", args: [i, 1] }));
    const fails = Array.from({ length: 5 }, (_, i) => ({ actor_name: "fail", args: [`boom ${i}`] }));
    const sent = await pySend(queue, [{ actor_name: "spin", args: [4000] }, ...quick, ...adds, ...fails]);
    const spin = JSON.parse(sent[0]);
    const identity = { queueName: spin.queue_name, actorName: spin.actor_name, messageId: spin.message_id };
    const key = backend.buildMessageKey(identity);
    await until("the spin's result", async () => (await rec.exists(key)) === 1, 10_000);
    const failedAt = Date.now();
    await assert.rejects(backend.getResult(identity), /TimeLimitExceeded/);
    const startedAt = Number(readFileSync(join(dir, "spin.log"), "utf8").trim());
    // Stopped at TimeLimit's first check past the 1 s limit (checks every second, as Python's:
    // 1-2 s after the start), with 1 s of slack for a loaded machine; well before its 4 s.
    assert.ok(failedAt - startedAt <= 3000, `the spin failed ${failedAt - startedAt} ms after it started`);
    t.diagnostic(`the 4 s spin with a 1 s limit had failed ${failedAt - startedAt} ms after it started`);
    await until("the quick ones", async () => (await records("quick")).length === 20, 10_000);
    const quickDone = await records("quick");
    assert.ok(quickDone.every((r) => r.at < failedAt), "the quick actors finished while the spin ran");
    // Python reads what the JS worker stored exactly as it reads its own workers' results.
    const results = (await runPython("produce.py", ["results", "--timeout", "10000"], { url: redis.url, queue, input: sent.join("\n") + "\n" })).map((l) => JSON.parse(l));
    assert.equal(results[0].failure?.type, "TimeLimitExceeded", JSON.stringify(results[0]));
    assert.deepEqual(results.slice(1, 21).map((r) => r.value), quick.map((q) => q.args[0]));
    assert.deepEqual(results.slice(21, 51).map((r) => r.value), adds.map((_, i) => i + 1));
    assert.deepEqual(results.slice(51).map((r) => r.failure?.type), fails.map(() => "Error"));
    await w.until(/Thread-\d+ was stopped running spin \(TimeLimitExceeded\)/);

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const metric = (name, actor) => {
      const m = new RegExp(`^${name}\\{queue_name="${queue}",actor_name="${actor}"\\} (\\S+)$`, "m").exec(text);
      return m ? Number(m[1]) : 0;
    };
    assert.equal(metric("dramatiq_messages_total", "add"), 30, text);
    assert.equal(metric("dramatiq_messages_total", "quick"), 20);
    assert.equal(metric("dramatiq_messages_total", "fail"), 5);
    assert.equal(metric("dramatiq_messages_total", "spin"), 1);
    assert.equal(metric("dramatiq_message_errors_total", "fail"), 5);
    assert.equal(metric("dramatiq_message_errors_total", "spin"), 1);
    assert.equal(metric("dramatiq_message_errors_total", "add"), 0);
    assert.equal(metric("dramatiq_message_rejects_total", "fail"), 5);
    assert.equal(metric("dramatiq_messages_inprogress", "add"), 0);
    assert.equal(metric("dramatiq_message_duration_milliseconds_count", "add"), 30);
    assert.ok(metric("dramatiq_message_duration_milliseconds_sum", "spin") >= 1000);
    for (const name of ["dramatiq_message_retries_total", "dramatiq_delayed_messages_inprogress"]) assert.match(text, new RegExp(`# TYPE ${name} `));
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("a thread replaced after a time limit starts up before the next message is taken: its limit counts the actor's run only, as on Python's threads (which never start again)", { skip, timeout: 60_000 }, async () => {
  // Found by tests/js/diff-fuzz-worker-limits.test.mjs: an attempt taken while the thread
  // that replaced a stopped one still imported its modules waited for it, its time limit
  // running, and was stopped before its actor began (its 300 ms, under threads that take
  // 1 s to start here); a Python thread takes the next message at once.
  const queue = "replaced";
  const w = await startWorker(["-p", "1", "-t", "1"], { queue, module: "slow_threads.mjs" });
  try {
    const sent = await pySend(queue, [{ actor_name: "spin", args: [5000] }, { actor_name: "quick", args: ["q"] }]);
    const results = (await runPython("produce.py", ["results", "--timeout", "20000"], { url: redis.url, queue, input: sent.join("\n") + "\n" })).map((l) => JSON.parse(l));
    assert.equal(results[0].failure?.type, "TimeLimitExceeded", JSON.stringify(results[0]));
    assert.deepEqual(results[1], { value: "q" }, w.output);
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("Dramatiq's test_shutdown_notifications_are_received / _can_be_ignored on worker threads: SIGTERM stops the synchronous actor that asked (Shutdown, stored as Python reads it); those that did not finish, one under its message's time limit", { skip, timeout: 60_000 }, async () => {
  const queue = "notify";
  const w = await startWorker(["-p", "1", "-t", "3"], { queue });
  try {
    for (const f of ["spin.log", "stoppable.log"]) rmSync(join(dir, f), { force: true });
    const sent = await pySend(queue, [
      { actor_name: "stoppable", args: [20_000] },
      { actor_name: "spin", args: [800] },
      // test_actor_messages_can_be_assigned_time_limits, the other way: the message's limit
      // (3 s) over the actor's (1 s), so a 2 s spin finishes.
      { actor_name: "spin", args: [2000], options: { time_limit: 3000 } },
    ]);
    const spins = () => (existsSync(join(dir, "spin.log")) ? readFileSync(join(dir, "spin.log"), "utf8").trim().split("\n").length : 0);
    await until("all three started", async () => spins() === 2 && existsSync(join(dir, "stoppable.log")), 15_000);
    const stoppedAt = Date.now();
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
    assert.ok(Date.now() - stoppedAt < 15_000, "the 20 s actor did not hold the stop");
    const results = (await runPython("produce.py", ["results", "--timeout", "10000"], { url: redis.url, queue, input: sent.join("\n") + "\n" })).map((l) => JSON.parse(l));
    assert.equal(results[0].failure?.type, "Shutdown", JSON.stringify(results[0]));
    assert.deepEqual(results[1], { value: 800 }, w.output);
    assert.deepEqual(results[2], { value: 2000 }, w.output);
    assert.match(w.output, /was stopped running stoppable \(Shutdown\)/);
  } finally {
    await w.kill();
  }
});

test("CurrentMessage inside actors that run on worker threads: the message they run for, as on the main thread", { skip, timeout: 60_000 }, async () => {
  const queue = "current";
  const w = await startWorker(["-p", "1", "-t", "2"], { queue, module: "current.mjs" });
  try {
    const messages = [
      { actor_name: "whoami", args: [1] },
      { actor_name: "whoamiLater", args: [2] },
      { actor_name: "whoami", args: [3], kwargs: { k: "v" } },
    ];
    const sent = (await pySend(queue, messages)).map((l) => JSON.parse(l));
    for (const [i, m] of sent.entries()) {
      const identity = { queueName: m.queue_name, actorName: m.actor_name, messageId: m.message_id };
      const seen = await backend.getResult(identity, { block: true, timeout: 20_000 });
      assert.ok(seen, `${m.actor_name} saw no current message`);
      assert.ok(seen.threadId > 0, "it ran on a worker thread");
      assert.deepEqual(
        { messageId: seen.messageId, queueName: seen.queueName, actorName: seen.actorName, args: seen.args, kwargs: seen.kwargs, signal: seen.signal },
        { messageId: m.message_id, queueName: queue, actorName: m.actor_name, args: messages[i].args, kwargs: messages[i].kwargs ?? {}, signal: true },
      );
      assert.equal(seen.text, `${m.actor_name}(${messages[i].args.join(", ")}${messages[i].kwargs ? ", k='v'" : ""})`);
    }
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("--watch: a changed file restarts the worker processes, which run the new code; nothing lost, nothing twice", { skip, timeout: 90_000 }, async () => {
  const queue = "watch";
  await rec.del(["versions"]);
  const versionFile = join(dir, "watched", "version.mjs");
  writeFileSync(versionFile, `export const VERSION = "v1";\n`);
  const w = await startWorker(["-p", "1", "-t", "2", "--watch", join(dir, "watched")], { queue, module: "watch.mjs" });
  try {
    const batch = (prefix, n, ms) => Array.from({ length: n }, (_, i) => ({ actor_name: "versioned", args: [`${prefix}${i}`, ms] }));
    // Enough that some run, some are prefetched and some still queued when the file changes.
    await pySend(queue, batch("a", 12, 300));
    const versions = async () => (await rec.lRange("versions", 0, -1)).map((s) => JSON.parse(s));
    await until("the first ones done", async () => (await versions()).length >= 2);
    const [first] = w.workers();
    writeFileSync(versionFile, `export const VERSION = "v2";\n`);
    await w.until(/Restarting the worker processes \(version\.mjs changed\)/);
    // Sent around the restart: while the old process stops and before the new one is up.
    await pySend(queue, batch("b", 4, 50));
    await until("a new worker process", async () => w.workers().length === 2, 30_000);
    await pySend(queue, batch("c", 4, 50));
    const tags = [...batch("a", 12), ...batch("b", 4), ...batch("c", 4)].map((m) => m.args[0]);
    await until("all 20 done", async () => (await versions()).length >= 20, 30_000);
    await sleep(500); // none more (run twice) arrives late
    const done = await versions();
    assert.deepEqual([...count(done.map((r) => r.tag)).entries()].filter(([, n]) => n !== 1), [], "none ran twice");
    assert.deepEqual(done.map((r) => r.tag).sort(), [...tags].sort(), "none lost");
    const [second] = w.workers().filter((pid) => pid !== first);
    for (const r of done) assert.equal(r.version, r.pid === first ? "v1" : "v2", JSON.stringify(r));
    assert.ok(done.some((r) => r.pid === first), "the old process ran some");
    assert.ok(done.filter((r) => r.pid === second).length >= 8, "the new process ran the new code");
    for (const r of done.filter((r) => r.tag.startsWith("c"))) assert.equal(r.version, "v2");
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("RabbitMQ: SIGTERM mid-batch returns the unstarted deliveries to the other worker at once", { skip: skip || (!haveRabbitmq && "rabbitmq-server is not installed"), timeout: 90_000 }, async (t) => {
  rabbit ??= await startRabbitmq();
  const queue = "rterm";
  await rec.del(["started", "finished"]);
  const opts = { queue, broker: "rabbitmq", brokerUrl: rabbit.url };
  const a = await startWorker(["-p", "1", "-t", "2"], opts);
  let b;
  try {
    const tags = Array.from({ length: 10 }, (_, i) => `r${i}`);
    await pySend(queue, tags.map((tag) => ({ actor_name: "job", args: [tag, 5000] })), { broker: "rabbitmq", url: rabbit.url });
    const [aPid] = a.workers();
    await until("A running 2", async () => (await records("started")).filter((r) => r.pid === aPid).length === 2);
    b = await startWorker(["-p", "1", "-t", "8"], opts);
    await until("B running 6", async () => (await records("started")).length === 8);
    assert.equal((await records("finished")).length, 0, "A still runs its first two");
    const sigterm = Date.now();
    process.kill(a.supervisor, "SIGTERM");
    await until("all 10 started", async () => (await records("started")).length >= 10, 10_000);
    const late = (await records("started")).filter((r) => r.at >= sigterm);
    assert.equal(late.length, 2);
    t.diagnostic(`A's unstarted deliveries started on B ${late.map((r) => r.at - sigterm).join(" and ")} ms after SIGTERM`);
    for (const r of late) assert.ok(r.at - sigterm <= 2000, `taken ${r.at - sigterm} ms after SIGTERM`);
    assert.equal(await a.exited, 0, a.output);
    await until("all 10 finished", async () => (await records("finished")).length >= 10, 15_000);
    const started = await records("started");
    assert.deepEqual([...count(started.map((r) => r.tag)).values()].filter((n) => n !== 1), []);
    assert.deepEqual((await records("finished")).map((r) => r.tag).sort(), tags.sort());
    process.kill(b.supervisor, "SIGTERM");
    assert.equal(await b.exited, 0, b.output);
  } finally {
    await a.kill();
    await b?.kill();
  }
});

test("RabbitMQ: SIGKILL of a worker process: its deliveries go to the other process at once", { skip: skip || (!haveRabbitmq && "rabbitmq-server is not installed"), timeout: 90_000 }, async (t) => {
  rabbit ??= await startRabbitmq();
  const queue = "rkill";
  await rec.del(["started", "finished"]);
  const w = await startWorker(["-p", "2", "-t", "2"], { queue, broker: "rabbitmq", brokerUrl: rabbit.url });
  try {
    const tags = Array.from({ length: 8 }, (_, i) => `rk${i}`);
    await pySend(queue, tags.map((tag) => ({ actor_name: "job", args: [tag, 1500] })), { broker: "rabbitmq", url: rabbit.url });
    await until("4 running", async () => (await records("started")).length >= 4);
    const [victim] = w.workers();
    const done = new Set((await records("finished")).map((r) => r.tag));
    const before = (await records("started")).filter((r) => r.pid === victim && !done.has(r.tag)).map((r) => r.tag);
    assert.ok(before.length >= 1, "the victim is running some");
    const killed = Date.now();
    process.kill(victim, "SIGKILL");
    // Its two running messages run again elsewhere (at least once); how soon says the
    // deliveries came back at once, not after a timeout.
    const again = await until("the victim's messages again", async () => {
      const rerun = (await records("started")).filter((r) => r.pid !== victim && before.includes(r.tag));
      return rerun.length === before.length && rerun;
    }, 20_000);
    const back = Math.max(...again.map((r) => r.at)) - killed;
    t.diagnostic(`the killed process's running messages started again ${back} ms after SIGKILL`);
    // RabbitMQ requeues them the moment the connection drops; they start again as soon as
    // a thread is free (here: when the other process finishes one, or the new one is up).
    assert.ok(back <= 10_000, `${back} ms`);
    await until("every message finished", async () => new Set((await records("finished")).map((r) => r.tag)).size === 8, 20_000);
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("start-up failures as Python's dramatiq tells them: a PID file holding something else (test_cli_aborts_when_pidfile_contains_garbage), a log file that cannot be written, a module's error with its file and line; --version", { skip, timeout: 60_000 }, async () => {
  const run = (args, env = {}) =>
    spawnSync("npx", ["--offline", "dramatiq-results", "worker", ...args], {
      cwd: dir,
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, QUEUE: "refusals", BROKER_URL: redis.url, RECORD_URL: redis.url, ...env },
    });
  // A config file named as the PID file by mistake: refused (4), and left as it was (it
  // used to be overwritten, then deleted when the worker stopped).
  const config = join(dir, "settings.ini");
  writeFileSync(config, "important = true\n");
  const pid = run(["tasks.mjs", "-p", "1", "--pid-file", config]);
  assert.equal(pid.status, 4, pid.stderr);
  assert.match(pid.stderr, /settings\.ini holds something other than a PID/);
  assert.equal(readFileSync(config, "utf8"), "important = true\n");
  // A log file in a folder that does not exist: said on stderr, exit 2 (it used to run
  // with every line silently lost).
  const log = run(["tasks.mjs", "-p", "1", "--log-file", join(dir, "no-such-dir", "worker.log")]);
  assert.equal(log.status, 2, log.stderr);
  assert.match(log.stderr, /cannot write the log file .*no-such-dir.*worker\.log: ENOENT/);
  // A syntax error two imports down: where it is, as Python's traceback says (Node's
  // import() error alone says only "Unexpected token").
  const syntax = run(["syntax.mjs", "-p", "1"]);
  assert.equal(syntax.status, 2, syntax.stderr);
  assert.match(syntax.stderr, /Could not import the modules: SyntaxError: Unexpected token ';' \(at .*\/syntax_inner\.mjs:2\)\nconst b = \{;\n *\^/);
  const throws = run(["throws.mjs", "-p", "1"]);
  assert.equal(throws.status, 2, throws.stderr);
  assert.match(throws.stderr, /Could not import the modules: TypeError: Cannot read properties of null \(reading 'boom'\) \(at .*\/throws\.mjs:3:\d+\)/);
  // A flag of Python's with no equivalent here (a unit file copied from a Python
  // deployment): exit 2 with the reason, as argparse's one line, not 40 lines of usage.
  const spawnFlag = run(["tasks.mjs", "--use-spawn"]);
  assert.equal(spawnFlag.status, 2, spawnFlag.stderr);
  assert.match(spawnFlag.stderr, /^dramatiq-results worker: --use-spawn is Python's dramatiq's and has no equivalent here: worker processes are always spawned/);
  const bogus = run(["tasks.mjs", "--bogus=1"]);
  assert.equal(bogus.status, 2, bogus.stderr);
  assert.equal(bogus.stderr, "dramatiq-results worker: unknown option --bogus\n(dramatiq-results worker --help lists the options)\n");
  const pollingOnly = run(["tasks.mjs", "--watch-use-polling"]);
  assert.equal(pollingOnly.status, 2, pollingOnly.stderr);
  assert.match(pollingOnly.stderr, /--watch-use-polling needs --watch <dir>/);
  const hostOnly = run(["tasks.mjs", "--metrics-host", "127.0.0.1"]);
  assert.equal(hostOnly.status, 2, hostOnly.stderr);
  assert.match(hostOnly.stderr, /--metrics-host needs --metrics-port/);
  // Python's habit, a module's name: the file it likely means.
  const named = run(["tasks", "-p", "1"]);
  assert.equal(named.status, 2, named.stderr);
  assert.match(named.stderr, /no such module file: tasks \(modules are files here: tasks\.mjs\?\)/);
  const version = run(["--version"]);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(dir, "node_modules", "dramatiq-results", "package.json"), "utf8")).version);
});

test("-Q naming a queue none of the modules' actors uses: not consumed (Python's subset of the declared queues), so its messages stay for the workers that run them", { skip, timeout: 60_000 }, async () => {
  const queue = "subset";
  const other = "python-only";
  await rec.del(["quick"]);
  await rec.del([`dramatiq:${other}`, `dramatiq:${other}.msgs`, `dramatiq:${other}.XQ`]);
  const w = await startWorker(["-p", "1", "-t", "2", "-Q", queue, other], { queue });
  try {
    await w.until(/Not consuming queue "python-only" \(-Q\): no actor that runs here uses it/);
    await pySend(other, [{ actor_name: "report", args: [1] }]);
    await pySend(queue, [{ actor_name: "quick", args: ["q"] }]);
    await until("the quick one", async () => (await records("quick")).length === 1, 10_000);
    await sleep(500);
    assert.equal(await rec.lLen(`dramatiq:${other}`), 1, "the other queue's message is still queued");
    assert.equal(await rec.exists(`dramatiq:${other}.XQ`), 0, "nothing dead-lettered there");
    assert.doesNotMatch(w.output, /Dead-lettering message/);
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

/** `/metrics` on `port`, through prometheus_client's strict parser: the families. */
async function scrapeParsed(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const parsed = spawnSync(join(venvBin, "python"), [join(dir, "prom_parse.py")], { input: text, encoding: "utf8", timeout: 30_000 });
  assert.equal(parsed.status, 0, `prometheus_client could not parse:\n${parsed.stderr}\n${text}`);
  return JSON.parse(parsed.stdout);
}

/** Per "queue/actor", the sum of `sample`'s values (over a `pid` label Python may add). */
function sums(families, sample, extra = () => true) {
  const out = {};
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name !== sample || !extra(s.labels)) continue;
      const key = `${s.labels.queue_name}/${s.labels.actor_name}`;
      out[key] = (out[key] ?? 0) + s.value;
    }
  }
  return out;
}
const total = (o) => Object.values(o).reduce((a, b) => a + b, 0);

test("/metrics against Python's Prometheus middleware on the same workload (retries, rejects, delays, unknown actors): the same families and counts, strictly parsed; a killed or reloaded worker process keeps its counts, not its gauges", { skip: skip || (!haveProm && "prometheus_client is not in target/venv (scripts/setup --python)"), timeout: 180_000 }, async () => {
  const queue = "prom";
  const send = (args = []) => {
    const r = spawnSync(join(venvBin, "python"), [join(dir, "prom_send.py"), ...args], { env: { ...process.env, BROKER_URL: redis.url, QUEUE: queue }, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
  };
  // 7 adds, 2 × 3 attempts of flaky, 1 fail0; dead-lettered: 2 flaky, 1 fail0, 2 unknown.
  const settled = (families) => total(sums(families, "dramatiq_messages_total")) === 14 && total(sums(families, "dramatiq_message_rejects_total")) === 5;
  const settle = async (port) => {
    let families;
    await until("the workload processed", async () => settled((families = await scrapeParsed(port))), 30_000);
    return families;
  };

  // Python Dramatiq 2.2.1 with its Prometheus middleware: the reference.
  const pyPort = await freePort();
  const db = mkdtempSync(join(tmpdir(), "dramatiq-prom-"));
  const py = spawn(join(venvBin, "python"), ["-m", "dramatiq", "prom_app", "-p", "2", "-t", "2", "--path", dir], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BROKER_URL: redis.url, QUEUE: queue, dramatiq_prom_host: "127.0.0.1", dramatiq_prom_port: String(pyPort), dramatiq_prom_db: db },
  });
  const reaped = reapOnExit(py.pid);
  let pyOut = "";
  py.stderr.on("data", (d) => (pyOut += d));
  py.stdout.on("data", (d) => (pyOut += d));
  let python;
  let pyRoot;
  try {
    await until("Python's workers ready", async () => (pyOut.match(/Worker process is ready for action/g) ?? []).length === 2, 60_000);
    await until("Python's exposition server", () => fetch(`http://127.0.0.1:${pyPort}/metrics`).then(() => true, () => false), 30_000).catch((error) => {
      throw new Error(`${error.message}\n${pyOut}`);
    });
    send();
    python = await settle(pyPort);
    // Dramatiq's test_prometheus_middleware_exposes_metrics requests "/": Python's server
    // answers every GET path with the metrics (so must ours, below).
    pyRoot = await fetch(`http://127.0.0.1:${pyPort}/`).then(async (r) => ({ status: r.status, text: await r.text() }));
  } finally {
    if (groupAlive(py.pid)) await killGroup(py.pid, "SIGKILL");
    reaped();
    rmSync(db, { recursive: true, force: true });
  }

  const port = await freePort();
  const w = await startWorker(["-p", "2", "-t", "2", "--metrics-port", String(port), "--metrics-host", "127.0.0.1"], { queue, module: "prom.mjs" });
  try {
    send();
    const ours = await settle(port);
    const root = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(pyRoot.status, 200);
    assert.match(pyRoot.text, /^dramatiq_messages_total\{/m);
    assert.equal(root.status, pyRoot.status, "GET / is the metrics, as Python's");
    assert.match(await root.text(), /^dramatiq_messages_total\{/m);
    const shape = (families) => families.map((f) => ({ name: f.name, type: f.type, help: f.help })).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(shape(ours), shape(python), "the same families, types and help texts");
    for (const sample of [
      "dramatiq_messages_total",
      "dramatiq_message_errors_total",
      "dramatiq_message_retries_total",
      "dramatiq_message_rejects_total",
      "dramatiq_message_duration_milliseconds_count",
      "dramatiq_messages_inprogress",
    ]) {
      assert.deepEqual(sums(ours, sample), sums(python, sample), sample);
    }
    // Counted up under the delay queue by the process that holds a delayed message (down
    // under the work queue only if the same process runs it: with 2 processes, either).
    const delayQueue = (labels) => labels.queue_name.endsWith(".DQ");
    assert.deepEqual(sums(ours, "dramatiq_delayed_messages_inprogress", delayQueue), sums(python, "dramatiq_delayed_messages_inprogress", delayQueue));
    assert.equal(sums(ours, "dramatiq_message_rejects_total")[`${queue}/no"such\\actor\n`], 1, "an unknown actor's message is a reject, its name escaped and read back whole");
    const buckets = (families) => [...new Set(families.flatMap((f) => f.samples).filter((s) => s.name.endsWith("_bucket")).map((s) => s.labels.le))];
    assert.deepEqual(buckets(ours), buckets(python), "Dramatiq's buckets");
    for (const f of ours) for (const s of f.samples) assert.deepEqual(Object.keys(s.labels).filter((l) => l !== "le").sort(), ["actor_name", "queue_name"], s.name);

    // A worker process killed: its counts stay in the sums (Python's multiprocess files
    // keep a dead process's counters; a sum that drops reads as a counter reset).
    const counters = (families) => ["dramatiq_messages_total", "dramatiq_message_errors_total", "dramatiq_message_rejects_total", "dramatiq_message_duration_milliseconds_count"].map((n) => sums(families, n));
    const before = counters(ours);
    for (const pid of w.workers()) process.kill(pid, "SIGKILL");
    await until("both restarted", async () => w.workers().length === 4, 30_000);
    assert.deepEqual(counters(await scrapeParsed(port)), before, "the killed processes' counts are kept");

    // A reload with delayed messages held: the old processes' gauges go with them (their
    // messages are back in the queue and held again by the new ones), not counted twice.
    send(["held"]);
    const held = async () => sums(await scrapeParsed(port), "dramatiq_delayed_messages_inprogress")[`${queue}.DQ/add`] ?? 0;
    // (The workload's delayed messages went with the killed processes' gauges.)
    await until("2 delayed held", async () => (await held()) === 2, 15_000);
    process.kill(w.supervisor, "SIGHUP");
    await until("both reloaded", async () => w.workers().length === 6, 30_000);
    const ackSets = async () => {
      let n = 0;
      for (const key of await rec.keys(`dramatiq:__acks__.*.${queue}.DQ`)) n += await rec.sCard(key);
      return n;
    };
    await until("the new processes hold the 2 delayed messages", async () => (await ackSets()) === 2, 15_000);
    await sleep(1000);
    const gauges = await scrapeParsed(port);
    assert.equal(sums(gauges, "dramatiq_delayed_messages_inprogress")[`${queue}.DQ/add`], 2, "the 2 delayed messages counted once");
    assert.deepEqual(counters(gauges), before, "the reloaded processes' counts are kept");
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("SIGHUP and SIGTERM while the modules still load: ignored and a clean stop, not Node's default death that leaves the PID file behind", { skip, timeout: 60_000 }, async () => {
  const w = await startWorker(["-p", "1"], { queue: "early", module: "slowstart.mjs", ready: false });
  try {
    await until("the PID file", async () => existsSync(w.pidFile), 10_000);
    const supervisor = Number(readFileSync(w.pidFile, "utf8"));
    process.kill(supervisor, "SIGHUP");
    await sleep(200);
    assert.ok(groupAlive(w.group), `SIGHUP while loading killed it:\n${w.output}`);
    process.kill(supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
    assert.match(w.output, /Stopping \(SIGTERM\) before the worker processes started/);
    assert.equal(existsSync(w.pidFile), false, "its PID file is gone");
  } finally {
    await w.kill();
  }
});

test("Python's module:broker form: the broker an export names (a dotted path too), or a function that sets it up; a missing export is an import error", { skip, timeout: 60_000 }, async () => {
  const queue = "exported";
  await rec.del(["exported"]);
  for (const spec of ["exported.mjs:app.broker", "exported.mjs:setup"]) {
    const w = await startWorker(["-p", "1", "-t", "1"], { queue, module: spec });
    try {
      await pySend(queue, [{ actor_name: "exported", args: [spec] }]);
      await until(`a message run through ${spec}`, async () => (await rec.lRange("exported", 0, -1)).includes(spec), 15_000);
      process.kill(w.supervisor, "SIGTERM");
      assert.equal(await w.exited, 0, w.output);
    } finally {
      await w.kill();
    }
  }
  const missing = await startWorker([], { queue, module: "exported.mjs:nope", ready: false });
  assert.equal(await missing.exited, 2, missing.output);
  assert.match(missing.output, /Could not import the modules: TypeError: .*exported\.mjs does not export "nope"/);
  // Dramatiq's test_cli_fails_to_start_given_an_invalid_broker_instance and
  // test_cli_fails_to_start_given_an_invalid_nested_broker_instance: an export that is not a
  // broker, at the top or down a dotted path (Python's "'tests.test_cli:BrokerHolder.
  // fakebroker' is not a Broker."), exit 2. (The missing export above is
  // test_cli_fails_to_start_given_an_invalid_broker_name's "does not define a 'idontexist'".)
  for (const name of ["fakebroker", "BrokerHolder.fakebroker"]) {
    const fake = await startWorker([], { queue, module: `notbroker.mjs:${name}`, ready: false });
    assert.equal(await fake.exited, 2, fake.output);
    assert.match(fake.output, new RegExp(`Could not import the modules: TypeError: "${name.replace(".", "\\.")}" of .*notbroker\\.mjs is not a RedisBroker or RabbitmqBroker`));
    assert.doesNotMatch(fake.output, /Worker process/, "no worker process started");
  }
});

test("--log-file: what actors print goes there too (Python's worker processes send their stdout and stderr to the log), beside the log lines", { skip, timeout: 60_000 }, async () => {
  const queue = "logfile";
  const log = join(dir, "worker-logfile.log");
  rmSync(log, { force: true });
  const w = await startWorker(["-p", "1", "-t", "1", "--log-file", log], { queue, ready: false });
  try {
    await until("the worker ready", async () => existsSync(log) && /Every worker process is ready for action/.test(readFileSync(log, "utf8")), 30_000);
    await pySend(queue, [{ actor_name: "say", args: ["hello from an actor"] }]);
    await until("the actor's output in the log file", async () => /hello from an actor \(stderr\)/.test(readFileSync(log, "utf8")), 15_000);
    const text = readFileSync(log, "utf8");
    assert.match(text, /^hello from an actor$/m);
    assert.doesNotMatch(w.output, /hello from an actor/, "nothing on the terminal");
    process.kill(Number(readFileSync(w.pidFile, "utf8")), "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

test("Dramatiq's dramatiq_queue_prefetch=1 (its advice for long tasks): a worker holds one message at a time, the rest stay queued for other workers, and it refills at once", { skip, timeout: 60_000 }, async () => {
  const queue = "prefetch1";
  await rec.del(["started", "finished"]);
  const w = await startWorker(["-p", "1", "-t", "4"], { queue, env: { dramatiq_queue_prefetch: "1" } });
  try {
    // (The process's ready line may come after the supervisor's.)
    await until("the worker process's ready line", async () => w.workers().length === 1, 10_000);
    const [pid] = w.workers();
    const ackKey = `dramatiq:__acks__.${w.brokerIds()[pid]}.${queue}`;
    await pySend(queue, ["a", "b", "c"].map((tag) => ({ actor_name: "job", args: [tag, 1500] })));
    await until("one started", async () => (await records("started")).length === 1, 10_000);
    await sleep(300);
    assert.equal((await records("started")).length, 1, "4 threads, but one message held");
    assert.equal(await rec.sCard(ackKey), 1, "one message in its ack set");
    assert.equal(await rec.lLen(`dramatiq:${queue}`), 2, "the others still queued (a default prefetch of 8 would hold all 3)");
    // Short ones: each release fetches the next at once, not after a heartbeat's wait.
    await until("the long ones done", async () => (await records("finished")).length === 3, 15_000);
    const t0 = Date.now();
    await pySend(queue, Array.from({ length: 20 }, (_, i) => ({ actor_name: "job", args: [`s${i}`, 10] })));
    await until("20 short ones done", async () => (await records("finished")).length === 23, 15_000);
    assert.ok(Date.now() - t0 < 10_000, `20 messages of 10 ms took ${Date.now() - t0} ms (a heartbeat per message would be 20 s)`);
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
});

// docs/operators.md's systemd unit, run as systemd runs it: its ExecStart (the unit's
// /srv/tasks mapped to this project, the metrics on a free port) is the main process, and
// KillMode=mixed sends SIGTERM (and ExecReload SIGHUP) to that process alone. A command whose
// main process does not pass the signal on to the supervisor (npx exits at once and leaves
// it running, and systemd then SIGKILLs the rest of the unit) makes every stop a crash.
test("docs/operators.md's systemd unit: SIGHUP and SIGTERM to ExecStart's main process reload and stop the workers gracefully", { skip, timeout: 60_000 }, async () => {
  const doc = readFileSync(fileURLToPath(new URL("../../docs/operators.md", import.meta.url)), "utf8");
  const unit = /```ini\n([\s\S]*?)```/.exec(doc)[1];
  const line = (key) => new RegExp(`^${key}=(.*)$`, "m").exec(unit)[1];
  assert.equal(line("KillMode"), "mixed");
  assert.equal(line("ExecReload"), "/bin/kill -HUP $MAINPID");
  const port = await freePort();
  const [command, ...args] = line("ExecStart")
    .replaceAll("/srv/tasks", dir)
    .replace(/--metrics-port \d+/, `--metrics-port ${port}`)
    .replace(/-p \d+/, "-p 1")
    .split(/\s+/);
  const child = spawn(command, args, {
    cwd: line("WorkingDirectory").replaceAll("/srv/tasks", dir),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, QUEUE: "systemd", BROKER: "redis", BROKER_URL: redis.url, RECORD_URL: redis.url },
  });
  const reaped = reapOnExit(child.pid);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  const untilOutput = async (re, ms = 30_000) => {
    for (const end = Date.now() + ms; !re.test(output); await sleep(50)) {
      if (Date.now() > end) throw new Error(`no ${re} within ${ms} ms:\n${output}`);
    }
  };
  try {
    await untilOutput(/Every worker process is ready for action/, 60_000);
    process.kill(child.pid, "SIGHUP"); // ExecReload
    await untilOutput(/Restarting the worker processes \(SIGHUP\)/);
    await untilOutput(/Worker process is ready[\s\S]*Worker process is ready/);
    process.kill(child.pid, "SIGTERM"); // systemctl stop, KillMode=mixed
    assert.equal(await exited, 0, output);
    assert.match(output, /\[dramatiq\.MainProcess\] \[INFO\] Stopped\./);
    await sleep(500);
    assert.equal(groupAlive(child.pid), false, `processes left behind for systemd's SIGKILL:\n${output}`);
  } finally {
    if (groupAlive(child.pid)) await killGroup(child.pid, "SIGKILL");
    reaped();
  }
});

// What a user types first: `npx dramatiq-results --version` answers as `worker --version` does
// (it was an unknown command, exit 2), and `serve --version` too.
test("npx dramatiq-results --version (and serve --version): the package's version, exit 0", { skip, timeout: 30_000 }, () => {
  const { version } = JSON.parse(readFileSync(fileURLToPath(new URL("../../pkg/package.json", import.meta.url)), "utf8"));
  for (const args of [["--version"], ["serve", "--version"], ["worker", "--version"]]) {
    const r = spawnSync("npx", ["--offline", "dramatiq-results", ...args], { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, `${version}\n`, args.join(" "));
  }
});

// Dramatiq's test_pidfile.py (stale PID files scrubbed; a reload keeps the PID file; a clean
// stop exits 0 and removes it) and Python's setup_pidfile (written -rw-r--r--, whatever the
// umask; a PID file that cannot be written is exit 4).
test("Dramatiq's test_pidfile (test_cli_scrubs_stale_pid_files, test_cli_with_pidfile_can_be_reloaded): a stale PID file is taken over, kept across a reload, written 0644 and removed at a clean stop; one that cannot be written is exit 4", { skip, timeout: 60_000 }, async () => {
  const pidFile = join(dir, "stale.pid");
  let stale = 999_999;
  while (groupAlive(stale) || (() => { try { process.kill(stale, 0); return true; } catch { return false; } })()) stale -= 1;
  // Python chmods its PID file to 0644: neither a umask of 0 nor the stale file's own mode
  // may leave it world-writable.
  const umask = process.umask(0);
  let w;
  try {
    writeFileSync(pidFile, String(stale), { mode: 0o666 });
    w = await startWorker(["-p", "1", "-t", "1"], { queue: "pidfile", pidFile, direct: true });
  } finally {
    process.umask(umask);
  }
  try {
    assert.equal(w.supervisor, w.group, "the PID of the process started, as Python's test asserts");
    assert.equal(readFileSync(pidFile, "utf8").trim(), String(w.supervisor));
    assert.equal(statSync(pidFile).mode & 0o777, 0o644);
    await until("the worker process's ready line", async () => w.workers().length === 1, 10_000);
    const [first] = w.workers();
    const ppid = Number(readFileSync(`/proc/${first}/stat`, "utf8").split(") ")[1].split(" ")[1]);
    assert.equal(ppid, w.supervisor, "the PID file names the supervisor, the worker processes' parent");
    process.kill(w.supervisor, "SIGHUP");
    await w.until(/Restarting the worker processes \(SIGHUP\)/);
    await until("a new worker process", async () => w.workers().length === 2, 30_000);
    assert.equal(readFileSync(pidFile, "utf8").trim(), String(w.supervisor), "a reload keeps the PID file");
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
    assert.equal(existsSync(pidFile), false, "removed at a clean stop");
  } finally {
    await w.kill();
  }
  const unwritable = spawnSync("npx", ["--offline", "dramatiq-results", "worker", "tasks.mjs", "-p", "1", "--pid-file", join(dir, "no-such-dir", "w.pid")], {
    cwd: dir,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, QUEUE: "pidfile", BROKER_URL: redis.url, RECORD_URL: redis.url },
  });
  assert.equal(unwritable.status, 4, unwritable.stderr);
  assert.match(unwritable.stderr, /Could not write the PID file .*no-such-dir.*w\.pid: ENOENT/);
});

// Python's setup_pidfile counts a PID as running only when `os.kill(pid, 0)` succeeds: a
// PID file left by a reboot that now names another user's process (here PID 1, root's, for
// a worker run as nobody) is stale, not "a worker already running" that blocks the start.
test("a PID file naming another user's process (EPERM) is stale, as Python's: the worker starts and takes it over", { skip: (skip || (process.getuid?.() !== 0 && "needs root to run the worker as nobody")), timeout: 60_000 }, async () => {
  const shared = mkdtempSync(join(tmpdir(), "dramatiq-results-pid-"));
  chmodSync(shared, 0o777);
  chmodSync(dir, 0o755);
  const pidFile = join(shared, "worker.pid");
  writeFileSync(pidFile, "1");
  chownSync(pidFile, 65534, 65534);
  const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", join(dir, "node_modules", ".bin", "dramatiq-results"), "worker", "tasks.mjs", "-p", "1", "-t", "1", "--pid-file", pidFile], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, HOME: shared, QUEUE: "eperm", BROKER: "redis", BROKER_URL: redis.url, RECORD_URL: redis.url },
  });
  const reaped = reapOnExit(child.pid);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  try {
    for (const end = Date.now() + 30_000; !/Every worker process is ready for action/.test(output); await sleep(50)) {
      assert.ok(Date.now() < end && child.exitCode === null, `not ready:\n${output}`);
    }
    assert.equal(readFileSync(pidFile, "utf8").trim(), String(child.pid));
    process.kill(child.pid, "SIGTERM");
    assert.equal(await exited, 0, output);
    assert.equal(existsSync(pidFile), false);
  } finally {
    if (groupAlive(child.pid)) await killGroup(child.pid, "SIGKILL");
    reaped();
    chmodSync(dir, 0o700);
    rmSync(shared, { recursive: true, force: true });
  }
});

// Dramatiq's test_watch.py: touching a watched file (its mtime alone) reloads the workers;
// opening and reading one does not; and the same with --watch-use-polling (the two at once).
test("Dramatiq's test_watch, with file events and with --watch-use-polling: a touched file restarts the worker processes, a file read does not", { skip, timeout: 60_000 }, async () => {
  await Promise.all([false, true].map(watchScenario));
});

/** One variant of the --watch scenario: its own queue, module and watched folder. */
async function watchScenario(polling) {
  const queue = polling ? "watch-poll" : "watch-touch";
  const list = `versions-${queue}`;
  const module = `watch-${queue}.mjs`;
  writeFileSync(join(dir, module), WATCHED.replace('"versions"', JSON.stringify(list)).replace("./watched/version.mjs", `./watched-${queue}/version.mjs`));
  const watched = join(dir, `watched-${queue}`);
  mkdirSync(watched, { recursive: true });
  const file = join(watched, "version.mjs");
  writeFileSync(file, `export const VERSION = "v1";\n`);
  await rec.del([list]);
  const w = await startWorker(["-p", "1", "-t", "1", "--watch", watched, ...(polling ? ["--watch-use-polling"] : [])], { queue, module });
  const ran = async (tag) => {
    await pySend(queue, [{ actor_name: "versioned", args: [tag, 0] }]);
    return until(`${tag} run`, async () => (await rec.lRange(list, 0, -1)).map((s) => JSON.parse(s)).find((r) => r.tag === tag), 15_000);
  };
  try {
    const first = await ran("before");
    // The content as it was; only the times change (Python's test: Path.touch()).
    const later = new Date(Date.now() + 2000);
    utimesSync(file, later, later);
    await w.until(/Restarting the worker processes \(.*version\.mjs changed\)/, 15_000);
    await until("a new worker process", async () => w.workers().length === 2, 30_000);
    const second = await ran("after-touch");
    assert.notEqual(second.pid, first.pid, "run by the restarted process");
    readFileSync(file, "utf8");
    await sleep(polling ? 2500 : 1000);
    const third = await ran("after-read");
    assert.equal(third.pid, second.pid, "a read restarts nothing");
    assert.equal(w.output.match(/Restarting the worker processes/g).length, 1, w.output);
    process.kill(w.supervisor, "SIGTERM");
    assert.equal(await w.exited, 0, w.output);
  } finally {
    await w.kill();
  }
}
