// Our side of bench/worker_command.mjs: the same three actors as bench_app.py.
import { setTimeout as sleep } from "node:timers/promises";
import { RedisBroker, actor, connectRedis, setBroker } from "dramatiq-results";

setBroker(new RedisBroker(await connectRedis(process.env.BROKER_URL)));

actor(() => null, { actorName: "noop", queueName: "bench-noop" });
// 5 ms of CPU: Node has no per-thread CPU clock before v23.9, so a fixed amount of work,
// calibrated as the fastest of several runs (the run least disturbed by other load), not a
// wall-clock spin, which on a busy machine counts waiting for a core as work.
let sink = 0;
function work(iterations) {
  let x = sink;
  for (let i = 0; i < iterations; i += 1) x = (x * 31 + i) | 0;
  sink = x;
}
// The bench calibrates once, in its own quiet process, and hands the count to every thread
// (CPU5_ITERATIONS): 16 threads calibrating at once on 2 cores would each time the work while
// waiting for a core, and so do less of it per message.
function calibrate() {
  let best = Infinity;
  for (let run = 0; run < 20; run += 1) {
    const t0 = performance.now();
    work(1_000_000);
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round((5 / best) * 1_000_000);
}
const ITERATIONS = Number(process.env.CPU5_ITERATIONS) || calibrate();
actor(() => work(ITERATIONS), { actorName: "cpu5", queueName: "bench-cpu" });
actor(() => sleep(1000), { actorName: "sleep1", queueName: "bench-term" });
