// Node entry, built to dist/node.js (the "node" condition; Node itself never sets "module",
// so this is what `import` and `require()` get on Node ≥ 20.19): the .wasm is read from the
// file next to this one, so a new process parses no base64 (bench/notes.md, start-up), and
// instantiated synchronously at import, so the package works as soon as it is imported and
// `require()` works (no top-level await). Raw TCP for connectRedis through node:net /
// node:tls, loaded on the first connection. The V8 11 (Node 20) deoptimizer bug is kept
// away from the package's own calls by guardCalls (loading.js), without any process-wide V8
// flag.
//
// Bundlers set the "module" condition and get dist/node_inline.js instead (the module
// inlined: a bundle needs no file next to it). Should this file be run without the .wasm
// next to it all the same (a bundler configured without "module", a copied file), it loads
// the inlined copy asynchronously: calls work once `ready` resolves.
import { readFileSync } from "node:fs";
import { base64Bytes } from "./wasm/loading.js";
import { init, loadNow, setDefaultInput } from "./wasm/start.js";
import { openSocket } from "./net/socket_node.js";
import { setOpenSocket } from "./net/redis_connect.js";

setOpenSocket(openSocket);

// The same relative path from pkg/src and from pkg/dist.
const file = new URL("../dist/dramatiq_results_bg.wasm", import.meta.url);
let bytes;
try {
  bytes = readFileSync(file);
} catch {
  // Not next to this file: the inlined copy (scripts/build keeps it out of this bundle).
}
if (bytes !== undefined) {
  setDefaultInput(() => readFileSync(file));
  loadNow(bytes);
} else {
  const inlined = () => import("../dist/wasm_inline.js").then(({ wasmBase64 }) => base64Bytes(wasmBase64));
  setDefaultInput(inlined);
  init().catch(() => {});
}

export * from "./api.js";
export { init, ready } from "./wasm/start.js";
