// connectRedis (the package's own RESP client over node:net) against node-redis, both under
// RedisBackend, on a loopback redis-server started here; and in workerd (Miniflare), what a
// request pays for connect + read + close. Prints one JSON object (bench/run.mjs reads it).
//
//   node bench/connect_redis.mjs [--quick]
//
// - store + get, 64 concurrent callers: each caller loops storeResult then getResult on its
//   own message; pairs per second, the median of alternating rounds (ours, node-redis, …).
// - raw GETs, 64 concurrent callers, sendCommand on each client directly (no backend).
// - batch read: getResults over 1 000 stored messages (one EVAL), median ms.
// - workerd: one request = connectRedis + getResult (LINDEX) + close, timed inside the
//   Worker (performance.now(), which workerd advances on I/O) and around dispatchFetch.
import { createClient } from "redis";
import { connectRedis, Message, RedisBackend } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";
import { startWorkerd } from "../tests/js/workerd.mjs";

const quick = process.argv.includes("--quick");
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs) => quantile(xs, 0.5);

const server = await startRedis();
const out = { callers: 64, rounds: quick ? 3 : 5 };
try {
  const nodeRedis = await createClient({ url: server.url }).connect();
  const ours = await connectRedis(server.url);
  const clients = { ours, "node-redis": nodeRedis };
  const value = { id: 7, name: "a result", scores: [1.5, 2.5, 3.5], ok: true };

  /** Store + get pairs per second with `callers` loops running `perCaller` pairs each. */
  async function storeGet(client, callers, perCaller) {
    const backend = new RedisBackend(client);
    const messages = Array.from({ length: callers }, (_, i) => new Message({ actorName: "bench", args: [i] }));
    const started = performance.now();
    await Promise.all(
      messages.map(async (m) => {
        for (let i = 0; i < perCaller; i++) {
          await backend.storeResult(m, value, 60_000);
          await backend.getResult(m);
        }
      }),
    );
    return (callers * perCaller) / ((performance.now() - started) / 1000);
  }

  const perCaller = quick ? 100 : 300;
  for (const c of Object.values(clients)) await storeGet(c, 64, 20); // warm-up
  const rates = { ours: [], "node-redis": [] };
  for (let r = 0; r < out.rounds; r++) {
    for (const [name, c] of Object.entries(clients)) rates[name].push(await storeGet(c, 64, perCaller));
  }
  out.storeGetPerSec = { ours: median(rates.ours), nodeRedis: median(rates["node-redis"]) };
  out.storeGetRatio = out.storeGetPerSec.ours / out.storeGetPerSec.nodeRedis;

  // The clients alone, no backend: 64 callers looping sendCommand(["GET", k]) (a string
  // reply for both), so the comparison is not only about how each reaches RedisBackend.
  async function rawGets(client, callers, perCaller) {
    await client.sendCommand(["SET", "bench:raw", JSON.stringify(value)]);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        for (let i = 0; i < perCaller; i++) await client.sendCommand(["GET", "bench:raw"]);
      }),
    );
    return (callers * perCaller) / ((performance.now() - started) / 1000);
  }
  const raw = { ours: [], "node-redis": [] };
  for (let r = 0; r < out.rounds; r++) {
    for (const [name, c] of Object.entries(clients)) raw[name].push(await rawGets(c, 64, perCaller));
  }
  out.rawGetPerSec = { ours: median(raw.ours), nodeRedis: median(raw["node-redis"]) };

  // One caller, one pair at a time: the latency of a round trip.
  const serial = { ours: [], "node-redis": [] };
  for (let r = 0; r < out.rounds; r++) {
    for (const [name, c] of Object.entries(clients)) serial[name].push(await storeGet(c, 1, quick ? 500 : 2000));
  }
  out.serialPerSec = { ours: median(serial.ours), nodeRedis: median(serial["node-redis"]) };

  // Batch read of 1 000.
  const batch = Array.from({ length: 1000 }, (_, i) => new Message({ actorName: "batch", args: [i] }));
  const writer = new RedisBackend(ours);
  await Promise.all(batch.map((m, i) => writer.storeResult(m, { i }, 600_000)));
  out.batch1000Ms = {};
  for (const [name, c] of Object.entries(clients)) {
    const backend = new RedisBackend(c);
    const times = [];
    for (let r = 0; r < (quick ? 10 : 30); r++) {
      const started = performance.now();
      await backend.getResults(batch, { timeout: 10_000 });
      times.push(performance.now() - started);
    }
    out.batch1000Ms[name === "ours" ? "ours" : "nodeRedis"] = median(times);
  }
  await ours.close();
  nodeRedis.destroy();

  // workerd.
  const mf = await startWorkerd("tests/js/hosts/redis_worker.js");
  try {
    const message = batch[0].asDict();
    const post = (route, body) => mf.dispatchFetch(`http://localhost/${route}`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
    const n = quick ? 100 : 300;
    await post("timing", { url: server.url, message, n: 20 }); // warm-up
    const inside = (await post("timing", { url: server.url, message, n })).times;
    const around = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      const r = await post("read", { url: server.url, message, block: false });
      if (!r.valueJson) throw new Error(JSON.stringify(r));
      around.push(performance.now() - started);
    }
    out.workerd = {
      requests: n,
      insideMedianMs: median(inside),
      insideP99Ms: quantile(inside, 0.99),
      roundTripMedianMs: median(around),
      roundTripP99Ms: quantile(around, 0.99),
    };
  } finally {
    await mf.dispose();
  }
} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  await server.stop();
}
console.log(JSON.stringify(out));
