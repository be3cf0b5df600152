// Probe: an in-process `new Worker` running a synchronous actor longer than the heartbeat
// timeout (here 1 s, set on the other worker, whose maintenance decides) beside a Python
// worker: the JS event loop is blocked, so no heartbeat goes out, and the Python worker's
// maintenance hands the running message on. Prints who ran `record` how many times.
import { spawn } from "node:child_process";
import { createClient } from "redis";
import { RedisBroker, Worker, actor } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";
import { startPythonWorker } from "../../tests/js/pyworker.mjs";

const SPIN_MS = Number(process.env.SPIN_MS ?? 4000);
if (process.env.CHILD) {
  const client = createClient({ url: process.env.CHILD });
  await client.connect();
  const broker = new RedisBroker(client, { middleware: [] });
  actor((tag) => {
    const end = Date.now() + SPIN_MS;
    while (Date.now() < end);
  }, { broker, actorName: "record", queueName: "spin" });
  broker.addMiddleware({ async afterProcessMessage(_b, m) { await client.rPush("spin:processed", `js:${m.messageId}`); } });
  new Worker(broker, { concurrency: 1 }).start();
  console.log("ready");
} else {
  const server = await startRedis();
  const client = createClient({ url: server.url });
  await client.connect();
  const broker = new RedisBroker(client, { middleware: [] });
  const record = actor(() => {}, { broker, actorName: "record", queueName: "spin" });
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname], { env: { ...process.env, CHILD: server.url }, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((r) => child.stdout.once("data", r));
  const m = await record.send("x").enqueued;
  await new Promise((r) => setTimeout(r, 300));
  const py = await startPythonWorker({ url: server.url, queue: "spin", prefix: "spin", env: { BROKER_HEARTBEAT_TIMEOUT: "1000", BROKER_MAINTENANCE_CHANCE: "1000000" } });
  await new Promise((r) => setTimeout(r, SPIN_MS + 3000));
  const processed = await client.lRange("spin:processed", 0, -1);
  console.log(`message ${m.messageId}: processed ${processed.length} time(s):`, processed.map((p) => (p.startsWith("js:") ? "JS" : "Python")).join(", "));
  child.kill("SIGKILL");
  await py.kill();
  await client.quit();
  await server.stop();
}
