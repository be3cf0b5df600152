// The results gateway as a Hono app: a read-only HTTP API over a Dramatiq deployment's Redis
// broker keys and its result store, plus (through `assets`) the dashboard. Host-neutral: it
// takes a Redis command client and a results backend and returns the app, so the same code
// serves from Node (`./node.js`) and, with `connectRedis`, from a Cloudflare Worker.
//
//   GET /kv/<key>        the stored result bytes exactly (the KvBackend HTTP protocol), 404 absent
//   GET /api/queues      [{ name, queued, delayed, inProgress, deadLettered }]
//   GET /api/workers     [{ id, lastSeen, ageMs }] of the workers with fresh heartbeats
//   GET /api/messages    ?queue=&state=&limit=&cursor= → { items: [{ state, message, key }], cursor }
//   GET /api/events      Server-Sent Events of state changes (see ./events.js), plus `queues`,
//                        `workers` and `status` when they change; Last-Event-ID replays
//   GET /api/status      { redis: { ok, error }, events: { head, ok, error } }
//
// With a token, every route but the dashboard's static files needs `Authorization: Bearer
// <token>` (compared in constant time). Only GET and HEAD are served (and OPTIONS preflights
// when CORS is on); everything a request names is validated.
import { Hono } from "hono";
import { cors as corsMiddleware } from "hono/cors";
import { streamSSE } from "hono/streaming";
import { BrokerReader, isQueueName } from "./broker.js";
import { EventPoller, toJson } from "./events.js";

/** The states `/api/messages` pages through, in this order when none is named. */
export const STATES = ["queued", "delayed", "in-progress", "dead-lettered"];
/** The largest page `/api/messages` hands out. */
export const MAX_LIMIT = 1000;
const MAX_URL = 4096;
const MAX_KEY = 1024;
const WRITE_TIMEOUT_MS = 30_000;
const ID = /^[A-Za-z0-9_.:-]{0,100}$/;

/** The store (Redis or the results store) failed: 503, and the page says the source is down. */
export class Unavailable extends Error {
  constructor(cause) {
    super(`store unavailable: ${cause?.message ?? cause}`, { cause });
    this.name = "Unavailable";
  }
}

class BadRequest extends Error {}

const encoder = new TextEncoder();

/** Whether two secrets are equal, in time independent of where they differ (and of their
 * lengths: both are hashed first). */
export async function sameSecret(given, expected) {
  const digest = (s) => crypto.subtle.digest("SHA-256", encoder.encode(s));
  const [a, b] = (await Promise.all([digest(given), digest(expected)])).map((d) => new Uint8Array(d));
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const base64url = {
  encode: (s) => btoa(String.fromCharCode(...encoder.encode(s))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  decode: (s) => new TextDecoder().decode(Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))),
};

/** Parses and checks a `/api/messages` cursor; anything unexpected is a 400. */
function readCursor(raw) {
  if (raw === undefined) return { st: null, inner: undefined };
  if (raw.length > 512 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw new BadRequest("cursor: not a cursor this gateway gave");
  let c;
  try {
    c = JSON.parse(base64url.decode(raw));
  } catch {
    throw new BadRequest("cursor: not a cursor this gateway gave");
  }
  const ok = c && typeof c === "object" && Number.isInteger(c.st) && c.st >= 0 && c.st < STATES.length &&
    (c.p === undefined || c.p === 0 || c.p === 1) &&
    (c.id === undefined || (typeof c.id === "string" && ID.test(c.id))) &&
    (c.i === undefined || (Number.isInteger(c.i) && c.i >= 0 && c.i < 2 ** 32)) &&
    (c.s === undefined || (typeof c.s === "string" && /^-?\d{1,20}(\.\d{1,20})?(e[+-]?\d{1,3})?$/i.test(c.s)));
  if (!ok) throw new BadRequest("cursor: not a cursor this gateway gave");
  const { st, ...inner } = c;
  return { st, inner };
}

/** SCAN's MATCH is a glob: `text` with its glob characters escaped. */
const globEscape = (text) => text.replace(/[*?[\]\\]/g, "\\$&");

/**
 * How the backend names result keys, learnt from the backend itself (the key derivation
 * stays the core's): the SCAN pattern of its keys and, for namespace-prefixed keys
 * (`ns:queue:actor:message_id`), the message a key names, checked by deriving the key back.
 * Dramatiq's default keys are MD5 hashes, which name nothing.
 */
export function resultKeyScheme(backend, namespace) {
  const probe = { queueName: "q", actorName: "a", messageId: "m" };
  const prefixed = backend.buildMessageKey(probe) === `${namespace}:q:a:m`;
  if (!prefixed) return { pattern: "[0-9a-f]".repeat(32), parse: () => null };
  return {
    pattern: `${globEscape(namespace)}:*`,
    parse(key) {
      const parts = key.slice(namespace.length + 1).split(":");
      if (parts.length < 3) return null;
      const messageId = parts.pop();
      const actorName = parts.pop();
      const identity = { queueName: parts.join(":"), actorName, messageId };
      try {
        return backend.buildMessageKey(identity) === key ? identity : null;
      } catch {
        return null;
      }
    },
  };
}

/**
 * Creates the gateway app.
 *
 * @param {object} o
 * @param {{ sendCommand(argv: Array<string|Uint8Array>): Promise<unknown> }} o.redis the broker's Redis
 * @param {object} o.backend the package's result backend (`RedisBackend`, `MemcachedBackend`) for keys and decoding
 * @param {(key: string) => Promise<Uint8Array|null>} o.readKey raw bytes of a result key, null when absent
 * @param {import("../index.js").RedisBrokerKeys} o.brokerKeys the broker's key names (`new RedisBrokerKeys(namespace)` of this package)
 * @param {string} [o.resultsNamespace] the results backend's namespace (default "dramatiq-results")
 * @param {string} [o.token] the bearer token every API route then needs
 * @param {string} [o.cors] an origin allowed to call the API from a browser
 * @param {(c: import("hono").Context) => Response|Promise<Response>|null} [o.assets] serves the dashboard's files
 * @param {(text: string) => object} [o.decodeMessage] parses a message's JSON (Dramatiq's dialect)
 * @param {(value: unknown) => string} [o.encode] writes a result value as JSON text
 * @param {(bytes: Uint8Array) => Promise<{ value?: unknown, error?: Error }>} [o.decodeResult] stored result bytes
 *   as the package reads them; with it, and results in the broker's Redis (`resultsInRedis`),
 *   the event poller also finds results of messages it never saw (see ./events.js)
 * @param {boolean} [o.resultsInRedis] whether results live in `redis` (SCAN can walk them)
 * @param {object} [o.events] options of the event poller (intervalMs, ringSize, …)
 * @param {number} [o.maxStreamMs] an event stream ends after this long with a `reconnect` event
 *   (the client comes back with `Last-Event-ID`): for hosts that may not notice a viewer
 *   leaving (a Durable Object); none by default
 * @param {number} [o.heartbeatTimeoutMs] how old a heartbeat may be for its worker to count (60 000, as Dramatiq)
 * @returns {Hono & { poller: EventPoller }}
 */
export function createGateway({
  redis,
  backend,
  readKey,
  brokerKeys,
  resultsNamespace = "dramatiq-results",
  token,
  cors,
  assets,
  decodeMessage = JSON.parse,
  encode = toJson,
  decodeResult,
  resultsInRedis = false,
  events = {},
  heartbeatTimeoutMs = 60_000,
  maxStreamMs = Infinity,
}) {
  const guarded = {
    sendCommand: async (argv) => {
      try {
        return await redis.sendCommand(argv);
      } catch (error) {
        throw new Unavailable(error);
      }
    },
  };
  const reader = new BrokerReader(guarded, { keys: brokerKeys, heartbeatTimeoutMs });
  const resultKeys = resultsInRedis && decodeResult ? resultKeyScheme(backend, resultsNamespace) : null;
  const poller = new EventPoller({ reader, backend, decodeMessage, encode, resultKeys, readKey, decodeResult, ...events });
  const keyPattern = new RegExp(`^(?:[0-9a-f]{32}|${resultsNamespace.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:[^\\s\\u0000-\\u001f\\u007f]+)$`);
  const json = (c, value, status = 200) =>
    c.body(toJson(value), status, { "content-type": "application/json; charset=utf-8" });

  const app = new Hono();
  app.poller = poller;

  app.onError((error, c) => {
    if (error instanceof BadRequest) return json(c, { error: error.message }, 400);
    const store = error instanceof Unavailable || error?.code === "RESULT_STORE" || error?.code === "RESULT_TIMEOUT";
    if (store) return json(c, { error: "unavailable", detail: String(error.cause?.message ?? error.message) }, 503);
    return json(c, { error: "internal error" }, 500);
  });
  app.notFound((c) => json(c, { error: "not found" }, 404));

  // Methods, sizes and headers for everything, the dashboard's files included.
  app.use("*", async (c, next) => {
    const method = c.req.method;
    const preflight = method === "OPTIONS" && cors;
    if (method !== "GET" && method !== "HEAD" && !preflight) {
      return c.body(null, 405, { allow: cors ? "GET, HEAD, OPTIONS" : "GET, HEAD" });
    }
    if (c.req.url.length > MAX_URL) return json(c, { error: "URL too long" }, 414);
    const length = c.req.header("content-length");
    if ((length && length !== "0") || c.req.header("transfer-encoding")) return json(c, { error: "a request has no body here" }, 413);
    await next();
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "no-referrer");
    c.header("x-frame-options", "DENY");
  });

  if (cors) {
    app.use("/api/*", corsMiddleware({ origin: cors, allowMethods: ["GET", "HEAD"], allowHeaders: ["Authorization", "Last-Event-ID"], maxAge: 600 }));
    app.use("/kv/*", corsMiddleware({ origin: cors, allowMethods: ["GET", "HEAD"], allowHeaders: ["Authorization"], maxAge: 600 }));
  }

  const authorize = async (c, next) => {
    if (c.req.method === "OPTIONS") return next(); // a preflight carries no credentials
    c.header("cache-control", "no-store");
    if (token) {
      const header = c.req.header("authorization") ?? "";
      const given = /^Bearer (.+)$/.exec(header)?.[1] ?? "";
      if (!(await sameSecret(given, token))) {
        c.header("www-authenticate", 'Bearer realm="dramatiq-results"');
        return json(c, { error: "unauthorized" }, 401);
      }
    }
    return next();
  };
  app.use("/api/*", authorize);
  app.use("/kv/*", authorize);
  app.use("/kv", authorize);

  app.get("/kv/:key{.+}", async (c) => {
    const key = c.req.param("key");
    if (key.length > MAX_KEY || !keyPattern.test(key)) {
      throw new BadRequest(`key: not a result key of namespace ${resultsNamespace}`);
    }
    let bytes;
    try {
      bytes = await readKey(key);
    } catch (error) {
      throw new Unavailable(error);
    }
    if (bytes == null) return c.body(null, 404);
    return c.body(bytes, 200, { "content-type": "application/octet-stream" });
  });

  // What the key route cannot match (a key with a line break) or no key at all.
  app.get("/kv/*", () => {
    throw new BadRequest(`key: not a result key of namespace ${resultsNamespace}`);
  });
  app.get("/kv", () => {
    throw new BadRequest("key: missing");
  });

  const only = (c, allowed) => {
    for (const name of Object.keys(c.req.queries())) {
      if (!allowed.includes(name)) throw new BadRequest(`unknown parameter: ${name}`);
      if (c.req.queries(name).length > 1) throw new BadRequest(`${name}: given more than once`);
    }
  };

  app.get("/api/queues", async (c) => {
    only(c, []);
    return json(c, await reader.counts(await reader.queues()));
  });

  app.get("/api/workers", async (c) => {
    only(c, []);
    const now = Date.now();
    return json(c, (await reader.workers(now)).map((w) => ({ ...w, ageMs: Math.max(0, now - w.lastSeen) })));
  });

  app.get("/api/messages", async (c) => {
    only(c, ["queue", "state", "limit", "cursor"]);
    const queue = c.req.query("queue");
    if (queue === undefined || !isQueueName(brokerKeys, queue)) throw new BadRequest("queue: a queue name is required");
    const state = c.req.query("state");
    if (state !== undefined && !STATES.includes(state)) throw new BadRequest(`state: one of ${STATES.join(", ")}`);
    const rawLimit = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(rawLimit) || +rawLimit < 1 || +rawLimit > MAX_LIMIT) throw new BadRequest(`limit: 1 to ${MAX_LIMIT}`);
    const limit = Number(rawLimit);
    let { st, inner } = readCursor(c.req.query("cursor"));
    if (st === null) st = state ? STATES.indexOf(state) : 0;
    else if (state && STATES[st] !== state) throw new BadRequest("cursor: from another state");
    const items = [];
    let next = null;
    // One state (or, with none named, each in turn) until the page is full.
    while (items.length < limit) {
      const page = await reader.page(queue, STATES[st], inner, limit - items.length);
      for (const { body } of page.items) {
        const parsed = parseMessage(body, queue);
        if (parsed) items.push({ state: STATES[st], ...parsed });
      }
      if (page.cursor) {
        next = { st, ...page.cursor };
        break;
      }
      if (state || st === STATES.length - 1) break;
      st++;
      inner = undefined;
      if (items.length === limit) next = { st }; // the page is full: the next one starts there
    }
    return json(c, { items, cursor: next ? base64url.encode(JSON.stringify(next)) : null });
  });

  function parseMessage(body, queue) {
    if (body == null) return null; // gone since its id was read
    let message;
    try {
      message = decodeMessage(body);
    } catch {
      return null;
    }
    if (!message || typeof message.message_id !== "string" || typeof message.actor_name !== "string") return null;
    let key = null;
    try {
      key = backend.buildMessageKey({ queueName: queue, actorName: message.actor_name, messageId: message.message_id });
    } catch {
      // A name the key derivation refuses: listed without a key.
    }
    return { message, key };
  }

  app.get("/api/status", async (c) => {
    only(c, []);
    let redisStatus = { ok: true, error: null };
    try {
      await guarded.sendCommand(["PING"]);
    } catch (error) {
      redisStatus = { ok: false, error: String(error.cause?.message ?? error.message) };
    }
    return json(c, { redis: redisStatus, events: { head: poller.head, polling: poller.running, watchers: poller.watchers, ...poller.status } }, redisStatus.ok ? 200 : 503);
  });

  app.get("/api/events", (c) => {
    only(c, []);
    poller.start();
    const header = c.req.header("last-event-id");
    if (header !== undefined && !/^\d{1,16}$/.test(header)) throw new BadRequest("Last-Event-ID: not an event id");
    c.header("cache-control", "no-store");
    c.header("x-accel-buffering", "no");
    if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream" }); // no stream to hang on
    return streamSSE(c, async (stream) => {
      // Subscribe first, so nothing falls between the replay and the live events.
      const queue = [];
      let wake = null;
      let overflow = false;
      const unsubscribe = poller.subscribe((event) => {
        if (queue.length > 50_000) overflow = true; // a client this far behind reconnects
        else queue.push(event);
        wake?.();
      });
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      const endsAt = Date.now() + maxStreamMs;
      // A write that does not complete in WRITE_TIMEOUT_MS (a viewer gone without its
      // connection closing, or one that stopped reading) ends the stream.
      const send = async (write) => {
        let timer;
        const late = new Promise((resolve) => (timer = setTimeout(() => resolve(true), WRITE_TIMEOUT_MS)));
        const timedOut = await Promise.race([write.then(() => false), late]).finally(() => clearTimeout(timer));
        if (timedOut) closed = true;
      };
      try {
        await stream.writeSSE({ event: "status", data: poller.statusJson() });
        await stream.writeSSE({ event: "queues", data: poller.overview.queues });
        await stream.writeSSE({ event: "workers", data: poller.overview.workers });
        const lastId = header === undefined ? null : Number(header);
        const missed = lastId === null ? null : poller.since(lastId);
        if (missed) {
          for (const e of missed) await stream.writeSSE({ id: String(e.id), event: e.type, data: e.json });
        } else {
          // New, or away longer than the ring remembers: everything still known, then live.
          const records = [...poller.records.values()];
          await stream.writeSSE({ event: "reset", data: toJson({ head: poller.head, records: records.length }) });
          for (let i = 0; i < records.length; i++) {
            const last = i === records.length - 1;
            await stream.writeSSE({ event: "snapshot", data: toJson(records[i]), ...(last ? { id: String(poller.head) } : {}) });
          }
          if (!records.length) await stream.writeSSE({ event: "ready", data: "{}", id: String(poller.head) });
        }
        let sentUpTo = missed ? Math.max(lastId, missed.at(-1)?.id ?? lastId) : poller.head;
        while (!closed && !overflow) {
          while (queue.length && !closed) {
            const e = queue.shift();
            if (e.id === undefined) await send(stream.writeSSE({ event: e.type, data: e.json })); // status, queues, workers
            else if (e.id > sentUpTo) {
              await send(stream.writeSSE({ id: String(e.id), event: e.type, data: e.json }));
              sentUpTo = e.id;
            }
          }
          if (closed || overflow) break;
          const left = endsAt - Date.now();
          if (left <= 0) {
            await send(stream.writeSSE({ event: "reconnect", data: "{}" }));
            break;
          }
          // A comment now and then keeps proxies from closing an idle stream.
          await new Promise((resolve) => {
            wake = resolve;
            setTimeout(resolve, Math.min(15_000, left));
          });
          wake = null;
          if (!queue.length && !closed && Date.now() < endsAt) await send(stream.write(": ping\n\n"));
        }
      } finally {
        unsubscribe();
      }
    });
  });

  if (assets) app.get("*", (c) => assets(c));

  return app;
}
