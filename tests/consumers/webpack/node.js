// A server bundle (target "node", as Next.js and other frameworks build theirs): the round
// trip, and connectRedis with TCP (a refused connection, not the browser entry's
// REDIS_UNSUPPORTED).
import { StubBackend, Message, connectRedis } from "dramatiq-results";

const backend = new StubBackend();
const message = new Message({ actorName: "add", messageId: "consumer-webpack-node" });
await backend.storeResult(message, { sum: 3 });
const value = await backend.getResult(message);
const refused = await connectRedis("redis://127.0.0.1:1", { connectTimeout: 2000 }).then(
  (client) => (client.close(), "connected"),
  (error) => error.code ?? String(error),
);
console.log(JSON.stringify({ ok: value.sum === 3 && refused !== "REDIS_UNSUPPORTED", value, refused }));
