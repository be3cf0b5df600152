// The operator's gateway on a fleet in trouble (round 13's operator audit): a real
// redis-server holding DEAD dead letters, QUEUED queued and DELAYED delayed messages; the
// gateway started by its bin. Measures, while a concurrent client PINGs Redis every 2 ms:
// find by id for messages at the start, middle and end of each state (and an unknown id),
// `?q=` search pages, listing pages, a dry run over every dead letter; and the longest
// Redis command (SLOWLOG) and PING. Prints one JSON object.
// `node bench/operator_scale.mjs` (DEAD=50000 QUEUED=100000 DELAYED=10000 by default).
import { spawn } from "node:child_process";
import { createClient } from "redis";
import { startRedis } from "../tests/js/services.mjs";
import { dict, startGatewayBin } from "../tests/js/gateway-helpers.mjs";

const OPERATOR = "bench-operator-token-0123456789";
const auth = { authorization: `Bearer ${OPERATOR}` };
const DEAD = Number(process.env.DEAD ?? 50_000);
const QUEUED = Number(process.env.QUEUED ?? 100_000);
const DELAYED = Number(process.env.DELAYED ?? 10_000);
const round = (x) => Math.round(x * 10) / 10;

const redis = await startRedis({ args: ["--slowlog-log-slower-than", "1000"] });
const client = await createClient({ url: redis.url }).connect();
const out = { dead: DEAD, queued: QUEUED, delayed: DELAYED };
const fill = async (n, queue, make) => {
  const ids = [];
  for (let i = 0; i < n; i += 2000) {
    const m = client.multi();
    for (let j = i; j < Math.min(n, i + 2000); j++) ids.push(make(m, j, queue));
    await m.exec();
  }
  return ids;
};
const deadIds = await fill(DEAD, "dead", (m, j, q) => {
  const rid = crypto.randomUUID();
  const msg = dict(q, "job", [j, { user: `user-${j}` }], { options: { redis_message_id: rid, retries: 3, traceback: `Traceback\nValueError: case ${j}\n` } });
  m.zAdd(`dramatiq:${q}.XQ`, { score: Date.now() - 600_000 + j, value: rid });
  m.hSet(`dramatiq:${q}.XQ.msgs`, rid, JSON.stringify(msg));
  return msg.message_id;
});
const queuedIds = await fill(QUEUED, "bulk", (m, j, q) => {
  const rid = crypto.randomUUID();
  const msg = dict(q, "work", [j], { options: { redis_message_id: rid } });
  m.hSet(`dramatiq:${q}.msgs`, rid, JSON.stringify(msg));
  m.rPush(`dramatiq:${q}`, rid);
  return msg.message_id;
});
const delayedIds = await fill(DELAYED, "later", (m, j, q) => {
  const rid = crypto.randomUUID();
  const msg = dict(`${q}.DQ`, "work", [j], { options: { redis_message_id: rid, eta: Date.now() + 3_600_000 } });
  m.hSet(`dramatiq:${q}.DQ.msgs`, rid, JSON.stringify(msg));
  m.rPush(`dramatiq:${q}.DQ`, rid);
  return msg.message_id;
});

const gateway = await startGatewayBin(["--redis", redis.url], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
// Another client, in its own process (so this one's JSON parsing does not count): the
// longest PING while the gateway works, and how many took over 10 ms.
const pinger = spawn(process.execPath, ["--input-type=module", "-e", `
  import { createClient } from "redis";
  const c = await createClient({ url: ${JSON.stringify(redis.url)} }).connect();
  let worst = 0, over10 = 0, n = 0, on = true;
  process.on("SIGTERM", () => (on = false));
  while (on) {
    const t = performance.now(); await c.ping(); const ms = performance.now() - t;
    worst = Math.max(worst, ms); if (ms > 10) over10++; n++;
    await new Promise((r) => setTimeout(r, 2));
  }
  console.log(JSON.stringify({ worst, over10, n })); await c.quit();
`], { stdio: ["ignore", "pipe", "inherit"], cwd: new URL("..", import.meta.url).pathname });
let pingOut = "";
pinger.stdout.on("data", (d) => (pingOut += d));
const get = async (path) => {
  const t = performance.now();
  const res = await fetch(`${gateway.url}${path}`, { headers: auth });
  const body = await res.json();
  return { status: res.status, body, ms: round(performance.now() - t) };
};
try {
  await new Promise((r) => setTimeout(r, 3000));
  await client.sendCommand(["SLOWLOG", "RESET"]);
  out.find = {};
  for (const [state, ids] of [["dead-lettered", deadIds], ["queued", queuedIds], ["delayed", delayedIds]]) {
    for (const [where, id] of [["first", ids[0]], ["middle", ids[ids.length >> 1]], ["last", ids.at(-1)]]) {
      const r = await get(`/api/messages/${id}`);
      out.find[`${state}/${where}`] = { status: r.status, state: r.body.state, ms: r.ms };
    }
  }
  const unknown = await get(`/api/messages/${crypto.randomUUID()}`);
  out.find.unknown = { status: unknown.status, ms: unknown.ms };
  // Search: a needle in one message per state, and none.
  out.search = {};
  for (const [name, q] of [["one dead", `user-${DEAD - 1}"`], ["none", "no-such-text"]]) {
    let cursor = null;
    let pages = 0;
    let found = 0;
    const t = performance.now();
    do {
      const r = await get(`/api/messages?q=${encodeURIComponent(q)}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (r.status !== 200) throw new Error(JSON.stringify(r));
      pages++;
      found += r.body.items.length;
      cursor = r.body.cursor;
    } while (cursor);
    out.search[name] = { pages, found, ms: round(performance.now() - t) };
  }
  // Listing every dead letter, 1 000 a page.
  {
    let cursor = null;
    let n = 0;
    const seen = new Set();
    const t = performance.now();
    do {
      const r = await get(`/api/messages?queue=dead&state=dead-lettered&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      for (const it of r.body.items) seen.add(it.message.message_id);
      n += r.body.items.length;
      cursor = r.body.cursor;
    } while (cursor);
    out.listDead = { listed: n, distinct: seen.size, ms: round(performance.now() - t) };
  }
  {
    const t = performance.now();
    const res = await fetch(`${gateway.url}/api/dead-letters/requeue`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ dryRun: true }) });
    out.dryRun = { status: res.status, ...(await res.json()), ms: round(performance.now() - t) };
  }
  {
    // The delete of the last queued message (LREM over the whole list), and of the last
    // delayed one.
    const del = async (id) => {
      const t = performance.now();
      const res = await fetch(`${gateway.url}/api/messages/${id}`, { method: "DELETE", headers: auth });
      return { status: res.status, ms: round(performance.now() - t) };
    };
    out.deleteLast = { queued: await del(queuedIds.at(-1)), delayed: await del(delayedIds.at(-1)) };
  }
  {
    const t = performance.now();
    let done = 0;
    let calls = 0;
    for (;;) {
      const res = await fetch(`${gateway.url}/api/dead-letters/requeue`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ queue: "dead" }) });
      const body = await res.json();
      calls++;
      done += body.done;
      if (body.complete) break;
    }
    out.bulkRequeue = { done, calls, ms: round(performance.now() - t) };
  }
  const slow = await client.sendCommand(["SLOWLOG", "GET", "1000"]);
  // The slow log's entries (over 1 ms) by command, the script named by its first line.
  const by = {};
  for (const e of slow) {
    const argv = e[3].map(String);
    const name = argv[0].toUpperCase() === "EVAL" ? `EVAL ${argv[1].trim().split("\n")[0].slice(0, 50)}` : argv[0];
    by[name] = { n: (by[name]?.n ?? 0) + 1, maxUs: Math.max(by[name]?.maxUs ?? 0, Number(e[2])) };
  }
  out.slowlogOver1ms = by;
} finally {
  const pinged = new Promise((r) => pinger.once("exit", r));
  pinger.kill("SIGTERM");
  await pinged;
  const p = JSON.parse(pingOut || "{}");
  out.ping = { worstMs: round(p.worst), over10ms: p.over10, n: p.n };
  await gateway.stop();
  await client.quit();
  await redis.stop();
}
console.log(JSON.stringify(out, null, 1));
