// A randomized soak of the Redis worker under faults (the long version of
// tests/js/fleet-faults.test.mjs): each round sends immediate, delayed and once-failing
// (retried) messages to two JS workers (one over connectRedis, which fails commands while
// the server is away; one over node-redis, which queues them), then at random moments
// kills the server (AOF on, so it comes back with its data) or drops every client
// connection (CLIENT KILL). It counts each message's completions and reports losses,
// doubles and anything left held in an ack set or a queue.
//
//   node bench/chaos/redis_soak.mjs [rounds=5]
//
// Expected: no loss and no message left held. Doubles are possible (at least once: a
// script that ran on the server whose reply was lost, a delayed move whose reply was
// lost) but rare; and a retry whose enqueue fails while the server is away is lost, as
// with Python's worker (see the report in bench/chaos/README.md).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { RedisBroker, Worker, actor, connectRedis, defaultMiddleware } from "dramatiq-results";
import { startRedis } from "../../tests/js/services.mjs";

const rounds = Number(process.argv[2] ?? 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

for (let round = 1; round <= rounds; round++) {
  const dir = mkdtempSync(join(tmpdir(), "chaos-soak-"));
  const server = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir] });
  const ctl = createClient({ url: server.url, socket: { reconnectStrategy: () => 50 } });
  ctl.on("error", () => {});
  await ctl.connect();
  const done = [];
  const failedOnce = new Set();
  const workers = [];
  const clients = [];
  for (const kind of ["connect", "node-redis"]) {
    let client;
    if (kind === "connect") client = await connectRedis(server.url);
    else {
      client = createClient({ url: server.url, socket: { reconnectStrategy: () => 50 } });
      client.on("error", () => {});
      await client.connect();
    }
    clients.push([kind, client]);
    const broker = new RedisBroker(client, { middleware: defaultMiddleware(), logger: quiet });
    actor(async (tag) => {
      await sleep(rand(10, 200));
      if (tag.startsWith("flaky") && !failedOnce.has(tag)) {
        failedOnce.add(tag);
        throw new Error("fails once");
      }
      done.push(tag);
    }, { broker, actorName: "job", queueName: "q", minBackoff: 100, maxBackoff: 300 });
    workers.push([broker, new Worker(broker, { concurrency: 4 })]);
  }
  const [sender] = workers[0];
  const tags = [];
  for (let i = 0; i < 60; i++) {
    const tag = i % 5 === 0 ? `flaky-${i}` : i % 3 === 0 ? `later-${i}` : `now-${i}`;
    tags.push(tag);
    await sender.getActor("job").sendWithOptions({ args: [tag], delay: tag.startsWith("later") ? rand(0, 2000) : undefined }).enqueued;
  }
  for (const [, w] of workers) w.start();
  const faults = [];
  for (let f = 0; f < 3; f++) {
    await sleep(rand(100, 900));
    if (Math.random() < 0.5) {
      faults.push("restart");
      await server.stop();
      await sleep(rand(200, 1500));
      await server.start();
    } else {
      faults.push("client kill");
      await ctl.sendCommand(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]).catch(() => {});
    }
  }
  const deadline = Date.now() + 30_000;
  while (new Set(done).size < tags.length && Date.now() < deadline) await sleep(200);
  await sleep(1500);
  for (const [, w] of workers) await w.stop({ timeout: 5000 });
  const counts = new Map();
  for (const t of done) counts.set(t, (counts.get(t) ?? 0) + 1);
  const lost = tags.filter((t) => !counts.has(t));
  const doubled = [...counts].filter(([, n]) => n > 1).map(([t]) => t);
  const held = (await ctl.keys("dramatiq:__acks__.*")).length;
  const left = (await ctl.lLen("dramatiq:q")) + (await ctl.lLen("dramatiq:q.DQ"));
  console.log(JSON.stringify({ round, faults, sent: tags.length, lost, doubled, heldAckSets: held, leftInQueues: left }));
  for (const [kind, c] of clients) await (kind === "connect" ? c.close?.() : c.quit().catch(() => {}));
  await ctl.quit().catch(() => {});
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
