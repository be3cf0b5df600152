// Node entry: read the .wasm next to us and instantiate it synchronously, so importing the
// package needs no top-level await.
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { initSync } from "../dist/dramatiq_results.js";
import { openSocket } from "./socket_node.js";
import { setOpenSocket } from "./redis_connect.js";

// V8 11 (Node 20) can abort the whole process ("Fatal error … unreachable code" in
// Deoptimizer::DoComputeBuiltinContinuation) when it lazily deoptimizes a function into
// which TurboFan inlined a call into WebAssembly: a busy loop of stores and reads through
// this package reproduces it (tests/js/node-v8.test.mjs). Not inlining JS→wasm calls avoids
// it; the flag is read whenever a function is optimized, and nothing calls into this module
// before now. Later V8s (Node 22 and up) are left alone.
if (/^11\./.test(process.versions.v8) && !process.env.DRAMATIQ_RESULTS_KEEP_V8_FLAGS) {
  setFlagsFromString("--no-turbo-inline-js-wasm-calls");
}

initSync({ module: readFileSync(new URL("../dist/dramatiq_results_bg.wasm", import.meta.url)) });

// connectRedis opens its sockets with node:net / node:tls.
setOpenSocket(openSocket);

export * from "./api.js";
