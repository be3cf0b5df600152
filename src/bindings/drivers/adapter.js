// Calling an injected adapter (a KV namespace, a Redis or Memcached client, a user's object)
// the same way everywhere: whatever it does — returns a value, returns a Promise or any
// thenable, throws synchronously — comes back as one Promise, so the Rust side has a single
// path for success and a single path for failure.

/** `target[name](...args)` as a Promise; a synchronous throw becomes a rejection. */
export function invoke(target, name, args) {
  try {
    return Promise.resolve(target[name](...args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** A short description of what an adapter gave back, for error messages. */
export function describeValue(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  if (type !== "object") return type === "undefined" ? "undefined" : `a ${type}`;
  const name = value.constructor?.name;
  return name && name !== "Object" ? `a ${name}` : "an object";
}

/** The text of a thrown value: its message when it is an Error, else String(value). */
export function errorText(error) {
  try {
    if (error instanceof Error || typeof error?.message === "string") return String(error.message);
    return String(error);
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
