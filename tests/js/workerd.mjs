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

/**
 * What workerd says while a test runs, for Miniflare's options: its stdout and stderr and
 * Miniflare's own warnings and errors are kept (and still printed), and restarts counted
 * (Miniflare restarts a crashed workerd on the same port: without this, a crash shows as
 * one request's ECONNRESET and nothing else). `tail()` is the last of it, for a failure's
 * message; `restarts` how many times workerd was restarted.
 */
export async function watchRuntime() {
  const { Log } = await import("miniflare");
  const kept = [];
  const keep = (text) => {
    kept.push(String(text));
    if (kept.length > 200) kept.shift();
  };
  const watch = {
    restarts: 0,
    tail: () => kept.join("").slice(-4000),
    options: {
      log: new (class extends Log {
        log(message) {
          keep(`${message}\n`);
          super.log(message);
        }
      })(2 /* WARN */),
      handleRuntimeStdio(stdout, stderr) {
        for (const [stream, out] of [[stdout, process.stdout], [stderr, process.stderr]]) {
          stream.on("data", (chunk) => {
            keep(chunk);
            out.write(chunk);
          });
        }
      },
      unsafeHandleRuntimeRestart() {
        watch.restarts++;
        keep("[test] workerd restarted after a crash\n");
      },
    },
  };
  return watch;
}
