// `dramatiq-results worker -p 2 -t 8` against Python's `dramatiq -p 2 -t 8`, in one run on
// one fresh loopback redis-server. Usage: node bench/worker_command.mjs [--n 10000] [--cpu-n 1000] [--python-first]
//   noop      N no-op messages queued first, then the worker started: messages/s from the
//             first message acked to the last (read off Redis: the queue's body hash
//             shrinks on every ack, so both sides are measured the same way, from outside)
//   cpu5      the same for messages of an actor that computes for 5 ms (synchronously)
//   sigterm   8 messages of a 1 s actor in flight, then SIGTERM to the supervisor / main
//             process: ms until it exited (both finish what is in flight)
// Prints one JSON object; the actors are bench/worker_command/{tasks.mjs,bench_app.py}.
import { spawn } from "node:child_process";
import { createClient } from "redis";
import { RedisBroker, actor } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";
import { arg, root, withPython } from "./broker_bench.mjs";
import { calibrate, work } from "./worker_command/cpu5.mjs";

const N = arg("n", 10_000);
const CPU_N = arg("cpu-n", 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// 5 ms of our actor's work, timed here once before any worker starts (see tasks.mjs), and
// checked: the per-message CPU both sides spend must be 5 ms, or the CPU-bound rows compare
// different work.
const CPU5_ITERATIONS = calibrate();
const cpu0 = process.cpuUsage();
for (let i = 0; i < 100; i += 1) work(CPU5_ITERATIONS);
const cpu5Ms = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000 / 100;

const server = await startRedis();
const client = await createClient({ url: server.url }).connect();
const broker = new RedisBroker(client, { middleware: [] });
const noop = actor("noop", { broker, queueName: "bench-noop" });
const cpu5 = actor("cpu5", { broker, queueName: "bench-cpu" });
const sleep1 = actor("sleep1", { broker, queueName: "bench-term" });

function start(kind) {
  const env = { ...process.env, BROKER_URL: server.url, PYTHONPATH: `${root}bench/worker_command`, CPU5_ITERATIONS: String(CPU5_ITERATIONS) };
  const [cmd, args] =
    kind === "ours"
      ? [process.execPath, [`${root}pkg/bin/dramatiq-results.js`, "worker", `${root}bench/worker_command/tasks.mjs`, "-p", "2", "-t", "8"]]
      : [`${root}target/venv/bin/dramatiq`, ["-p", "2", "-t", "8", "bench_app"]];
  const child = spawn(cmd, args, { env, cwd: `${root}bench/worker_command`, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const ready = (async () => {
    // Both print "Worker process is ready for action" once per worker process.
    while ((output.match(/Worker process is ready for action/g) ?? []).length < 2) {
      if (child.exitCode !== null) throw new Error(`${kind} exited: ${output}`);
      await sleep(10);
    }
  })();
  return { child, exited, ready, output: () => output };
}

/** Messages/s from the first ack to the last of `n` queued messages on `queue`. */
async function drain(kind, queue, send, n) {
  // In batches: 10 000 writes at once can outlast node-redis's command timeout on a
  // loaded machine.
  for (let i = 0; i < n; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 500); j += 1) batch.push(send().enqueued);
    await Promise.all(batch);
  }
  while (Number(await client.hLen(`dramatiq:${queue}.msgs`)) < n) await sleep(5);
  const w = start(kind);
  await w.ready;
  let first;
  for (;;) {
    const left = Number(await client.hLen(`dramatiq:${queue}.msgs`));
    if (first === undefined && left < n) first = performance.now();
    if (left === 0) break;
    await sleep(2);
  }
  const rate = Math.round(((n - 1) / (performance.now() - first)) * 1000);
  process.kill(w.child.pid, "SIGTERM");
  await w.exited;
  return rate;
}

async function sigterm(kind) {
  const w = start(kind);
  await w.ready;
  for (let i = 0; i < 8; i += 1) sleep1.send();
  // All 8 fetched and running (the queue is empty, the bodies still there).
  for (;;) {
    const queued = Number(await client.lLen("dramatiq:bench-term"));
    if (queued === 0) break;
    await sleep(2);
  }
  await sleep(100);
  const t0 = performance.now();
  process.kill(w.child.pid, "SIGTERM");
  await w.exited;
  const ms = Math.round(performance.now() - t0);
  const left = Number(await client.hLen("dramatiq:bench-term.msgs"));
  return { ms, unfinished: left };
}

const out = { n: N, cpuN: CPU_N, processes: 2, threads: 8, cpu5Ms: Number(cpu5Ms.toFixed(2)), ours: {}, python: null };
try {
  // --python-first runs Python's side first: on a shared machine the load moves during a
  // run, so alternating the order between runs keeps either side from always drawing the
  // quieter half.
  const kinds = withPython ? (process.argv.includes("--python-first") ? ["python", "ours"] : ["ours", "python"]) : ["ours"];
  out.order = kinds;
  for (const kind of kinds) {
    const r = {};
    r.noopPerSec = await drain(kind, "bench-noop", () => noop.send(), N);
    r.cpu5PerSec = await drain(kind, "bench-cpu", () => cpu5.send(), CPU_N);
    r.sigterm = await sigterm(kind);
    if (kind === "ours") out.ours = r;
    else out.python = r;
  }
} finally {
  await client.quit();
  await server.stop();
}
console.log(JSON.stringify(out));
