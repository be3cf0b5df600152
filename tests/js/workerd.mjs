// Real workerd (through Miniflare) for the JS tests and benches: a Worker script from the
// repository, its imports resolved as files below the repository root, `.wasm` files as
// compiled modules (as wrangler bundles them). The caller disposes it in `finally`.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** A Miniflare running `script` (a path relative to the repository root); `options` adds
 * bindings such as `kvNamespaces`. */
export async function startWorkerd(script, options = {}) {
  const { Miniflare } = await import("miniflare");
  return new Miniflare({
    modules: true,
    scriptPath: join(root, script),
    modulesRoot: root,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-01-01",
    ...options,
  });
}
