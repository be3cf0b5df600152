// The one package in each host: installed from a tarball into a fresh Node project, inside
// real workerd (Miniflare), and in real headless Chromium (ESM, served over HTTP).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromiumPath, withChromium } from "./chromium.mjs";
import { startWorkerd } from "./workerd.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));

test("npm pack + install: a Node script imports { StubBackend, Message } from the package", () => {
  const dir = mkdtempSync(join(tmpdir(), "dramatiq-results-install-"));
  try {
    const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
      cwd: join(root, "pkg"),
      encoding: "utf8",
    });
    const tarball = join(dir, out.trim().split("\n").at(-1));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], { cwd: dir, stdio: "pipe" });
    writeFileSync(
      join(dir, "use.mjs"),
      `import { StubBackend, Message, ResultMissing } from "dramatiq-results";
const b = new StubBackend();
const m = new Message({ actorName: "add", args: [1, 2] });
await b.storeResult(m, 3);
const missing = await b.getResult(new Message({ actorName: "x" })).catch((e) => e instanceof ResultMissing);
console.log(JSON.stringify({ value: await b.getResult(m), missing }));`,
    );
    const printed = execFileSync("node", ["use.mjs"], { cwd: dir, encoding: "utf8" });
    assert.deepEqual(JSON.parse(printed), { value: 3, missing: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("inside real workerd (Miniflare): import, store, read, wait, time out, fail", async () => {
  const mf = await startWorkerd("tests/js/hosts/worker.js");
  try {
    const res = await mf.dispatchFetch("http://localhost/");
    const body = await res.json();
    assert.deepEqual(body.failures, []);
  } finally {
    await mf.dispose();
  }
});

test("in real headless Chromium: the browser entry works as an ES module", { skip: !chromiumPath && !process.env.CI && "chromium is not installed (scripts/setup --browser)" }, async () => {
  await withChromium(async ({ browser, origin }) => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${origin}/tests/js/hosts/page.html`);
    const result = await page.waitForFunction(() => window.smokeResult, null, { timeout: 20_000 });
    assert.deepEqual((await result.jsonValue()).failures, []);
    assert.deepEqual(errors, []);
  });
});
