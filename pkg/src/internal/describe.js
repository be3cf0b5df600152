// Describing what JavaScript code throws, safely: an actor or a middleware hook may throw
// anything (null-prototype objects, revoked Proxies, objects whose toString throws,
// Symbols), and the worker's own error handling must never throw while handling it.

/** `value instanceof Class`, false when asking throws (a revoked Proxy). */
export function isInstance(value, Class) {
  try {
    return value instanceof Class;
  } catch {
    return false;
  }
}

/** `value[key]`, undefined when reading it throws (a getter, a revoked Proxy) or `value`
 * is not an object. */
export function readSafely(value, key) {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return undefined;
  try {
    return value[key];
  } catch {
    return undefined;
  }
}

/**
 * What a value given where another was expected is, for an error message ("got …"): its
 * kind, or a short spelling of a primitive. Runs none of the value's code (a getter, a
 * Proxy trap, a toString) and never throws.
 */
export function describeValue(value) {
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  try {
    return Array.isArray(value) ? "an array" : "an object";
  } catch {
    return "a revoked Proxy"; // the one object Array.isArray throws for
  }
}

/** `String(value)` that never throws. */
export function describeThrown(value) {
  if (typeof value === "symbol") return value.toString();
  try {
    return String(value);
  } catch {
    try {
      if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === null) {
        return "a null-prototype object";
      }
    } catch {
      // Revoked, or a live Proxy whose traps throw: JS cannot tell them apart here.
      return "a Proxy that cannot be read (revoked, or its traps throw)";
    }
    return "a value that cannot be converted to a string";
  }
}

/** What `error` says: its `message` when that is a string, else the value described (a
 * client may reject or emit anything: null, a Symbol, an object whose getters throw).
 * Never throws. */
export function messageOf(error) {
  const message = readSafely(error, "message");
  return typeof message === "string" ? message : describeThrown(error);
}

/** A thrown value as an Error (JS may throw anything; Python can only raise exceptions).
 * An Error is kept as it is; anything else is wrapped, the original on `error.thrown`. */
export function asError(thrown) {
  if (isInstance(thrown, Error)) return thrown;
  const error = new Error(describeThrown(thrown));
  error.thrown = thrown;
  return error;
}
