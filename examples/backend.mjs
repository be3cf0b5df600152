// The result backend the examples use, so each of them runs unchanged on each backend.
// Chosen by the DRAMATIQ_RESULTS_BACKEND environment variable (or a global of that name
// where there is no environment, as in a page or a Worker):
//   stub       StubBackend, in memory (the default)
//   kv         KvBackend over a plain in-memory Map adapter with TTLs
//   indexeddb  IndexedDbBackend (in Node, over the fake-indexeddb package)
//   redis      RedisBackend on the server at REDIS_URL (default redis://127.0.0.1:6379),
//              through node-redis, with a second connection for blocking reads
//   connect-redis  the same through the package's own client, connectRedis
// Like a StubBackend, every backend made here has its own results (on Redis, messages have
// their own random ids, so examples sharing a server do not see each other's results).
import { StubBackend, KvBackend, IndexedDbBackend, RedisBackend, connectRedis as ownClient } from "dramatiq-results";

const kind = globalThis.process?.env?.DRAMATIQ_RESULTS_BACKEND ?? globalThis.DRAMATIQ_RESULTS_BACKEND ?? "stub";
if (kind === "indexeddb" && !globalThis.indexedDB) await import("fake-indexeddb/auto");

/** The Redis connections, opened once; unref'd so they do not keep the example alive. */
const redisUrl = globalThis.process?.env?.REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = kind === "redis" ? await connectRedis(redisUrl) : kind === "connect-redis" ? await connectOwn(redisUrl) : null;

async function connectRedis(url) {
  const { createClient } = await import("redis");
  const client = await createClient({ url }).connect();
  const blockingClient = await client.duplicate().connect();
  client.unref();
  blockingClient.unref();
  return { client, blockingClient };
}

async function connectOwn(url) {
  const client = await ownClient(url);
  const blockingClient = await client.duplicate();
  client.unref();
  blockingClient.unref();
  return { client, blockingClient };
}

/** A key-value adapter over a Map: what a custom store looks like (see KvBackend). */
function mapAdapter() {
  const entries = new Map();
  return {
    get(key) {
      const entry = entries.get(key);
      return entry && entry.expiresAt > Date.now() ? entry.value : null;
    },
    put(key, value, { ttlMs }) {
      entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    },
    delete(key) {
      entries.delete(key);
    },
  };
}

let made = 0;

/** A new backend of the chosen kind with the common options (namespace, …). */
export function makeBackend(options = {}) {
  switch (kind) {
    case "stub":
      return new StubBackend(options);
    case "kv":
      return new KvBackend(mapAdapter(), options);
    case "redis":
    case "connect-redis":
      return new RedisBackend(redis.client, { blockingClient: redis.blockingClient, ...options });
    case "indexeddb":
      made += 1;
      return new IndexedDbBackend({ dbName: `examples-${made}-${Math.random()}`, ...options });
    default:
      throw new TypeError(`DRAMATIQ_RESULTS_BACKEND must be stub, kv, indexeddb, redis or connect-redis, not ${kind}`);
  }
}
