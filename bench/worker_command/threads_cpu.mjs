// Where our worker's CPU goes while it drains the CPU-bound bench queue: runs
// `dramatiq-results worker bench/worker_command/tasks.mjs -p P -t T` on a fresh redis-server
// with N messages of the 5 ms actor queued, and reads every thread's CPU time from
// /proc/<pid>/task/*/stat (Linux) at the first and the last ack. Prints, in ms per message,
// the worker processes' main threads and their other threads (the actor threads and V8's
// helpers: Node names them all "node", so they are not told apart), the Redis calls per
// message (INFO commandstats), and each thread's CPU and context switches. --python: the
// same for `dramatiq -p P -t T bench_app` (all its threads count as "other").
// Usage: node bench/worker_command/threads_cpu.mjs [--n 1000] [--p 2] [--t 8] [--queue bench-cpu|bench-noop] [--python]
// Environment: WORKER_NODE_ARGS (node flags for the supervisor, inherited by the worker
// processes, e.g. --cpu-prof or --perf-basic-prof), PERF_OUT (a file: `perf record -g` of the
// worker processes while they drain), SHOW_OUTPUT (print the worker's output lines holding it).
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { createClient } from "redis";
import { RedisBroker, actor } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";
import { arg, root } from "../broker_bench.mjs";
import { calibrate } from "./cpu5.mjs";

const N = arg("n", 1000);
const P = arg("p", 2);
const T = arg("t", 8);
const qi = process.argv.indexOf("--queue");
const QUEUE = qi >= 0 ? process.argv[qi + 1] : "bench-cpu";
const ACTOR = QUEUE === "bench-cpu" ? "cpu5" : "noop";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = 1000 / 100; // ms per clock tick (USER_HZ)

const CPU5_ITERATIONS = calibrate();

function threads(pid) {
  const out = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      out.push({ tid: Number(tid), comm, cpu: (Number(rest[11]) + Number(rest[12])) * TICK, vcs: 0 });
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      out.at(-1).vcs = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)[1]);
      out.at(-1).nvcs = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)[1]);
    } catch {}
  }
  return out;
}
function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const server = await startRedis();
const client = await createClient({ url: server.url }).connect();
const broker = new RedisBroker(client, { middleware: [] });
const a = actor(ACTOR, { broker, queueName: QUEUE });
for (let i = 0; i < N; i += 500) {
  const batch = [];
  for (let j = i; j < Math.min(N, i + 500); j += 1) batch.push(a.send().enqueued);
  await Promise.all(batch);
}
const env = { ...process.env, BROKER_URL: server.url, CPU5_ITERATIONS: String(CPU5_ITERATIONS) };
const PYTHON = process.argv.includes("--python");
const [cmd, args] = PYTHON
  ? [`${root}target/venv/bin/dramatiq`, ["-p", String(P), "-t", String(T), "bench_app"]]
  : [process.execPath, [...(process.env.WORKER_NODE_ARGS ?? "").split(" ").filter(Boolean), `${root}pkg/bin/dramatiq-results.js`, "worker", `${root}bench/worker_command/tasks.mjs`, "-p", String(P), "-t", String(T)]];
const child = spawn(cmd, args, {
  env: { ...env, PYTHONPATH: `${root}bench/worker_command` },
  cwd: `${root}bench/worker_command`,
  stdio: ["ignore", "pipe", "pipe"],
  detached: true,
});
let output = "";
child.stdout.on("data", (d) => (output += d));
child.stderr.on("data", (d) => (output += d));
const exited = new Promise((resolve) => child.once("exit", resolve));
while ((output.match(/Worker process is ready for action/g) ?? []).length < P) {
  if (child.exitCode !== null) throw new Error(output);
  await sleep(10);
}
const calls = async () => Object.fromEntries([...(await client.info("commandstats")).matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
const calls0 = await calls();
const snap = () => children(child.pid).map((pid) => ({ pid, threads: threads(pid) }));
let first, before, perf;
const load0 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
for (;;) {
  const left = Number(await client.hLen(`dramatiq:${QUEUE}.msgs`));
  if (first === undefined && left < N) {
    first = performance.now();
    before = snap();
    if (process.env.PERF_OUT) {
      // perf record of the worker processes while they drain (with WORKER_NODE_ARGS=--perf-basic-prof for JS names).
      perf = spawn("perf", ["record", "-F", "1999", "-g", "-o", process.env.PERF_OUT, "-p", children(child.pid).join(",")], { stdio: "ignore" });
    }
  }
  if (left === 0) break;
  await sleep(2);
}
const ms = performance.now() - first;
const calls1 = await calls();
if (perf) {
  perf.kill("SIGINT");
  await new Promise((r) => perf.once("exit", r));
}
const after = snap();
const load1 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
const report = { side: PYTHON ? "python" : "ours", n: N, p: P, t: T, perSec: Math.round(((N - 1) / ms) * 1000), load: [load0, load1], processes: [] };
for (const proc of after) {
  const b = new Map((before.find((x) => x.pid === proc.pid)?.threads ?? []).map((t) => [t.tid, t]));
  const d = proc.threads.map((t) => ({ ...t, cpu: t.cpu - (b.get(t.tid)?.cpu ?? 0), vcs: t.vcs - (b.get(t.tid)?.vcs ?? 0), nvcs: t.nvcs - (b.get(t.tid)?.nvcs ?? 0) }));
  const main = d.find((t) => t.tid === proc.pid);
  const rest = d.filter((t) => t !== main);
  const sum = (xs, k = "cpu") => xs.reduce((s, t) => s + t[k], 0);
  report.processes.push({
    pid: proc.pid,
    mainMs: sum([main]),
    otherMs: sum(rest),
    mainCtxSw: [main.vcs, main.nvcs],
    threads: d.filter((t) => t.cpu > 0).map((t) => `${t.tid === proc.pid ? "main" : t.tid}:${t.cpu}ms/${t.vcs}v/${t.nvcs}i`).join(" "),
  });
}
const tot = report.processes.reduce((s, p) => s + p.mainMs + p.otherMs, 0);
report.perMessageMs = {
  main: +(report.processes.reduce((s, p) => s + p.mainMs, 0) / N).toFixed(3),
  other: +(report.processes.reduce((s, p) => s + p.otherMs, 0) / N).toFixed(3),
  total: +(tot / N).toFixed(3),
};
report.wallMs = Math.round(ms);
report.redisCallsPerMessage = Object.fromEntries(Object.entries(calls1).map(([k, v]) => [k, +((v - (calls0[k] ?? 0)) / N).toFixed(2)]).filter(([, v]) => v > 0));
process.kill(child.pid, "SIGTERM");
await exited;
if (process.env.SHOW_OUTPUT) console.error(output.split("\n").filter((l) => l.includes(process.env.SHOW_OUTPUT)).join("\n"));
await client.quit();
await server.stop();
console.log(JSON.stringify(report, null, 1));
