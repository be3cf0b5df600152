// Where RabbitmqBroker's send → blocking result tail goes (issue 29): our worker in this
// process, 600 sends one at a time, and for each one over 2 ms the time until the actor ran
// (`toRun`: RabbitMQ's delivery and our consumer) against the whole (the rest: the result's
// store and the blocking read's wake), and this process's CPU time per send (all its threads:
// V8 compiles and collects on background threads, which on 2 cores take the CPU redis-server
// and RabbitMQ need). Usage: node bench/rabbitmq_latency_probe.mjs [--warmup 20]
// (--warmup 3000: the same once V8 has compiled the path; bench/notes.md, the tail of send →
// blocking result). Where the time of a slow send goes, thread by thread, needs the kernel's
// view: `perf sched record -k CLOCK_MONOTONIC -- node …`, then `perf sched timehist`.
import { createClient } from "redis";
import { RabbitmqBroker, RedisBackend, Results, Worker, actor } from "dramatiq-results";
import { startRabbitmq, startRedis } from "../tests/js/services.mjs";
import { arg } from "./broker_bench.mjs";
const WARMUP = arg("warmup", 20);
const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
const client = await createClient({ url: redis.url }).connect();
const blocking = await createClient({ url: redis.url }).connect();
const backend = new RedisBackend(client, { blockingClient: blocking });
const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: [new Results({ backend })] });
let ranAt = 0;
const add = actor((x, y) => { ranAt = performance.now(); return x + y; }, { broker, actorName: "add", queueName: "bench-lat", storeResults: true });
const worker = new Worker(broker, { concurrency: 8 }).start();
for (let i = 0; i < WARMUP; i++) await add.send(i, 1).getResult({ block: true, timeout: 10_000 });
const slow = [];
const cpu0 = process.cpuUsage();
const times = [];
for (let i = 0; i < 600; i++) {
  const t = performance.now();
  const m = add.send(i, 1);
  await m.enqueued;
  await m.getResult({ block: true, timeout: 10_000 });
  const d = performance.now() - t;
  times.push(d);
  if (d > 2) slow.push({ i, d: +d.toFixed(2), toRun: +(ranAt - t).toFixed(2) });
}
const cpu = process.cpuUsage(cpu0);
times.sort((a, b) => a - b);
const cpuPerSendMs = ((cpu.user + cpu.system) / 1000 / times.length).toFixed(3);
console.log(JSON.stringify({ warmup: WARMUP, p50: times[300].toFixed(2), p99: times[594].toFixed(2), cpuPerSendMs, slow }));
await worker.stop(); await broker.close(); await client.quit(); await blocking.quit(); await redis.stop(); await rabbit.stop();
