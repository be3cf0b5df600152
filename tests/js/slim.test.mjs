// `dramatiq-results/slim` in Node (issue 31): `init()` with no input fetches the `.wasm` next to
// the entry, which Node's fetch cannot do for a file: URL; the error must say to pass the
// bytes, and passing them (what the README shows) must work. Each case in a fresh process,
// since a module loads once per process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

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
