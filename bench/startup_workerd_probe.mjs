// Where workerd's first request goes (issue 29): fresh Miniflare instances of Workers that
// each do a part of what the bench's Worker does on its first request, interleaved, medians
// of wall time (workerd's clocks stand still while a Worker computes, so the Worker cannot
// time itself) and the mean of workerd's CPU time over the first request ("cpu1", read from
// /proc in 10 ms ticks: use many runs). Run after scripts/build:
//
//   node bench/startup_workerd_probe.mjs [runs] [variant[@delay-ms][+--v8-flag…][#dist-folder]…]
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const pkg = `${root}pkg/`;
const imp = `import { StubBackend, Message } from "./dist/workerd.js";\n`;
const answer = `Response.json({ sum: 3 })`;

const variants = {
  hello: `export default { async fetch() { return ${answer}; } };`,
  // The package imported (and its warm-up run at start), nothing of it used by the request.
  importOnly: `${imp}export default { async fetch() { return ${answer}; } };`,
  // Synchronous wasm calls only: two objects made and freed, no Promise from the package.
  syncCalls: `${imp}export default { async fetch() {
    const b = new StubBackend(); const m = new Message({ actorName: "add", messageId: "start-up" });
    b.free(); m.free(); return ${answer}; } };`,
  // A store only (one wasm-bindgen-futures Promise).
  storeOnly: `${imp}export default { async fetch() {
    const b = new StubBackend(); const m = new Message({ actorName: "add", messageId: "start-up" });
    await b.storeResult(m, { sum: 3 }); return ${answer}; } };`,
  // The bench's Worker.
  storeGet: `${imp}export default { async fetch() {
    const b = new StubBackend(); const m = new Message({ actorName: "add", messageId: "start-up" });
    await b.storeResult(m, { sum: 3 }); return Response.json(await b.getResult(m)); } };`,
  // hello with a microtask hop, as wasm-bindgen-futures makes one per poll.
  helloMicrotask: `export default { async fetch() { await new Promise((r) => queueMicrotask(r)); return ${answer}; } };`,
  // Did the entry's warm-up (and a store of our own at start) finish before the request?
  startDone: `${imp}let done = "no";
const b0 = new StubBackend(); const m0 = new Message({ actorName: "add", messageId: "at-start" });
b0.storeResult(m0, { sum: 3 }).then(() => b0.getResult(m0)).then((v) => { done = v.sum === 3 ? "yes" : "odd"; }, (e) => { done = String(e); });
export default { async fetch() { return Response.json({ sum: 3, done }); } };`,
};

// workerd's CPU time, all its threads, from /proc (user + system, in 10 ms clock ticks: only
// the mean over many runs means anything, hence "cpu1" is a mean, the rest medians).
const workerdPid = () =>
  readdirSync("/proc").find((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      return stat.includes("(workerd)") && stat.split(") ")[1].split(" ")[1] === String(process.pid);
    } catch {
      return false;
    }
  });
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

export async function probe(runs, names) {
  const { Miniflare } = await import("miniflare");
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const builds = new Map();
  const build = (dist) => {
    if (!builds.has(dist)) builds.set(dist, { wasm: readFileSync(`${dist}/dramatiq_results_bg.wasm`), entry: readFileSync(`${dist}/workerd.js`, "utf8") });
    return builds.get(dist);
  };
  for (let i = 0; i < runs; i++) {
    for (const name of names) {
      // "variant+--flag+--other": the variant under workerd with those V8 flags.
      // "variant@ms": the first request that long after ready.
      // "variant#/some/dist": the package's dist/ from that folder (another build).
      const [spec, dist = `${pkg}dist`] = name.split("#");
      const { wasm, entry } = build(dist);
      const [head, ...flags] = spec.split("+");
      const [variant, delay] = head.split("@");
      if (flags.length) process.env.MINIFLARE_WORKERD_V8_FLAGS = flags.join(" ");
      else delete process.env.MINIFLARE_WORKERD_V8_FLAGS;
      const modules = [{ type: "ESModule", path: `${pkg}worker.js`, contents: variants[variant] }];
      if (variants[variant].includes("dist/workerd.js")) {
        modules.push({ type: "ESModule", path: `${pkg}dist/workerd.js`, contents: entry });
        modules.push({ type: "CompiledWasm", path: `${pkg}dist/dramatiq_results_bg.wasm`, contents: wasm });
      }
      const start = performance.now();
      const mf = new Miniflare({ modules, compatibilityDate: "2025-09-01" });
      try {
        await mf.ready;
        if (delay) await new Promise((r) => setTimeout(r, Number(delay)));
        const pid = workerdPid();
        const cpu0 = pid ? cpuMs(pid) : NaN;
        const ready = performance.now();
        const r1 = await mf.dispatchFetch("http://bench/");
        const body1 = await r1.json();
        if (body1.sum !== 3) throw new Error(name);
        if (body1.done !== undefined && i === 0) console.log(name, "done at first request:", body1.done);
        const first = performance.now();
        const cpu1 = pid ? cpuMs(pid) - cpu0 : NaN;
        const r2 = await mf.dispatchFetch("http://bench/");
        await r2.json();
        const second = performance.now();
        samples[name].push({ ready: ready - start, first: first - ready, second: second - first, cpu1 });
      } finally {
        await mf.dispose();
      }
    }
  }
  const out = {};
  for (const name of names) {
    const xs = samples[name];
    out[name] = Object.fromEntries(["ready", "first", "second"].map((k) => [k, +median(xs.map((x) => x[k])).toFixed(2)]));
    out[name].cpu1 = +mean(xs.map((x) => x.cpu1)).toFixed(2);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 11);
  const names = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(variants);
  console.table(await probe(runs, names));
}
