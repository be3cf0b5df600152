// Loading the one WebAssembly instance: at import (synchronously, where the entry has the
// module or its bytes at hand) or through `init(input)`. A failure never throws out of an
// import: it rejects `ready` and `init()`, and every later call throws a clear error.
import loadAsync, { initSync } from "../../dist/dramatiq_results.js";
import { loadFailed } from "./loading.js";

let loaded = false;
let loading;
let defaultInput;
let settleReady;

/** Settles with the outcome of the first load: the entry's own, or the first `init()`. */
export const ready = new Promise((resolve, reject) => {
  settleReady = { resolve, reject };
});
// Reported through `ready`, `init()` and every later call, never as an unhandled rejection
// (which would end a Node process).
ready.catch(() => {});

/** What `init()` loads when given nothing: a function returning the entry's default input. */
export function setDefaultInput(input) {
  defaultInput = input;
}

/** Instantiates `module` (a `WebAssembly.Module` or the bytes of one) now. Where the host
 * refuses (some browsers do not compile large modules synchronously on a page's main
 * thread), falls back to asynchronous instantiation: calls work once `ready` resolves. */
export function loadNow(module) {
  try {
    initSync({ module });
  } catch {
    init(module).catch(() => {});
    return;
  }
  loaded = true;
  settleReady.resolve();
}

/**
 * Loads the WebAssembly module, once; resolves when the package can be used. `input` may be a
 * URL (or its string), a `Request`, a `Response` (or a Promise of one), the module's bytes
 * (`ArrayBuffer`, typed array) or a compiled `WebAssembly.Module`; without it, the entry's
 * default. Resolves at once when the module is already loaded (input ignored).
 */
export function init(input) {
  if (loaded) return Promise.resolve();
  if (loading === undefined) {
    loading = (async () => {
      const source = await (input ?? defaultInput?.());
      if (source === undefined) throw new TypeError("dramatiq-results: init() needs the module: a URL, a Response, bytes or a WebAssembly.Module");
      try {
        await loadAsync({ module_or_path: source });
      } catch (error) {
        throw fileUrlHint(source, error);
      }
    })().then(
      () => {
        loaded = true;
        settleReady.resolve();
      },
      (error) => {
        loading = undefined;
        loadFailed(error);
        settleReady.reject(error);
        throw error;
      },
    );
  }
  return loading;
}

/** `fetch` cannot read `file:` URLs (Node's says only "fetch failed"), which is what `/slim`'s
 * default input is under Node: say what to pass instead. Other failures go through as they are. */
function fileUrlHint(source, error) {
  const href = typeof source === "string" ? source : typeof source?.href === "string" ? source.href : undefined;
  if (href === undefined || !href.startsWith("file:")) return error;
  return new Error(
    `dramatiq-results: could not load ${href} (fetch cannot read file: URLs). In Node, pass the bytes: ` +
      `init(await readFile(createRequire(import.meta.url).resolve("dramatiq-results/wasm"))) (node:fs/promises), or use the main entry "dramatiq-results", which loads it itself`,
    { cause: error },
  );
}
