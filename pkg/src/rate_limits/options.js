// Options objects of the rate-limit classes: a plain object (or nothing), no unknown names
// (a misspelt `limt` would otherwise silently keep the default), each value a number.

/** Checks `options` holds only `allowed` names; returns it (or `{}` for undefined). */
export function checkOptions(options, allowed, what) {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") throw new TypeError(`${what} must be an object`);
  for (const name of Object.keys(options)) {
    if (!allowed.includes(name)) {
      throw new TypeError(`${what}: unknown option ${JSON.stringify(name)} (known: ${allowed.join(", ")})`);
    }
  }
  return options;
}

/** `options[name]` as a number, `fallback` when absent. */
export function numberOption(options, name, fallback, what) {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw new TypeError(`${what}: ${name} must be a number, got ${typeof value}`);
  return value;
}

/** `key` checked to be a string, as Dramatiq's keys are. */
export function checkKey(key, what) {
  if (typeof key !== "string") throw new TypeError(`${what}: key must be a string, got ${key === null ? "null" : typeof key}`);
  return key;
}
