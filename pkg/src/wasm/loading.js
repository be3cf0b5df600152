// Where the package's one WebAssembly instance stands, shared by every entry. This module
// must not import the wasm glue: the glue imports it. scripts/build patches the glue to start
// with `wasm = NOT_READY`, so a call made before the module is loaded (or after loading it
// failed) throws the error below instead of "Cannot read properties of undefined".

import { describeValue } from "../internal/describe.js";

let failure;

/** Records why loading failed, for the error every later call throws. */
export function loadFailed(error) {
  failure = error;
}

/** Stands in for the wasm exports until they exist: any use throws a clear error. */
export const NOT_READY = new Proxy(
  {},
  {
    get() {
      if (failure !== undefined) {
        throw new Error(`dramatiq-results: loading the WebAssembly module failed: ${failure?.message ?? failure}`, {
          cause: failure,
        });
      }
      throw new Error(
        "dramatiq-results: the WebAssembly module is not loaded yet: `await init()` (or `await ready`) before the first call",
      );
    },
  },
);

/**
 * The error for a string parameter of an export given something else (the glue, patched by
 * scripts/build, throws it before allocating anything: wasm-bindgen would read the value's
 * `length` and hand the allocator NaN sizes). Says what was given without running any of
 * its code (a Proxy, a getter).
 */
export function notAString(value) {
  return new TypeError(`dramatiq-results: expected a string, got ${describeValue(value)}`);
}

/** The bytes of base64 `text`: the host's own decoder where it has one. */
export function base64Bytes(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const NodeBuffer = globalThis.Buffer;
  if (typeof NodeBuffer === "function") return NodeBuffer.from(text, "base64");
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The wasm exports as the glue should call them. On V8 11 (Node 20) and older, TurboFan
 * inlines JS→wasm calls into optimized JS, and lazily deoptimizing such a function can abort
 * the process ("Fatal error … unreachable code" in Deoptimizer::DoComputeBuiltinContinuation;
 * tests/js/hosts/v8_deopt.mjs reproduces it). TurboFan inlines only calls to a known wasm
 * function, so there each exported function is called through a transparent Proxy: the
 * package's own calls are never inlined, and nothing changes for the rest of the process (no
 * V8 flag). Measured on Node 20: store+get throughput no lower than with
 * `--no-turbo-inline-js-wasm-calls` (≈38 000/s vs ≈22 000/s here, a loaded machine). A
 * `try` block around the call does not stop the inlining (tried: still aborts). Later V8s
 * get the exports as they are.
 */
export function guardCalls(exports) {
  const v8 = globalThis.process?.versions?.v8;
  const major = typeof v8 === "string" ? Number(v8.split(".")[0]) : Infinity;
  if (!(major <= 11)) return exports;
  const guarded = {};
  for (const [name, value] of Object.entries(exports)) {
    guarded[name] = typeof value === "function" ? new Proxy(value, {}) : value;
  }
  return guarded;
}
