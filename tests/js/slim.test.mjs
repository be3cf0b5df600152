// `dramatiq-results/slim` in Node (issue 31): `init()` with no input fetches the `.wasm` next to
// the entry, which Node's fetch cannot do for a file: URL; the error must say to pass the
// bytes, and passing them (what the README shows) must work. Each case in a fresh process,
// since a module loads once per process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { chromiumPath, launchChromium, serveStatic } from "./chromium.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));

function run(source) {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--input-type=module", "-e", source], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error?.code ?? 0, stdout, stderr }),
    );
  });
}

test("slim: init(bytes of dramatiq-results/wasm) loads the module in Node", async () => {
  const { code, stdout, stderr } = await run(`
    import { readFileSync } from "node:fs";
    import { createRequire } from "node:module";
    import { init, StubBackend, Message } from "dramatiq-results/slim";
    await init(readFileSync(createRequire(import.meta.url).resolve("dramatiq-results/wasm")));
    const backend = new StubBackend();
    const message = new Message({ actorName: "add", args: [1, 2] });
    await backend.storeResult(message, 3);
    console.log(await backend.getResult(message));
  `);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "3\n");
});

test("slim: init() without input in Node rejects saying to pass the bytes; calls then throw", async () => {
  const { code, stdout, stderr } = await run(`
    import { init, StubBackend } from "dramatiq-results/slim";
    try { await init(); } catch (e) { console.log(e.message); }
    try { new StubBackend(); } catch (e) { console.log("then:", e.message); }
  `);
  assert.equal(code, 0, stderr);
  const [first, then] = stdout.trim().split("\n");
  assert.match(first, /could not load file:.*dramatiq_results_bg\.wasm \(fetch cannot read file: URLs\)\. In Node, pass the bytes: init\(await readFile\(/);
  assert.match(then, /^then: .*could not load file:/);
});

test("slim: after a failed init(), the advice works in the same process: init(bytes) loads, calls work; ready keeps the first outcome", async () => {
  const { code, stdout, stderr } = await run(`
    import { readFileSync } from "node:fs";
    import { createRequire } from "node:module";
    import { init, ready, StubBackend, Message } from "dramatiq-results/slim";
    await init().catch(() => console.log("first: rejected"));
    await init(readFileSync(createRequire(import.meta.url).resolve("dramatiq-results/wasm")));
    const backend = new StubBackend();
    const message = new Message({ actorName: "add" });
    await backend.storeResult(message, 3);
    console.log("then:", await backend.getResult(message));
    await ready.catch(() => console.log("ready: rejected"));
  `);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "first: rejected\nthen: 3\nready: rejected\n");
});

// In a browser, bundled by esbuild (which copies no assets): install.md says init() fetches
// the .wasm next to the bundle. It used to fetch `../dist/dramatiq_results_bg.wasm` relative
// to the bundle (the path written for the package's own layout), a 404 beside any bundle not
// itself in a `dist/` folder; and an IIFE bundle (no import.meta.url) failed with only
// "Invalid URL".
test("slim in headless Chromium, bundled by esbuild: init() fetches the .wasm next to an ES module bundle; an IIFE bundle's init() says to pass the URL", { skip: !chromiumPath, timeout: 60_000 }, async () => {
  const { mkdtempSync, writeFileSync, copyFileSync, rmSync, mkdirSync } = await import("node:fs");
  const { join } = await import("node:path");
  mkdirSync(join(root, "target"), { recursive: true });
  const dir = mkdtempSync(join(root, "target", "slim-esbuild-"));
  try {
    writeFileSync(
      join(dir, "app.js"),
      `import { init, StubBackend, Message } from "dramatiq-results/slim";
       init().then(async () => {
         const backend = new StubBackend();
         const message = new Message({ actorName: "add" });
         await backend.storeResult(message, 3);
         return String(await backend.getResult(message));
       }).then((v) => (window.result = v), (e) => (window.result = "error: " + e.message));`,
    );
    const { build } = await import("esbuild");
    const common = { entryPoints: [join(dir, "app.js")], bundle: true, platform: "browser", absWorkingDir: root, logLevel: "silent" };
    mkdirSync(join(dir, "app"));
    await build({ ...common, format: "esm", outfile: join(dir, "app", "esm.js") });
    await build({ ...common, format: "iife", outfile: join(dir, "app", "iife.js") });
    copyFileSync(join(root, "pkg", "dist", "dramatiq_results_bg.wasm"), join(dir, "app", "dramatiq_results_bg.wasm"));
    writeFileSync(join(dir, "esm.html"), '<script type="module" src="app/esm.js"></script>');
    writeFileSync(join(dir, "iife.html"), '<script src="app/iife.js"></script>');
    const { origin, close } = await serveStatic(`${dir}/`);
    try {
      const browser = await launchChromium();
      try {
        const results = {};
        for (const name of ["esm", "iife"]) {
          const page = await browser.newPage();
          await page.goto(`${origin}/${name}.html`);
          await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 });
          results[name] = await page.evaluate(() => window.result);
        }
        assert.equal(results.esm, "3");
        assert.match(results.iife, /^error: dramatiq-results\/slim: init\(\) cannot find the \.wasm from a classic script \(no import\.meta\.url\): pass its URL/);
      } finally {
        await browser.close();
      }
    } finally {
      close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
