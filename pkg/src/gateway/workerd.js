// The gateway as a Cloudflare Worker (the `workerd` condition of `dramatiq-results/gateway`):
// the same Hono app as `npx dramatiq-results serve`, over the package's own `connectRedis`
// (cloudflare:sockets). Deploy with, in the Worker's main module:
//
//   export { default, GatewayObject } from "dramatiq-results/gateway";
//
// and the wrangler.toml of docs/edge.md (a Durable Object binding `GATEWAY`, `REDIS_URL`, a
// `TOKEN` secret, optionally an `OPERATOR_TOKEN` secret for the operator's actions and the
// dashboard's files as static assets bound as `ASSETS`). The audit log lives in Redis (as
// with `serve`), so it outlives the object; keyspace notifications need a subscription a
// Durable Object cannot hold between requests, so the Worker polls (the page says so).
//
// Where the poller lives, and why a Durable Object: in a Worker a socket belongs to the
// request that opened it, and isolates come and go, so a poller kept in module scope could
// neither reuse its Redis connection across requests nor keep the event ring that
// `Last-Event-ID` replays from. One Durable Object (named "gateway") is a single place that
// every request of the API reaches: it owns one Redis connection and one `EventPoller`, so
// all viewers share one poll of Redis (not one per open stream) and a reconnecting client
// gets exactly what it missed. It polls while an event stream is open and, carried by its
// alarm, for `IDLE_POLL_MS` (default 5 minutes) after the last one closes, then stops, so an
// unwatched deployment costs nothing. If the object is evicted the records are gone with it,
// and a returning client gets a fresh snapshot (the event ids restart above the old ones).
//
// Static files are served by the Worker itself (not the object) from the `ASSETS` binding
// (`npx dramatiq-results assets <dir>` writes that directory).
import { JSONEncoder, Message, RedisBackend, RedisBrokerKeys, StubBackend, connectRedis } from "../../dist/workerd.js";
import { createGateway } from "./app.js";
import { packageCodecs } from "./codecs.js";
import { openRedis, redisReadKey } from "./redis/redis.js";

import { SECURITY_HEADERS, pagePolicy } from "./middleware/headers.js";
import { isLoopbackName } from "./middleware/host.js";

// The same exports as the default entry, and the Worker (`default`, `GatewayObject`).
export { createGateway, MAX_LIMIT, resultKeyScheme, STATES, Unavailable, sameSecret } from "./app.js";

const DEFAULT_IDLE_POLL_MS = 5 * 60_000;
// A viewer that goes away is not always noticed by the object (its stream's cancellation
// need not reach it, and a write to it may just be buffered), so every event stream ends
// after this long with a `reconnect` event; the client comes back with `Last-Event-ID` and
// misses nothing, and a viewer that is gone stops counting.
const DEFAULT_STREAM_MAX_MS = 5 * 60_000;

/** A whole number from a Worker variable, or `fallback` when unset; a bad value throws. */
function number(env, name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The gateway's settings from the Worker's environment (vars and secrets). */
function settingsFrom(env) {
  const url = env.REDIS_URL;
  if (typeof url !== "string" || !url) throw new Error("REDIS_URL is not set (the broker's Redis)");
  const token = env.TOKEN || env.DRAMATIQ_RESULTS_TOKEN || undefined;
  if (token !== undefined && token.length < 16) throw new Error("TOKEN must be at least 16 characters");
  // The operator's token (`OPERATOR_TOKEN` secret): with it the actions exist (routes/actions.js).
  const operatorToken = env.OPERATOR_TOKEN || env.DRAMATIQ_RESULTS_OPERATOR_TOKEN || undefined;
  if (operatorToken !== undefined && operatorToken.length < 16) throw new Error("OPERATOR_TOKEN must be at least 16 characters");
  if (operatorToken !== undefined && operatorToken === token) throw new Error("OPERATOR_TOKEN must differ from TOKEN");
  const cors = env.CORS || undefined;
  if (cors !== undefined && !/^https?:\/\/[^/\s]+$/.test(cors)) throw new Error("CORS takes an origin, like https://ops.example.com");
  return {
    url,
    token,
    operatorToken,
    cors,
    brokerNamespace: env.BROKER_NAMESPACE || "dramatiq",
    resultsNamespace: env.RESULTS_NAMESPACE || "dramatiq-results",
    prefixKeys: /^(1|true|yes)$/i.test(env.PREFIX_KEYS ?? ""),
    intervalMs: number(env, "POLL_INTERVAL_MS", 500, 50, 600_000),
    heartbeatTimeoutMs: number(env, "HEARTBEAT_TIMEOUT_MS", 60_000, 1, 86_400_000),
    idlePollMs: number(env, "IDLE_POLL_MS", DEFAULT_IDLE_POLL_MS, 0, 86_400_000),
    maxStreamMs: number(env, "STREAM_MAX_MS", DEFAULT_STREAM_MAX_MS, 1000, 86_400_000),
  };
}

const json = (value, status) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json; charset=utf-8", ...SECURITY_HEADERS } });

/** The Durable Object holding the gateway: one Redis connection, one app, one poller. */
export class GatewayObject {
  #state;
  #env;
  #opening = null;

  constructor(state, env) {
    this.#state = state;
    this.#env = env;
  }

  async #open() {
    const settings = settingsFrom(this.#env);
    const redis = await openRedis(connectRedis, settings.url);
    const backend = new RedisBackend(redis, { namespace: settings.resultsNamespace, useNamespacePrefixKeys: settings.prefixKeys });
    const app = createGateway({
      redis,
      backend,
      readKey: redisReadKey(redis),
      brokerKeys: new RedisBrokerKeys(settings.brokerNamespace),
      resultsNamespace: settings.resultsNamespace,
      token: settings.token,
      operatorToken: settings.operatorToken,
      cors: settings.cors,
      events: { intervalMs: settings.intervalMs },
      heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
      maxStreamMs: settings.maxStreamMs,
      ...packageCodecs({ JSONEncoder, StubBackend, Message }),
      log: (message) => console.warn(`dramatiq-results gateway: ${message}`),
      resultsInRedis: true,
    });
    return { app, settings };
  }

  async fetch(request) {
    let gateway;
    try {
      gateway = await (this.#opening ??= this.#open());
    } catch (error) {
      this.#opening = null;
      return json({ error: "misconfigured", detail: String(error.message ?? error) }, 500);
    }
    const response = await gateway.app.fetch(request);
    // An event stream (re)starts the poller: the alarm will stop it once nobody watches.
    if (gateway.app.poller.running && new URL(request.url).pathname === "/api/events") await this.#armAlarm(gateway);
    return response;
  }

  async #armAlarm(gateway) {
    if ((await this.#state.storage.getAlarm()) === null) {
      await this.#state.storage.setAlarm(Date.now() + Math.max(1000, gateway.settings.idlePollMs));
    }
  }

  /** Stops the poller once no event stream has been open for `idlePollMs`; else looks again. */
  async alarm() {
    const gateway = await this.#opening?.catch(() => null);
    if (!gateway) return; // a fresh object after an eviction: nothing polls
    const { poller } = gateway.app;
    const idle = gateway.settings.idlePollMs;
    const now = Date.now();
    if (!poller.running) return;
    if (poller.watchers === 0 && now - poller.lastWatchedAt >= idle) {
      poller.stop();
      return;
    }
    const next = poller.watchers > 0 ? now + idle : poller.lastWatchedAt + idle;
    await this.#state.storage.setAlarm(Math.max(now + 1000, next));
  }
}

/** Whether a request is for the API (served by the Durable Object) rather than a file. */
const isApi = (pathname) => pathname === "/kv" || pathname.startsWith("/kv/") || pathname === "/api" || pathname.startsWith("/api/");

/** Serves a dashboard file from the `ASSETS` binding; the page opens on the deployment. */
async function serveAsset(request, env) {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response(null, { status: 405, headers: { allow: "GET, HEAD", ...SECURITY_HEADERS } });
  }
  if (!env.ASSETS) return json({ error: "not found" }, 404);
  const response = await env.ASSETS.fetch(request);
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) headers.set(name, value);
  if (response.ok && (headers.get("content-type") ?? "").startsWith("text/html") && request.method === "GET") {
    const page = (await response.text()).replace("<head>", '<head>\n<meta name="dramatiq-results-gateway" content="1">');
    headers.set("content-security-policy", await pagePolicy(page));
    headers.delete("content-length");
    headers.delete("etag");
    return new Response(page, { status: response.status, headers });
  }
  return new Response(response.body, { status: response.status, headers });
}


/**
 * The Worker's handler: the API goes to the `GATEWAY` Durable Object (one instance, named
 * "gateway"), everything else to the dashboard's files. Without a `TOKEN` the API answers
 * only requests to localhost (as the Node gateway refuses to listen beyond loopback).
 */
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (!isApi(url.pathname)) return serveAsset(request, env);
    if (!(env.TOKEN || env.DRAMATIQ_RESULTS_TOKEN) && !isLoopbackName(url.hostname)) {
      return json({ error: "no TOKEN set: the gateway serves its API beyond localhost only with a token (wrangler secret put TOKEN)" }, 503);
    }
    if (!env.GATEWAY) return json({ error: "misconfigured", detail: "no Durable Object binding GATEWAY (class GatewayObject)" }, 500);
    return env.GATEWAY.get(env.GATEWAY.idFromName("gateway")).fetch(request);
  },
};
