// Browser (and bundler) entry: fetch and compile the .wasm next to us.
import init from "../dist/dramatiq_results.js";

await init({ module_or_path: new URL("../dist/dramatiq_results_bg.wasm", import.meta.url) });

export * from "./api.js";
