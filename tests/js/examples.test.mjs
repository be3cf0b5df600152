// Every example under examples/ runs against the built package and prints exactly the
// output written at its end (the "// Output:" block), so the examples cannot rot.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { promisify } from "node:util";
import { chromiumPath, withChromium } from "./chromium.mjs";
import { startRedis } from "./services.mjs";

const run = promisify(execFile);
const dir = new URL("../../examples/", import.meta.url);

function expectedOutput(source) {
  const at = source.indexOf("// Output:\n");
  if (at < 0) return null;
  return source
    .slice(at + "// Output:\n".length)
    .split("\n")
    .filter((l) => l.startsWith("//"))
    .map((l) => l.replace(/^\/\/ ?/, ""))
    .join("\n");
}

const examples = readdirSync(dir).filter((f) => f.endsWith(".mjs"));

test("there are examples for every seed usage", () => {
  for (const name of [
    "results_middleware", "stub_backend", "message_results", "errors", "pipeline",
    "batch_collection", "ttl_management", "aggregation_by_id", "conditional_execution", "monitoring",
  ]) {
    assert.ok(examples.includes(`${name}.mjs`), name);
  }
});

// A real redis-server for the examples' Redis runs.
let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});
const envFor = (backend) => ({ ...process.env, DRAMATIQ_RESULTS_BACKEND: backend, REDIS_URL: redis?.url ?? "" });

// examples/backend.mjs picks the backend from DRAMATIQ_RESULTS_BACKEND: the same examples,
// unchanged, print the same output on each.
for (const backend of ["stub", "kv", "indexeddb", "redis", "connect-redis"]) {
  for (const file of examples) {
    const source = readFileSync(new URL(file, dir), "utf8");
    const expected = expectedOutput(source);
    if (expected === null) continue; // demo.mjs prints timings and random ids; backend.mjs is the factory
    test(`examples/${file} prints what it says (${backend})`, async () => {
      const { stdout } = await run(process.execPath, [new URL(file, dir).pathname], { timeout: 30000, env: envFor(backend) });
      assert.equal(ordered(backend, stdout.trimEnd()), ordered(backend, expected.trimEnd()));
    });
  }
}

/** KvBackend cannot be told of a write, so it polls (and so do Redis waits beyond the one
 * its blocking connection serves): results found in the same round come out in the order
 * given rather than the order they finished. Compare those lines as a set ("browser": see
 * the Chromium test). */
function ordered(backend, output) {
  if (!["kv", "redis", "connect-redis", "browser"].includes(backend)) return output;
  const lines = output.split("\n");
  const finished = lines.filter((l) => l.startsWith("finished:")).sort();
  return lines.map((l) => (l.startsWith("finished:") ? finished.shift() : l)).join("\n");
}

test("examples/demo.mjs runs on every backend", async () => {
  for (const backend of ["stub", "kv", "indexeddb", "redis", "connect-redis"]) {
    const { stdout } = await run(process.execPath, [new URL("demo.mjs", dir).pathname], { timeout: 30000, env: envFor(backend) });
    assert.match(stdout, /read back/, backend);
  }
});

test("in real Chromium, every example prints the same on IndexedDbBackend", { skip: !chromiumPath && !process.env.CI && "chromium is not installed" }, async () => {
  await withChromium(async ({ browser, origin }) => {
    const context = await browser.newContext();
    let ran = 0;
    for (const file of examples) {
      const expected = expectedOutput(readFileSync(new URL(file, dir), "utf8"));
      if (expected === null) continue;
      const page = await context.newPage();
      await page.goto(`${origin}/tests/js/hosts/example.html?example=${file}`);
      const result = await (await page.waitForFunction(() => window.result, null, { timeout: 30_000 })).jsonValue();
      assert.equal(result.error, undefined, file);
      // The actors finish 60 ms apart; a page on a loaded machine can run its timers that
      // late, so the finishing order is compared as a set here (the Node runs keep it).
      assert.equal(ordered("browser", result.printed.trimEnd()), ordered("browser", expected.trimEnd()), file);
      await page.close();
      ran += 1;
    }
    assert.equal(ran, 10);
    await context.close();
  });
});
