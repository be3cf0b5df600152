// The consumer matrix: the packed tarball (`npm pack pkg`) installed into the real projects
// under tests/consumers/, each built with its own toolchain and no configuration, then run:
// a store + get round trip on a StubBackend in Node, Bun and Deno, in headless Chromium (pages
// and Web Workers) or in workerd. Each project installs its own devDependencies from its own
// lockfile (`npm ci`), cached under target/consumers/ until the lockfile changes, so the root
// install stays lean and reruns are fast.
//
// Needs pkg/dist (scripts/build) and, for the browser builds, Chromium (scripts/setup --browser).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromiumPath, launchChromium, serveStatic } from "./chromium.mjs";
import { haveRedis, startRedis } from "./services.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const sources = join(root, "tests/consumers");
const work = join(root, "target/consumers");
const haveDist = existsSync(join(root, "pkg/dist/wasm_inline.js"));

let tarball;
let browser;

/** Runs a command; throws with its output when it fails. */
function run(command, args, cwd, { timeout = 300_000, env = {} } = {}) {
  const child = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout,
    env: { ...process.env, NO_UPDATE_NOTIFIER: "1", ...env },
  });
  const output = `${child.stdout ?? ""}${child.stderr ?? ""}`;
  if (child.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} in ${cwd} failed (${child.status ?? child.signal}):\n${output.slice(-3000)}`);
  }
  return output;
}

/** The last line of `output` that parses as JSON. */
function lastJson(output) {
  const lines = output.trim().split("\n").reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line);
    } catch {}
  }
  throw new Error(`no JSON result in:\n${output.slice(-2000)}`);
}

/** The consumers whose `app.js` is the one browser round trip in tests/consumers/browser-app.js
 * (written into each at preparation, so the seven toolchains build the very same code). */
const browserApps = new Set(["esbuild", "rollup", "static", "vite6", "vite7", "vite8", "webpack"]);

/** Copies consumer `name` to target/consumers/<name>, installs its lockfile (once per
 * lockfile) and the packed package. Returns its directory. */
function prepare(name) {
  const dir = join(work, name);
  const source = join(sources, name);
  mkdirSync(dir, { recursive: true });
  for (const stale of ["out", "dist", ".wrangler"]) rmSync(join(dir, stale), { recursive: true, force: true });
  cpSync(source, dir, { recursive: true, filter: (path) => !/[/\\](node_modules|out|dist)([/\\]|$)/.test(path.slice(source.length)) });
  if (browserApps.has(name)) cpSync(join(sources, "browser-app.js"), join(dir, "app.js"));
  const lock = join(source, "package-lock.json");
  const stamp = join(dir, "node_modules/.consumer-lock.json");
  if (existsSync(lock) && (!existsSync(stamp) || readFileSync(stamp, "utf8") !== readFileSync(lock, "utf8"))) {
    run("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], dir);
    writeFileSync(stamp, readFileSync(lock, "utf8"));
  }
  const installed = join(dir, "node_modules/dramatiq-results");
  rmSync(installed, { recursive: true, force: true });
  mkdirSync(installed, { recursive: true });
  run("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"], dir);
  return dir;
}

/** Opens `url` in Chromium and waits for the page's (or its worker's) `result`. */
async function pageResult(url) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url, { timeout: 60_000 }); // generous: CI machines are shared
    try {
      await page.waitForFunction(() => globalThis.result !== undefined, null, { timeout: 60_000 });
    } catch (e) {
      throw new Error(`${url}: no result (${errors.join("; ") || e.message})`);
    }
    const result = await page.evaluate(() => globalThis.result);
    return { ...result, errors };
  } finally {
    await context.close();
  }
}

/** Runs each page of `dir` (served at its root) in Chromium and checks the round trip. */
async function checkPages(t, dir, pages) {
  if (!browser) {
    t.skip("Chromium is not installed (scripts/setup --browser)");
    return;
  }
  const server = await serveStatic(dir);
  try {
    for (const page of pages) {
      const result = await pageResult(`${server.origin}/${page}`);
      assert.equal(result.ok, true, `${page}: ${JSON.stringify(result)}`);
      assert.deepEqual(result.errors, [], page);
    }
  } finally {
    server.close();
  }
}

function checkNode(dir, script) {
  const result = lastJson(run(process.execPath, [script], dir, { timeout: 60_000 }));
  assert.equal(result.ok, true, `${script}: ${JSON.stringify(result)}`);
}

before(async () => {
  if (!haveDist) return;
  mkdirSync(work, { recursive: true });
  // CONSUMERS_TARBALL runs the matrix against another build (an older release, say).
  if (process.env.CONSUMERS_TARBALL) tarball = process.env.CONSUMERS_TARBALL;
  else tarball = join(work, run("npm", ["pack", "./pkg", "--pack-destination", work, "--silent"], root).trim().split("\n").pop());
  if (chromiumPath) browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

// What npm would publish is package.json as written: `npm publish` "auto-corrects" what it
// finds invalid (a bin path starting with "./" is rewritten, with a warning saying it was
// "removed"), so the published manifest would differ from the one tested here.
test("npm publish --dry-run finds nothing to correct in pkg/package.json", { skip: !haveDist && "pkg/dist is not built (scripts/build)" }, () => {
  const child = spawnSync("npm", ["publish", "--dry-run", "--ignore-scripts", "--loglevel=warn"], {
    cwd: join(root, "pkg"),
    encoding: "utf8",
    env: { ...process.env, NO_UPDATE_NOTIFIER: "1" },
  });
  const output = `${child.stdout}${child.stderr}`;
  assert.doesNotMatch(output, /auto-corrected|errors corrected|was invalid|was renamed|removed invalid/, output);
});

// MIT OR Apache-2.0: Apache-2.0 asks that its text go with every copy, so both texts ship.
test("the tarball carries both licence texts", { skip: !haveDist && "pkg/dist is not built (scripts/build)" }, () => {
  const listed = run("tar", ["-tzf", tarball], root).split("\n");
  for (const name of ["package/LICENSE-MIT", "package/LICENSE-APACHE"]) assert.ok(listed.includes(name), `${name} in ${tarball}`);
  const apache = run("tar", ["-xzOf", tarball, "package/LICENSE-APACHE"], root);
  assert.match(apache, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(run("tar", ["-xzOf", tarball, "package/package.json"], root), /"license": "MIT OR Apache-2\.0"/);
});

describe("the packed package in real toolchains, with no configuration", { skip: !haveDist && "pkg/dist is not built (scripts/build)", concurrency: 2 }, () => {
  test("Node 20: ESM import, CommonJS require() and import() from CommonJS", () => {
    const dir = prepare("node");
    checkNode(dir, "esm.mjs");
    checkNode(dir, "cjs.cjs");
    checkNode(dir, "dynamic.cjs");
  });

  test("Bun and Deno: the round trip, and connectRedis over a real redis-server", async (t) => {
    const dir = prepare("runtimes");
    const redis = haveRedis ? await startRedis() : null;
    if (!redis) t.diagnostic("redis-server is not installed: the connectRedis half is skipped");
    try {
      const env = redis ? { REDIS_URL: redis.url } : {};
      for (const [runtime, args] of [["bun", ["roundtrip.mjs"]], ["deno", ["run", "--allow-net", "--allow-env=REDIS_URL", "roundtrip.mjs"]]]) {
        const result = lastJson(run(join(dir, "node_modules/.bin", runtime), args, dir, { timeout: 60_000, env }));
        assert.equal(result.ok, true, `${runtime}: ${JSON.stringify(result)}`);
        assert.equal(result.checks.redis, redis ? true : undefined, `${runtime}: ${JSON.stringify(result)}`);
      }
    } finally {
      await redis?.stop();
    }
  });

  test("plain static serving: a page with an import map, a module Web Worker, /slim with init(a URL)", async (t) => {
    const dir = prepare("static");
    await checkPages(t, dir, ["index.html", "worker.html", "slim.html"]);
  });

  test("esbuild: browser ESM, --target=es2020, minified IIFE, a Web Worker, Node bundles", async (t) => {
    const dir = prepare("esbuild");
    run("npm", ["run", "build", "--silent"], dir);
    checkNode(dir, "out/node.cjs");
    checkNode(dir, "out/node.mjs");
    await checkPages(t, dir, ["esm.html", "es2020.html", "iife.html", "worker.html"]);
  });

  test("webpack 5: ESM source, CommonJS source, target webworker, dramatiq-results/slim, a target node server bundle", async (t) => {
    const dir = prepare("webpack");
    run("npm", ["run", "build", "--silent"], dir);
    checkNode(dir, "out/node/main.cjs");
    await checkPages(t, dir, ["esm.html", "cjs.html", "worker.html", "slim.html"]);
  });

  test("Rollup with @rollup/plugin-node-resolve: a page, and a Node bundle (the node condition) whose connectRedis has TCP", async (t) => {
    const dir = prepare("rollup");
    run("npm", ["run", "build", "--silent"], dir);
    checkNode(dir, "out/node.mjs");
    await checkPages(t, dir, ["index.html"]);
  });

  test("test runners: Vitest, and Jest in its ES module mode, run the round trip", () => {
    const dir = prepare("testrunners");
    run("npm", ["run", "vitest", "--silent"], dir);
    run("npm", ["run", "jest", "--silent"], dir);
  });

  for (const name of ["vite8", "vite7", "vite6"]) {
    test(`${name.replace("vite", "Vite ")}: production build and dev server`, async (t) => {
      const dir = prepare(name);
      run("npm", ["run", "build", "--silent"], dir);
      await checkPages(t, join(dir, "dist"), ["index.html"]);
      if (!browser) return;
      // The dev server (pre-bundles the package with its dependency optimizer).
      const dev = spawn(process.execPath, ["node_modules/vite/bin/vite.js", "--host", "127.0.0.1", "--port", "0", "--clearScreen", "false"], {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const origin = await new Promise((resolve, reject) => {
          let output = "";
          const timer = setTimeout(() => reject(new Error(`vite dev did not start:\n${output}`)), 120_000);
          const onData = (data) => {
            output += data;
            const found = /http:\/\/127\.0\.0\.1:\d+/.exec(output.replace(/\x1b\[[0-9;]*m/g, ""));
            if (found) {
              clearTimeout(timer);
              resolve(found[0]);
            }
          };
          dev.stdout.on("data", onData);
          dev.stderr.on("data", onData);
          dev.on("exit", (code) => reject(new Error(`vite dev exited (${code}):\n${output}`)));
        });
        const result = await pageResult(`${origin}/`);
        assert.equal(result.ok, true, `dev: ${JSON.stringify(result)}`);
      } finally {
        dev.kill();
      }
    });
  }

  test("wrangler 4 bundles a Worker, and it runs in workerd", async () => {
    const dir = prepare("wrangler");
    run("npm", ["run", "build", "--silent"], dir, { env: { WRANGLER_SEND_METRICS: "false", CI: "true" } });
    const { Miniflare } = await import("miniflare");
    const mf = new Miniflare({
      modules: true,
      scriptPath: join(dir, "out/index.js"),
      compatibilityDate: "2025-09-01",
      modulesRules: [
        { type: "ESModule", include: ["**/*.js"] },
        { type: "CompiledWasm", include: ["**/*.wasm"] },
      ],
    });
    try {
      const response = await mf.dispatchFetch("http://consumer/");
      const result = await response.json();
      assert.equal(result.ok, true, JSON.stringify(result));
    } finally {
      await mf.dispose();
    }
  });

  test("strict tsc: bundler (no DOM or Node types) and nodenext (real clients), Workers types, a CommonJS project (commonjs, nodenext)", () => {
    const dir = prepare("typescript");
    run("npm", ["run", "build", "--silent"], dir);
    checkNode(dir, "out/roundtrip.js");
    checkNode(dir, "cjs/out/main.js");
  });
});
