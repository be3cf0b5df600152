// Values cross the JS boundary as JSON text: JSON.stringify and JSON.parse are native and
// fast, JSON.parse makes `__proto__` an own data property (no prototype is ever touched),
// and the Rust side sees one flat string instead of thousands of property reads.
//
// What JSON cannot carry travels as a marker string that starts with "\u0000\u0001":
// NaN, ±Infinity, -0 and BigInt; a real string that starts with the marker is escaped.
// src/interchange.rs is the other half of this protocol.

const MARK = "\u0000\u0001";

function describe(value) {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return value.constructor?.name ?? "object";
}

function replacer(key, value) {
  switch (typeof value) {
    case "number":
      if (value !== value) return MARK + "NaN";
      if (value === Infinity) return MARK + "Infinity";
      if (value === -Infinity) return MARK + "-Infinity";
      if (value === 0 && 1 / value < 0) return MARK + "-0";
      return value;
    case "bigint":
      return MARK + "n" + value.toString();
    case "string":
      return value.charCodeAt(0) === 0 && value.charCodeAt(1) === 1 ? MARK + "s" + value : value;
    case "function":
    case "symbol":
      throw new TypeError(
        `a ${typeof value} (at key ${JSON.stringify(key)}) is not JSON-serializable`,
      );
    case "object":
      if (
        value !== null &&
        (value instanceof Map ||
          value instanceof Set ||
          value instanceof WeakMap ||
          value instanceof WeakSet ||
          value instanceof Promise ||
          ArrayBuffer.isView(value) ||
          value instanceof ArrayBuffer)
      ) {
        throw new TypeError(
          `a ${describe(value)} (at key ${JSON.stringify(key)}) is not JSON-serializable; convert it to an array or object first`,
        );
      }
      return value;
    default:
      return value;
  }
}

/** JS value → JSON text with markers. `undefined` becomes null, as Python's None. */
export function toText(value) {
  const text = JSON.stringify(value, replacer);
  return text === undefined ? "null" : text;
}

function unmark(text) {
  const tag = text.slice(2);
  switch (tag) {
    case "NaN":
      return NaN;
    case "Infinity":
      return Infinity;
    case "-Infinity":
      return -Infinity;
    case "-0":
      return -0;
  }
  if (tag.startsWith("n")) return BigInt(tag.slice(1));
  if (tag.startsWith("s")) return tag.slice(1);
  return text;
}

function reviver(key, value) {
  return typeof value === "string" && value.charCodeAt(0) === 0 && value.charCodeAt(1) === 1
    ? unmark(value)
    : value;
}

/** JSON text with markers → JS value. The reviver only runs when Rust says it is needed. */
export function fromText(text, needsReviver) {
  return needsReviver ? JSON.parse(text, reviver) : JSON.parse(text);
}
