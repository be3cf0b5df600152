// Reading values JavaScript hands in, where any read may run the caller's code: a getter, a
// Proxy trap, a detached buffer. Rust imports these with `catch`, so a throw comes back as a
// Result instead of unwinding through wasm frames (which would leave wasm's stack pointer
// where the throw found it: enough of those and every later call fails). Each returns only
// fresh, plain values (a string, a new Uint8Array, a new Array), which Rust can then read
// without running anyone's code.

const TypedArray = Object.getPrototypeOf(Uint8Array);
const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
const typedBuffer = getter(TypedArray.prototype, "buffer");
const typedOffset = getter(TypedArray.prototype, "byteOffset");
const typedLength = getter(TypedArray.prototype, "byteLength");
const viewBuffer = getter(DataView.prototype, "buffer");
const viewOffset = getter(DataView.prototype, "byteOffset");
const viewLength = getter(DataView.prototype, "byteLength");
const bufferLength = getter(ArrayBuffer.prototype, "byteLength");
const sharedLength =
  typeof SharedArrayBuffer === "function" ? getter(SharedArrayBuffer.prototype, "byteLength") : undefined;

/** Whether `value` is a real (Shared)ArrayBuffer: the intrinsic getter refuses anything else. */
function isBuffer(value) {
  try {
    bufferLength.call(value);
    return true;
  } catch {
    if (sharedLength === undefined) return false;
    try {
      sharedLength.call(value);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The bytes of `value` as a string (Rust takes its UTF-8) or a new Uint8Array over the same
 * memory, read through the intrinsic getters (a Proxy or an overridden `length` cannot
 * lie); `undefined` when it is not bytes. Throws a TypeError for a detached buffer.
 */
export function bytesOf(value) {
  if (typeof value === "string") return value;
  if (value === null || typeof value !== "object") return undefined;
  if (ArrayBuffer.isView(value)) {
    let buffer, offset, length;
    try {
      buffer = typedBuffer.call(value);
      offset = typedOffset.call(value);
      length = typedLength.call(value);
    } catch {
      buffer = viewBuffer.call(value);
      offset = viewOffset.call(value);
      length = viewLength.call(value);
    }
    return fresh(buffer, offset, length);
  }
  if (isBuffer(value)) return fresh(value, 0, undefined);
  return undefined;
}

function fresh(buffer, offset, length) {
  try {
    return new Uint8Array(buffer, offset, length);
  } catch (cause) {
    throw new TypeError("the bytes' ArrayBuffer is detached (or out of range)", { cause });
  }
}

/** A new plain Array with the items of `value` when it is an array, else `undefined`. */
export function arrayOf(value) {
  if (!Array.isArray(value)) return undefined;
  const length = value.length;
  if (typeof length !== "number" || !(length >= 0) || length > 0xffffffff) {
    throw new TypeError("the array's length is not an array length");
  }
  const out = new Array(length);
  for (let i = 0; i < length; i++) out[i] = value[i];
  return out;
}

/** `error` with `cause` set (a TypeError Rust made, carrying what the caller's code threw). */
export function withCause(error, cause) {
  try {
    Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true });
  } catch {
    // A fresh error always takes it; nothing to do otherwise.
  }
  return error;
}

/** A new Promise adopting `value`: never throws, even for a Promise whose `constructor` or
 * `then` getter does (`Promise.resolve` would throw for the first). */
export function adopt(value) {
  return new Promise((resolve) => resolve(value));
}

/** `Object.keys(value)`: a new array of strings. */
export function keysOf(value) {
  return Object.keys(value);
}
