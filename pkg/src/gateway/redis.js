// The gateway's Redis connection, host-neutral: a `{ sendCommand(argv), close(), lastError }`
// over the package's own `connectRedis` (handed in by the host: Node's or workerd's), bulk
// strings as bytes. Commands fail at once while the server is away and the next command
// connects again, so the gateway starts while Redis is down, says so, and recovers by itself.

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

/** `readKey` for results in Redis: Dramatiq keeps a result as the one element of a list
 * under its key; anything else under that name is not a result (absent). */
export const redisReadKey = (redis) => async (key) => {
  const type = new TextDecoder().decode(toBytes(await redis.sendCommand(["TYPE", key])));
  if (type !== "list") return null;
  return (await redis.sendCommand(["LINDEX", key, "0"])) ?? null;
};

const toBytes = (reply) => (typeof reply === "string" ? new TextEncoder().encode(reply) : reply);

/**
 * The gateway's `decodeMessage`, `encode` and `decodeResult`, from the package's own codec
 * (`JSONEncoder`: Dramatiq's JSON, NaN and big integers included) and decode path, for the
 * host entry that hands in its `{ JSONEncoder, StubBackend }`.
 */
export function packageCodecs({ JSONEncoder, StubBackend }) {
  const encoder = new JSONEncoder();
  const utf8 = new TextEncoder();
  const textOf = new TextDecoder();
  return {
    decodeMessage: (body) => encoder.decode(utf8.encode(body)),
    encode: (value) => textOf.decode(encoder.encode(value)),
    decodeResult: resultDecoder(StubBackend),
  };
}

/**
 * `decodeResult` for the gateway: stored bytes read by the package's own decode path
 * (through a `StubBackend`, one read at a time), so the gateway never interprets Dramatiq's
 * bytes or its exception envelope itself.
 */
function resultDecoder(StubBackend) {
  const stub = new StubBackend();
  const identity = { queueName: "gateway", actorName: "decode", messageId: "bytes" };
  let turn = Promise.resolve();
  return (bytes) => {
    const run = turn.then(async () => {
      await stub.storeResultBytes(identity, bytes);
      try {
        return { value: await stub.getResult(identity) };
      } catch (error) {
        return { error };
      }
    });
    turn = run.catch(() => {});
    return run;
  };
}
