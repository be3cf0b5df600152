// Five builds, each with nothing but an entry and an output: ESM source, CommonJS source,
// a Web Worker (target "webworker"), dramatiq-results/slim (the .wasm fetched by init()), and
// a server bundle (target "node", as frameworks such as Next.js build theirs).
import { fileURLToPath } from "node:url";

const out = (name) => ({ path: fileURLToPath(new URL(`./out/${name}/`, import.meta.url)), filename: "main.js" });

export default [
  { mode: "production", entry: "./app.js", output: out("esm") },
  { mode: "production", entry: "./app.cjs", output: out("cjs") },
  { mode: "production", target: "webworker", entry: "./app.js", output: out("worker") },
  { mode: "production", entry: "./slim.js", output: out("slim") },
  { mode: "production", target: "node", entry: "./node.js", output: { ...out("node"), filename: "main.cjs" } },
];
