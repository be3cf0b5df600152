// The results gateway as a Hono app: an HTTP API over a Dramatiq deployment's Redis broker
// keys and its result store (read-only, but for the operator's actions when an operator
// token is configured), plus (through `assets`) the dashboard. Host-neutral: it
// takes a Redis command client and a results backend and returns the app, so the same code
// serves from Node (`./node.js`) and, with `connectRedis`, from a Cloudflare Worker
// (`./workerd.js`). Built as Hono apps are: one sub-app per route group, joined with
// `app.route()`, behind middleware.
//
//   GET /kv/<key>        the stored result bytes exactly (the KvBackend HTTP protocol), 404 absent
//                        (routes/results.js)
//   GET /api/queues      [{ name, queued, delayed, inProgress, deadLettered }]  (routes/queues.js)
//   GET /api/workers     [{ id, lastSeen, ageMs }] of the workers with fresh heartbeats
//   GET /api/status      { redis: { ok, error }, events: { head, ok, error } }
//   GET /api/messages    ?queue=&state=&limit=&cursor= → { items: [{ state, message, key }], cursor }
//                        (routes/messages.js)
//   GET /api/events      Server-Sent Events of state changes (routes/events.js, ./events.js and
//                        ./protocol.js), plus `queues`, `workers` and `status` when they change;
//                        Last-Event-ID replays
//   GET /api/messages?q= the search across the four states (routes/search.js)
//   GET /api/messages/<id>, …/<id>/result, /api/results/<q>/<a>/<id>
//                        one message's story, and its result waited for (routes/message.js)
//   GET /api/audit       the operator's actions, newest first (routes/audit.js)
//   GET /api/session     the caller's role (routes/session.js)
//   POST, DELETE         the operator's actions, with an operator token only (routes/actions.js)
//   GET anything else    the dashboard's files, when the host serves them (routes/assets.js)
//
// Every request meets, in order: the security headers (middleware/headers.js, on every
// answer), without a token the `Host` check (middleware/host.js: DNS rebinding), the limits
// (middleware/limits.js: only GET and HEAD, and OPTIONS preflights when CORS is on; URL
// length; no body), CORS for the API when configured (middleware/cors.js), then for the API
// the viewer's token (middleware/auth.js: `Authorization: Bearer <token>`, compared in
// constant time), and everything a request names is validated by its route.
import { Hono } from "hono";
import { describeValue } from "../internal/describe.js";
import { checkOptions } from "../internal/options.js";
import { EventPoller, toJson } from "./events.js";
import { BadRequest, Busy, Unavailable, guardRedis, notFound, onError } from "./http.js";
import { guard } from "./middleware/auth.js";
import { corsFor } from "./middleware/cors.js";
import { securityHeaders } from "./middleware/headers.js";
import { checkHost } from "./middleware/host.js";
import { limits } from "./middleware/limits.js";
import { BROKER_STATES } from "./protocol.js";
import { BrokerReader } from "./redis/broker.js";
import { resultKeyScheme } from "./redis/redis.js";
import { MessageHistory } from "./history.js";
import { BrokerWriter } from "./redis/actions.js";
import { MessageFinder } from "./redis/find.js";
import { actionRoutes } from "./routes/actions.js";
import { amqpActionRoutes, amqpFinder, amqpViewerRoutes } from "./routes/amqp.js";
import { auditRoutes } from "./routes/audit.js";
import { messageDetailRoutes } from "./routes/message.js";
import { searchRoutes } from "./routes/search.js";
import { sessionRoutes } from "./routes/session.js";
import { ResultWaiter } from "./waiter.js";
import { assetRoutes } from "./routes/assets.js";
import { eventRoutes } from "./routes/events.js";
import { messageRoutes } from "./routes/messages.js";
import { queueRoutes } from "./routes/queues.js";
import { resultRoutes } from "./routes/results.js";

export { Unavailable } from "./http.js";
export { sameSecret } from "./middleware/auth.js";
export { MAX_LIMIT } from "./routes/messages.js";
export { resultKeyScheme };

/** The states `/api/messages` pages through, in this order when none is named. */
export const STATES = BROKER_STATES;

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
 * @param {string} [o.operatorToken] the operator's token: with it the actions exist
 *   (routes/actions.js) and need it; it reads every viewer route too
 * @param {string} [o.auditKey] the Redis list of the audit log (default
 *   "dramatiq-results-gateway:audit:<broker namespace>")
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
 * @param {number} [o.writeTimeoutMs] a write to an event stream that does not complete in this long
 *   drops the viewer (30 000)
 * @param {number} [o.maxViewers] the most event streams open at once (1000; more get 503)
 * @param {string[]} [o.hosts] without a token, the host names requests may name (`Host`) beside
 *   the loopback ones; any other is answered 421 (DNS rebinding)
 * @param {(message: string) => void} [o.log] where the gateway says what the API does not
 *   show: the details of a store's failure (the API names only its kind), keys skipped for
 *   their type (once each)
 * @param {import("./amqp/broker.js").AmqpBroker} [o.amqp] a RabbitMQ deployment's broker
 *   (`serve --amqp`): queues, dead letters and the actions on them go through it
 *   (routes/amqp.js); `redis` then holds the results and the audit log only
 * @param {{ mode: "polling" | "keyspace" }} [o.follow] how the host follows the deployment
 *   (it sets `mode` to "keyspace" once subscribed to keyspace notifications; see ./keyspace.js)
 * @returns {Hono & { poller: EventPoller }}
 */
export function createGateway(options) {
  const {
    redis,
    backend,
    readKey,
    brokerKeys,
    resultsNamespace = "dramatiq-results",
    token,
    operatorToken,
    auditKey,
    cors,
    assets,
    decodeMessage = JSON.parse,
    encode = toJson,
    decodeResult,
    resultsInRedis = false,
    events = {},
    heartbeatTimeoutMs = 60_000,
    maxStreamMs = Infinity,
    writeTimeoutMs,
    maxViewers,
    hosts,
    log,
    follow = { mode: "polling" },
    amqp,
  } = checkOptions("createGateway()", options, {
    redis: "object",
    // An object, as declared (ResultBackend): null was taken here, to fail only where the
    // app first used it.
    backend: "object",
    readKey: "function",
    brokerKeys: "object",
    resultsNamespace: "string",
    // A string or nothing: any other value would be compared as its string form (an
    // object as "[object Object]", which anyone can send).
    token: "string?",
    operatorToken: "string?",
    auditKey: "string",
    // One origin (GatewayOptions.cors): anything else would be taken by Hono's CORS
    // silently, or as a list or a function it was never meant to be.
    cors: "string?",
    assets: "function",
    decodeMessage: "function",
    encode: "function",
    decodeResult: "function",
    resultsInRedis: "boolean",
    events: "object",
    heartbeatTimeoutMs: "ms",
    maxStreamMs: "ms",
    writeTimeoutMs: "ms",
    maxViewers: "count",
    hosts: "iterable",
    log: "function",
    follow: "object",
    amqp: "object",
  });
  // The poller's settings (GatewayEventsOptions), each a positive count or duration: a
  // misspelled one would be ignored, a wrong one (0, NaN) would make a poll loop spin, and
  // any other name would replace the poller's own parts (`reader`, `log`).
  const pollerSettings = checkOptions("createGateway(): events", events, {
    intervalMs: "count",
    discoverEveryMs: "count",
    recheckEveryMs: "count",
    resultGraceMs: "ms",
    cap: "count",
    ringSize: "count",
    maxFinished: "count",
    resultScanCalls: "count",
    resultScanCount: "count",
    ringBytes: "count",
    recordBytes: "count",
    maxMessageBytes: "count",
    maxRecords: "count",
    resultReads: "count",
  });
  for (const name of hosts ?? []) {
    if (typeof name !== "string") throw new TypeError(`createGateway(): option hosts must hold host names (strings), got ${describeValue(name)}`);
  }
  const guarded = guardRedis(redis);
  const say = (message) => {
    try {
      log?.(message);
    } catch {
      // A log that throws changes nothing.
    }
  };
  const onStray = (key) => say(`skipping ${key}: not of the type Dramatiq's Redis broker gives that key (reported once)`);
  const reader = new BrokerReader(guarded, { keys: brokerKeys, heartbeatTimeoutMs, onStray });
  const resultKeys = resultsInRedis && decodeResult ? resultKeyScheme(backend, resultsNamespace) : null;
  const poller = new EventPoller({ reader, backend, decodeMessage, encode, resultKeys, readKey, decodeResult, log: say, ...pollerSettings,
    // RabbitMQ's counts for the page's overview (`queues` events), as `/api/queues` reads them.
    ...(amqp ? { queueCounts: () => amqp.counts() } : {}) });
  // What the route groups share.
  const ctx = { redis: guarded, reader, poller, backend, brokerKeys, readKey, resultsNamespace, decodeMessage, maxStreamMs, writeTimeoutMs, maxViewers };
  // The operator's parts (issue 28): actions, the audit log, finding and following one message.
  ctx.writer = new BrokerWriter(guarded, { keys: brokerKeys, auditKey: auditKey ?? `dramatiq-results-gateway:audit:${brokerKeys.namespace}`, decodeMessage,
    // Results in this Redis: a requeue drops the previous run's result with the move.
    resultKey: resultsInRedis ? (identity) => backend.buildMessageKey(identity) : null });
  ctx.history = new MessageHistory();
  // Over RabbitMQ a message is found by id among the dead letters (all RabbitMQ shows).
  ctx.finder = amqp ? amqpFinder({ amqp, history: ctx.history }) : new MessageFinder(reader, decodeMessage, () => ctx.queues());
  ctx.history.follow(poller);
  ctx.waiter = new ResultWaiter({ backend, encode });
  poller.observe((event, record) => (record?.state === "done" || record?.state === "failed") && ctx.waiter.poke());
  Object.assign(ctx, { token, operatorToken, follow, amqp, resultsInRedis });
  // The queue names for search, lookups and bulk actions: the poller's (it discovers them
  // every few seconds) when it runs, else one discovery (SCAN) at most every 5 s: on a Redis
  // with many other keys a discovery is hundreds of SCAN calls. `since` (ms since the epoch)
  // asks for the queues there were at that time at least: the names of a discovery that
  // started then or later are added (one in flight is shared, so requests at once make one
  // SCAN). A bulk action and a new search ask from their own start (a queue whose first dead
  // letters came after the last discovery was skipped while a bulk answer said `complete:
  // true`, and a search did not find its messages). What a discovery
  // finds is kept with the poller's names for 5 s, so a search's later pages see them.
  let discovered = { at: -Infinity, names: [] };
  let pending = null;
  const discover = (since) => {
    if (discovered.at >= since) return discovered.names;
    if (pending && pending.at >= since) return pending.promise;
    const at = Date.now();
    const promise = reader.queues().then((names) => {
      if (at >= discovered.at) discovered = { at, names };
      return names;
    }).finally(() => {
      if (pending?.promise === promise) pending = null;
    });
    pending = { at, promise };
    return promise;
  };
  ctx.queues = async ({ maxAgeMs = 5000, since } = {}) => {
    if (!(poller.running && poller.queueNames.size)) return discover(Math.max(since ?? -Infinity, Date.now() - maxAgeMs));
    const fresh = since === undefined ? [] : await discover(since);
    const recent = Date.now() - discovered.at <= maxAgeMs ? discovered.names : [];
    return [...new Set([...poller.queueNames, ...recent, ...fresh])].sort();
  };

  const app = new Hono();
  app.poller = poller;
  app.waiter = ctx.waiter;
  // A request that fails (503: a store's failure, 500: anything unexpected) answers only the
  // kind of failure (http.js `publicError`); its details go to the log, as SECURITY.md says.
  // Before, only the poller's own failures were logged: a request's script error, or an
  // internal error, left no trace anywhere. The path is written as a JSON string, so an id
  // with a line break in it cannot forge a log line.
  app.onError((error, c) => {
    if (!(error instanceof BadRequest || error instanceof Busy)) {
      // A store's failure in one line (its message names the cause); anything else, a bug,
      // with its stack.
      const store = error instanceof Unavailable || error?.code === "RESULT_STORE" || error?.code === "RESULT_TIMEOUT";
      const detail = store ? `${error?.message ?? error}${error?.cause?.message && !String(error.message).includes(error.cause.message) ? ` (cause: ${error.cause.message})` : ""}` : (error?.stack ?? String(error));
      say(`${c.req.method} ${JSON.stringify(c.req.path)} failed: ${detail}`);
    }
    return onError(error, c);
  });
  app.notFound(notFound);

  // A waiting route learns that its client left from the request's AbortSignal. Under
  // @hono/node-server that signal is made only when something first reads it, and aborts
  // when the client leaves only if it was made by then: read after the token check and the
  // first store read (awaits), it missed any client that left meanwhile, whose wait then
  // held a timer and a waiter slot for its whole timeout (up to 60 s; a crowd of such
  // clients filled `maxWaiting` and turned the others away). So these routes make it first.
  const watchLeaving = async (c, next) => {
    void c.req.raw.signal;
    await next();
  };
  app.use("/api/messages/:id/result", watchLeaving);
  app.use("/api/results/*", watchLeaving);
  app.use("*", securityHeaders());
  if (!token) app.use("*", checkHost({ hosts }));
  app.use("*", limits({ cors, actions: Boolean(operatorToken) }));
  if (cors) {
    app.use("/api/*", corsFor(cors, { events: true, actions: Boolean(operatorToken) }));
    app.use("/kv/*", corsFor(cors));
  }

  // The operator's routes first: their writes never reach the viewer's guard.
  if (operatorToken && amqp) app.route("/api", amqpActionRoutes(ctx));
  if (operatorToken) app.route("/api", actionRoutes(ctx));
  // The viewer's routes: read-only, open when no token is configured (loopback only); the
  // operator's token reads them too.
  const viewer = { token, also: operatorToken };
  app.route("/kv", guard([resultRoutes(ctx)], viewer));
  app.route("/api", guard([...(amqp ? [amqpViewerRoutes(ctx)] : []), queueRoutes(ctx), searchRoutes(ctx), messageRoutes(ctx), messageDetailRoutes(ctx), auditRoutes(ctx), sessionRoutes(ctx), eventRoutes(ctx)], viewer));

  if (assets) app.route("/", assetRoutes(assets));
  return app;
}
