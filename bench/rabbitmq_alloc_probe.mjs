// Where the JS heap a RabbitmqBroker send → blocking result allocates goes (issue 29: warm,
// every send a scavenge overlaps is slow). Our worker in this process, as
// bench/rabbitmq_latency_probe.mjs; after `--warmup` sends (default 3 000):
//  - bytes allocated per send: with a young generation big enough that `--n` sends (default
//    400) collect nothing, the growth of every heap space over them (run with
//    `--min-semi-space-size=64 --max-semi-space-size=64`; the probe says when a collection
//    got in the way);
//  - scavenges per 1 000 sends over `--gc-sends` more (default 3 000; meaningful only with
//    the default young generation, so run that part in a separate process: `--mode gc`);
//  - with `--mode sample`: V8's sampling heap profiler (objects collected since included)
//    over `--n` sends, the bytes by owner (ours: pkg/src, the wasm-bindgen glue; amqplib;
//    node-redis; Node's own) and the top allocating frames.
// DR_PKG=/path/to/dist/node.js runs another build (A/B against a copy of main's pkg/dist).
// Usage: node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 bench/rabbitmq_alloc_probe.mjs [--mode bytes|sample]
//        node bench/rabbitmq_alloc_probe.mjs --mode gc
import { Session } from "node:inspector/promises";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { createClient } from "redis";
import { startRabbitmq, startRedis } from "../tests/js/services.mjs";
import { arg } from "./broker_bench.mjs";

const WARMUP = arg("warmup", 3000);
const N = arg("n", 400);
const GC_SENDS = arg("gc-sends", 3000);
const MODE = process.argv.includes("--mode") ? process.argv[process.argv.indexOf("--mode") + 1] : "bytes";

// DR_PKG: another build's entry (e.g. a copy of main's pkg/dist/node.js), for A/B runs.
const { RabbitmqBroker, RedisBackend, Results, Worker, actor } = await import(process.env.DR_PKG ?? "dramatiq-results");
const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
const client = await createClient({ url: redis.url }).connect();
const blocking = await createClient({ url: redis.url }).connect();
const backend = new RedisBackend(client, { blockingClient: blocking });
const broker = await RabbitmqBroker.connect(rabbit.url, { middleware: [new Results({ backend })] });
const add = actor((x, y) => x + y, { broker, actorName: "add", queueName: "bench-alloc", storeResults: true });
const worker = new Worker(broker, { concurrency: 8 }).start();
const times = [];
async function sends(n, from = 0) {
  for (let i = from; i < from + n; i++) {
    const t = performance.now();
    const m = add.send(i, 1);
    await m.enqueued;
    await m.getResult({ block: true, timeout: 10_000 });
    times.push(performance.now() - t);
  }
}
await sends(WARMUP);

let minor = 0;
let major = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor += 1;
    else major += 1;
  }
});
obs.observe({ entryTypes: ["gc"] });
const used = () => v8.getHeapSpaceStatistics().reduce((s, x) => s + x.space_used_size, 0);
const out = { mode: MODE, warmup: WARMUP, n: N };

if (MODE === "bytes") {
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    minor = 0;
    major = 0;
    const before = used();
    await sends(N, r * N);
    const after = used();
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the observer report
    rounds.push(minor + major === 0 ? +((after - before) / N / 1024).toFixed(1) : `gc×${minor + major}`);
  }
  out.kbPerSend = rounds;
} else if (MODE === "gc") {
  minor = 0;
  major = 0;
  times.length = 0;
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await sends(GC_SENDS);
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  const at = (q) => +times[Math.floor(q * (times.length - 1))].toFixed(2);
  Object.assign(out, { p50: at(0.5), p99: at(0.99), over2ms: times.filter((x) => x > 2).length });
  out.cpuPerSendMs = +((cpu.user + cpu.system) / 1000 / GC_SENDS).toFixed(3);
  await new Promise((resolve) => setTimeout(resolve, 0));
  out.scavengesPer1000 = +((minor * 1000) / GC_SENDS).toFixed(2);
  out.majorPer1000 = +((major * 1000) / GC_SENDS).toFixed(2);
  out.msPerSend = +((performance.now() - t) / GC_SENDS).toFixed(3);
} else if (MODE === "sample") {
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await sends(N);
  const { profile } = await session.post("HeapProfiler.stopSampling");
  const byOwner = {};
  const byFrame = {};
  let total = 0;
  // pkg/dist/node.js bundles our modules; esbuild marks each one's start with a comment.
  const bundles = new Map();
  const fileOf = (url, line) => {
    if (!bundles.has(url)) {
      const m = [];
      readFileSync(fileURLToPath(url), "utf8").split("\n").forEach((l, i) => {
        const hit = /^\/\/ (pkg\/\S+)$/.exec(l);
        if (hit) m.push([i, hit[1].replace(/snippets\/[^/]+\/src\/bindings/, "bindings")]);
      });
      bundles.set(url, m);
    }
    let file = url;
    for (const [at, name] of bundles.get(url)) if (at <= line) file = name;
    return file;
  };
  const owner = (url, line) =>
    url.includes("/pkg/dist/") ? `ours: ${fileOf(url, line)}`.replace("ours: pkg/src/wasm/guards.js", "ours: pkg/dist/guards") :
    url.includes("/pkg/src/") ? "ours: pkg/src" :
    url.includes("amqplib") ? "amqplib" :
    url.includes("@redis") || url.includes("/redis/") ? "node-redis" :
    url.startsWith("node:") || url === "" ? "node" :
    url.includes("/bench/") ? "bench" : url;
  // Each node's self size goes to the first frame up its stack that is not Node's own
  // (so a Buffer made for amqplib counts as amqplib's), and to its own frame.
  const byGlue = {};
  const walk = (node, stack) => {
    const cf = node.callFrame;
    const here = [...stack, cf];
    if (node.selfSize > 0) {
      total += node.selfSize;
      let who = "node";
      for (let i = here.length - 1; i >= 0; i--) {
        const o = owner(here[i].url, here[i].lineNumber);
        if (o !== "node") {
          who = o;
          break;
        }
      }
      byOwner[who] = (byOwner[who] ?? 0) + node.selfSize;
      // A builtin's frame (no url) is named with its caller's.
      const caller = cf.url === "" && stack.length > 0 ? stack[stack.length - 1] : undefined;
      const name = (c) => `${c.functionName || "(anon)"} ${c.url.replace(/.*\/(pkg|node_modules)\//, "$1/")}:${c.lineNumber + 1}`;
      const f = `${name(cf)}${caller ? ` < ${name(caller)}` : ""} [${who}]`;
      byFrame[f] = (byFrame[f] ?? 0) + node.selfSize;
      // Our glue's allocations, by the frame of pkg/src that led to them.
      if (who.startsWith("ours: pkg/dist/")) {
        let entry = "(none)";
        for (let i = here.length - 1; i >= 0; i--) {
          const o = owner(here[i].url, here[i].lineNumber);
          if (o.startsWith("ours: pkg/src/") && o !== "ours: pkg/src/wasm/guards.js") {
            entry = `${name(here[i])} ${o.slice(10)}`;
            break;
          }
        }
        const g = `${name(cf)} < ${entry}`;
        byGlue[g] = (byGlue[g] ?? 0) + node.selfSize;
      }
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, []);
  out.kbPerSendSampled = +(total / N / 1024).toFixed(1);
  out.byOwnerKb = Object.fromEntries(Object.entries(byOwner).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +(v / N / 1024).toFixed(2)]));
  out.topFrames = Object.entries(byFrame).sort((a, b) => b[1] - a[1]).slice(0, 60).map(([k, v]) => `${(v / N / 1024).toFixed(2)} KB ${k}`);
  out.glueByCaller = Object.entries(byGlue).sort((a, b) => b[1] - a[1]).slice(0, 50).map(([k, v]) => `${(v / N / 1024).toFixed(2)} KB ${k}`);
  session.disconnect();
}
obs.disconnect();
console.log(JSON.stringify(out, null, 1));
await worker.stop();
await broker.close();
await client.quit();
await blocking.quit();
await redis.stop();
await rabbit.stop();
