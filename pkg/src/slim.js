// `dramatiq-results/slim`: the package without the inlined module, for a smaller bundle and
// streaming compilation. Nothing is loaded at import: `await init()` first (it fetches the
// .wasm next to this file, which Vite and webpack copy into the build), or
// `await init(url | Response | bytes | WebAssembly.Module)`. Calls before that throw.
import { setDefaultInput } from "./wasm/start.js";

setDefaultInput(() => new URL("../dist/dramatiq_results_bg.wasm", import.meta.url));

export * from "./api.js";
export { init, ready } from "./wasm/start.js";
