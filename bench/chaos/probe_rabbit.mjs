// Probe: RabbitMQ closes every connection (rabbitmqctl close_all_connections) while a JS
// worker runs messages, with delayed ones waiting and retries pending; prints the runs
// per message (bench/chaos/README.md has what it showed).
import { RabbitmqBroker, Worker, actor, defaultMiddleware } from "dramatiq-results";
import { startRabbitmq } from "../../tests/js/services.mjs";
const t0 = Date.now(); const T = () => Date.now() - t0; const ids = {};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rabbit = await startRabbitmq();
const logs = [];
const logger = { debug() {}, info() {}, warn: (m) => console.log(T(), "W " + m), error: (m, e) => logs.push("E " + m + " " + (e?.message ?? "")) };
const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: defaultMiddleware(), logger });
const runs = [];
const failedOnce = new Set();
actor(async (i) => {
  await sleep(300);
  runs.push(i); console.log(T(), 'ran', i);
}, { broker, actorName: "job", queueName: "q" });
actor(async (i) => {
  await sleep(50);
  runs.push(i);
  if (!failedOnce.has(i)) {
    failedOnce.add(i);
    throw new Error("once");
  }
}, { broker, actorName: "flaky", queueName: "q", minBackoff: 200, maxBackoff: 400 });
const job = broker.getActor("job");
const flaky = broker.getActor("flaky");
for (let i = 0; i < 12; i++) await job.send(`now-${i}`).enqueued;
for (let i = 0; i < 6; i++) { const m = await job.sendWithOptions({ args: [`later-${i}`], delay: 300 + 50 * i }).enqueued; ids[m.messageId] = `later-${i}`; }
for (let i = 0; i < 6; i++) await flaky.send(`flaky-${i}`).enqueued;
console.log(T(), "start");
const worker = new Worker(broker, { concurrency: 4 }).start();
await sleep(400);
console.log(T(), "closing"); console.log(T(), await rabbit.ctl("close_all_connections", "chaos"));
await sleep(15000);
const counts = {};
for (const r of runs) counts[r] = (counts[r] ?? 0) + 1;
const distinct = Object.keys(counts).length;
console.log("runs", runs.length, "distinct", distinct, "of", 24, "more than once", JSON.stringify(Object.fromEntries(Object.entries(counts).filter(([k, n]) => n > (k.startsWith("flaky") ? 2 : 1)))));
console.log("flaky runs", JSON.stringify(Object.fromEntries(Object.entries(counts).filter(([k]) => k.startsWith("flaky")))));
console.log(await rabbit.ctl("list_queues", "name", "messages_ready", "messages_unacknowledged"));
console.log(logs.slice(0, 15).join("\n"));
await worker.stop({ timeout: 3000 });
await broker.close();
await rabbit.stop();
