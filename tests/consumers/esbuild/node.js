// A Node bundle: nothing but the bundle file is needed at run time.
import { StubBackend, Message } from "dramatiq-results";

const backend = new StubBackend();
const message = new Message({ actorName: "add", messageId: "consumer-esbuild-node" });
backend
  .storeResult(message, { sum: 3 })
  .then(() => backend.getResult(message))
  .then((value) => console.log(JSON.stringify({ ok: value.sum === 3, value })));
