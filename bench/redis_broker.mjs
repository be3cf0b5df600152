// RedisBroker against Python Dramatiq 2.2.1's RedisBroker, side by side in one run, on a
// fresh loopback redis-server. Usage: node bench/redis_broker.mjs [--n 10000] [--threads 8]
//   enqueue   N `noop` messages, one after another (await each), messages/s; and the same
//             N sent at once (actor.send, then await every message.enqueued); over node-redis
//             and again over the package's own client (connectRedis)
//   process   N `noop` messages already queued, drained by our Worker with `concurrency` =
//             threads: messages/s from its first to its N-th processed message (counted in
//             memory, as bench/python_broker_baseline.py's COUNT_TO does for Python)
//   latency   `add` sent, then a blocking getResult, one at a time, with a worker running:
//             p50 / p99 ms (our worker in this process; Python's in its own)
// Python's figures come from bench/python_broker_baseline.py on the same server.
import { createClient } from "redis";
import { RedisBackend, RedisBroker, Results, actor, connectRedis } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";
import { Count, arg, enqueueRates, processRates, resultLatency, runPython, withPython } from "./broker_bench.mjs";

const N = arg("n", 10_000);
const THREADS = arg("threads", 8);
const RUNS = arg("latency-runs", 200);

const server = await startRedis();
const client = await createClient({ url: server.url }).connect();
const blocking = await createClient({ url: server.url }).connect();
const out = { n: N, threads: THREADS, ours: {}, python: null };
try {
  const backend = new RedisBackend(client, { blockingClient: blocking });

  // enqueue, one after another and all at once
  {
    const broker = new RedisBroker(client, { middleware: [] });
    const noop = actor(() => null, { broker, actorName: "noop", queueName: "bench-enq" });
    const { serial, concurrent } = await enqueueRates(broker, noop, N);
    out.ours.enqueueSerialPerSec = serial;
    out.ours.enqueueConcurrentPerSec = concurrent;
    await broker.flush("bench-enq");
  }
  {
    const own = await connectRedis(server.url);
    try {
      const broker = new RedisBroker(own, { middleware: [] });
      const noop = actor(() => null, { broker, actorName: "noop", queueName: "bench-enq" });
      const { serial, concurrent } = await enqueueRates(broker, noop, N);
      out.ours.enqueueSerialConnectPerSec = serial;
      out.ours.enqueueConcurrentConnectPerSec = concurrent;
      await broker.flush("bench-enq");
    } finally {
      await own.close();
    }
  }

  // process: N queued, then the worker drains them
  {
    const count = new Count(N);
    const broker = new RedisBroker(client, { middleware: [count] });
    const noop = actor(() => null, { broker, actorName: "noop", queueName: "bench-proc" });
    Object.assign(out.ours, await processRates(broker, noop, count, THREADS));
  }

  // latency: send → blocking getResult, one at a time
  {
    const broker = new RedisBroker(client, { middleware: [new Results({ backend })] });
    const add = actor((x, y) => x + y, { broker, actorName: "add", queueName: "bench-lat", storeResults: true });
    Object.assign(out.ours, await resultLatency(broker, add, THREADS, RUNS));
  }

  if (withPython) {
    out.python = runPython(["--redis", server.url, "--threads", String(THREADS), "--n", String(N), "--latency-runs", String(RUNS)]);
  }
} finally {
  await client.quit();
  await blocking.quit();
  await server.stop();
}
console.log(JSON.stringify(out, null, 2));
