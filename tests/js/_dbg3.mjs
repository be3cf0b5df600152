import amqplib from "amqplib";
import { startRabbitmq, startRedis } from "./services.mjs";
import { startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";
const bodies = JSON.parse(process.argv[2]);
const [rabbit, redis] = await Promise.all([startRabbitmq(), startRedis()]);
const conn = await amqplib.connect(rabbit.url);
const ch = await conn.createChannel();
const queues = bodies.map((_, i) => `fd${i}`);
for (const q of queues) {
  await ch.assertQueue(`${q}.XQ`, { durable: true, arguments: { "x-message-ttl": 604800000 } });
  for (const x of [q, `${q}.DQ`]) await ch.assertQueue(x, { durable: true, arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${q}.XQ` } });
}
bodies.forEach((b, i) => ch.sendToQueue(queues[i], Buffer.from(JSON.stringify(b))));
const w = await startPythonWorker({ app: "diff_fuzz_app", broker: "rabbitmq", url: rabbit.url, resultsUrl: redis.url, queues, threads: 2, env: { FD_QUEUES: String(queues.length) } });
await sleep(5000);
await w.stop();
console.log(w.output.split("\n").filter((l) => !/Worker process is ready|Starting|Consumer|Dramatiq/.test(l) || /error|Error/.test(l)).join("\n").slice(-6000));
await conn.close(); await rabbit.stop(); await redis.stop();
