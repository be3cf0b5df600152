// Cloudflare Workers (workerd) entry: Workers forbid compiling wasm from bytes at run time,
// so the .wasm is imported as a module (wrangler and Miniflare's CompiledWasm rule do this).
import wasm from "../dist/dramatiq_results_bg.wasm";
import { initSync } from "../dist/dramatiq_results.js";

initSync({ module: wasm });

export * from "./api.js";
