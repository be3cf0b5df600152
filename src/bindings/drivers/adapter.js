// Calling an injected adapter (a KV namespace, a Redis or Memcached client, a user's object)
// the same way everywhere: whatever it does — returns a value, returns a Promise or any
// thenable, throws synchronously — comes back as one Promise, so the Rust side has a single
// path for success and a single path for failure.
import { bytesOf } from "../js.js";

/** `target[name](...args)` as a Promise; a synchronous throw becomes a rejection. */
export function invoke(target, name, args) {
  try {
    const answer = target[name](...args);
    // A new Promise adopts the answer: Rust awaits only Promises made here, so a thenable
    // (or a Promise with its own `then`) that throws becomes a rejection, never a throw
    // through wasm frames. The answer is settled to plain shapes the same way.
    return new Promise((resolve) => resolve(answer)).then(plainAnswer);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** An answer with any bytes in it copied to a new Uint8Array (read through the intrinsic
 * getters, so a detached buffer or a Proxy rejects here rather than throwing in Rust). */
function plainAnswer(answer) {
  if (answer === null || typeof answer !== "object") return answer;
  return bytesOf(answer) ?? answer;
}

/** A short description of what an adapter gave back, for error messages. */
export function describeValue(value) {
  if (value === null) return "null";
  const type = typeof value;
  try {
    if (Array.isArray(value)) return "an array";
    if (type !== "object") return type === "undefined" ? "undefined" : `a ${type}`;
    const name = value.constructor?.name;
    return typeof name === "string" && name && name !== "Object" ? `a ${name}` : "an object";
  } catch {
    return `a ${type} that throws when inspected`;
  }
}

/** The text of a thrown value: its message when it is an Error, else String(value). */
export function errorText(error) {
  try {
    if (error instanceof Error || typeof error?.message === "string") {
      const text = String(error.message);
      // Some clients reject with an empty message (node-redis's command TimeoutError):
      // the error's name is then all there is to say.
      if (text !== "") return text;
      const name = error.name;
      return typeof name === "string" && name !== "" ? name : "(an error without a message)";
    }
    return typeof error === "symbol" ? error.toString() : String(error);
  } catch {
    return "(an error that cannot be printed)";
  }
}

/**
 * `target[name](key)` for every key, at most `limit` in flight at once (so a store behind
 * HTTP sees a bounded burst, not thousands of requests); answers in key order, or rejects
 * with the first failure.
 */
export function invokeEach(target, name, keys, limit) {
  return new Promise((resolve, reject) => {
    const answers = new Array(keys.length);
    let next = 0;
    let done = 0;
    let failed = false;
    const start = () => {
      if (failed) return;
      if (done === keys.length) return resolve(answers);
      if (next >= keys.length) return;
      const i = next++;
      invoke(target, name, [keys[i]]).then(
        (answer) => {
          answers[i] = answer;
          done += 1;
          start();
        },
        (error) => {
          failed = true;
          reject(error);
        },
      );
    };
    if (keys.length === 0) return resolve(answers);
    for (let i = 0; i < Math.min(limit, keys.length); i++) start();
  });
}

/** Node's Buffer where there is one: some clients accept a Buffer but not a Uint8Array. */
export const hostBytes =
  typeof Buffer === "function" ? (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength) : (b) => b;
