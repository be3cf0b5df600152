// The gateway's Redis connection and its reads of results, host-neutral. The connection is a
// `{ sendCommand(argv), close(), lastError }` over the package's own `connectRedis` (handed
// in by the host: Node's or workerd's), bulk strings as bytes. Commands fail at once while
// the server is away and the next command connects again, so the gateway starts while Redis
// is down, says so, and recovers by itself.

/** How long one Redis command may take before the gateway calls the store down (ms). */
export const COMMAND_TIMEOUT_MS = 5000;

/**
 * @param {(url: string, options: object) => Promise<{ sendCommand(argv: unknown[], options?: object): Promise<unknown>, close(): Promise<void> }>} connectRedis
 * @param {string} url
 * @param {object} [replies] how bulk strings come back (default `{ returnBuffers: true }`: Uint8Arrays)
 */
export async function openRedis(connectRedis, url, replies = { returnBuffers: true }) {
  let client = null;
  let connecting = null;
  let lastError = null;
  const connect = () =>
    (connecting ??= connectRedis(url, { connectTimeout: COMMAND_TIMEOUT_MS, commandTimeout: COMMAND_TIMEOUT_MS })
      .then(
        (c) => {
          client = c;
          lastError = null;
          return c;
        },
        (error) => {
          lastError = error;
          throw error;
        },
      )
      .finally(() => {
        connecting = null;
      }));
  await connect().catch(() => {});
  return {
    get lastError() {
      return lastError;
    },
    async sendCommand(argv) {
      const c = client ?? (await connect());
      try {
        return await c.sendCommand(argv, replies);
      } catch (error) {
        lastError = error;
        throw error;
      }
    },
    async close() {
      await client?.close();
    },
  };
}

// A result in Redis is a list of exactly one element (Dramatiq's RedisBackend pushes the
// bytes and trims the list to one): anything else under that name is not a result.
const READ_RESULT = `
local kind = redis.call("TYPE", KEYS[1])
if (type(kind) == "table" and kind.ok or kind) ~= "list" or redis.call("LLEN", KEYS[1]) ~= 1 then return false end
return redis.call("LINDEX", KEYS[1], 0)`;

/** `readKey` for results in Redis: the one element of the list under `key`, null when the
 * key is absent or holds anything else (another type, a list of another length). */
export const redisReadKey = (redis) => async (key) => (await redis.sendCommand(["EVAL", READ_RESULT, "1", key])) ?? null;


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
