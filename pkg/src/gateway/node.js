// The gateway on Node: opens the stores, serves the dashboard's static files (`www/` and the
// package's own browser entry) beside the API of `./app.js`, and listens.
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { JSONEncoder, MemcachedBackend, Message, RabbitmqBroker, RedisBackend, RedisBrokerKeys, StubBackend, connectRedis } from "../../dist/node.js";
import { kAmqpCore } from "../internal/symbols.js";
import { createGateway } from "./app.js";
import { pagePolicy } from "./middleware/headers.js";
import { checkKeyspace, keyspaceNotice, keyspacePatterns, routeNotification } from "./keyspace.js";
import { packageCodecs } from "./codecs.js";
import { openRedis as openRedisWith, redisReadKey, resultKeyScheme } from "./redis/redis.js";

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));
/** The dashboard: `www/` inside the package (the published tarball), else the repository's. */
export const wwwRoot = [join(packageRoot, "www"), join(packageRoot, "..", "www")]
  .find((dir) => existsSync(join(dir, "index.html")));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
};

/**
 * A Redis connection for the gateway (see `./redis.js`), over the package's own
 * `connectRedis`, with bulk strings as Buffers.
 */
export function openRedis(url) {
  return openRedisWith(connectRedis, url, { typeMapping: { 36: Buffer } });
}

/** A Memcached client (memjs, loaded on demand) for results only: `{ client, close() }`. */
export async function openMemcached(servers) {
  let memjs;
  try {
    memjs = (await import("memjs")).default;
  } catch {
    throw new Error("--memcached needs memjs: npm i memjs");
  }
  const client = memjs.Client.create(servers, { timeout: 2, retries: 0, conntimeout: 2 });
  return { client, close: () => client.close() };
}

/** A URL without its password, for messages. */
const redact = (url) => String(url).replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");

/** Whether `host` is a loopback address (or `localhost`). */
export function isLoopback(host) {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || /^::ffff:127\./i.test(host);
  return false;
}

/** The package's own files the page imports, by the path the page's import map names
 * (`/pkg/dist/…`: the browser entry; the gateway's protocol module). */
const PAGE_MODULES = ["src/gateway/protocol.js"];

/** Serves the dashboard's files: `/` and `/<file>` from `www/`, and from this package
 * `/pkg/dist/…` and `PAGE_MODULES` under `/pkg/` (the page's import map points at them).
 * Nothing else. */
function staticFiles() {
  const roots = [
    ...PAGE_MODULES.map((file) => ({ prefix: `/pkg/${file}`, dir: join(packageRoot, file), file: true })),
    { prefix: "/pkg/dist/", dir: join(packageRoot, "dist") + sep },
    { prefix: "/", dir: wwwRoot ? wwwRoot + sep : null },
  ];
  return async (c) => {
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(c.req.url).pathname);
    } catch {
      return c.json({ error: "bad path" }, 400);
    }
    if (pathname === "/") pathname = "/index.html";
    const root = roots.find((r) => (r.file ? pathname === r.prefix : pathname.startsWith(r.prefix)));
    const type = TYPES[extname(pathname)];
    if (!root?.dir || !type || pathname.includes("\0")) return c.json({ error: "not found" }, 404);
    const path = root.file ? root.dir : normalize(join(root.dir, pathname.slice(root.prefix.length)));
    if (!path.startsWith(root.dir) || !existsSync(path) || !statSync(path).isFile()) return c.json({ error: "not found" }, 404);
    let body = readFileSync(path);
    const headers = { "content-type": type, "cache-control": "no-cache" };
    // The page opens on the deployment when the gateway serves it.
    if (path === join(wwwRoot, "index.html")) {
      body = body.toString("utf8").replace("<head>", '<head>\n<meta name="dramatiq-results-gateway" content="1">');
      headers["content-security-policy"] = await pagePolicy(body);
    }
    return c.body(body, 200, headers);
  };
}

/**
 * Writes the dashboard's static files into `dir`, laid out as this gateway serves them
 * (`www/` at the root, the package's page modules under `/pkg/`): the directory a Cloudflare
 * Worker gateway serves as static assets (`npx dramatiq-results assets <dir>`).
 */
export function copyDashboard(dir) {
  if (!wwwRoot) throw new Error("the dashboard's files (www/) are not in this package");
  mkdirSync(join(dir, "pkg", "dist"), { recursive: true });
  cpSync(wwwRoot, dir, { recursive: true, filter: (src) => !/serve\.mjs$/.test(src) });
  for (const file of ["dist/index.js", "dist/dramatiq_results_bg.wasm", ...PAGE_MODULES]) {
    mkdirSync(dirname(join(dir, "pkg", file)), { recursive: true });
    cpSync(join(packageRoot, file), join(dir, "pkg", file));
  }
}

/**
 * Starts the gateway. Resolves with `{ url, server, app, close() }` once it listens.
 * Without a token it refuses any host but loopback.
 */
export async function startGateway({
  redis: redisUrl,
  memcached,
  brokerNamespace = "dramatiq",
  resultsNamespace = "dramatiq-results",
  prefixKeys = false,
  port = 8080,
  host = "127.0.0.1",
  token,
  operatorToken,
  cors,
  events,
  heartbeatTimeoutMs,
  keyspaceEvents = false,
  amqp: amqpUrl,
  queues,
}) {
  if (!redisUrl) throw new Error(amqpUrl ? "--redis <url> is required (results and the audit log)" : "--redis <url> is required (the broker's Redis)");
  if (amqpUrl && !queues?.length) throw new Error("--amqp needs --queues q1,q2: AMQP cannot list a RabbitMQ node's queues");
  if (!token && !isLoopback(host)) {
    throw new Error(`refusing to listen on ${host} without a token: set --token or DRAMATIQ_RESULTS_TOKEN, or listen on 127.0.0.1`);
  }
  const redis = await openRedis(redisUrl);
  const closers = [() => redis.close()];
  const options = { namespace: resultsNamespace, useNamespacePrefixKeys: prefixKeys };
  let backend;
  let readKey;
  if (memcached) {
    const mc = await openMemcached(memcached);
    closers.push(() => mc.close());
    backend = new MemcachedBackend(mc.client, options);
    readKey = async (key) => (await mc.client.get(key))?.value ?? null;
  } else {
    backend = new RedisBackend(redis, options);
    readKey = redisReadKey(redis);
  }
  const follow = { mode: "polling" };
  const codecs = packageCodecs({ JSONEncoder, StubBackend, Message });
  let amqp;
  if (amqpUrl) {
    const { AmqpBroker } = await import("./amqp/broker.js");
    amqp = new AmqpBroker(amqpUrl, { queues, core: { ...RabbitmqBroker[kAmqpCore], Message }, decodeMessage: codecs.decodeMessage });
    try {
      await amqp.ping();
    } catch (error) {
      await amqp.close();
      for (const close of closers) await close();
      throw new Error(`cannot reach RabbitMQ at ${redact(amqpUrl)}: ${redact(error.cause?.message ?? error.message)}`);
    }
    closers.push(() => amqp.close());
  }
  const app = createGateway({
    amqp,
    redis,
    backend,
    readKey,
    brokerKeys: new RedisBrokerKeys(brokerNamespace),
    resultsNamespace,
    token,
    operatorToken,
    cors,
    events,
    heartbeatTimeoutMs,
    hosts: [host],
    assets: staticFiles(),
    // Dramatiq's JSON (NaN, big integers), read as the package reads results.
    ...codecs,
    log: (message) => process.stderr.write(`dramatiq-results gateway: ${message}\n`),
    resultsInRedis: !memcached,
    follow,
  });
  const server = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: host, serverOptions: { maxHeaderSize: 16 * 1024 } }, () => resolve(s));
    s.once("error", reject);
  });
  server.requestTimeout = 30_000;
  const address = server.address();
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  app.poller.start();
  const notices = [];
  const keyspace = await followKeyspace({ redisUrl, redis, set: keyspaceEvents, app, brokerNamespace, backend, resultsNamespace, memcached, follow });
  notices.push(keyspace.notice);
  if (keyspace.close) closers.unshift(keyspace.close);
  return {
    url: `http://${shown}:${address.port}`,
    server,
    app,
    notices,
    async close() {
      app.poller.stop();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
      for (const close of closers) await close();
      backend.free?.();
    },
  };
}

/**
 * Subscribes to the deployment's keyspace notifications when the server has them (or, with
 * `set`, can be asked to): broker keys wake the event poller, result keys wake the result
 * waiters (see ./keyspace.js). Needs node-redis (`redis`), loaded on demand: without it, or
 * without the notifications, the gateway polls. Answers `{ notice, close? }`.
 */
async function followKeyspace({ redisUrl, redis, set, app, brokerNamespace, backend, resultsNamespace, memcached, follow }) {
  const state = await checkKeyspace(redis, { set });
  if (!state.on) return { notice: keyspaceNotice(state) };
  let createClient;
  try {
    ({ createClient } = await import("redis"));
  } catch {
    return { notice: "keyspace notifications are on, but following them needs node-redis (npm i redis): the gateway polls" };
  }
  const db = Number(/^\/(\d+)/.exec(new URL(redisUrl).pathname)?.[1] ?? 0);
  const brokerKeys = new RedisBrokerKeys(brokerNamespace);
  const scheme = memcached ? null : resultKeyScheme(backend, resultsNamespace);
  const patterns = keyspacePatterns({ db, brokerNamespace, resultPattern: scheme?.pattern });
  const client = createClient({ url: redisUrl });
  client.on("error", () => {}); // it reconnects (and subscribes again) by itself
  try {
    await client.connect();
    await client.pSubscribe(patterns, (_event, channel) => {
      const route = routeNotification(String(channel), { db, brokerKeys, knownQueues: () => app.poller.queueNames });
      if (route?.broker) app.poller.wake({ discover: route.discover });
      // A result key: only the waiters of that key read it (the poller's own rounds find
      // results anyway; waking it for every result would cost a whole round each).
      else if (route?.result) app.waiter.poke(route.result);
    });
  } catch (error) {
    await client.disconnect().catch(() => {});
    return { notice: `keyspace notifications are on, but subscribing failed (${redact(error.message)}): the gateway polls` };
  }
  follow.mode = "keyspace";
  return {
    notice: keyspaceNotice(state),
    close: async () => {
      brokerKeys.free?.();
      await client.disconnect().catch(() => {});
    },
  };
}
