// Long runs: do resources stay bounded? Each scenario runs in its own child process
// (`node --expose-gc`), does the same thing `n` times, and samples what an operator would see
// grow after a week: the module's linear memory (wasm memory never shrinks, so any growth
// is a high-water mark moving), the JS heap after a full GC, Node's active handles and
// timers (`process.getActiveResourcesInfo()`), open file descriptors (/proc/self/fd),
// process listeners, and, for the servers, Redis keys and client connections and RabbitMQ
// channels. A sample at n/10 and one at n: anything bounded stays (nearly) flat between them.
//
//   node bench/soak.mjs                     every scenario, default sizes
//   node bench/soak.mjs stubStoreGet redisBlockingTimeouts …   some of them
//   SOAK_SCALE=0.1 node bench/soak.mjs      a tenth of the iterations
//   node bench/soak.mjs --child NAME N SERVICES_JSON   (internal) one scenario
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const MB = 1 << 20;

// ---------------------------------------------------------------- the child: one scenario

const memories = [];
const RealInstance = WebAssembly.Instance;
WebAssembly.Instance = Object.assign(
  function Instance(module, imports) {
    const instance = new RealInstance(module, imports);
    if (instance.exports.memory instanceof WebAssembly.Memory) memories.push(instance.exports.memory);
    return instance;
  },
  { prototype: RealInstance.prototype },
);
const realInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (...args) => {
  const out = await realInstantiate(...args);
  const memory = (out.instance ?? out).exports?.memory;
  if (memory instanceof WebAssembly.Memory) memories.push(memory);
  return out;
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What an operator sees, after a full GC and a moment for Node to close what it closes. */
export async function sample(extra = async () => ({})) {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await sleep(30);
  }
  const resources = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  const u = process.memoryUsage();
  return {
    wasmKB: Math.round(memories.reduce((n, m) => n + m.buffer.byteLength, 0) / 1024),
    heapMB: +(u.heapUsed / MB).toFixed(2),
    rssMB: +(u.rss / MB).toFixed(1),
    fds: readdirSync("/proc/self/fd").length,
    resources,
    processListeners: process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0),
    ...(await extra()),
  };
}

// ---------------------------------------------------------------- the parent

const here = fileURLToPath(import.meta.url);

async function runChild(name, n, services) {
  const child = spawn(process.execPath, ["--expose-gc", here, "--child", name, String(n), JSON.stringify(services)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const code = await new Promise((r) => child.on("exit", r));
  const line = out.trim().split("\n").pop();
  try {
    return JSON.parse(line);
  } catch {
    return { name, error: `exit ${code}: ${out.slice(-500)}` };
  }
}

/** One line per figure: its value at n/10 → at n (and the largest in between). */
function summary(result) {
  if (result.error || !result.samples) return `${result.name}: ${result.error ?? "no samples"}`;
  const { samples } = result;
  const handles = (s) => Object.values(s.resources).reduce((a, b) => a + b, 0);
  const figures = {
    wasmKB: (s) => s.wasmKB,
    heapMB: (s) => s.heapMB,
    fds: (s) => s.fds,
    handles,
    processListeners: (s) => s.processListeners,
  };
  for (const k of Object.keys(samples[0])) {
    if (!(k in figures) && typeof samples[0][k] === "number" && !["rssMB"].includes(k)) figures[k] = (s) => s[k];
  }
  const lines = [`${result.name}  n=${result.n}  ${result.seconds.toFixed(1)} s`];
  for (const [k, f] of Object.entries(figures)) {
    const values = samples.map(f);
    lines.push(`  ${k.padEnd(18)} ${values[0]} → ${values.at(-1)}  (max ${Math.max(...values)})`);
  }
  return lines.join("\n");
}

if (process.argv[2] === "--child") {
  const [, , , name, n, services] = process.argv;
  const { scenarios } = await import("./soak_scenarios.mjs");
  const started = Date.now();
  const result = await scenarios[name](Number(n), JSON.parse(services), sample);
  process.stdout.write(`${JSON.stringify({ name, n: Number(n), seconds: (Date.now() - started) / 1000, ...result })}\n`);
  process.exit(0);
} else {
  const { scenarios, sizes, needs } = await import("./soak_scenarios.mjs");
  const services = await import("../tests/js/services.mjs");
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const names = wanted.length ? wanted : Object.keys(scenarios);
  const scale = Number(process.env.SOAK_SCALE ?? 1);
  const running = {};
  const urls = {};
  const need = new Set(names.flatMap((n) => needs[n] ?? []));
  if (need.has("redis")) (running.redis = await services.startRedis()), (urls.redis = running.redis.url);
  if (need.has("memcached")) (running.memcached = await services.startMemcached()), (urls.memcached = `127.0.0.1:${running.memcached.port}`);
  if (need.has("rabbitmq")) {
    running.rabbitmq = await services.startRabbitmq();
    urls.rabbitmq = running.rabbitmq.url;
    urls.rabbitmqCtl = { ...running.rabbitmq.env, ERL_EPMD_PORT: String(running.rabbitmq.epmd.port) };
  }
  try {
    for (const name of names) {
      const n = Math.max(10, Math.round((sizes[name] ?? 10_000) * scale));
      const result = await runChild(name, n, urls);
      if (process.env.SOAK_JSON) console.log(JSON.stringify(result));
      else console.log(summary(result));
    }
  } finally {
    for (const s of Object.values(running)) await s.stop();
  }
}
