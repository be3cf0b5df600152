// Random cases for tests/js/diff-fuzz.test.mjs, written as Python's JSON text (so `1.0`,
// `-0.0`, `5e-324`, `NaN` and integers past 2^53 reach Python as Python reads them), from a
// seeded PRNG: a seed reproduces every case.

/** mulberry32: small and deterministic, so a printed seed reproduces a run. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (list) => list[next.int(list.length)];
  next.chance = (p) => next() < p;
  return next;
}

// Characters by kind: ASCII with JSON's escapes, C0 controls and DEL, Latin-1, BMP oddities
// (line/paragraph separators, BOM, private use, U+FFFF, combining marks), astral ones.
const POOLS = [
  () => 'abcXYZ09 _-.:/\\"\'{}[],'.split(""),
  () => Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).concat("\x7f"),
  () => ["é", "ü", "ß", "\xa0", "ÿ", "\x80", "\x9f"],
  () => ["\u2028", "\u2029", "\ufeff", "\ue000", "\uffff", "\ufffd", "\u0301", "✓", "☢", "中", "\u200b"],
  () => ["😀", "\u{10ffff}", "\u{10000}", "𝄞", "\u{1f600}\u{1f3fd}", "\u{e0001}"],
].map((f) => f());

// Lone surrogates: a Python str holds them (surrogateescape), so does a JS string cut inside
// a pair; JSON carries them as `\udXXX` escapes. Drawn only where Python can carry them on
// (values and dict keys: not queue or actor names, which Redis keys must encode as UTF-8),
// and only in a case that `drawLoneSurrogates` opened, whose strings then never hold
// U+10FFFF: the package carries lone surrogates as U+10F800..U+10FFFF, and reads a text
// holding both as before (lone surrogates as U+FFFD), as docs/python-users.md says.
// (No high surrogate past U+DBFD: one next to a drawn low one would make a pair in the
// stand-ins' range.)
const LONE = ["\ud800", "\udbfd", "\udc00", "\udfff", "\ud83d", "\ude00"];
const POOLS_BELOW_STAND_INS = POOLS.map((pool) => pool.map((c) => (c === "\u{10ffff}" ? "\u{10f7ff}" : c)));
let loneCase = false;

/** Opens (or closes) a case whose strings may hold lone surrogates. */
export function drawLoneSurrogates(on) {
  loneCase = on;
}

export function randomString(next, max = 12, { lone = false } = {}) {
  let s = "";
  const n = next.int(max + 1);
  const pools = !loneCase ? POOLS : lone ? [...POOLS_BELOW_STAND_INS, LONE] : POOLS_BELOW_STAND_INS;
  for (let i = 0; i < n; i++) s += next.pick(next.pick(pools));
  return s;
}

// Number tokens as Python's json reads them; the float forms are the edges of repr.
const FLOATS = [
  "1.0", "-1.0", "0.0", "-0.0", "1e16", "1e+16", "1E16", "5e-324", "-5e-324", "2.2250738585072014e-308",
  "1.7976931348623157e+308", "9007199254740992.0", "9007199254740993.0", "9007199254740991.0", "1e22",
  "1e21", "1e-7", "0.1", "0.30000000000000004", "123.456", "1.5", "-2.5", "100.0", "1e300", "4.35", "NaN",
  "Infinity", "-Infinity", "1e400", "-1e400", "2.5e-5", "0.000001", "123456789.125",
];
const INTS = [
  "0", "-0", "1", "-1", "42", "9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993",
  "18446744073709551616", "-170141183460469231731687303715884105728", "1180591620717411303424",
  "123456789012345678901234567890123456789", "4294967295", "2147483648",
];

export function randomNumber(next) {
  const r = next();
  if (r < 0.3) return next.pick(FLOATS);
  if (r < 0.55) return next.pick(INTS);
  if (r < 0.75) return String(next.int(2000) - 1000);
  if (r < 0.9) {
    // A random double, written as JS writes it (Python reads the same value).
    const x = (next() - 0.5) * 10 ** (next.int(40) - 20);
    return String(x);
  }
  // A random big integer.
  let s = next.chance(0.3) ? "-" : "";
  s += String(1 + next.int(9));
  for (let i = 0, n = 15 + next.int(30); i < n; i++) s += String(next.int(10));
  return s;
}

const KEYS = ["0", "1", "10", "01", "-1", "4294967294", "4294967295", "__proto__", "constructor", "toString", "", "a", "b", "x-y", "__t"];

/** A random key: never "eta", "redis_message_id" or "message_id", which the comparison
 * locates by name in a body. */
export function randomKey(next) {
  if (next.chance(0.3)) return next.pick(KEYS);
  const k = randomString(next, 6, { lone: true });
  return ["eta", "redis_message_id", "message_id"].includes(k) ? `${k}_` : k;
}

/** A random JSON value as Python JSON text. */
export function randomValue(next, depth = 0) {
  const r = next();
  if (depth > 3 || r < 0.45) {
    const s = next();
    if (s < 0.1) return next.pick(["null", "true", "false"]);
    if (s < 0.5) return randomNumber(next);
    return JSON.stringify(randomString(next, 12, { lone: true }));
  }
  if (r < 0.7) return `[${Array.from({ length: next.int(5) }, () => randomValue(next, depth + 1)).join(",")}]`;
  return randomObject(next, depth + 1);
}

export function randomObject(next, depth = 0, size = 5) {
  const seen = new Set();
  const parts = [];
  for (let i = 0, n = next.int(size); i < n; i++) {
    const k = randomKey(next);
    if (seen.has(k)) continue;
    seen.add(k);
    parts.push(`${JSON.stringify(k)}:${randomValue(next, depth + 1)}`);
  }
  return `{${parts.join(",")}}`;
}

/** A queue name: mostly what `@actor` accepts, sometimes only what `Message` does. */
export function randomQueue(next, { amqp = false } = {}) {
  const r = next();
  let q;
  if (r < 0.5) q = next.pick(["default", "fz", "q_1", "Q.x-y", "_"]) + (next.chance(0.3) ? String(next.int(100)) : "");
  else if (r < 0.8) q = `q${randomString(next, 8)}`;
  else q = next.pick(["a.DQ", "a.XQ", "a.DQ.DQ", "ünï✓", "q:x", "q with space", "😀q", ".DQ"]);
  if (amqp) {
    // AMQP short strings: at most 255 bytes, and "amq." names are reserved. Python's
    // RabbitmqBroker (pika) hangs for ever declaring a name with a CR or LF; ours does not.
    q = q.replace(/[\r\n]/g, "_");
    if (q.startsWith("amq.")) q = `x${q}`;
    while (Buffer.byteLength(q) > 200) q = q.slice(0, -1);
  }
  return q;
}

/** A message dict `{...}` as Python JSON text with `id` as its message_id. */
export function randomMessage(next, id, { amqp = false, nested = false } = {}) {
  const queue = randomQueue(next, { amqp });
  const actor = next.chance(0.6) ? next.pick(["fz_echo", "add", "a", "ünï✓"]) : randomString(next, 10);
  const args = `[${Array.from({ length: next.int(4) }, () => randomValue(next, 1)).join(",")}]`;
  const kwargs = next.chance(0.5) ? "{}" : randomObject(next, 1, 4);
  const options = [];
  const opt = (name, value) => options.push(`${JSON.stringify(name)}:${value}`);
  if (next.chance(0.3)) opt("max_retries", next.pick(["0", "3", "20", "1.5", "null", '"3"']));
  if (next.chance(0.3)) opt("time_limit", next.pick(["1000", "600000", "0.5", "1e16"]));
  if (next.chance(0.2)) opt("delay", next.pick(["10", "1.5", "0"]));
  if (next.chance(0.2)) {
    const target = randomMessage(next, `${id}.p`, { amqp, nested: true });
    opt("pipe_target", target);
    if (next.chance(0.5)) opt("pipe_ignore", next.pick(["true", "false"]));
  }
  if (next.chance(0.15)) {
    opt("group_completion_uuid", JSON.stringify("d9d32c44-6a47-4b2a-bc24-3e7c6e3fd2a1"));
    opt("group_completion_callbacks", `[${randomMessage(next, `${id}.g`, { amqp, nested: true })}]`);
  }
  if (next.chance(0.2)) opt("on_success", JSON.stringify(next.pick(["cb", "ünï✓", ""])));
  if (next.chance(0.2)) opt("on_failure", JSON.stringify(randomString(next, 5)));
  if (next.chance(0.25) && amqp) opt("broker_priority", String(next.int(10)));
  // Only the top level's options name these: the comparison finds them by name.
  if (!nested && next.chance(0.1)) opt("eta", randomNumber(next));
  if (!nested && next.chance(0.05)) opt("redis_message_id", JSON.stringify(randomString(next, 5)));
  for (let i = 0, n = next.int(3); i < n; i++) {
    const k = randomKey(next);
    if (!options.some((o) => o.startsWith(`${JSON.stringify(k)}:`))) opt(k, randomValue(next, 1));
  }
  // Floats too (a hand-made `time.time() * 1000`), which both sides write back as read;
  // past i64 is a known difference (docs/python-users.md), kept out.
  const ts = next.pick(["1700000000000", "0", "1", "-1", String(Date.UTC(2030, 0, 1)), "4102444800000", "1700000000000.5", "1.7e12", "1700000000000.0", "-0.0", "1765100000123.4567"]);
  return `{"queue_name":${JSON.stringify(queue)},"actor_name":${JSON.stringify(actor)},"args":${args},"kwargs":${kwargs},"options":{${options.join(",")}},"message_id":${JSON.stringify(id)},"message_timestamp":${ts}}`;
}

/** A delay for `enqueue`: none (undefined), whole or fractional ms, tiny fractions that
 * vanish against the clock, past Dramatiq's documented 7 days, negative (an eta in the
 * past, which Python writes as it is). */
export function randomDelay(next) {
  const r = next();
  if (r < 0.4) return undefined;
  return next.pick(["0", "1", "1000", "60000", "1.5", "0.25", "999.999", "1e-5", "5e-324", "604800001", "1e9", "2.5e3", "-1", "-1000", "-0.5", "-2.5e3", String(next.int(100000))]);
}

const FIELDS = ["queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"];
const OPTIONS = [
  "retries", "max_retries", "min_backoff", "max_backoff", "eta", "time_limit", "max_age", "pipe_target", "pipe_ignore",
  "on_success", "on_failure", "on_retry_exhausted", "store_results", "result_ttl", "group_completion_uuid",
  "group_completion_callbacks", "throws", "retry_when", "notify_shutdown", "redis_message_id", "broker_priority",
];
const ODD = [null, true, false, 0, -1, 1.5, 2.5, 1e-9, 1000, 1e300, "x", "1", "", [], [1], {}, { a: 1 }, "fd", "fz_mark", 2 ** 64];

/**
 * A random mutation of a valid body for actor `fz_mark` on `queue`, its `tag` in three
 * places (message_id, args, the option fz_tag), so that a run is recognised whichever one
 * the mutation changed: `{ body (text), what }`.
 */
export function mutatedBody(next, tag, queue) {
  const dict = {
    queue_name: queue, actor_name: "fz_mark", args: [tag], kwargs: {}, options: { fz_tag: tag },
    message_id: tag, message_timestamp: 1700000000000,
  };
  const what = [];
  for (let n = 1 + next.int(2); n > 0; n--) {
    const r = next();
    if (r < 0.15) {
      const f = next.pick(FIELDS);
      delete dict[f];
      what.push(`drop ${f}`);
    } else if (r < 0.3) {
      const f = next.pick(FIELDS);
      if (f in dict) {
        dict[`${f}_`] = dict[f];
        delete dict[f];
      }
      what.push(`rename ${f}`);
    } else if (r < 0.45) {
      const f = next.pick(FIELDS.filter((f) => f !== "message_id" || next.chance(0.3)));
      dict[f] = next.pick(ODD);
      what.push(`retype ${f}=${JSON.stringify(dict[f])}`);
    } else if (r < 0.55) {
      const k = next.pick(["extra", "queue", "__t", "redis_message_id", "options2"]);
      dict[k] = next.pick(ODD);
      what.push(`extra ${k}`);
    } else if (r < 0.9) {
      if (dict.options && typeof dict.options === "object" && !Array.isArray(dict.options)) {
        const o = next.pick(OPTIONS);
        dict.options[o] = next.pick(ODD);
        what.push(`option ${o}=${JSON.stringify(dict.options[o])}`);
      }
    } else if (r < 0.95) {
      dict.actor_name = next.pick(["nobody", "", "fz_echo"]);
      what.push(`actor ${dict.actor_name}`);
    } else {
      what.push("not json");
      return { body: `${JSON.stringify(dict).slice(0, -1)},${tag}`, what };
    }
  }
  const body = JSON.stringify(dict, (k, v) => (v === 2 ** 64 ? "__big__" : v)).replaceAll('"__big__"', "18446744073709551616");
  return { body, what };
}
