// Probe: worker.stop({ timeout }) on a RabbitMQ connection gone silent (a TCP proxy that
// stops forwarding both ways, no RST: a network partition), with messages running: how long
// the stop takes.
import { createConnection, createServer } from "node:net";
import { RabbitmqBroker, Worker, actor, defaultMiddleware } from "dramatiq-results";
import { startRabbitmq } from "../../tests/js/services.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rabbit = await startRabbitmq();
const port = Number(new URL(rabbit.url).port);
let silent = false;
const proxy = createServer((down) => {
  const up = createConnection({ port, host: "127.0.0.1" });
  down.on("data", (d) => silent || up.write(d));
  up.on("data", (d) => silent || down.write(d));
  down.on("error", () => {});
  up.on("error", () => {});
});
await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
const url = rabbit.url.replace(`:${port}`, `:${proxy.address().port}`);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const broker = await RabbitmqBroker.connect(url, { middleware: defaultMiddleware(), logger: quiet });
let started;
const going = new Promise((r) => (started = r));
const job = actor(async (i) => {
  if (i === 2) started();
  await sleep(300);
}, { broker, actorName: "job", queueName: "q" });
for (let i = 0; i < 10; i++) await job.send(i).enqueued;
const worker = new Worker(broker, { concurrency: 2 }).start();
await going;
silent = true;
const t = Date.now();
const outcome = await Promise.race([worker.stop({ timeout: 1500 }).then(() => "stopped"), sleep(30_000).then(() => "still stopping after 30 s")]);
console.log(`RabbitMQ: stop({ timeout: 1500 }) on a silent connection: ${outcome} in ${Date.now() - t} ms`);
await rabbit.stop();
process.exit(0);
