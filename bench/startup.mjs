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
// Floor rows (Node): where a package's start-up cannot go below, measured the same way in
// the same run. An empty package (the module loader's cost for one file in node_modules,
// which the inline plain-JS baseline does not pay), the plain-JS store as a package, and the
// smallest Rust + wasm-bindgen store (bench/startup_floor: MD5 key + map of JSON text, ≈ 22 KB
// of wasm, built like the package: release, no multi-value, scripts/optimize-wasm, its .wasm read
// from the file next to it).
//
// workerd (Miniflare): a fresh workerd per run: time to ready (workerd started, the Worker's
// modules compiled and evaluated: the package imported and instantiated, and the workerd
// entry's one warm-up store/get run) and the first request (a new StubBackend and Message,
// a store and a get) against a hello-world Worker. Both again with V8's
// --no-flush-liftoff-code ("kept"): workerd flushes every Liftoff-compiled wasm function of
// the process (V8's FlushLiftoffCode is engine-wide) when it loads another Worker, and
// Miniflare loads its own Workers after ours, so the warm-up's code is gone by the first
// request, which compiles it again (bench/notes.md, "workerd's first request").
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { wasmReader } from "../scripts/wasm-reader.mjs";

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

// The floor packages' use mirrors `ours` and `plainJs` above: import, a store, a get.
const floorScripts = {
  emptyPackage: `${clock}
await import("empty-package");${report}`,
  plainJsPackage: `${clock}
const { PlainJsStore } = await import("plain-js-store");
const store = new PlainJsStore();
const message = { queueName: "default", actorName: "add", messageId: "start-up" };
await store.storeResult(message, { sum: 3 });
await store.getResult(message);${report}`,
  wasmBindgenFloor: `${clock}
const { FloorStore } = await import("startup-floor");
const store = new FloorStore();
const key = "dramatiq-results:default:add:start-up";
store.store(key, JSON.stringify({ sum: 3 }), Date.now() + 600000);
JSON.parse(store.get(key, Date.now()));${report}`,
};

const floorPackages = {
  "empty-package": { "index.js": "export const empty = true;\n" },
  "plain-js-store": { "index.js": readFileSync(`${root}bench/plain_js_store.mjs`, "utf8") },
  "startup-floor": {
    "index.js": `import { readFileSync } from "node:fs";
import { initSync } from "./startup_floor.js";
initSync({ module: readFileSync(new URL("./startup_floor_bg.wasm", import.meta.url)) });
export * from "./startup_floor.js";
`,
  },
};

function step(command, args) {
  const run = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 600_000 });
  if (run.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${run.error?.message ?? run.stderr}`);
}

/** Builds the floor packages into target/startup-floor/node_modules; returns that folder's parent. */
function buildFloor() {
  const dir = `${root}target/startup-floor/`;
  const crateTarget = `${root}target/startup-floor-build`;
  step("cargo", ["build", "--quiet", "--release", "--target", "wasm32-unknown-unknown", "--manifest-path", "bench/startup_floor/Cargo.toml", "--target-dir", crateTarget]);
  const built = `${crateTarget}/wasm32-unknown-unknown/release/startup_floor.wasm`;
  const input = `${crateTarget}/startup_floor.bindgen-input.wasm`;
  step(process.execPath, ["scripts/without-multivalue.mjs", built, input]);
  const out = `${dir}node_modules/startup-floor`;
  step("wasm-bindgen", ["--target", "web", "--out-dir", out, "--out-name", "startup_floor", input]);
  const wasm = `${out}/startup_floor_bg.wasm`;
  step("scripts/optimize-wasm", [wasm]);
  for (const [name, files] of Object.entries(floorPackages)) {
    mkdirSync(`${dir}node_modules/${name}`, { recursive: true });
    writeFileSync(`${dir}node_modules/${name}/package.json`, JSON.stringify({ name, type: "module", exports: "./index.js" }));
    for (const [file, text] of Object.entries(files)) writeFileSync(`${dir}node_modules/${name}/${file}`, text);
  }
  return { dir, wasmBytes: readFileSync(wasm).length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function nodeRun(script, cwd = root) {
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd, encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout.trim().split("\n").pop());
}

/**
 * Node: medians over `runs` fresh processes of each, interleaved: ours, the plain-JS baseline
 * and, when the floor packages build, the floor rows (`floor`, or `floorError` saying why not).
 */
export function nodeStartup(runs = 15) {
  let floor;
  let floorError;
  try {
    floor = buildFloor();
  } catch (error) {
    floorError = error.message.split("\n")[0];
  }
  const scripts = { ...nodeScripts, ...(floor ? floorScripts : {}) };
  const samples = Object.fromEntries(Object.keys(scripts).map((name) => [name, []]));
  for (let i = 0; i < runs; i++) {
    for (const name of Object.keys(scripts)) samples[name].push(nodeRun(scripts[name], name in floorScripts ? floor.dir : root));
  }
  const summary = (xs) => ({ wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)), runs: xs.length });
  const out = { ours: summary(samples.ours), plainJs: summary(samples.plainJs) };
  if (floor) out.floor = { wasmBytes: floor.wasmBytes, ...Object.fromEntries(Object.keys(floorScripts).map((name) => [name, summary(samples[name])])) };
  else out.floorError = floorError;
  return out;
}

/**
 * The wasm a first store + get compiles: V8 compiles each function on its first call
 * (Liftoff), so the functions `--trace-wasm-compilation-times` names during `ours` are the
 * code a results reader pays for. Returns their count, their bodies' bytes and those bodies
 * gzipped together, with the whole module's bytes and gzip for scale.
 */
export function firstCallCode() {
  const run = spawnSync(process.execPath, ["--trace-wasm-compilation-times", "--input-type=module", "-e", nodeScripts.ours], {
    cwd: root, encoding: "utf8", timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(run.stderr);
  const compiled = new Set([...run.stdout.matchAll(/Compiled function [^#]*#(\d+) using/g)].map((m) => Number(m[1])));
  const bytes = readFileSync(`${root}pkg/dist/dramatiq_results_bg.wasm`);
  const r = wasmReader(bytes);
  let importedFuncs = 0;
  const bodies = [];
  for (const section of r.sections()) {
    if (section.id === 2) {
      // Imports: count the functions, which come first in the function index space.
      for (let n = r.uleb(); n > 0; n--) {
        r.name();
        r.name();
        const kind = bytes[r.at++];
        if (kind === 0) (r.uleb(), importedFuncs++);
        else if (kind === 1) (r.at++, bytes[r.at++] & 1 ? (r.uleb(), r.uleb()) : r.uleb());
        else if (kind === 2) (bytes[r.at++] & 1 ? (r.uleb(), r.uleb()) : r.uleb());
        else if (kind === 3) r.at += 2;
        else if (kind === 4) (r.at++, r.uleb());
      }
    } else if (section.id === 10) {
      for (let n = r.uleb(), i = 0; i < n; i++) {
        const size = r.uleb();
        bodies.push(bytes.subarray(r.at, r.at + size));
        r.at += size;
      }
    }
  }
  const picked = [...compiled].map((index) => bodies[index - importedFuncs]).filter(Boolean);
  const code = Buffer.concat(picked);
  return {
    functions: picked.length,
    bytes: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    moduleFunctions: bodies.length,
    moduleBytes: bytes.length,
    moduleGzip: gzipSync(bytes, { level: 9 }).length,
  };
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
  const contenders = { ours: "ours", hello: "hello", oursKept: "ours", helloKept: "hello" };
  const samples = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
  const flags = process.env.MINIFLARE_WORKERD_V8_FLAGS;
  for (let i = 0; i < runs; i++) {
    for (const [name, worker] of Object.entries(contenders)) {
      // Miniflare reads its workerd's V8 flags from the environment when it starts one.
      if (name.endsWith("Kept")) process.env.MINIFLARE_WORKERD_V8_FLAGS = "--no-flush-liftoff-code";
      else if (flags === undefined) delete process.env.MINIFLARE_WORKERD_V8_FLAGS;
      else process.env.MINIFLARE_WORKERD_V8_FLAGS = flags;
      const modules = [{ type: "ESModule", path: `${pkg}worker.js`, contents: workers[worker] }];
      if (worker === "ours") {
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
  if (flags === undefined) delete process.env.MINIFLARE_WORKERD_V8_FLAGS;
  else process.env.MINIFLARE_WORKERD_V8_FLAGS = flags;
  return Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, summary(xs)]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 15);
  console.log(JSON.stringify({ node: nodeStartup(runs), workerd: await workerdStartup(Math.ceil(runs / 2)), firstCall: firstCallCode() }, null, 2));
}
