// A crowd of lookups by id the gateway cannot answer from its records (ids of messages it
// never saw: each walks the broker's bodies in Redis) against a broker holding QUEUED
// queued messages, while another process PINGs Redis every 2 ms: the PING latency the
// crowd causes, and how long the crowd takes. Prints one JSON object.
// `node bench/operator_crowd.mjs` (QUEUED=100000 CROWD=100 by default).
import { spawn } from "node:child_process";
import { createClient } from "redis";
import { startRedis } from "../tests/js/services.mjs";
import { dict, startGatewayBin } from "../tests/js/gateway-helpers.mjs";

const OPERATOR = "bench-operator-token-0123456789";
const auth = { authorization: `Bearer ${OPERATOR}` };
const QUEUED = Number(process.env.QUEUED ?? 100_000);
const CROWD = Number(process.env.CROWD ?? 100);
const round = (x) => Math.round(x * 10) / 10;

const redis = await startRedis();
const client = await createClient({ url: redis.url }).connect();
for (let i = 0; i < QUEUED; i += 5000) {
  const m = client.multi();
  for (let j = i; j < Math.min(QUEUED, i + 5000); j++) {
    const rid = crypto.randomUUID();
    m.hSet("dramatiq:bulk.msgs", rid, JSON.stringify(dict("bulk", "work", [j], { options: { redis_message_id: rid } }))).rPush("dramatiq:bulk", rid);
  }
  await m.exec();
}
const gateway = await startGatewayBin(["--redis", redis.url], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
const ping = spawn(process.execPath, ["--input-type=module", "-e", `
  import { createClient } from "redis";
  const c = await createClient({ url: ${JSON.stringify(redis.url)} }).connect();
  const ms = []; let on = true;
  process.on("SIGTERM", () => (on = false));
  while (on) { const t = performance.now(); await c.ping(); ms.push(performance.now() - t); await new Promise((r) => setTimeout(r, 2)); }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ p50: ms[ms.length >> 1], p99: ms[Math.floor(ms.length * 0.99)], max: ms.at(-1), n: ms.length })); await c.quit();
`], { stdio: ["ignore", "pipe", "inherit"], cwd: new URL("..", import.meta.url).pathname });
let pingOut = "";
ping.stdout.on("data", (d) => (pingOut += d));
const out = { queued: QUEUED, crowd: CROWD };
try {
  await new Promise((r) => setTimeout(r, 3000));
  const t = performance.now();
  const answers = await Promise.all(Array.from({ length: CROWD }, async () => {
    const s = performance.now();
    const res = await fetch(`${gateway.url}/api/messages/${crypto.randomUUID()}`, { headers: auth });
    await res.json();
    return { status: res.status, ms: performance.now() - s };
  }));
  out.crowdMs = round(performance.now() - t);
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  out.answerMs = { p50: round(ms[ms.length >> 1]), max: round(ms.at(-1)) };
  out.statuses = [...new Set(answers.map((a) => a.status))];
} finally {
  const done = new Promise((r) => ping.once("exit", r));
  ping.kill("SIGTERM");
  await done;
  const p = JSON.parse(pingOut || "{}");
  out.pingMs = { p50: round(p.p50), p99: round(p.p99), max: round(p.max), n: p.n };
  await gateway.stop();
  await client.quit();
  await redis.stop();
}
console.log(JSON.stringify(out));
