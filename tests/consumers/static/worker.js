import { StubBackend, Message } from "./node_modules/dramatiq-results/dist/index.js";

const backend = new StubBackend();
const message = new Message({ actorName: "add", messageId: "consumer-worker" });
backend
  .storeResult(message, { sum: 3 })
  .then(() => backend.getResult(message))
  .then((value) => postMessage({ ok: value.sum === 3, value }), (error) => postMessage({ ok: false, error: String(error) }));
