// A Worker: import the package and use it in a request; wrangler picks the `workerd` entry.
import { StubBackend, Message } from "dramatiq-results";

export default {
  async fetch() {
    const backend = new StubBackend();
    const message = new Message({ actorName: "add", messageId: "consumer-workerd" });
    await backend.storeResult(message, { sum: 3 });
    const value = await backend.getResult(message);
    return Response.json({ ok: value.sum === 3, value });
  },
};
