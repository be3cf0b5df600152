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
