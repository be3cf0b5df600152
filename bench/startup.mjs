// Start-up: what a new process or a new Worker pays before its first result, against a
// baseline measured in the same run. Used by bench/run.mjs; also runs alone:
//
//   node bench/startup.mjs [runs]
//
// Node: a fresh process per run, alternating ours and the baseline: `await import` of the
// package + a first store and get on a StubBackend, against the same with a plain-JS store
// (node:crypto MD5 + JSON + a Map). Wall time and the process's CPU time (user + system: on a
// busy machine, CPU time is the steadier figure) from before the import to the first value.
//
// workerd (Miniflare): a fresh workerd per run: time to ready (workerd started, the Worker's
// modules compiled and evaluated: the package imported and instantiated, and the workerd
// entry's one warm-up store/get run) and the first request (a new StubBackend and Message,
// a store and a get) against a hello-world Worker.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

const clock = `
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const wall0 = performance.now(), cpu0 = cpu();`;
const report = `
console.log(JSON.stringify({ wall: performance.now() - wall0, cpu: cpu() - cpu0 }));`;

const nodeScripts = {
  ours: `${clock}
const { StubBackend, Message } = await import("dramatiq-results");
const backend = new StubBackend();
const message = new Message({ actorName: "add", messageId: "start-up" });
await backend.storeResult(message, { sum: 3 });
await backend.getResult(message);${report}`,
  plainJs: `${clock}
const { createHash } = await import("node:crypto");
const map = new Map();
const key = (m) => createHash("md5").update(\`dramatiq-results:\${m.queueName}:\${m.actorName}:\${m.messageId}\`).digest("hex");
const message = { queueName: "default", actorName: "add", messageId: "start-up" };
map.set(key(message), [JSON.stringify({ sum: 3 }), Date.now() + 600000]);
JSON.parse(map.get(key(message))[0]);${report}`,
};

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function nodeRun(script) {
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout.trim().split("\n").pop());
}

/** Node: medians over `runs` fresh processes of each, interleaved. */
export function nodeStartup(runs = 15) {
  const samples = { ours: [], plainJs: [] };
  for (let i = 0; i < runs; i++) for (const name of Object.keys(nodeScripts)) samples[name].push(nodeRun(nodeScripts[name]));
  const summary = (xs) => ({ wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)), runs: xs.length });
  return { ours: summary(samples.ours), plainJs: summary(samples.plainJs) };
}

const workers = {
  ours: `import { StubBackend, Message } from "./dist/workerd.js";
export default {
  async fetch() {
    const backend = new StubBackend();
    const message = new Message({ actorName: "add", messageId: "start-up" });
    await backend.storeResult(message, { sum: 3 });
    return Response.json(await backend.getResult(message));
  },
};`,
  hello: `export default { async fetch() { return Response.json({ sum: 3 }); } };`,
};

/** workerd: medians over `runs` fresh Miniflare instances of each, interleaved. */
export async function workerdStartup(runs = 7) {
  const { Miniflare } = await import("miniflare");
  const pkg = `${root}pkg/`;
  const samples = { ours: [], hello: [] };
  for (let i = 0; i < runs; i++) {
    for (const name of Object.keys(workers)) {
      const modules = [{ type: "ESModule", path: `${pkg}worker.js`, contents: workers[name] }];
      if (name === "ours") {
        modules.push({ type: "ESModule", path: `${pkg}dist/workerd.js`, contents: readFileSync(`${pkg}dist/workerd.js`, "utf8") });
        modules.push({ type: "CompiledWasm", path: `${pkg}dist/dramatiq_results_bg.wasm`, contents: readFileSync(`${pkg}dist/dramatiq_results_bg.wasm`) });
      }
      const start = performance.now();
      const mf = new Miniflare({ modules, compatibilityDate: "2025-09-01" });
      try {
        await mf.ready;
        const ready = performance.now();
        const response = await mf.dispatchFetch("http://bench/");
        const body = await response.json();
        if (body.sum !== 3) throw new Error(`unexpected answer ${JSON.stringify(body)}`);
        samples[name].push({ ready: ready - start, first: performance.now() - ready });
      } finally {
        await mf.dispose();
      }
    }
  }
  const summary = (xs) => ({ ready: median(xs.map((x) => x.ready)), first: median(xs.map((x) => x.first)), runs: xs.length });
  return { ours: summary(samples.ours), hello: summary(samples.hello) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 15);
  console.log(JSON.stringify({ node: nodeStartup(runs), workerd: await workerdStartup(Math.ceil(runs / 2)) }, null, 2));
}
