// ConcurrentRateLimiter acquire + release against Python Dramatiq 2.2.1's on the same fresh
// loopback redis-server: pairs per second for one caller (one after another) and for 16
// concurrent callers (limit 16, so every acquisition succeeds: the figure is the backend's
// cost). Ours over node-redis and over the package's own client (connectRedis); Python's
// from bench/rate_limits_baseline.py (threads, redis-py's pool).
// Usage: node bench/rate_limits.mjs [--n 5000] [--no-python]
import { spawnSync } from "node:child_process";
import { createClient } from "redis";
import { ConcurrentRateLimiter, RedisRateLimiterBackend, connectRedis } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";
import { arg, root, withPython } from "./broker_bench.mjs";

const N = arg("n", 5000);
const python = process.env.PYTHON ?? `${root}target/venv/bin/python`;

async function ours(client, callers) {
  const limiter = new ConcurrentRateLimiter(new RedisRateLimiterBackend(client), `bench-js-${callers}-${Math.random()}`, { limit: callers });
  let refused = 0;
  const share = Array.from({ length: callers }, (_, i) => Math.floor(N / callers) + (i < N % callers ? 1 : 0));
  const started = performance.now();
  await Promise.all(
    share.map(async (count) => {
      for (let i = 0; i < count; i++) {
        if (!(await limiter.acquire((a) => a, { raiseOnFailure: false }))) refused++;
      }
    }),
  );
  return { opsPerSec: N / ((performance.now() - started) / 1000), refused };
}

function theirs(url, callers) {
  const run = spawnSync(python, [`${root}bench/rate_limits_baseline.py`, url, String(N), String(callers)], { encoding: "utf8", timeout: 600_000 });
  try {
    return JSON.parse(run.stdout);
  } catch {
    return { error: (run.stderr || run.stdout || "no output").slice(-2000) };
  }
}

const server = await startRedis();
const client = await createClient({ url: server.url }).connect();
const own = await connectRedis(server.url);
const out = { n: N, rows: [] };
try {
  for (const callers of [1, 16]) {
    // One warm-up round each (script cache, JIT), then the measured one.
    await ours(client, callers);
    await ours(own, callers);
    const row = { callers, nodeRedis: await ours(client, callers), connectRedis: await ours(own, callers) };
    if (withPython) row.python = theirs(server.url, callers);
    out.rows.push(row);
  }
} finally {
  await client.quit();
  await own.close();
  await server.stop();
}
const fmt = (r) => (r?.opsPerSec ? Math.round(r.opsPerSec).toLocaleString("en-US") : r?.error ? "error" : "—");
console.log(`acquire + release per second (n = ${N}), ConcurrentRateLimiter over Redis`);
console.log("callers | ours, node-redis | ours, connectRedis | Python Dramatiq");
for (const r of out.rows) console.log(`${r.callers} | ${fmt(r.nodeRedis)} | ${fmt(r.connectRedis)} | ${fmt(r.python)}`);
console.log(JSON.stringify(out));
