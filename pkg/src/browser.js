// The main entry, built to dist/index.js: pages, Web Workers, Node, Deno and every bundler.
// The module's bytes are inlined (base64), so bundlers and plain static serving find them
// without configuration, and instantiated at import without top-level await: the package
// works as soon as it is imported. `dramatiq-results/slim` fetches the .wasm instead.
import { wasmBase64 } from "../dist/wasm_inline.js";
import { base64Bytes } from "./wasm/loading.js";
import { loadNow, setDefaultInput } from "./wasm/start.js";

setDefaultInput(() => base64Bytes(wasmBase64));
loadNow(base64Bytes(wasmBase64));

export * from "./api.js";
export { init, ready } from "./wasm/start.js";
