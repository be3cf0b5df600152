// Probe: worker.stop({ timeout }) while Redis is away, with messages running and
// prefetched: how long the stop takes, over connectRedis (fails commands at once) and
// node-redis (queues them until it reconnects).
import { createClient } from "redis";
import { RedisBroker, Worker, actor, connectRedis } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const kind of ["connect", "node-redis"]) {
  const server = await startRedis();
  let client;
  if (kind === "connect") client = await connectRedis(server.url);
  else {
    client = createClient({ url: server.url, socket: { reconnectStrategy: () => 100 } });
    client.on("error", () => {});
    await client.connect();
  }
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const broker = new RedisBroker(client, { middleware: [], logger: quiet });
  const job = actor(async () => void (await sleep(500)), { broker, actorName: "job", queueName: "q" });
  for (let i = 0; i < 10; i++) await job.send(i).enqueued;
  const worker = new Worker(broker, { concurrency: 2 }).start();
  await sleep(200);
  await server.stop();
  const t = Date.now();
  const stopped = await Promise.race([worker.stop({ timeout: 1500 }).then(() => "stopped"), sleep(20_000).then(() => "still stopping after 20 s")]);
  console.log(`${kind}: stop({ timeout: 1500 }) during an outage: ${stopped} in ${Date.now() - t} ms`);
  if (kind === "connect") await client.close?.();
  else client.disconnect().catch(() => {});
}
process.exit(0);
