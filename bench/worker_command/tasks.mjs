// Our side of bench/worker_command.mjs: the same three actors as bench_app.py.
import { setTimeout as sleep } from "node:timers/promises";
import { RedisBroker, actor, connectRedis, setBroker } from "dramatiq-results";
import { calibrate, work } from "./cpu5.mjs";

setBroker(new RedisBroker(await connectRedis(process.env.BROKER_URL)));

actor(() => null, { actorName: "noop", queueName: "bench-noop" });
// 5 ms of CPU (cpu5.mjs). The bench calibrates once, in its own quiet process, and hands the
// count to every thread (CPU5_ITERATIONS): 16 threads calibrating at once on 2 cores would
// each time the work while waiting for a core, and so do less of it per message.
const ITERATIONS = Number(process.env.CPU5_ITERATIONS) || calibrate();
actor(() => work(ITERATIONS), { actorName: "cpu5", queueName: "bench-cpu" });
actor(() => sleep(1000), { actorName: "sleep1", queueName: "bench-term" });
