// Browser entry (pages and Web Workers; also the default for bundlers): the module's bytes
// are inlined (base64) so every bundler and plain static serving find them without
// configuration, and instantiated at import, without top-level await: the package works as
// soon as it is imported. `dramatiq-results/slim` fetches the .wasm instead (smaller bundle).
import { wasmBase64 } from "../dist/wasm_inline.js";
import { base64Bytes } from "./loading.js";
import { loadNow, setDefaultInput } from "./start.js";

setDefaultInput(() => base64Bytes(wasmBase64));
loadNow(base64Bytes(wasmBase64));

export * from "./api.js";
export { init, ready } from "./start.js";
