// What bench/redis_broker.mjs and bench/rabbitmq_broker.mjs measure alike: the command line,
// the enqueue, processing and latency phases on one of our brokers, and the Python baseline
// (bench/python_broker_baseline.py) run on the same servers.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Middleware, Worker } from "dramatiq-results";

export const root = fileURLToPath(new URL("../", import.meta.url));
const python = process.env.PYTHON ?? `${root}target/venv/bin/python`;

/** `--name <number>` from the command line, or `fallback`. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Whether Python's side runs (the venv is there and `--no-python` was not given). */
export const withPython = existsSync(python) && !process.argv.includes("--no-python");

/** Runs bench/python_broker_baseline.py with `args`; its JSON, or `{ error }`. */
export function runPython(args, { timeout = 600_000 } = {}) {
  const run = spawnSync(python, [`${root}bench/python_broker_baseline.py`, ...args], { encoding: "utf8", timeout });
  try {
    return JSON.parse(run.stdout);
  } catch {
    return { error: (run.stderr || run.stdout || "no output").slice(-2000) };
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The p-th percentile of ascending `sorted`, as bench/run.mjs and the Python baseline take it. */
export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Counts processed messages in memory; `done` resolves with ms from the first to the n-th. */
export class Count extends Middleware {
  constructor(n) {
    super();
    this.n = n;
    this.count = 0;
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }
  afterProcessMessage() {
    const now = performance.now();
    this.count += 1;
    if (this.count === 1) this.first = now;
    if (this.count === this.n) this.resolve(now - this.first);
  }
}

/**
 * `n` messages of `actor` through `broker`, after 500 to warm up: one after another (await
 * each `enqueue`), then all sent at once (`send`, then await every `enqueued`). Messages/s.
 */
export async function enqueueRates(broker, actor, n) {
  for (let i = 0; i < 500; i++) await broker.enqueue(actor.message());
  let t = performance.now();
  for (let i = 0; i < n; i++) await broker.enqueue(actor.message());
  const serial = n / ((performance.now() - t) / 1000);
  t = performance.now();
  const sent = [];
  for (let i = 0; i < n; i++) sent.push(actor.send());
  await Promise.all(sent.map((m) => m.enqueued));
  return { serial, concurrent: n / ((performance.now() - t) / 1000) };
}

/**
 * `count.n` messages of `actor` queued, then drained by a Worker of `concurrency`:
 * messages/s from its first to its last processed message, and from its start.
 */
export async function processRates(broker, actor, count, concurrency) {
  const sent = [];
  for (let i = 0; i < count.n; i++) sent.push(actor.send());
  await Promise.all(sent.map((m) => m.enqueued));
  const started = performance.now();
  const worker = new Worker(broker, { concurrency }).start();
  const firstToLast = await count.done;
  const fromStart = count.n / ((performance.now() - started) / 1000);
  await worker.stop();
  return { processPerSec: count.n / (firstToLast / 1000), processFromStartPerSec: fromStart };
}

/**
 * `add` sent, then a blocking getResult, one at a time, `runs` times (after 20 to warm
 * up), with a Worker of `concurrency` running: p50 / p99 ms.
 */
export async function resultLatency(broker, add, concurrency, runs, { withSamples = false } = {}) {
  const worker = new Worker(broker, { concurrency }).start();
  try {
    for (let i = 0; i < 20; i++) await add.send(i, 1).getResult({ block: true, timeout: 10_000 });
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await add.send(i, 1).getResult({ block: true, timeout: 10_000 });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { latencyP50Ms: percentile(times, 50), latencyP99Ms: percentile(times, 99), ...(withSamples ? { samples: times } : {}) };
  } finally {
    await worker.stop();
  }
}
