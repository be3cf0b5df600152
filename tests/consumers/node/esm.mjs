// Node ESM: import, then use at once (no await before the first call).
import { StubBackend, Message, ResultMissing } from "dramatiq-results";

const backend = new StubBackend();
const message = new Message({ actorName: "add", messageId: "consumer-node-esm" });
await backend.storeResult(message, { sum: 3 });
const value = await backend.getResult(message);
const missing = await backend.getResult(new Message({ actorName: "add" })).catch((e) => e instanceof ResultMissing);
console.log(JSON.stringify({ ok: value.sum === 3 && missing, value }));
