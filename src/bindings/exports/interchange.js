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

const objectProto = Object.prototype;

// Whether every number `plain` met is one JS and Python spell alike: an integer under 1e15
// in magnitude (at most 15 digits, exact in a double), or a fraction from 0.001 up to 1e15
// (fixed notation in both, no leading "0.000" that Python writes with an exponent). Set by
// the walk, as a side result, so that checking a number costs two comparisons here instead
// of a parse of its digits in the text (see `lastTextSimple`).
let numbersAlike = true;

// Whether JSON.stringify alone writes `value` faithfully: only plain objects (no toJSON, no
// class instances, Maps or typed arrays), arrays without holes, finite numbers other than
// -0, and strings that do not look like markers. One walk with no callbacks from native
// code is several times cheaper than the replacer, which runs for every value; anything
// unusual takes the replacer's path, which handles (or refuses) it.
function plain(value, depth) {
  switch (typeof value) {
    case "string":
      return !(value.charCodeAt(0) === 0 && value.charCodeAt(1) === 1);
    case "number":
      if (!(value > -1e15 && value < 1e15)) {
        // Too large to be spelt alike, or NaN / ±Infinity (not plain at all).
        numbersAlike = false;
        return value - value === 0;
      }
      if (value > -0.001 && value < 0.001 && value !== 0) {
        // A fraction under 0.001: JS writes 0.00001 where Python writes 1e-05.
        numbersAlike = false;
        return true;
      }
      return value !== 0 || 1 / value > 0;
    case "boolean":
      return true;
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false; // deep values: let the replacer path judge them
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!plain(value[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== objectProto && proto !== null) return false;
      for (const key in value) if (!plain(value[key], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

let textSimple = false;

/** JS value → JSON text with markers. `undefined` becomes null, as Python's None. */
export function toText(value) {
  // Saved and restored: a getter the walk runs may store a value itself.
  const outer = numbersAlike;
  numbersAlike = true;
  const isPlain = plain(value, 0);
  const simple = isPlain && numbersAlike;
  numbersAlike = outer;
  const text = isPlain ? JSON.stringify(value) : JSON.stringify(value, replacer);
  textSimple = simple;
  return text === undefined ? "null" : text;
}

/** Whether the text the last `toText` returned came from a plain value (no marker strings,
 * nesting under 66) whose numbers are all spelt alike by JS and Python: then only its bytes
 * decide whether it already is Python's text (`transcode`'s byte-only check). A getter that
 * answers differently the second time can make JSON.stringify write numbers the walk did
 * not see; they are then JS's spelling of a number, still valid JSON of the same value. */
export function lastTextSimple() {
  return textSimple;
}

let textInfo = 0;
let textError;

/** `toText` for the stores' hot path, which must not throw into wasm and pays for a
 * caught import (wasm-bindgen's `handleError`, an `apply` per call): the text, or "" (which
 * `toText` never returns) with the exception kept for `takeTextError`. */
export function toTextQuiet(value) {
  try {
    const text = toText(value);
    textInfo = textSimple ? text.length : -text.length;
    return text;
  } catch (error) {
    textError = error;
    textInfo = 0;
    return "";
  }
}

/** What the last `toTextQuiet` found, in one number so that wasm asks once: its text's
 * length in UTF-16 units, positive when `lastTextSimple` would say true, negative when
 * not, 0 when it threw. */
export function lastTextInfo() {
  return textInfo;
}

/** The exception the last failed `toTextQuiet` caught (once). */
export function takeTextError() {
  const error = textError;
  textError = undefined;
  return error;
}

const utf8 = new TextEncoder();

/** Encodes `text` into `out` (a view of wasm memory); the bytes written, or -1 when `out`
 * is too small for all of it. */
export function encodeUtf8Into(text, out) {
  const { read, written } = utf8.encodeInto(text, out);
  return read === text.length ? written : -1;
}

// A view of the buffer wasm reuses for stored texts (`SCRATCH` in interchange.rs), kept
// across calls: a new view per call (what a `&mut [u8]` parameter costs) was garbage on
// every store. Remade when the buffer moves or grows, or when wasm memory grew (which
// detaches the old view: its length reads 0).
let memory;
let scratch = null;

/** The module's memory, for `encodeUtf8IntoScratch` (once, before its first call). */
export function useMemory(wasmMemory) {
  memory = wasmMemory;
  scratch = null;
}

/** `encodeUtf8Into` of `text` into the `len` bytes of wasm memory at `ptr`, when it is
 * ASCII (one byte per unit, so exactly `text.length` bytes); -1 when it is not. */
export function encodeUtf8IntoScratch(text, ptr, len) {
  if (scratch === null || scratch.byteOffset !== ptr || scratch.length !== len) {
    scratch = new Uint8Array(memory.buffer, ptr, len);
  }
  const { read, written } = utf8.encodeInto(text, scratch);
  return read === text.length && written === read ? written : -1;
}

/** `text` as UTF-8, in a new array of its exact size. */
export function encodeUtf8(text) {
  return utf8.encode(text);
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

// What wasm-bindgen's glue decodes text passed from Rust with (a BOM is text, not a mark),
// so a value read from JS bytes is the same string as one read from wasm memory.
const strictUtf8 = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });
const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Plain JSON (Rust checked it: `PlainScan`) in UTF-8 bytes that stayed in JS → JS value. */
export function parseBytes(bytes) {
  return JSON.parse(strictUtf8.decode(bytes));
}

/** UTF-8 bytes → text, each invalid sequence a U+FFFD (as Rust's `from_utf8_lossy`). */
export function textOfBytes(bytes) {
  return lossyUtf8.decode(bytes);
}

/** JSON text with markers → JS value. The reviver only runs when Rust says it is needed. */
export function fromText(text, needsReviver) {
  return needsReviver ? JSON.parse(text, reviver) : JSON.parse(text);
}
