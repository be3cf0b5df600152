// The result backend the examples use, so each of them runs unchanged on each backend.
// Chosen by the DRAMATIQ_RESULTS_BACKEND environment variable (or a global of that name
// where there is no environment, as in a page or a Worker):
//   stub       StubBackend, in memory (the default)
//   kv         KvBackend over a plain in-memory Map adapter with TTLs
//   indexeddb  IndexedDbBackend (in Node, over the fake-indexeddb package)
// Like a StubBackend, every backend made here has its own results.
import { StubBackend, KvBackend, IndexedDbBackend } from "dramatiq-results";

const kind = globalThis.process?.env?.DRAMATIQ_RESULTS_BACKEND ?? globalThis.DRAMATIQ_RESULTS_BACKEND ?? "stub";
if (kind === "indexeddb" && !globalThis.indexedDB) await import("fake-indexeddb/auto");

/** A key-value adapter over a Map: what a custom store looks like (see KvBackend). */
function mapAdapter() {
  const entries = new Map();
  return {
    get(key) {
      const entry = entries.get(key);
      return entry && entry.expiresAt > Date.now() ? entry.value : null;
    },
    put(key, value, { ttlMs }) {
      entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    },
    delete(key) {
      entries.delete(key);
    },
  };
}

let made = 0;

/** A new backend of the chosen kind with the common options (namespace, …). */
export function makeBackend(options = {}) {
  switch (kind) {
    case "stub":
      return new StubBackend(options);
    case "kv":
      return new KvBackend(mapAdapter(), options);
    case "indexeddb":
      made += 1;
      return new IndexedDbBackend({ dbName: `examples-${made}-${Math.random()}`, ...options });
    default:
      throw new TypeError(`DRAMATIQ_RESULTS_BACKEND must be stub, kv or indexeddb, not ${kind}`);
  }
}
