// Cloudflare Workers (workerd) entry: Workers forbid compiling wasm from bytes at run time,
// so the .wasm is imported as a module (wrangler and Miniflare's CompiledWasm rule do this)
// and instantiated at import.
import wasm from "../dist/dramatiq_results_bg.wasm";
import { loadNow, setDefaultInput } from "./start.js";
import { openSocket } from "./socket_workerd.js";
import { setOpenSocket } from "./redis_connect.js";

setDefaultInput(() => wasm);
loadNow(wasm);

// connectRedis opens its sockets with cloudflare:sockets.
setOpenSocket(openSocket);

export * from "./api.js";
export { init, ready } from "./start.js";
