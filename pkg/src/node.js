// Node entry: read the .wasm next to us and instantiate it synchronously, so importing the
// package needs no top-level await.
import { readFileSync } from "node:fs";
import { initSync } from "../dist/dramatiq_results.js";

initSync({ module: readFileSync(new URL("../dist/dramatiq_results_bg.wasm", import.meta.url)) });

export * from "./api.js";
