// Speaking to the Redis clients callers hand in, whichever library they come
// from. Each function answers with one Promise (a synchronous throw becomes a rejection), so
// the Rust side has a single path for success and one for failure.

import { hostBytes } from "./adapter.js";
import { arrayOf, bytesOf } from "../js.js";

/**
 * A client's reply in plain shapes only (new arrays, new Uint8Arrays, primitives), read in
 * JS where a throwing getter or a Proxy becomes a rejection, so the Rust side reads it
 * without running anyone's code. Other objects pass as they are, for Rust to refuse.
 */
function plainReply(reply, depth) {
  if (reply === null || typeof reply !== "object") return reply;
  const items = arrayOf(reply);
  if (items !== undefined) {
    if (depth >= 64) throw new TypeError("the reply's arrays are nested too deeply");
    for (let i = 0; i < items.length; i++) items[i] = plainReply(items[i], depth + 1);
    return items;
  }
  return bytesOf(reply) ?? reply;
}

const plain = (reply) => plainReply(reply, 0);

/**
 * How `client` sends a raw command: `callBuffer(name, ...args)` (ioredis: bulk replies as
 * Buffers, so no byte is lost to text decoding), `call(name, ...args)` (ioredis look-alikes),
 * `sendCommand(argv)` (node-redis 4 and later), or null when it has none of them.
 */
export function redisDialect(client) {
  if (client === null || (typeof client !== "object" && typeof client !== "function")) return null;
  try {
    if (typeof client.callBuffer === "function") return "callBuffer";
    if (typeof client.call === "function") return "call";
    if (typeof client.sendCommand === "function") return "sendCommand";
  } catch {
    // A client whose getters throw has no usable dialect.
  }
  return null;
}

/**
 * node-redis decodes bulk replies as UTF-8 text unless told otherwise, which would turn
 * stored bytes that are not UTF-8 into U+FFFD: ask for Buffers, in the words of both of
 * its APIs (`typeMapping` for RESP blob strings, type 36, since v5; `returnBuffers` in v4).
 */
const bufferReplies = typeof Buffer === "function" ? { typeMapping: { 36: Buffer }, returnBuffers: true } : undefined;

/** Sends `argv` (strings and Uint8Arrays, command name first) through `client`. */
export function redisCommand(client, dialect, argv) {
  try {
    const args = argv.map((a) => (typeof a === "string" ? a : hostBytes(a)));
    const answer = dialect === "sendCommand" ? client.sendCommand(args, bufferReplies) : client[dialect](...args);
    // A new Promise adopts the answer: a thenable whose `then` throws becomes a rejection.
    return new Promise((resolve) => resolve(answer)).then(plain);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * `redisCommand` on a dedicated blocking connection, with `state.busy` true until the
 * server answers — even when the waiter gave up first, since the connection stays blocked
 * until then.
 */
export function redisBlocking(client, dialect, argv, state) {
  state.busy = true;
  const answer = redisCommand(client, dialect, argv);
  const idle = () => {
    state.busy = false;
  };
  answer.then(idle, idle);
  return answer;
}

/** Whether the blocking connection is free. */
export function redisIdle(state) {
  return state.busy !== true;
}

/** The class names clients give the server's error replies (`-WRONGTYPE …`): node-redis
 * (`ErrorReply` and its subclasses), ioredis (`ReplyError`). */
const REPLY_ERRORS = new Set(["ErrorReply", "SimpleError", "BlobError", "ReplyError"]);

/**
 * Whether a client's rejection is the server's error reply rather than a failure to reach
 * the server: an answer, which asking again cannot change. Never throws.
 */
export function isServerError(error) {
  try {
    for (let p = error; p && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
      if (REPLY_ERRORS.has(p.constructor?.name)) return true;
    }
    return REPLY_ERRORS.has(error?.name);
  } catch {
    return false;
  }
}

/** A new Uint8Array of `n` bytes for a large value connectRedis collects, or null when the
 * host cannot allocate it (which must not throw through wasm). */
export function newBytes(n) {
  try {
    return new Uint8Array(n);
  } catch {
    return null;
  }
}
