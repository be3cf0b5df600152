// RedisBroker against Python Dramatiq 2.2.1's RedisBroker, side by side in one run, on a
// fresh loopback redis-server. Usage: node bench/redis_broker.mjs [--n 10000] [--threads 8]
//   enqueue   N `noop` messages, one after another (await each), messages/s; and the same
//             N sent at once (actor.send, then await every message.enqueued)
//   process   N `noop` messages already queued, drained by our Worker with `concurrency` =
//             threads: messages/s from its first to its N-th processed message (counted in
//             memory, as bench/python_broker_baseline.py's COUNT_TO does for Python)
//   latency   `add` sent, then a blocking getResult, one at a time, with a worker running:
//             p50 / p99 ms (our worker in this process; Python's in its own)
// Python's figures come from bench/python_broker_baseline.py on the same server.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { Middleware, RedisBackend, RedisBroker, Results, Worker, actor } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const python = process.env.PYTHON ?? `${root}target/venv/bin/python`;
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg("n", 10_000);
const THREADS = arg("threads", 8);
const RUNS = arg("latency-runs", 200);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

class Count extends Middleware {
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

const server = await startRedis();
const client = await createClient({ url: server.url }).connect();
const blocking = await createClient({ url: server.url }).connect();
const out = { n: N, threads: THREADS, ours: {}, python: null };
try {
  const backend = new RedisBackend(client, { blockingClient: blocking });

  // enqueue, one after another
  {
    const broker = new RedisBroker(client, { middleware: [] });
    const noop = actor(() => null, { broker, actorName: "noop", queueName: "bench-enq" });
    for (let i = 0; i < 500; i++) await broker.enqueue(noop.message()); // warm up
    let t = performance.now();
    for (let i = 0; i < N; i++) await broker.enqueue(noop.message());
    out.ours.enqueueSerialPerSec = N / ((performance.now() - t) / 1000);
    t = performance.now();
    const sent = [];
    for (let i = 0; i < N; i++) sent.push(noop.send());
    await Promise.all(sent.map((m) => m.enqueued));
    out.ours.enqueueConcurrentPerSec = N / ((performance.now() - t) / 1000);
    await broker.flush("bench-enq");
  }

  // process: N queued, then the worker drains them
  {
    const count = new Count(N);
    const broker = new RedisBroker(client, { middleware: [count] });
    const noop = actor(() => null, { broker, actorName: "noop", queueName: "bench-proc" });
    const sent = [];
    for (let i = 0; i < N; i++) sent.push(noop.send());
    await Promise.all(sent.map((m) => m.enqueued));
    const started = performance.now();
    const worker = new Worker(broker, { concurrency: THREADS }).start();
    const firstToLast = await count.done;
    out.ours.processPerSec = N / (firstToLast / 1000);
    out.ours.processFromStartPerSec = N / ((performance.now() - started) / 1000);
    await worker.stop();
  }

  // latency: send → blocking getResult, one at a time
  {
    const broker = new RedisBroker(client, { middleware: [new Results({ backend })] });
    const add = actor((x, y) => x + y, { broker, actorName: "add", queueName: "bench-lat", storeResults: true });
    const worker = new Worker(broker, { concurrency: THREADS }).start();
    for (let i = 0; i < 20; i++) await add.send(i, 1).getResult({ block: true, timeout: 10_000 });
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await add.send(i, 1).getResult({ block: true, timeout: 10_000 });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    out.ours.latencyP50Ms = percentile(times, 50);
    out.ours.latencyP99Ms = percentile(times, 99);
    await worker.stop();
  }

  if (existsSync(python) && !process.argv.includes("--no-python")) {
    const run = spawnSync(
      python,
      [`${root}bench/python_broker_baseline.py`, "--redis", server.url, "--threads", String(THREADS), "--n", String(N), "--latency-runs", String(RUNS)],
      { encoding: "utf8", timeout: 600_000 },
    );
    try {
      out.python = JSON.parse(run.stdout);
    } catch {
      out.python = { error: (run.stderr || run.stdout).slice(-2000) };
    }
  }
} finally {
  await client.quit();
  await blocking.quit();
  await server.stop();
}
console.log(JSON.stringify(out, null, 2));
