// The gateway's poll cost against the size of the deployment (issue 26): Redis time per poll
// (the server's own accounting, `INFO commandstats`), the longest single command or script
// of a poll (`SLOWLOG`), and the poll's wall time, for 10² to 10⁵ queues, waiting messages,
// heartbeats and dead letters, each on a fresh real redis-server; then the same deployment
// with 0 to 500 subscribed viewers (the Redis load must stay flat as viewers grow).
//
//   node bench/gateway.mjs [--gateway <dir of pkg/src/gateway>] [--sizes 100,1000,10000,100000] [--json out.json]
//
// `--gateway` points at another checkout's gateway (to measure the code before a change).
import { parseArgs } from "node:util";
import { writeFileSync } from "node:fs";
import { pathToFileURL, fileURLToPath } from "node:url";
import { createClient } from "redis";
import { JSONEncoder, RedisBackend, RedisBrokerKeys, StubBackend, connectRedis } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";

const { values } = parseArgs({
  options: {
    gateway: { type: "string", default: fileURLToPath(new URL("../pkg/src/gateway/", import.meta.url)) },
    sizes: { type: "string", default: "100,1000,10000,100000" },
    ticks: { type: "string", default: "5" },
    json: { type: "string" },
  },
});
const dir = pathToFileURL(`${values.gateway.replace(/\/?$/, "/")}`);
const { createGateway } = await import(new URL("app.js", dir));
const redisModule = await import(new URL("redis/redis.js", dir)).catch(() => import(new URL("redis.js", dir)));
const codecs = (await import(new URL("codecs.js", dir)).catch(() => redisModule)).packageCodecs;
const sizes = values.sizes.split(",").map(Number);
const TICKS = Number(values.ticks);

const body = (queue, i) => JSON.stringify({ queue_name: queue, actor_name: "work", args: [i], kwargs: {}, options: {}, message_id: `m-${queue}-${i}`, message_timestamp: Date.now() });

/** Writes `n` of one kind of data into the broker's keys, pipelined. */
async function populate(client, kind, n) {
  for (let i = 0; i < n; i += 5000) {
    const multi = client.multi();
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      if (kind === "queues") {
        multi.hSet(`dramatiq:q${j}.msgs`, `r${j}`, body(`q${j}`, j)).rPush(`dramatiq:q${j}`, `r${j}`);
      } else if (kind === "messages") {
        multi.hSet("dramatiq:work.msgs", `r${j}`, body("work", j)).rPush("dramatiq:work", `r${j}`);
      } else if (kind === "heartbeats") {
        // Half of them from the future, as a hostile producer writes them.
        multi.zAdd("dramatiq:__heartbeats__", { score: j % 2 ? Date.now() + 3.15e10 : Date.now(), value: `worker-${j}` });
      } else if (kind === "dead letters") {
        multi.zAdd("dramatiq:work.XQ", { score: Date.now() + j, value: `r${j}` }).hSet("dramatiq:work.XQ.msgs", `r${j}`, body("work", j));
      }
    }
    await multi.exec();
  }
  if (kind !== "messages") await client.multi().hSet("dramatiq:work.msgs", "r-one", body("work", -1)).rPush("dramatiq:work", "r-one").exec();
}

/** The server's total command time (µs) so far. */
async function serverMicros(client) {
  const info = await client.info("commandstats");
  let total = 0;
  for (const [, usec] of info.matchAll(/usec=(\d+)/g)) total += Number(usec);
  return total;
}

/** The longest of the gateway's commands since the slow log was reset (µs): the bench's own
 * (SLOWLOG, INFO, CONFIG) left out. */
async function longest(client) {
  const all = [];
  for (const [, , micros, argv] of await client.sendCommand(["SLOWLOG", "GET", "100000"])) {
    if (!/^(SLOWLOG|INFO|CONFIG)$/i.test(String(argv[0]))) all.push(Number(micros));
  }
  all.sort((a, b) => a - b);
  // The 99th percentile too: on a loaded machine the maximum is often an O(1) command the
  // OS descheduled Redis in the middle of.
  return { max: all.at(-1) ?? 0, p99: all[Math.floor(all.length * 0.99)] ?? 0 };
}

/** Measures `TICKS` polls of a gateway over `url` with `viewers` subscribers. */
async function measure(url, client, viewers = 0) {
  const redis = await redisModule.openRedis(connectRedis, url);
  const app = createGateway({
    redis,
    backend: new RedisBackend(redis),
    readKey: redisModule.redisReadKey(redis),
    brokerKeys: new RedisBrokerKeys("dramatiq"),
    ...codecs({ JSONEncoder, StubBackend }),
    resultsInRedis: true,
  });
  const poller = app.poller;
  const unsubscribe = Array.from({ length: viewers }, () => poller.subscribe(() => {}));
  await poller.tick(); // the first poll reads every body: not the steady state
  await poller.tick();
  await client.sendCommand(["SLOWLOG", "RESET"]);
  const before = await serverMicros(client);
  const started = performance.now();
  for (let i = 0; i < TICKS; i++) await poller.tick();
  const wall = (performance.now() - started) / TICKS;
  // The INFO and SLOWLOG calls themselves are a few µs: left in.
  const perPoll = ((await serverMicros(client)) - before) / TICKS;
  const { max, p99 } = await longest(client);
  for (const u of unsubscribe) u?.();
  const ok = poller.status.ok;
  poller.stop();
  await redis.close();
  return { redisMsPerPoll: perPoll / 1000, longestMs: max / 1000, p99Ms: p99 / 1000, wallMs: wall, ok, records: poller.records.size };
}

const rows = [];
for (const kind of ["queues", "messages", "heartbeats", "dead letters"]) {
  for (const n of sizes) {
    const server = await startRedis();
    const client = await createClient({ url: server.url }).connect();
    try {
      await populate(client, kind, n);
      await client.sendCommand(["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
      await client.sendCommand(["CONFIG", "SET", "slowlog-max-len", "100000"]);
      const m = await measure(server.url, client);
      rows.push({ kind, n, ...m });
      console.log(`${kind.padEnd(13)} ${String(n).padStart(7)}: Redis ${m.redisMsPerPoll.toFixed(2)} ms/poll, longest ${m.longestMs.toFixed(2)} ms (p99 ${m.p99Ms.toFixed(2)}), poll ${m.wallMs.toFixed(0)} ms, ${m.records} records${m.ok ? "" : " (poll FAILED)"}`);
    } finally {
      await client.quit();
      await server.stop();
    }
  }
}

// Viewers: the same deployment (10 000 dead letters, 1 000 waiting), 0 to 500 subscribers.
const viewerRows = [];
{
  const server = await startRedis();
  const client = await createClient({ url: server.url }).connect();
  try {
    await populate(client, "dead letters", 10_000);
    await populate(client, "messages", 1000);
    await client.sendCommand(["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    await client.sendCommand(["CONFIG", "SET", "slowlog-max-len", "100000"]);
    for (const viewers of [0, 100, 500]) {
      const m = await measure(server.url, client, viewers);
      viewerRows.push({ viewers, ...m });
      console.log(`viewers ${String(viewers).padStart(4)}: Redis ${m.redisMsPerPoll.toFixed(2)} ms/poll, longest ${m.longestMs.toFixed(2)} ms, poll ${m.wallMs.toFixed(0)} ms`);
    }
  } finally {
    await client.quit();
    await server.stop();
  }
}

if (values.json) writeFileSync(values.json, JSON.stringify({ gateway: values.gateway, rows, viewerRows }, null, 2));
process.exit(0);
