// Where RabbitmqBroker's send → blocking result tail goes (issue 29): our worker in this
// process, 600 sends one at a time, and for each one over 2 ms the time until the actor ran
// (`toRun`: RabbitMQ's delivery and our consumer) against the whole (the rest: the result's
// store and the blocking read's wake). Usage: node bench/rabbitmq_latency_probe.mjs
import { createClient } from "redis";
import { RabbitmqBroker, RedisBackend, Results, Worker, actor } from "dramatiq-results";
import { startRabbitmq, startRedis } from "../tests/js/services.mjs";
const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
const client = await createClient({ url: redis.url }).connect();
const blocking = await createClient({ url: redis.url }).connect();
const backend = new RedisBackend(client, { blockingClient: blocking });
const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: [new Results({ backend })] });
let ranAt = 0;
const add = actor((x, y) => { ranAt = performance.now(); return x + y; }, { broker, actorName: "add", queueName: "bench-lat", storeResults: true });
const worker = new Worker(broker, { concurrency: 8 }).start();
for (let i = 0; i < 20; i++) await add.send(i, 1).getResult({ block: true, timeout: 10_000 });
const slow = [];
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
times.sort((a, b) => a - b);
console.log(JSON.stringify({ p50: times[300].toFixed(2), p99: times[594].toFixed(2), slow }));
await worker.stop(); await broker.close(); await client.quit(); await blocking.quit(); await redis.stop(); await rabbit.stop();
