// Probe: SIGTERM to `dramatiq-results worker --worker-shutdown-timeout 1500` while Redis
// is away and messages run: how long until the command exits, and with what code.
import { spawn } from "node:child_process";
import { createClient } from "redis";
import { RedisBroker, actor } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";

const root = new URL("../../", import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const server = await startRedis();
const client = createClient({ url: server.url });
await client.connect();
const broker = new RedisBroker(client, { middleware: [] });
const record = actor(() => {}, { broker, actorName: "record", queueName: "outage" });
for (let i = 0; i < 12; i++) await record.send(i).enqueued;
const child = spawn(process.execPath, [`${root}pkg/bin/dramatiq-results.js`, "worker", `${root}tests/js/fleet-faults-tasks.mjs`, "-p", "1", "-t", "2", "--worker-shutdown-timeout", "1500"], {
  env: { ...process.env, BROKER_URL: server.url, QUEUE: "outage", PREFIX: "outage", RECORD_MS: "800" }, stdio: ["ignore", "pipe", "pipe"],
});
let output = "";
child.stdout.on("data", (d) => (output += d));
child.stderr.on("data", (d) => (output += d));
const exited = new Promise((r) => child.once("exit", (code, signal) => r(code ?? signal)));
while (!/Every worker process is ready/.test(output)) await sleep(50);
while ((await client.lLen("outage:started")) < 2) await sleep(50);
await client.quit();
await server.stop();
const t = Date.now();
child.kill("SIGTERM");
const code = await Promise.race([exited, sleep(30_000).then(() => "still running after 30 s")]);
console.log(`SIGTERM during an outage, --worker-shutdown-timeout 1500: exit ${code} after ${Date.now() - t} ms`);
if (code === "still running after 30 s") child.kill("SIGKILL");
