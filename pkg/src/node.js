// Node entry, built to dist/node.js: the main entry (browser.js: the module inlined and
// loaded synchronously, so no file to find and no top-level await, and `require()` works on
// Node ≥ 20.19), plus raw TCP for connectRedis through node:net / node:tls. The V8 11
// (Node 20) deoptimizer bug is kept away from the package's own calls by guardCalls
// (loading.js), without any process-wide V8 flag.
import { openSocket } from "./socket_node.js";
import { setOpenSocket } from "./redis_connect.js";

setOpenSocket(openSocket);

export * from "./browser.js";
