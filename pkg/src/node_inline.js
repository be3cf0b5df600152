// Node entry for bundlers, built to dist/node_inline.js (the "module" condition under "node":
// esbuild, webpack, Rollup and Vite set it, Node never does): the Node entry with the module
// inlined (base64), as the main entry has it (browser.js), so a Node bundle needs no file
// next to it and works as soon as it is imported. Raw TCP for connectRedis through node:net /
// node:tls, loaded on the first connection.
import { openSocket } from "./net/socket_node.js";
import { setOpenSocket } from "./net/redis_connect.js";

setOpenSocket(openSocket);

export * from "./browser.js";
