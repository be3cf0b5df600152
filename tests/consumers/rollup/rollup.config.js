import { nodeResolve } from "@rollup/plugin-node-resolve";

export default [
  // A page: the plugin's defaults (the `default`, `module` and `import` conditions).
  { input: "app.js", output: { file: "out/app.js", format: "es" }, plugins: [nodeResolve({ browser: true })] },
  // Node: the `node` condition, as Rollup's docs say for a Node build.
  { input: "node.js", output: { file: "out/node.mjs", format: "es" }, plugins: [nodeResolve({ exportConditions: ["node"] })] },
];
