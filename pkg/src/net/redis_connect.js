// `connectRedis`: the package's own Redis client over the host's TCP. Each host entry hands
// in its socket (node.js: node:net/tls, workerd.js: cloudflare:sockets); browsers have no
// TCP, so there it rejects with a ResultError (code REDIS_UNSUPPORTED) saying so. The
// shims stay out of the wasm glue on purpose: `cloudflare:sockets` does not resolve outside
// workerd, nor `node:net` in a browser.
import { connectRedisWith, RedisConnection } from "../../dist/dramatiq_results.js";

// node-redis's other names for ending a connection, so code written for it can end ours.
RedisConnection.prototype.quit = RedisConnection.prototype.close;
RedisConnection.prototype.destroy = RedisConnection.prototype.close;

let openSocket = null;

/** Called once by the host entry with its `openSocket` (see socket_node.js). */
export function setOpenSocket(open) {
  openSocket = open;
}

/**
 * `await connectRedis("redis://user:pass@host:6379/0", { connectTimeout, commandTimeout,
 * maxValueBytes, tls, name })`: a connected client with node-redis's `sendCommand(argv)`,
 * for `RedisBackend` and `RedisBroker`; `close()` ends it.
 */
export function connectRedis(url, options) {
  return connectRedisWith(openSocket, url, options);
}
