// The operator's gateway (issue 28) against a real redis-server holding 200 000 other keys:
// `/api/messages?q=` over 10 000 dead letters (a needle matching one, and none), a bulk
// requeue of the 10 000 (ms, and the gateway's RSS), and the `/result` long-poll: 500
// requests waiting at once for 500 results stored one by one, store → HTTP answer latency
// p50 / p99, with keyspace notifications and with polling only. The gateway is started by
// its own bin. Prints one JSON object; `node bench/gateway_operator.mjs`.
import { readFileSync } from "node:fs";
import { createClient } from "redis";
import { RedisBackend } from "dramatiq-results";
import { startRedis } from "../tests/js/services.mjs";
import { dict, startGatewayBin } from "../tests/js/gateway-helpers.mjs";

const OPERATOR = "bench-operator-token-0123456789";
const auth = { authorization: `Bearer ${OPERATOR}` };
const DEAD = Number(process.env.DEAD ?? 10_000);
const OTHER = Number(process.env.OTHER ?? 200_000);
const WAITERS = Number(process.env.WAITERS ?? 500);

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const round = (x) => Math.round(x * 10) / 10;

const redis = await startRedis();
const client = await createClient({ url: redis.url }).connect();
const out = { deadLetters: DEAD, otherKeys: OTHER };
try {
  for (let i = 0; i < OTHER; i += 10_000) {
    const m = client.multi();
    for (let j = i; j < Math.min(OTHER, i + 10_000); j++) m.set(`other:app:key:${j}`, "x".repeat(32));
    await m.exec();
  }
  const ids = [];
  for (let i = 0; i < DEAD; i += 1000) {
    const m = client.multi();
    for (let j = i; j < Math.min(DEAD, i + 1000); j++) {
      const rid = crypto.randomUUID();
      const msg = dict("bench", j % 2 ? "job" : "other", [j, { user: `user-${j}` }], { options: { redis_message_id: rid, retries: 20, traceback: `Traceback (most recent call last):\n  File "app.py", line 1\nValueError: case ${j}\n` } });
      ids.push(msg.message_id);
      m.zAdd("dramatiq:bench.XQ", { score: Date.now() - 60_000 + j, value: rid });
      m.hSet("dramatiq:bench.XQ.msgs", rid, JSON.stringify(msg));
    }
    await m.exec();
  }

  // Search and bulk requeue (polling only: no notifications yet).
  let gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "500"], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  await new Promise((r) => setTimeout(r, 1500)); // the poller's first rounds
  const time = async (fn) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  const search = async (q) => {
    const res = await fetch(`${gateway.url}/api/messages?q=${encodeURIComponent(q)}&limit=100`, { headers: auth });
    const body = await res.json();
    if (res.status !== 200) throw new Error(JSON.stringify(body));
    return body;
  };
  const one = [];
  const none = [];
  for (let i = 0; i < 5; i++) {
    one.push(await time(async () => {
      const b = await search(`user-${DEAD - 3}"`);
      if (b.items.length !== 1) throw new Error(`expected 1 match, got ${b.items.length}`);
    }));
    none.push(await time(() => search("no-such-text-anywhere")));
  }
  out.search = { oneMatchMs: round(pct(one, 50)), noMatchMs: round(pct(none, 50)), note: "median of 5; the whole 10 000 read per request" };
  const rssBefore = rssMb(gateway.child.pid);
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(gateway.child.pid))), 50);
  let answer;
  const bulkMs = await time(async () => {
    for (;;) {
      const res = await fetch(`${gateway.url}/api/dead-letters/requeue`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ queue: "bench" }) });
      answer = await res.json();
      if (answer.complete) break;
    }
  });
  clearInterval(sampler);
  if ((await client.lLen("dramatiq:bench")) !== DEAD) throw new Error("not every dead letter was requeued");
  out.bulkRequeue = { ms: Math.round(bulkMs), messagesPerS: Math.round(DEAD / (bulkMs / 1000)), rssBeforeMb: round(rssBefore), rssPeakMb: round(peak) };
  await gateway.stop();
  await client.del(["dramatiq:bench", "dramatiq:bench.msgs"]); // the long-poll measures itself only

  // The /result long-poll: WAITERS requests, each for its own message; results stored one
  // by one (every 10 ms) through the package's RedisBackend, as a worker would.
  const backend = new RedisBackend(client);
  const longPoll = async (label, args) => {
    gateway = await startGatewayBin(["--redis", redis.url, ...args], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
    const identities = Array.from({ length: WAITERS }, (_, i) => ({ queueName: "bench", actorName: "job", messageId: `${label}-${i}` }));
    const storedAt = new Map();
    const latencies = [];
    const waits = identities.map((m) =>
      fetch(`${gateway.url}/api/results/bench/job/${m.messageId}?timeout=60000`, { headers: auth }).then(async (res) => {
        const at = performance.now();
        const body = await res.json();
        if (res.status !== 200 || body.state !== "done") throw new Error(`${res.status} ${JSON.stringify(body)}`);
        latencies.push(at - storedAt.get(m.messageId));
      }),
    );
    await new Promise((r) => setTimeout(r, 2000)); // every request is waiting
    for (const m of identities) {
      storedAt.set(m.messageId, performance.now());
      await backend.storeResult(m, 1);
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(waits);
    const rss = rssMb(gateway.child.pid);
    await gateway.stop();
    return { waiting: WAITERS, p50Ms: round(pct(latencies, 50)), p99Ms: round(pct(latencies, 99)), maxMs: round(pct(latencies, 100)), rssMb: round(rss) };
  };
  out.resultLongPoll = {
    keyspace: await longPoll("ks", ["--keyspace-events"]),
    polling: await (async () => {
      await client.configSet("notify-keyspace-events", "");
      return longPoll("poll", []);
    })(),
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  await client.quit().catch(() => {});
  await redis.stop();
}
