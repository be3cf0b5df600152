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
