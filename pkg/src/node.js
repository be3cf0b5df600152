// Node entry (also Deno and Node bundles): the module's bytes are inlined (base64), so a
// bundle of the package needs no file next to it, and instantiated synchronously at import:
// no top-level await, so `require("dramatiq-results")` works too (Node ≥ 20.19). The V8 11
// (Node 20) deoptimizer bug is kept away from the package's own calls by guardCalls
// (loading.js), without any process-wide V8 flag.
import { wasmBase64 } from "../dist/wasm_inline.js";
import { base64Bytes } from "./loading.js";
import { loadNow, setDefaultInput } from "./start.js";

setDefaultInput(() => base64Bytes(wasmBase64));
loadNow(base64Bytes(wasmBase64));

export * from "./api.js";
export { init, ready } from "./start.js";
