// Node has no entry of its own: the inlined, synchronously loaded module of browser.js suits
// it too (no file to find, so Node bundles work; no top-level await, so `require()` works on
// Node ≥ 20.19). The V8 11 (Node 20) deoptimizer bug is kept away from the package's own calls
// by guardCalls (loading.js), without any process-wide V8 flag. Kept for the repository's
// tests, which import it by path; the package's "node" condition points at dist/index.js.
export * from "./browser.js";
