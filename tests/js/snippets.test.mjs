// Every `js`, `ts` and `python` code block of README.md, pkg/README.md and docs/*.md runs here,
// as written, and must exit by itself with the output its comment states (issue 31).
//
// A block is told what it needs by an HTML comment on the line before it (blank lines between
// are allowed):
//
//   <!-- snippet: needs=redis,python-worker expect="3\n42" -->
//
// - `needs=`: `redis` (one redis-server shared by every snippet), `memcached`, `rabbitmq`,
//   `python-worker` (one real Python Dramatiq worker, `dramatiq tasks`, running the block
//   marked `file=tasks.py`; it implies redis), `python-amqp-worker` (the same for the block
//   marked `file=tasks_amqp.py`, on RabbitMQ; it implies rabbitmq and redis). The documents
//   write Redis as `127.0.0.1:6379`, Memcached as `127.0.0.1:11211` and RabbitMQ as
//   `127.0.0.1:5672`: those addresses, and nothing else, are replaced by the test servers'
//   before a block runs.
// - `expect="…"`: its whole stdout (`\n` between lines, trailing blanks ignored). Without it,
//   a block must print nothing. Anything on stderr fails it, as does a non-zero exit or not
//   exiting within `timeout=` ms (default 30 000).
// - `skip="why"`: not runnable (a fragment, a file of a larger project); the reason is required.
// - `file=NAME`: not run, written as NAME beside the snippets (the Python worker's `tasks.py`,
//   a module for `npx dramatiq-results worker`): Python blocks are compiled (`py_compile`) and
//   JavaScript ones type-checked, so a syntax error or a misused API still fails. Every block naming
//   the same file must hold the same text.
// - `background ready="…"`: a long-running process (a worker): started, ready once its stdout
//   shows `ready`, then sent SIGTERM after the next block of the same document has run, and it
//   must then exit 0 with `expect` as its whole output (a clean shutdown).
// - `host=workerd request="/path" kv=RESULTS`: a Cloudflare Worker (`export default { fetch }`):
//   bundled as wrangler does, run in workerd (Miniflare) with `REDIS_URL` (and KV namespaces
//   named in `kv=`), sent `request` (several, separated by spaces, one after another); its
//   output is a line `<status> <body>` per request.
//
// TypeScript blocks go through strict `tsc` first (one run for all; `exactOptionalPropertyTypes`
// too, as a user may set it), then run as JS. The `@example` blocks of pkg/src/index.d.ts (the
// API reference's) go through the same strict tsc, and are not run (they are short and talk to
// servers the reader has). JavaScript blocks are type-checked against the declarations too
// (`checkJs`, strict but for implicit `any`: JavaScript has no annotations), so a block that
// misuses the API fails before it runs. Blocks in
// other languages (`sh`, `toml`, `html`, `json`, `text`, …) are not run: their language says so.
// The package resolves as `dramatiq-results` (the repository root's node_modules links pkg/).
// SNIPPETS_TARBALL=<path to `npm pack pkg`> runs them as a user would instead: in a project
// outside the repository (under the system's temp folder), with the tarball installed by npm
// (its dependencies, and the clients the docs install: redis, memjs, amqplib, from the registry),
// so a file the docs use but the package leaves out fails.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { haveMemcached, haveRabbitmq, haveRedis, killGroup, groupAlive, reapOnExit, startMemcached, startRabbitmq, startRedis } from "./services.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const tarball = process.env.SNIPPETS_TARBALL ? resolvePath(process.env.SNIPPETS_TARBALL) : null;
const work = tarball ? join(tmpdir(), `dramatiq-snippets-tarball-${process.pid}`) : join(root, "target", "snippets");
const venv = join(root, "target", "venv", "bin");
const havePython = existsSync(join(venv, "dramatiq"));

// SNIPPETS=docs/edge.md (a comma-separated list) runs only those documents, while editing them.
// Blocks marked `file=` (tasks.py) are written from every document, also when filtered.
export const ALL_SOURCES = ["README.md", "pkg/README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
const chosen = (s) => !process.env.SNIPPETS || process.env.SNIPPETS.split(",").includes(s);
const RUNNABLE = { js: "js", javascript: "js", mjs: "js", ts: "ts", typescript: "ts", python: "py", py: "py" };
const KEYS = new Set(["needs", "expect", "skip", "file", "background", "ready", "timeout", "host", "request", "kv"]);
const NEEDS = new Set(["redis", "memcached", "rabbitmq", "python-worker", "python-amqp-worker"]);
/** The Python worker each need runs: `dramatiq <module>`, the block marked `file=<module>.py`. */
const PYTHON_WORKERS = { "python-worker": "tasks", "python-amqp-worker": "tasks_amqp" };

/** `key=value key="quoted \n" flag` → { key: value }. Throws on anything it does not know. */
export function parseDirective(text) {
  const out = {};
  const re = /\s*([a-z-]+)(?:=(?:"((?:[^"\\]|\\.)*)"|(\S+)))?/gy;
  let m;
  let end = 0;
  while ((m = re.exec(text)) !== null && m[0] !== "") {
    const [, key, quoted, bare] = m;
    if (!KEYS.has(key)) throw new Error(`unknown snippet key "${key}"`);
    out[key] = quoted !== undefined ? quoted.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c)) : (bare ?? true);
    end = re.lastIndex;
  }
  if (text.slice(end).trim() !== "") throw new Error(`cannot read snippet comment: ${text}`);
  return out;
}

/** Every fenced block of `source`: `{ source, line, lang, code, directive }`. */
export function extractBlocks(source, text) {
  const lines = text.split("\n");
  const blocks = [];
  let lastComment = null; // the directive of an HTML comment seen since the last non-blank line
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]);
    if (!fence) {
      const c = /^\s*<!--\s*snippet:(.*?)-->\s*$/.exec(lines[i]);
      if (c) lastComment = { text: c[1], line: i + 1 };
      else if (lines[i].trim() !== "") lastComment = null;
      continue;
    }
    const [, indent, marks, lang] = fence;
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      if (new RegExp(`^\\s*${marks[0]}{${marks.length},}\\s*$`).test(lines[j])) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    blocks.push({ source, line: i + 1, lang: lang.toLowerCase(), code: body.join("\n") + "\n", comment: lastComment });
    lastComment = null;
    i = j;
  }
  return blocks;
}

/** The fenced `ts` blocks of the `@example`s in a declaration file's doc comments. */
export function extractExamples(source, text) {
  const blocks = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*\s*@example\b/.test(lines[i])) continue;
    let j = i + 1;
    while (j < lines.length && !/^\s*\*\s*```/.test(lines[j])) j++;
    const body = [];
    let k = j + 1;
    for (; k < lines.length && !/^\s*\*\s*```/.test(lines[k]); k++) body.push(lines[k].replace(/^\s*\* ?/, ""));
    blocks.push({ source, line: j + 1, lang: "ts", code: body.join("\n") + "\n", comment: null });
    i = k;
  }
  return blocks;
}

/** The blocks to run, each with its checked directive; throws on a malformed comment. */
function plan() {
  const blocks = [];
  for (const source of ALL_SOURCES) {
    for (const b of extractBlocks(source, readFileSync(join(root, source), "utf8"))) {
      const kind = RUNNABLE[b.lang];
      if (kind === undefined) continue;
      const where = `${b.source}:${b.line}`;
      const d = b.comment ? parseDirective(b.comment.text) : {};
      if (d.skip !== undefined && (d.skip === true || d.skip.trim() === "")) throw new Error(`${where}: skip needs a reason (skip="…")`);
      const needs = new Set(d.needs ? String(d.needs).split(",") : []);
      for (const n of needs) if (!NEEDS.has(n)) throw new Error(`${where}: unknown need "${n}"`);
      if (needs.has("python-worker")) needs.add("redis");
      if (needs.has("python-amqp-worker")) (needs.add("rabbitmq"), needs.add("redis"));
      if (d.host === "workerd") needs.add("redis");
      if (chosen(source) || typeof d.file === "string") blocks.push({ ...b, kind, where, d, needs });
    }
  }
  const dts = "pkg/src/index.d.ts";
  if (chosen(dts)) {
    for (const b of extractExamples(dts, readFileSync(join(root, dts), "utf8"))) {
      blocks.push({ ...b, kind: "ts", where: `${dts}:${b.line}`, d: { compileOnly: true }, needs: new Set() });
    }
  }
  return blocks;
}

const blocks = plan();
const services = { redis: null, memcached: null, rabbitmq: null, pythonWorkers: new Map() };

/** The block's text with the documents' server addresses replaced by the test servers'. */
function localize(code) {
  let out = code;
  if (services.redis) out = out.replaceAll("127.0.0.1:6379", `127.0.0.1:${services.redis.port}`);
  if (services.memcached) out = out.replaceAll("127.0.0.1:11211", services.memcached.address);
  if (services.rabbitmq) out = out.replaceAll("127.0.0.1:5672", `127.0.0.1:${services.rabbitmq.port}`);
  return out;
}

function slug(b) {
  return `${b.source.replace(/[^\w]+/g, "_")}_${b.line}`;
}

/** Runs `cmd args` in `work`; resolves `{ code, signal, stdout, stderr, timedOut }`. */
function run(cmd, args, { timeout = 30_000, env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: work, env: { ...process.env, NODE_NO_WARNINGS: "1", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const forget = reapOnExit(child.pid);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid).catch(() => {});
    }, timeout);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      forget();
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function normalize(text) {
  return text.split("\n").map((l) => l.trimEnd()).join("\n").trim();
}

function checkOutcome(b, r) {
  const shown = `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  assert.ok(!r.timedOut, `${b.where}: did not exit within ${b.d.timeout ?? 30_000} ms (a client left open?)\n${shown}`);
  assert.equal(r.code, 0, `${b.where}: exited with ${r.code ?? r.signal}\n${shown}`);
  assert.equal(normalize(r.stderr), "", `${b.where}: wrote to stderr\n${shown}`);
  assert.equal(normalize(r.stdout), normalize(typeof b.d.expect === "string" ? b.d.expect : ""), `${b.where}: printed something else\n${shown}`);
}

/** Starts `dramatiq <module>` (the documents' tasks.py or tasks_amqp.py) once; resolves when
 * it is ready. */
async function pythonWorker(module) {
  if (services.pythonWorkers.has(module)) return services.pythonWorkers.get(module);
  const child = spawn(join(venv, "dramatiq"), [module, "--processes", "1", "--threads", "4", "--path", work], {
    cwd: work, env: { ...process.env, PYTHONUNBUFFERED: "1" }, stdio: ["ignore", "pipe", "pipe"], detached: true,
  });
  const forget = reapOnExit(child.pid);
  const worker = { pid: child.pid, output: "", forget, exited: new Promise((r) => child.once("exit", r)) };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready Python worker after 60 s:\n${worker.output}`)), 60_000);
    const onData = (d) => {
      worker.output += d;
      if (worker.output.includes("Worker process is ready for action.")) (clearTimeout(timer), resolve());
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    worker.exited.then((code) => (clearTimeout(timer), reject(new Error(`dramatiq exited with ${code}:\n${worker.output}`))));
  });
  services.pythonWorkers.set(module, worker);
  return worker;
}

async function stopPythonWorkers() {
  for (const w of services.pythonWorkers.values()) {
    if (groupAlive(w.pid)) {
      try {
        process.kill(w.pid, "SIGTERM");
      } catch {}
      await Promise.race([w.exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (groupAlive(w.pid)) await killGroup(w.pid);
    }
    w.forget();
  }
  services.pythonWorkers.clear();
}

/** A Cloudflare Worker block: bundled as wrangler does, run in workerd, sent `request`. */
async function runWorkerd(b, file) {
  const { build } = await import("esbuild");
  const out = join(work, `${slug(b)}-out`);
  await build({
    entryPoints: [file], bundle: true, format: "esm", platform: "neutral",
    conditions: ["workerd", "worker", "browser"], mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"], loader: { ".wasm": "copy" }, outdir: out,
    nodePaths: [join(root, "node_modules")], logLevel: "error",
  });
  const { Miniflare } = await import("miniflare");
  const script = join(out, readdirSync(out).find((f) => f.endsWith(".js")));
  const mf = new Miniflare({
    modules: true, scriptPath: script, modulesRoot: out,
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
    bindings: { REDIS_URL: services.redis.url },
    kvNamespaces: b.d.kv ? String(b.d.kv).split(",") : [],
  });
  try {
    let stdout = "";
    for (const request of String(b.d.request ?? "/").split(/\s+/)) {
      const res = await mf.dispatchFetch(`http://localhost${request}`);
      stdout += `${res.status} ${await res.text()}\n`;
    }
    return { code: 0, stdout, stderr: "", timedOut: false };
  } finally {
    await mf.dispose();
  }
}

describe("documentation snippets", () => {
  const anyNeeds = (n) => blocks.some((b) => !b.d.skip && b.needs.has(n));
  const compiled = new Map(); // ts block → its emitted .mjs, or the compile error
  let tscOutput = "";

  before(async () => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, "package.json"), JSON.stringify({ private: true, type: "module" }));
    if (tarball) {
      const r = await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball, "amqplib", "redis", "memjs"], { timeout: 300_000 });
      if (r.code !== 0) throw new Error(`npm install ${tarball} failed:\n${r.stdout}${r.stderr}`);
    }
    if (anyNeeds("redis") && haveRedis) services.redis = await startRedis();
    if (anyNeeds("memcached") && haveMemcached) services.memcached = await startMemcached();
    if (anyNeeds("rabbitmq") && haveRabbitmq) services.rabbitmq = await startRabbitmq();
    // Files first (tasks.py), so any block can use them.
    const files = new Map();
    for (const b of blocks) {
      if (typeof b.d.file !== "string") continue;
      const text = localize(b.code);
      if (files.has(b.d.file) && files.get(b.d.file).text !== text) throw new Error(`${b.where}: ${b.d.file} differs from ${files.get(b.d.file).where}`);
      files.set(b.d.file, { text, where: b.where });
      writeFileSync(join(work, b.d.file), text);
    }
    // Every TypeScript block through one strict tsc.
    const ts = blocks.filter((b) => b.kind === "ts" && !b.d.skip && !b.d.file);
    if (ts.length > 0) {
      for (const b of ts) writeFileSync(join(work, `${slug(b)}.mts`), localize(b.code));
      writeFileSync(join(work, "tsconfig.json"), JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true,
          noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, skipLibCheck: false, types: ["node"], outDir: "out", rootDir: ".",
          typeRoots: [join(root, "node_modules", "@types")],
        },
        include: ["*.mts"],
      }));
      const r = await run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { timeout: 120_000 });
      tscOutput = r.stdout + r.stderr;
      for (const b of ts) compiled.set(b, join(work, "out", `${slug(b)}.mjs`));
    }
    // Every JavaScript block through tsc --checkJs (written where it will run).
    const js = blocks.filter((b) => b.kind === "js" && !b.d.skip);
    if (js.length > 0) {
      for (const b of js) writeFileSync(join(work, `${slug(b)}.mjs`), localize(b.code));
      writeFileSync(join(work, "tsconfig.js.json"), JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noImplicitAny: false,
          exactOptionalPropertyTypes: true,
          allowJs: true, checkJs: true, noEmit: true, skipLibCheck: true, types: ["node"],
          typeRoots: [join(root, "node_modules", "@types")],
        },
        include: ["*.mjs"],
      }));
      const r = await run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.js.json"], { timeout: 120_000 });
      tscOutput += r.stdout + r.stderr;
    }
  });

  after(async () => {
    await stopPythonWorkers();
    await services.redis?.stop();
    await services.memcached?.stop();
    await services.rabbitmq?.stop();
    if (tarball) rmSync(work, { recursive: true, force: true });
  });

  test("every runnable block is run or skipped with a reason", () => {
    assert.ok(blocks.length > 0);
    for (const b of blocks) if (b.d.skip) assert.match(String(b.d.skip), /\S/, b.where);
  });

  let background = []; // [{ b, child, done }] started, stopped after the next block of their document

  async function stopBackground(t) {
    const running = background;
    background = [];
    for (const bg of running) {
      await t.test(`${bg.b.where} (background) stops cleanly on SIGTERM`, async () => {
        try {
          process.kill(bg.pid, "SIGTERM");
        } catch {}
        checkOutcome(bg.b, await bg.done);
      });
    }
  }

  for (const b of blocks) {
    const name = `${b.where} ${b.lang}${b.d.compileOnly ? " @example (strict tsc only)" : b.d.skip ? "" : b.needs.size ? ` (needs ${[...b.needs].join(", ")})` : ""}`;
    const missing = (b.needs.has("redis") && !haveRedis && "no redis-server (scripts/setup --services)") ||
      (b.needs.has("memcached") && !haveMemcached && "no memcached (scripts/setup --services)") ||
      (b.needs.has("rabbitmq") && !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)") ||
      ((b.needs.has("python-worker") || b.needs.has("python-amqp-worker")) && !havePython && "no Python Dramatiq in target/venv (scripts/setup --python)") || false;
    const skip = b.d.skip ? `not runnable: ${b.d.skip}` : missing;
    const timeout = Number(b.d.timeout ?? 30_000);
    test(name, { skip, timeout: timeout + 60_000 }, async (t) => {
      if (typeof b.d.file === "string") {
        if (b.kind === "js") {
          const errors = tscOutput.split("\n").filter((l) => l.startsWith(`${slug(b)}.mjs`));
          assert.deepEqual(errors, [], `${b.where}: tsc --checkJs fails against the declarations:\n${tscOutput}`);
        }
        if (b.kind === "py") {
          const r = await run(join(venv, "python"), ["-m", "py_compile", b.d.file]);
          assert.equal(r.code, 0, `${b.where}: ${b.d.file} does not compile\n${r.stderr}`);
        }
        return;
      }
      for (const [need, module] of Object.entries(PYTHON_WORKERS)) if (b.needs.has(need)) await pythonWorker(module);
      let file;
      if (b.kind === "ts") {
        file = compiled.get(b);
        const errors = tscOutput.split("\n").filter((l) => l.startsWith(`${slug(b)}.mts`));
        assert.deepEqual(errors, [], `${b.where}: strict tsc fails:\n${tscOutput}`);
        if (b.d.compileOnly) return;
      } else if (b.kind === "js") {
        file = join(work, `${slug(b)}.mjs`);
        const errors = tscOutput.split("\n").filter((l) => l.startsWith(`${slug(b)}.mjs`));
        assert.deepEqual(errors, [], `${b.where}: tsc --checkJs fails against the declarations:\n${tscOutput}`);
      } else {
        file = join(work, `${slug(b)}.${b.kind === "py" ? "py" : "mjs"}`);
        writeFileSync(file, localize(b.code));
      }
      const env = { PYTHONPATH: work };
      if (b.d.host === "workerd") {
        checkOutcome(b, await runWorkerd(b, file));
      } else if (b.d.background) {
        const child = spawn(b.kind === "py" ? join(venv, "python") : process.execPath, [file], {
          cwd: work, env: { ...process.env, NODE_NO_WARNINGS: "1", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true,
        });
        const forget = reapOnExit(child.pid);
        const r = { stdout: "", stderr: "", code: null, signal: null, timedOut: false };
        child.stdout.on("data", (d) => (r.stdout += d));
        child.stderr.on("data", (d) => (r.stderr += d));
        const done = new Promise((resolve) => {
          const timer = setTimeout(() => ((r.timedOut = true), killGroup(child.pid).catch(() => {})), timeout + 30_000);
          child.on("close", (code, signal) => (clearTimeout(timer), forget(), resolve(Object.assign(r, { code, signal }))));
        });
        const ready = typeof b.d.ready === "string" ? b.d.ready : "";
        const deadline = Date.now() + timeout;
        while (!(ready ? r.stdout.includes(ready) : r.stdout.length > 0)) {
          if (r.code !== null || Date.now() > deadline) {
            await killGroup(child.pid).catch(() => {});
            assert.fail(`${b.where}: not ready ("${ready}") within ${timeout} ms\n${r.stdout}\n${r.stderr}`);
          }
          await new Promise((res) => setTimeout(res, 20));
        }
        background.push({ b, pid: child.pid, done });
        return;
      } else {
        const [cmd, args] = b.kind === "py" ? [join(venv, "python"), [file]] : [process.execPath, [file]];
        checkOutcome(b, await run(cmd, args, { timeout, env }));
      }
      // A background block of this document stops after the block that follows it.
      if (background.length > 0) await stopBackground(t);
    });
  }

  test("background blocks left at the end stop cleanly", async (t) => {
    await stopBackground(t);
  });
});
