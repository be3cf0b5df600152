// What keeps a fresh process's start-up short (issue 18 item 6; the times themselves are in
// bench/startup.mjs, not here): the shapes that, when lost, cost milliseconds on every start.
// - no export of the .wasm returns several values (V8 11 compiles a TurboFan wrapper per such
//   signature when the module is compiled: scripts/without-multivalue.mjs);
// - importing the package in Node loads neither node:net nor node:tls (connectRedis loads
//   them on its first connection), and parses no inlined base64 (dist/node.js reads the .wasm);
// - bundlers (the "module" condition) still get the entry with the module inlined.
//
// Needs pkg/dist (scripts/build).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { wasmReader } from "../../scripts/wasm-reader.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dist = `${root}pkg/dist/`;
const skip = !existsSync(`${dist}node.js`) && "pkg/dist is not built (scripts/build)";

/** Each exported function's result count, read from the module's type, import, function
 * and export sections. */
function exportResultCounts(bytes) {
  const r = wasmReader(bytes);
  const skip = () => {
    const length = r.uleb(); // read before moving on: `r.at += r.uleb()` would add to the old `r.at`
    r.at += length;
  };
  const skipLimits = () => {
    const flags = r.uleb();
    r.uleb();
    if (flags & 1) r.uleb();
  };
  const results = [];
  const functionTypes = [];
  const counts = new Map();
  for (const { id } of r.sections()) {
    if (id === 1) {
      for (let n = r.uleb(); n > 0; n--) {
        assert.equal(bytes[r.at++], 0x60, "a function type");
        skip(); // parameters: one byte each for number and reference types
        const count = r.uleb();
        r.at += count;
        results.push(count);
      }
    } else if (id === 2) {
      for (let n = r.uleb(); n > 0; n--) {
        skip(); // module name
        skip(); // field name
        const kind = bytes[r.at++];
        if (kind === 0) functionTypes.push(r.uleb());
        else if (kind === 1) {
          r.at++;
          skipLimits();
        } else if (kind === 2) skipLimits();
        else if (kind === 3) r.at += 2;
        else r.uleb();
      }
    } else if (id === 3) {
      for (let n = r.uleb(); n > 0; n--) functionTypes.push(r.uleb());
    } else if (id === 7) {
      for (let n = r.uleb(); n > 0; n--) {
        const name = r.name();
        const kind = bytes[r.at++];
        const index = r.uleb();
        if (kind === 0) counts.set(name, results[functionTypes[index]]);
      }
    }
  }
  return counts;
}

test("no export of the .wasm returns more than one value", { skip }, () => {
  const counts = exportResultCounts(readFileSync(`${dist}dramatiq_results_bg.wasm`));
  assert.ok(counts.size > 50, `found ${counts.size} exported functions`);
  const multi = [...counts].filter(([, n]) => n > 1).map(([name]) => name);
  assert.deepEqual(multi, [], "exports returning several values");
});

test("importing the package in Node loads no node:net / node:tls and no inlined module", { skip }, () => {
  const script = `
const before = new Set(process.moduleLoadList);
const { StubBackend, Message } = await import("dramatiq-results");
const loaded = process.moduleLoadList.filter((m) => !before.has(m));
const b = new StubBackend();
const m = new Message({ actorName: "add" });
await b.storeResult(m, 3);
console.log(JSON.stringify({ loaded, value: await b.getResult(m), entry: import.meta.resolve("dramatiq-results") }));`;
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" }));
  assert.equal(out.value, 3);
  assert.match(out.entry, /\/dist\/node\.js$/);
  const sockets = out.loaded.filter((m) => /^NativeModule (net|tls|_tls_wrap)$/.test(m));
  assert.deepEqual(sockets, [], "Node modules loaded at import");
  const entry = readFileSync(`${dist}node.js`, "utf8");
  assert.doesNotMatch(entry, /wasmBase64 = "/, "dist/node.js carries the inlined module");
});

test("bundlers (the module condition) get the Node entry with the module inlined", { skip }, () => {
  const exports = JSON.parse(readFileSync(`${root}pkg/package.json`, "utf8")).exports["."];
  assert.equal(exports.node.module, "./dist/node_inline.js");
  assert.equal(exports.node.default, "./dist/node.js");
  const entry = readFileSync(`${dist}node_inline.js`, "utf8");
  assert.match(entry, /from "\.\.\/dist\/wasm_inline\.js"/);
  assert.doesNotMatch(entry, /readFileSync/);
});
