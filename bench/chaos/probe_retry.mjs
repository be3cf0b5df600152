// Probe: an actor fails while Redis is down (connectRedis fails commands at once), so
// Retries cannot enqueue its retry; prints the runs per message (bench/chaos/README.md).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisBroker, Worker, actor, connectRedis, defaultMiddleware } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), "chaos-"));
const server = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir] });
const conn = await connectRedis(server.url);
const logs = [];
const logger = { debug() {}, info() {}, warn: (m) => logs.push("W " + m), error: (m, e) => logs.push("E " + m + " " + (e?.message ?? "")) };
const broker = new RedisBroker(conn, { middleware: defaultMiddleware(), logger });
const runs = [];
const failed = new Set();
actor(async (i) => {
  await sleep(300);
  runs.push(i);
  if (!failed.has(i)) {
    failed.add(i);
    throw new Error("once");
  }
}, { broker, actorName: "flaky", queueName: "q", minBackoff: 100, maxBackoff: 200 });
for (let i = 0; i < 4; i++) await broker.getActor("flaky").send(i).enqueued;
const worker = new Worker(broker, { concurrency: 4 }).start();
await sleep(150);
await server.stop();
await sleep(1500);
await server.start();
await sleep(6000);
const counts = {};
for (const r of runs) counts[r] = (counts[r] ?? 0) + 1;
console.log("runs", JSON.stringify(counts), "(each should be 2: a failure, then its retry)");
console.log(logs.filter((l) => !/Failed to process/.test(l)).slice(0, 8).join("\n"));
await worker.stop({ timeout: 2000 });
await conn.close?.();
await server.stop();
