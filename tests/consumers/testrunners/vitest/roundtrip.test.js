// Vitest, with no configuration.
import { expect, test } from "vitest";
import { StubBackend, Message, connectRedis } from "dramatiq-results";

test("store and read back, and connectRedis has TCP (the node entry)", async () => {
  const backend = new StubBackend();
  const message = new Message({ actorName: "add", messageId: "consumer-vitest" });
  await backend.storeResult(message, { sum: 3 });
  expect((await backend.getResult(message)).sum).toBe(3);
  const refused = await connectRedis("redis://127.0.0.1:1", { connectTimeout: 2000 }).then((c) => (c.close(), "connected"), (e) => e.code);
  expect(refused).not.toBe("REDIS_UNSUPPORTED");
});
