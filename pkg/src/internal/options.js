// One place where every constructor's options are checked (node-redis validates its options
// in one place too): a misspelled name (`new Worker(b, { concurency: 2 })`) or a value of the
// wrong type is a TypeError naming the option and what is accepted, never silently ignored.

import { describeValue } from "./describe.js";

/**
 * What a value may be, by name. A trailing "?" also accepts null. Undefined is always
 * accepted (the option is absent); so is anything for "any".
 */
const KINDS = {
  any: () => true,
  boolean: (v) => typeof v === "boolean",
  string: (v) => typeof v === "string",
  function: (v) => typeof v === "function",
  object: (v) => v !== null && typeof v === "object",
  /** A duration or an age: a number of ms, 0 or more (Infinity allowed). */
  ms: (v) => typeof v === "number" && v >= 0,
  /** A count: a whole number, 1 or more. */
  count: (v) => Number.isInteger(v) && v >= 1,
  /** A whole number, 0 or more. */
  natural: (v) => Number.isInteger(v) && v >= 0,
  /** Anything `for…of` can walk (queue names, middleware lists). */
  iterable: (v) => v !== null && typeof v === "object" && typeof v[Symbol.iterator] === "function",
};

const WORDS = {
  any: "anything",
  boolean: "a boolean",
  string: "a string",
  function: "a function",
  object: "an object",
  ms: "a number of milliseconds, 0 or more",
  count: "a whole number, 1 or more",
  natural: "a whole number, 0 or more",
  iterable: "a list (an iterable)",
};

/** The own enumerable names of an options bag, or null when none is given (undefined or
 * null); a TypeError for one that is no object or cannot be read (a Proxy whose trap
 * throws), the original as its cause. */
function optionNames(what, options) {
  if (options === undefined || options === null) return null;
  if (typeof options !== "object") throw new TypeError(`${what}: options must be an object, got ${describeValue(options)}`);
  try {
    return Object.keys(options);
  } catch (cause) {
    throw new TypeError(`${what}: its options cannot be read`, { cause });
  }
}

/**
 * Checks `options` (an object or undefined) for `what` (say `"new Worker()"`) against
 * `spec`, `{ name: kind }` with the kinds above (`"ms?"` also takes null), and returns
 * the values it checked, each read once, in a new null-prototype object (`{}` for none).
 * Callers read that, never `options` again: a getter or a Proxy may answer a second read
 * differently, and an inherited property (`{ __proto__: { limit: -1 } }`) is not among
 * the names checked. Throws a TypeError for an unknown name, listing the accepted ones,
 * and for a value of the wrong kind; a hostile object (a throwing getter, a Proxy) is a
 * TypeError with the original as its cause.
 */
export function checkOptions(what, options, spec) {
  const checked = Object.create(null);
  const names = optionNames(what, options);
  if (!names) return checked;
  for (const name of names) {
    const kind = spec[name];
    if (kind === undefined) {
      const accepted = Object.keys(spec);
      throw new TypeError(
        `${what}: unknown option ${JSON.stringify(name)}` +
          (accepted.length > 0 ? `; accepted: ${accepted.join(", ")}` : "; it takes no options"),
      );
    }
    let value;
    try {
      value = options[name];
    } catch (cause) {
      throw new TypeError(`${what}: option ${name} cannot be read`, { cause });
    }
    if (value === undefined) continue;
    const nullable = kind.endsWith("?");
    const base = nullable ? kind.slice(0, -1) : kind;
    let fits;
    try {
      fits = (value === null && nullable) || KINDS[base](value);
    } catch (cause) {
      // A Proxy or a getter in the value itself (an iterable's Symbol.iterator).
      throw new TypeError(`${what}: option ${name} cannot be checked`, { cause });
    }
    if (!fits) {
      throw new TypeError(`${what}: option ${name} must be ${WORDS[base]}${nullable ? " (or null)" : ""}, got ${describeValue(value)}`);
    }
    checked[name] = value;
  }
  return checked;
}

/**
 * A copy of `options` (an object, or undefined / null for none) for `what`, each own
 * enumerable string-keyed value read once, in a null-prototype object, for option bags
 * whose names the core checks (actor and message options). A hostile object (a throwing
 * getter, a Proxy) is a TypeError with the original as its cause; an own `__proto__` key
 * stays a key.
 */
export function readOptions(what, options) {
  const copy = Object.create(null);
  const names = optionNames(what, options);
  if (!names) return copy;
  for (const name of names) {
    try {
      copy[name] = options[name];
    } catch (cause) {
      throw new TypeError(`${what}: option ${name} cannot be read`, { cause });
    }
  }
  return copy;
}
