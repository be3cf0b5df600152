// What big values and big messages leave in memory (issue 25): wasm memory never shrinks, so
// whatever one read or one fetch makes the module allocate stays with the process. Each
// scenario runs in a fresh child process (a measurement must not inherit another's memory),
// against a loopback redis-server (or rabbitmq-server) started here; the numbers are after a
// full GC and 300 ms.
//
//   node bench/memory.mjs            all scenarios, one JSON object on stdout
//   node bench/memory.mjs --child S  (internal) one scenario
//   BENCH_PACKAGE=/path/to/pkg/dist/node.js node bench/memory.mjs   another build (a "before")
//
// - read60: `RedisBackend.getResult` of one stored 60 MB string, over `connectRedis`.
// - store60: `RedisBackend.storeResult` of one 60 MB string, over `connectRedis`.
// - process1000: a `RedisBroker` worker (concurrency 8) runs 1 000 messages of 1 MB.
// - delayed1000: 1 000 messages of 1.4 MB delayed an hour; a worker runs 5 s (the issue's
//   crash: the whole delay queue fetched into wasm memory), then stops.
// - rabbit1000: a `RabbitmqBroker` worker (concurrency 8) runs 1 000 messages of 1 MB.
// - rabbitDelayed1000: 1 000 messages of 1.4 MB delayed an hour on RabbitMQ; a worker runs
//   5 s (Dramatiq's delay-queue prefetch, 8 000, lets the server deliver all of them).
//
// "wasm" is the module's linear memory (`memory.buffer.byteLength`, found by wrapping
// `WebAssembly.Instance` before the package loads). It used to be `external − arrayBuffers`
// of `process.memoryUsage()`, which also counts Node's external strings: a large value
// decoded from bytes in JS (TextDecoder) is one, so that figure now counts the value itself.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const MB = 1 << 20;
const memories = [];
const RealInstance = WebAssembly.Instance;
WebAssembly.Instance = class extends RealInstance {
  constructor(module, imports) {
    super(module, imports);
    if (this.exports.memory instanceof WebAssembly.Memory) memories.push(this.exports.memory);
  }
};
const mem = () => {
  globalThis.gc?.();
  const u = process.memoryUsage();
  const linear = memories.reduce((n, m) => n + m.buffer.byteLength, 0);
  return { rssMB: +(u.rss / MB).toFixed(1), wasmMB: +(linear / MB).toFixed(1) };
};

/** `mem()` once the collector has also freed what it frees off the main thread (Node's
 * external strings and array buffers go a little after `gc()` returns). */
async function settled() {
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 300));
  return mem();
}

/** A `RabbitmqBroker` worker (concurrency 8) runs the 1 000 messages on queue "big" (or,
 * delayed, runs 5 s). */
async function rabbitChild(scenario, url) {
  const { RabbitmqBroker, Worker, actor } = await import(process.env.BENCH_PACKAGE ?? "dramatiq-results");
  const broker = await RabbitmqBroker.connect(url, { middleware: [] });
  const out = { scenario };
  try {
    let ran = 0;
    actor((s) => { ran += 1; return s.length; }, { broker, actorName: "big", queueName: "big" });
    out.before = mem();
    const worker = new Worker(broker, { concurrency: 8 }).start();
    const started = Date.now();
    if (scenario === "rabbit1000") {
      // No GC while it runs (mem() collects): wasm memory is a high-water mark anyway.
      while (ran < 1000) await new Promise((r) => setTimeout(r, 20));
    } else {
      for (let i = 0; i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        out.peakWasmMB = Math.max(out.peakWasmMB ?? 0, mem().wasmMB);
      }
      out.held = 1000 - (await broker.getQueueMessageCounts("big"))[1];
      out.beforeStop = mem();
    }
    out.seconds = +((Date.now() - started) / 1000).toFixed(1);
    await worker.stop();
    out.ran = ran;
    out.after = await settled();
  } finally {
    await broker.close();
  }
  console.log(JSON.stringify(out));
}

async function child(scenario, url) {
  if (scenario.startsWith("rabbit")) return rabbitChild(scenario, url);
  const { connectRedis, Message, RedisBackend, RedisBroker, Worker, actor } = await import(process.env.BENCH_PACKAGE ?? "dramatiq-results");
  const client = await connectRedis(url);
  const out = { scenario };
  try {
    if (scenario === "read60") {
      const backend = new RedisBackend(client);
      const m = new Message({ actorName: "big", messageId: "read60" });
      out.before = mem();
      const value = await backend.getResult(m);
      out.length = value.length;
      out.after = await settled();
    } else if (scenario === "store60") {
      const backend = new RedisBackend(client);
      const m = new Message({ actorName: "big", messageId: "store60" });
      let value = "x".repeat(60_000_000);
      out.before = mem();
      await backend.storeResult(m, value);
      value = null;
      out.length = Number(await client.sendCommand(["STRLEN", "none"])) + 60_000_000;
      out.after = await settled();
    } else {
      const broker = new RedisBroker(client, { namespace: scenario, middleware: [] });
      let ran = 0;
      actor((s) => { ran += 1; return s.length; }, { broker, actorName: "big", queueName: "big" });
      out.before = mem();
      const worker = new Worker(broker, { concurrency: 8 }).start();
      const started = Date.now();
      if (scenario === "process1000") {
        while (ran < 1000) await new Promise((r) => setTimeout(r, 20));
      } else {
        for (let i = 0; i < 50; i++) {
          await new Promise((r) => setTimeout(r, 100));
          out.peakWasmMB = Math.max(out.peakWasmMB ?? 0, mem().wasmMB);
        }
        out.held = Number(await client.sendCommand(["SCARD", `${scenario}:__acks__.${broker.brokerId}.big.DQ`]));
      }
      out.seconds = +((Date.now() - started) / 1000).toFixed(1);
      await worker.stop();
      out.ran = ran;
      out.after = await settled();
    }
  } finally {
    await client.close();
  }
  console.log(JSON.stringify(out));
}

/** Fills Redis for `scenario` from this process (its memory is not measured). */
async function fill(scenario, url) {
  if (scenario.startsWith("rabbit")) {
    const { RabbitmqBroker, actor } = await import(process.env.BENCH_PACKAGE ?? "dramatiq-results");
    const broker = await RabbitmqBroker.connect(url, { middleware: [], confirmDelivery: true });
    const big = actor("big", { broker, queueName: "big" });
    const delayed = scenario === "rabbitDelayed1000";
    const arg = "x".repeat(delayed ? 1_400_000 : MB);
    for (let i = 0; i < 1000; i += 50) {
      const batch = [];
      for (let j = i; j < i + 50; j++) batch.push(big.sendWithOptions({ args: [arg], delay: delayed ? 3_600_000 : undefined }).enqueued);
      await Promise.all(batch);
    }
    await broker.close();
    return;
  }
  const { connectRedis, Message, RedisBackend, RedisBroker, actor } = await import(process.env.BENCH_PACKAGE ?? "dramatiq-results");
  const client = await connectRedis(url);
  try {
    if (scenario === "store60") {
      // Nothing to fill.
    } else if (scenario === "read60") {
      await new RedisBackend(client).storeResult(new Message({ actorName: "big", messageId: "read60" }), "x".repeat(60_000_000));
    } else {
      const broker = new RedisBroker(client, { namespace: scenario, middleware: [] });
      const big = actor("big", { broker, queueName: "big" });
      const delayed = scenario === "delayed1000";
      const arg = "x".repeat(delayed ? 1_400_000 : MB);
      for (let i = 0; i < 1000; i += 50) {
        const batch = [];
        for (let j = i; j < i + 50; j++) batch.push(big.sendWithOptions({ args: [arg], delay: delayed ? 3_600_000 : undefined }).enqueued);
        await Promise.all(batch);
      }
    }
  } finally {
    await client.close();
  }
}

function run(args) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const at = process.argv.indexOf("--child");
if (at >= 0) {
  const [scenario, url, mode] = process.argv.slice(at + 1);
  if (mode === "fill") await fill(scenario, url);
  else await child(scenario, url);
} else {
  const { startRabbitmq, startRedis } = await import("../tests/js/services.mjs");
  const results = {};
  for (const scenario of (process.env.BENCH_MEMORY ?? "read60,store60,process1000,delayed1000,rabbit1000,rabbitDelayed1000").split(",")) {
    const server = scenario.startsWith("rabbit") ? await startRabbitmq() : await startRedis();
    try {
      const filled = await run(["--child", scenario, server.url, "fill"]);
      if (filled.code !== 0) throw new Error(`filling ${scenario} failed: ${filled.stderr}`);
      const r = await run(["--child", scenario, server.url]);
      results[scenario] = r.code === 0
        ? JSON.parse(r.stdout.trim().split("\n").at(-1))
        : { crashed: `exit ${r.code ?? r.signal}`, error: r.stderr.split("\n").filter((l) => /Error|unreachable/.test(l)).slice(0, 2).join(" | ") };
    } finally {
      await server.stop();
    }
    console.error(scenario, JSON.stringify(results[scenario]));
  }
  console.log(JSON.stringify(results, null, 2));
}
