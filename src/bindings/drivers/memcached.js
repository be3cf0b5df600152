// Speaking to the Memcached client callers hand in (memjs or anything shaped like it).
// Each function answers with one Promise (a synchronous throw becomes a rejection), so
// the Rust side has a single path for success and one for failure.

import { hostBytes } from "./adapter.js";

/**
 * Memcached `set` with `exptime` seconds, memjs-style (`set(key, value, { expires })`);
 * the value as a string when it is UTF-8 text, as bytes otherwise.
 */
export function memcachedSet(client, key, value, exptime) {
  try {
    const v = typeof value === "string" ? value : hostBytes(value);
    const answer = client.set(key, v, { expires: exptime });
    // Adopted by a new Promise: a thenable whose `then` throws becomes a rejection.
    return new Promise((resolve) => resolve(answer));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Many keys in one round trip: `getMulti(keys)` when the client has it (answering
 * `{ values: { key: bytes } }` or a plain `{ key: bytes }` map), else every `get` sent at
 * once, which memjs writes back to back on its connection. Answers an array in key order,
 * each item what the client answered for that key.
 */
export function memcachedGetMany(client, keys) {
  try {
    if (typeof client.getMulti === "function") {
      const multi = client.getMulti(keys);
      return new Promise((resolve) => resolve(multi)).then((answer) => {
        const values = answer && typeof answer === "object" && "values" in answer ? answer.values : answer;
        if (values === null || typeof values !== "object") {
          throw new TypeError(`getMulti() answered ${values === null ? "null" : typeof values}; expected an object`);
        }
        return keys.map((k) => (Object.prototype.hasOwnProperty.call(values, k) ? values[k] : null));
      });
    }
    return Promise.all(keys.map((k) => client.get(k)));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Memcached `add` of a counter (`value`: decimal text) with `exptime` seconds, answering
 * whether it was added. With memjs, the item carries `flags` (pylibmc's mark of a Python
 * `int`, so a Python process reading the counter gets a number, not bytes): memjs's `add`
 * has no flags option, so its serializer is wrapped for this one call (serialization
 * happens synchronously inside `add`; the caller's serializer still runs first).
 */
export function memcachedAdd(client, key, value, exptime, flags) {
  try {
    const serializer = client.serializer;
    let answer;
    if (serializer && typeof serializer.serialize === "function" && typeof client.perform === "function") {
      client.serializer = {
        serialize(opcode, v, extras) {
          const out = serializer.serialize(opcode, v, extras);
          if (out && out.extras instanceof Uint8Array && out.extras.length >= 8) {
            // memjs's add extras: flags (4 bytes, big-endian), then the expiry.
            const marked = new Uint8Array(out.extras);
            new DataView(marked.buffer).setUint32(0, flags);
            return { ...out, extras: marked };
          }
          return out;
        },
        deserialize: (...args) => serializer.deserialize(...args),
      };
      try {
        answer = client.add(key, value, { expires: exptime });
      } finally {
        client.serializer = serializer;
      }
    } else {
      answer = client.add(key, value, { expires: exptime });
    }
    return new Promise((resolve) => resolve(answer)).then((a) => a === true || (a !== null && typeof a === "object" && a.success === true));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Memcached's "no such key" (memjs: `MemJS INCREMENT: Key not found`). */
function isNotFound(error) {
  try {
    return /not found/i.test(String(error && error.message));
  } catch {
    return false;
  }
}

/**
 * Memcached `incr` (or `decr` when `down`) by `amount` of an existing counter: its new
 * value, or null when the key is absent. The expiry 0xffffffff tells the server not to
 * create the counter (memjs would otherwise create it at `initial`), as pylibmc's `incr`
 * does not.
 */
export function memcachedCount(client, key, amount, down) {
  try {
    const method = down ? "decrement" : "increment";
    const answer = client[method](key, amount, { initial: 0, expires: 0xffffffff });
    return new Promise((resolve) => resolve(answer)).then(
      (a) => {
        if (a === null || a === undefined || a === false) return null;
        if (typeof a === "number" || typeof a === "bigint") return Number(a);
        if (typeof a === "object") {
          if (a.success === false || a.value === null || a.value === undefined) return null;
          return Number(a.value);
        }
        throw new TypeError(`${method}() answered ${typeof a}; expected { success, value }`);
      },
      (error) => {
        if (isNotFound(error)) return null;
        throw error;
      },
    );
  } catch (error) {
    return Promise.reject(error);
  }
}
