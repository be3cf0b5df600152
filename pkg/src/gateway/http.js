// What every route of the gateway shares: its two errors, JSON answers, and the check of a
// request's query parameters. Host-neutral.

/**
 * What a failure is called where anyone who may read the API sees it: the kind of failure,
 * never its details (a Redis address, a script's hash and line, a path), which go to the
 * host's log instead.
 */
export function publicError(error) {
  const cause = error?.cause ?? error;
  const text = String(cause?.message ?? cause ?? "");
  if (/timed? ?out|timeout/i.test(text)) return "the store did not answer in time";
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|closed|connect/i.test(text)) return "the store is unreachable";
  if (/NOAUTH|WRONGPASS|auth/i.test(text)) return "the store refused the gateway's credentials";
  if (/OOM|BUSY|LOADING|MASTERDOWN|READONLY/.test(text)) return "the store is busy or not ready";
  return "the store failed";
}

/** `JSON.stringify` that writes a `BigInt` as a number literal (exact), not a TypeError. */
export function toJson(value) {
  const marks = [];
  const text = JSON.stringify(value, (_, v) => {
    if (typeof v !== "bigint") return v;
    marks.push(v);
    return `\u0000bigint${marks.length - 1}\u0000`;
  });
  return marks.length ? text.replace(/"\\u0000bigint(\d+)\\u0000"/g, (_, i) => String(marks[Number(i)])) : text;
}

/** The store (Redis or the results store) failed: 503, and the page says the source is down. */
export class Unavailable extends Error {
  constructor(cause) {
    super(`store unavailable: ${cause?.message ?? cause}`, { cause });
    this.name = "Unavailable";
  }
}

/** Something the request names is not acceptable: 400 with this message. */
export class BadRequest extends Error {}

/** Too much of this work is under way to take more now: 429 with this message. */
export class Busy extends Error {}

/** A JSON answer (BigInts written exactly, as `toJson` does). */
export const json = (c, value, status = 200) =>
  c.body(toJson(value), status, { "content-type": "application/json; charset=utf-8" });

/** Refuses query parameters other than `allowed`, and any given more than once. */
export function only(c, allowed) {
  for (const name of Object.keys(c.req.queries())) {
    if (!allowed.includes(name)) throw new BadRequest(`unknown parameter: ${name}`);
    if (c.req.queries(name).length > 1) throw new BadRequest(`${name}: given more than once`);
  }
}

/** The app's error handler: 400 for a bad request, 429 when busy, 503 when a store failed, else 500. */
export function onError(error, c) {
  if (error instanceof BadRequest) return json(c, { error: error.message }, 400);
  if (error instanceof Busy) {
    c.header("retry-after", "1");
    return json(c, { error: error.message }, 429);
  }
  const store = error instanceof Unavailable || error?.code === "RESULT_STORE" || error?.code === "RESULT_TIMEOUT";
  if (store) return json(c, { error: "unavailable", detail: publicError(error) }, 503);
  return json(c, { error: "internal error" }, 500);
}

/** The app's answer to a path nothing serves. */
export const notFound = (c) => json(c, { error: "not found" }, 404);

/** Every Redis command through `redis`, a failure as `Unavailable`. */
export const guardRedis = (redis) => ({
  sendCommand: async (argv) => {
    try {
      return await redis.sendCommand(argv);
    } catch (error) {
      throw new Unavailable(error);
    }
  },
});
