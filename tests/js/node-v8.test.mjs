// A V8 11 (Node 20) bug: lazily deoptimizing a function into which TurboFan inlined a call
// into WebAssembly aborts the process. The glue calls the wasm exports through transparent
// Proxies on V8 ≤ 11 (guardCalls in pkg/src/wasm/loading.js), which TurboFan does not inline; no V8
// flag is set. This runs the workload that crashed in a child process (without guardCalls it
// aborts with "Fatal error … unreachable code", exit 133, every time on this machine).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("./hosts/v8_deopt.mjs", import.meta.url));

test("a benchmark-like loop of stores and reads does not abort Node, with V8's own flags", () => {
  const child = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 120_000 });
  assert.equal(child.signal, null, `killed by ${child.signal}: ${child.stderr.slice(0, 400)}`);
  assert.equal(child.status, 0, child.stderr.slice(0, 400));
  assert.match(child.stdout, /survived/);
});
