// Cloudflare Workers (workerd) entry: Workers forbid compiling wasm from bytes at run time,
// so the .wasm is imported as a module (wrangler and Miniflare's CompiledWasm rule do this).
import wasm from "../dist/dramatiq_results_bg.wasm";
import { initSync } from "../dist/dramatiq_results.js";
import { openSocket } from "./socket_workerd.js";
import { setOpenSocket } from "./redis_connect.js";

initSync({ module: wasm });

// connectRedis opens its sockets with cloudflare:sockets.
setOpenSocket(openSocket);

export * from "./api.js";
