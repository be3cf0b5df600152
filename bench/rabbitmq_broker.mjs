// RabbitmqBroker against Python Dramatiq 2.2.1's RabbitmqBroker, side by side in one run,
// on a fresh loopback RabbitMQ node (results on a fresh redis-server).
// Usage: node bench/rabbitmq_broker.mjs [--n 10000] [--threads 8] [--latency-runs 600] [--latency-rounds 6]
//                                       [--latency-warmup 3000]
//                                       [--confirm-rounds 10] [--no-python]
//   enqueue   N `noop` messages, one after another (await each), messages/s, without and
//             with publisher confirms; and the same N sent at once (actor.send, then await
//             every message.enqueued)
//   confirms  one after another, the side-by-side figure: a confirmed publish waits for
//             RabbitMQ's disk sync (≈ 0.5–1 ms here), which swings with the shared
//             machine's load from one minute to the next, so ours and Python's are measured
//             in alternating rounds (N / rounds messages each, on a fresh warmed-up broker,
//             who goes first alternating) and compared by their medians
//   process   N `noop` messages already queued, drained by our Worker with `concurrency` =
//             threads: messages/s from its first to its N-th processed message (counted in
//             memory, as bench/python_broker_baseline.py's COUNT_TO does for Python)
//   latency   `add` sent, then a blocking getResult, one at a time, with a worker running:
//             p50 / p99 ms (our worker in this process; Python's in its own), ours and
//             Python's in alternating rounds (--latency-rounds, default 6, of runs / rounds
//             each), each side's samples pooled: a p99 swings with the machine's load.
//             Then the same rounds again after --latency-warmup sends (default 3000) on ours:
//             the first thousand or so sends of a fresh Node process run while V8 compiles
//             their code on background threads (TurboFan), which on 2 cores takes the CPU
//             redis-server and RabbitMQ need, and that is most of our cold tail (bench/notes.md);
//             CPython compiles nothing, so Python's rounds are the same in both
// Python's figures come from bench/python_broker_baseline.py on the same servers (it
// measures its RedisBroker too; only the RabbitMQ half is reported here).
import { createClient } from "redis";
import { RabbitmqBroker, RedisBackend, Results, actor } from "dramatiq-results";
import { startRabbitmq, startRedis } from "../tests/js/services.mjs";
import { Count, arg, enqueueRates, median, percentile, processRates, resultLatency, runPython, withPython } from "./broker_bench.mjs";

const N = arg("n", 10_000);
const THREADS = arg("threads", 8);
const RUNS = arg("latency-runs", 600);
const ROUNDS = arg("confirm-rounds", 10);
const LATENCY_ROUNDS = arg("latency-rounds", 6);
const LATENCY_WARMUP = arg("latency-warmup", 3000);

const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
const client = await createClient({ url: redis.url }).connect();
const blocking = await createClient({ url: redis.url }).connect();
const out = { n: N, threads: THREADS, ours: {}, python: null };
const brokers = [];
const open = async (options) => {
  const broker = await RabbitmqBroker.connect(rabbit.url, options);
  brokers.push(broker);
  return broker;
};
try {
  const backend = new RedisBackend(client, { blockingClient: blocking });

  // confirmed, one after another: ours and Python's in alternating rounds
  {
    const per = Math.max(1, Math.round(N / ROUNDS));
    const ours = async () => {
      // Default middleware, as Python's broker in its round has.
      const broker = await RabbitmqBroker.connect(rabbit.url, { confirmDelivery: true });
      try {
        const queue = `bench-confirm-${Math.random().toString(36).slice(2, 10)}`;
        const noop = actor("noop", { broker, queueName: queue });
        for (let i = 0; i < 200; i++) await broker.enqueue(noop.message()); // as Python's round
        const t = performance.now();
        for (let i = 0; i < per; i++) await broker.enqueue(noop.message());
        const rate = per / ((performance.now() - t) / 1000);
        await broker.flush(queue);
        return rate;
      } finally {
        await broker.close();
      }
    };
    const rounds = { ours: [], python: [] };
    let pythonError = withPython ? undefined : "not run";
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of r % 2 === 0 ? ["ours", "python"] : ["python", "ours"]) {
        if (side === "ours") {
          rounds.ours.push(await ours());
        } else if (pythonError === undefined) {
          const round = runPython(["--rabbitmq", rabbit.url, "--confirm-round", "--n", String(per)]);
          if (round.error) pythonError = round.error;
          else rounds.python.push(round.msgs_per_s);
        }
      }
    }
    out.confirmRounds = { perRound: per, ...rounds };
    if (pythonError === undefined) {
      // Each round's two sides ran next to each other: their ratio cancels most of the drift.
      out.confirmRounds.pairedRatioMedian = median(rounds.ours.map((x, i) => x / rounds.python[i]));
    } else {
      out.confirmRounds.pythonError = pythonError;
    }
    out.ours.enqueueSerialConfirmPerSec = median(rounds.ours);
  }

  for (const confirmDelivery of [false, true]) {
    const key = confirmDelivery ? "Confirm" : "";
    const broker = await open({ middleware: [], confirmDelivery });
    const queue = `bench-enq-${key || "plain"}`;
    const noop = actor("noop", { broker, queueName: queue });
    const { serial, concurrent } = await enqueueRates(broker, noop, N);
    // With confirms, this run's own N in a row (the side-by-side figure is the rounds').
    out.ours[`enqueueSerial${key && "ConfirmAlone"}PerSec`] = serial;
    out.ours[`enqueueConcurrent${key}PerSec`] = concurrent;
    await broker.flush(queue);
  }

  // process: N queued (confirmed, so all are there), then the worker drains them
  {
    const count = new Count(N);
    const broker = await open({ middleware: [count], confirmDelivery: true });
    const noop = actor(() => null, { broker, actorName: "noop", queueName: "bench-proc" });
    Object.assign(out.ours, await processRates(broker, noop, count, THREADS));
  }

  // latency: send → blocking getResult, one at a time; ours and Python's in alternating
  // rounds, so both tails see the same minutes of the shared machine, pooled per side
  {
    const per = Math.max(1, Math.round(RUNS / LATENCY_ROUNDS));
    const broker = await open({ middleware: [new Results({ backend })] });
    const add = actor((x, y) => x + y, { broker, actorName: "add", queueName: "bench-lat", storeResults: true });
    let pythonError = withPython ? undefined : "not run";
    const pooled = (xs) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return { runs: sorted.length, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), max_ms: sorted.at(-1) };
    };
    const rounds = async () => {
      const samples = { ours: [], python: [] };
      for (let r = 0; r < LATENCY_ROUNDS; r++) {
        for (const side of r % 2 === 0 ? ["ours", "python"] : ["python", "ours"]) {
          if (side === "ours") {
            samples.ours.push(...(await resultLatency(broker, add, THREADS, per, { withSamples: true })).samples);
          } else if (pythonError === undefined) {
            const round = runPython(["--rabbitmq", rabbit.url, "--redis", redis.url, "--latency-round", "--latency-runs", String(per)]);
            if (round.error) pythonError = round.error;
            else samples.python.push(...round.samples_ms);
          }
        }
      }
      return { rounds: LATENCY_ROUNDS, perRound: per, ours: pooled(samples.ours), python: pythonError ? { error: pythonError } : pooled(samples.python) };
    };
    // A fresh process: V8 still compiles the path's code while these run.
    out.latencyRounds = await rounds();
    out.ours.latencyP50Ms = out.latencyRounds.ours.p50_ms;
    out.ours.latencyP99Ms = out.latencyRounds.ours.p99_ms;
    if (LATENCY_WARMUP > 0) {
      // The same rounds once this process has run the path LATENCY_WARMUP more times.
      await resultLatency(broker, add, THREADS, LATENCY_WARMUP);
      out.latencyRoundsWarm = { warmup: LATENCY_WARMUP, ...(await rounds()) };
      out.ours.latencyWarmP50Ms = out.latencyRoundsWarm.ours.p50_ms;
      out.ours.latencyWarmP99Ms = out.latencyRoundsWarm.ours.p99_ms;
    }
  }
  for (const b of brokers.splice(0)) await b.close();

  if (withPython) {
    const run = runPython(
      [
        "--redis", redis.url, "--rabbitmq", rabbit.url,
        "--threads", String(THREADS), "--n", String(N), "--latency-runs", String(RUNS),
      ],
      { timeout: 900_000 },
    );
    if (run.error) {
      out.python = run;
    } else {
      out.python = run.rabbitmq;
      // Its own run's latency (minutes after ours) stays as `latency_alone`; the side-by-side
      // figure is the alternating rounds'.
      out.python.latency_alone = out.python.latency;
      if (!out.latencyRounds.python.error) out.python.latency = out.latencyRounds.python;
      // Its own run's confirmed enqueue (N in a row, minutes after ours) stays as
      // `enqueue_confirm_alone`; the side-by-side figure is the rounds' median.
      out.python.enqueue_confirm_alone = out.python.enqueue_confirm;
      out.python.enqueue_confirm = out.confirmRounds.pythonError
        ? { error: out.confirmRounds.pythonError }
        : { n: N, msgs_per_s: median(out.confirmRounds.python), rounds: out.confirmRounds.python };
    }
  }
} finally {
  for (const b of brokers) await b.close();
  await client.quit();
  await blocking.quit();
  await rabbit.stop();
  await redis.stop();
}
console.log(JSON.stringify(out, null, 2));
