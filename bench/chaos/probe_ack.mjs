// Probe: a connection kill while messages run: are acks retried?
import { createClient } from "redis";
import { RedisBroker, Worker, actor, connectRedis } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";

const server = await startRedis();
const ctl = createClient({ url: server.url });
await ctl.connect();
const useConnect = process.argv[2] === "connect";
let client;
if (useConnect) client = await connectRedis(server.url);
else {
  client = createClient({ url: server.url, socket: { reconnectStrategy: () => 50 } });
  client.on("error", () => {});
  await client.connect();
}
const broker = new RedisBroker(client, { namespace: "c", middleware: [] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
actor(async (i) => {
  await sleep(300);
  await ctl.rPush("runs", String(i));
}, { broker, actorName: "job", queueName: "q" });
const job = broker.getActor("job");
for (let i = 0; i < 20; i++) await job.send(i).enqueued;
const worker = new Worker(broker, { concurrency: 4 }).start();
await sleep(150);
const killed = await ctl.sendCommand(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
console.log("killed", killed);
await sleep(2500);
await sleep(8000);
const runs = await ctl.lRange("runs", 0, -1);
const keys = await ctl.keys("c:*");
const acks = {};
for (const k of keys.filter((k) => k.includes("__acks__"))) acks[k] = await ctl.sMembers(k);
console.log("runs", runs.length, "distinct", new Set(runs).size, "q", await ctl.lLen("c:q"), "acks", JSON.stringify(acks));
await worker.stop({ timeout: 2000 });
const acks2 = {};
for (const k of (await ctl.keys("c:*")).filter((k) => k.includes("__acks__"))) acks2[k] = await ctl.sMembers(k);
console.log("after stop acks", JSON.stringify(acks2), "q", await ctl.lLen("c:q"));
await ctl.quit();
if (!useConnect) await client.quit(); else await client.close?.();
await server.stop();
