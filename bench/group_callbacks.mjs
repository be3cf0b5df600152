// A group of N `noop` children with a completion callback, sent by a JS producer: the time
// from `group.run()` to the callback having run, on our Worker and on Python Dramatiq
// 2.2.1's (`dramatiq broker_app`, which runs GroupCallbacks), each with 8 threads / a
// concurrency of 8, on one fresh loopback redis-server. The end is seen the same way for
// both: the callback pushes onto a list that this process polls every 2 ms.
// Usage: node bench/group_callbacks.mjs [--n 1000] [--runs 3] [--no-python]
import { createClient } from "redis";
import { GroupCallbacks, RedisBroker, RedisRateLimiterBackend, Worker, actor, group } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";
import { startPythonWorker } from "../tests/js/pyworker.mjs";
import { arg, median, withPython } from "./broker_bench.mjs";

const N = arg("n", 1000);
const RUNS = arg("runs", 3);
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

const server = await startRedis();
const client = await createClient({ url: server.url }).connect();
const poll = await createClient({ url: server.url }).connect();

function producer(queue, extra = []) {
  return new RedisBroker(client, {
    logger: quiet,
    middleware: [new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) }), ...extra],
  });
}

/** Runs a group of N on `broker`'s `noop` with `record(tag)` as callback; ms until `done()`. */
async function once(broker, queue, done) {
  const noop = actor("noop", { broker, queueName: queue });
  const record = actor("record", { broker, queueName: queue });
  const g = group(Array.from({ length: N }, () => noop.message()), { broker });
  const callback = record.message("done");
  g.addCompletionCallback(callback);
  const started = performance.now();
  g.run();
  await g.enqueued;
  while (!(await done(callback))) await new Promise((r) => setTimeout(r, 2));
  return performance.now() - started;
}

const out = { n: N, ours: [], python: [] };
try {
  // Ours: a worker in this process.
  {
    const queue = "bench-group-js";
    const workerBroker = producer(queue);
    actor(() => null, { actorName: "noop", queueName: queue, broker: workerBroker });
    actor(async () => void (await client.rPush("bench-group-js:done", "1")), { actorName: "record", queueName: queue, broker: workerBroker });
    const worker = new Worker(workerBroker, { concurrency: 8 }).start();
    try {
      for (let i = 0; i < RUNS; i++) {
        await client.del("bench-group-js:done");
        out.ours.push(await once(producer(queue), queue, async () => (await poll.lLen("bench-group-js:done")) > 0));
      }
    } finally {
      await worker.stop();
    }
  }
  // Python's: `record` pushes its message id on <prefix>:processed.
  if (withPython) {
    const queue = "bench-group-py";
    const py = await startPythonWorker({ url: server.url, queue, prefix: "bench-group-py", threads: 8 });
    try {
      for (let i = 0; i < RUNS; i++) {
        await client.del("bench-group-py:processed");
        out.python.push(
          await once(producer(queue), queue, async (cb) => (await poll.lRange("bench-group-py:processed", 0, -1)).includes(cb.messageId)),
        );
      }
    } finally {
      await py.stop();
    }
  }
} finally {
  await client.quit();
  await poll.quit();
  await server.stop();
}
const fmt = (xs) => (xs.length ? `${Math.round(median(xs))} ms (runs: ${xs.map(Math.round).join(", ")})` : "—");
console.log(`group of ${N} + completion callback, run() to callback, median of ${RUNS}`);
console.log(`ours:   ${fmt(out.ours)}`);
console.log(`Python: ${fmt(out.python)}`);
console.log(JSON.stringify(out));
