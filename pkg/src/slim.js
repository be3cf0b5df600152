// `dramatiq-results/slim`: the package without the inlined module, for a smaller bundle and
// streaming compilation. Nothing is loaded at import: `await init()` first (it fetches the
// .wasm next to this file, which Vite and webpack copy into the build), or
// `await init(url | Response | bytes | WebAssembly.Module)`. Calls before that throw.
import { setDefaultInput } from "./wasm/start.js";

// Built as dist/slim.js, beside dist/dramatiq_results_bg.wasm: "./", not "../dist/". Both
// name the same file inside the package, but a bundler that copies no assets (esbuild) keeps
// the path as written, and "../dist/" then pointed above the user's bundle (its
// /dist/dramatiq_results_bg.wasm: 404) instead of next to it, where install.md says to put it.
setDefaultInput(() => {
  // A classic-script bundle (esbuild --format=iife) has no import.meta.url: say what to do
  // rather than let `new URL` fail with "Invalid URL".
  if (!import.meta.url) {
    throw new TypeError(
      "dramatiq-results/slim: init() cannot find the .wasm from a classic script (no import.meta.url): pass its URL, e.g. init(\"/assets/dramatiq_results_bg.wasm\")",
    );
  }
  return new URL("./dramatiq_results_bg.wasm", import.meta.url);
});

export * from "./api.js";
export { init, ready } from "./wasm/start.js";
