// Bun and Deno run this as installed from the tarball (`bun roundtrip.mjs`;
// `deno run --allow-net --allow-env=REDIS_URL roundtrip.mjs`): a store and a get on a
// StubBackend, then, with REDIS_URL set, the same over the package's own Redis client
// (`connectRedis`, on the runtime's `node:net`), with a blocking wait woken by a store.
import { StubBackend, RedisBackend, Message, ResultMissing, connectRedis } from "dramatiq-results";

const checks = {};
const stub = new StubBackend();
const message = new Message({ actorName: "add", messageId: `consumer-runtime-${Date.now()}` });
await stub.storeResult(message, { sum: 3 });
checks.stub = (await stub.getResult(message)).sum === 3;
checks.missing = await stub.getResult(new Message({ actorName: "add" })).catch((e) => e instanceof ResultMissing);

if (process.env.REDIS_URL) {
  const client = await connectRedis(process.env.REDIS_URL, { connectTimeout: 5000 });
  const blockingClient = await client.duplicate();
  try {
    const backend = new RedisBackend(client, { blockingClient });
    const waiting = backend.getResult(message, { block: true, timeout: 10_000 });
    await new RedisBackend(client).storeResult(message, [1, "two", null]);
    checks.redis = JSON.stringify(await waiting) === '[1,"two",null]';
  } finally {
    await blockingClient.close();
    await client.close();
  }
}

console.log(JSON.stringify({ ok: Object.values(checks).every(Boolean), checks }));
