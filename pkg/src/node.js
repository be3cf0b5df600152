// Node entry (also Deno and Node bundles): the module's bytes are inlined (base64), so a
// bundle of the package needs no file next to it, and instantiated synchronously at import:
// no top-level await, so `require("dramatiq-results")` works too (Node ≥ 20.19).
//
// Node 20 (V8 11) can abort the process when TurboFan deoptimizes a function into which it
// inlined a call into WebAssembly (README, "Node 20"). The package changes no V8 setting of
// its own accord: run `node --no-turbo-inline-js-wasm-calls` where that bites, or set
// DRAMATIQ_RESULTS_V8_WORKAROUND=1 to have this entry set the flag at import.
import { setFlagsFromString } from "node:v8";
import { wasmBase64 } from "../dist/wasm_inline.js";
import { base64Bytes } from "./loading.js";
import { loadNow, setDefaultInput } from "./start.js";

if (/^11\./.test(process.versions.v8) && process.env.DRAMATIQ_RESULTS_V8_WORKAROUND === "1") {
  setFlagsFromString("--no-turbo-inline-js-wasm-calls");
}

setDefaultInput(() => base64Bytes(wasmBase64));
loadNow(base64Bytes(wasmBase64));

export * from "./api.js";
export { init, ready } from "./start.js";
