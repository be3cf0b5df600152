// Probe: Redis killed (AOF, fsync always) while messages run, back 1.5 s later.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { RedisBroker, Worker, actor, connectRedis } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";

const dir = mkdtempSync(join(tmpdir(), "chaos-"));
const server = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir] });
const mk = async () => {
  const c = createClient({ url: server.url, socket: { reconnectStrategy: () => 50 } });
  c.on("error", () => {});
  await c.connect();
  return c;
};
const ctl = await mk();
const mode = process.argv[2] ?? "node-redis";
const client = mode === "connect" ? await connectRedis(server.url) : await mk();
const logs = [];
const logger = { debug() {}, info() {}, warn: (m) => logs.push("W " + m), error: (m, e) => logs.push("E " + m + " " + (e?.message ?? "")) };
const broker = new RedisBroker(client, { namespace: "c", middleware: [], logger });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const local = [];
const delayed = process.argv[3] === "delayed";
actor(async (i) => {
  await sleep(300);
  local.push(String(i));
}, { broker, actorName: "job", queueName: "q" });
const job = broker.getActor("job");
for (let i = 0; i < 20; i++) await (delayed ? job.sendWithOptions({ args: [i], delay: 200 + i * 20 }) : job.send(i)).enqueued;
const worker = new Worker(broker, { concurrency: 4 }).start();
await sleep(delayed ? 350 : 200);
await server.stop();
await sleep(1500);
await server.start();
await sleep(12000);
const runs = local;
const acks = {};
for (const k of (await ctl.keys("c:*")).filter((k) => k.includes("__acks__"))) acks[k] = await ctl.sMembers(k);
const counts = {};
for (const r of runs) counts[r] = (counts[r] ?? 0) + 1;
console.log(mode, delayed ? "delayed" : "", "runs", runs.length, "distinct", new Set(runs).size, "doubled", Object.entries(counts).filter(([, n]) => n > 1).map(([k]) => k).join(","), "q", await ctl.lLen("c:q"), "dq", await ctl.lLen("c:q.DQ"), "acks", JSON.stringify(acks));
console.log(logs.slice(0, 12).join("\n"));
await worker.stop({ timeout: 2000 });
await ctl.quit();
if (mode !== "connect") await client.quit(); else await client.close?.();
await server.stop();
