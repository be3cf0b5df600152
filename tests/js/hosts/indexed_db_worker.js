// A module Worker of the test page: stores a result in IndexedDB when asked, then answers
// with what it read back (IndexedDbBackend finds `globalThis.indexedDB` in workers too).
// It says "ready" first: a message posted while its imports load would find no handler.
import { IndexedDbBackend, Message } from "/pkg/src/browser.js";

self.onmessage = async ({ data: { dbName, messageId } }) => {
  try {
    const backend = new IndexedDbBackend({ dbName });
    const m = new Message({ actorName: "from_worker", messageId });
    await backend.storeResult(m, { from: "worker" });
    self.postMessage({ readBack: await backend.getResult(m) });
  } catch (e) {
    self.postMessage({ error: String(e) });
  }
};
self.postMessage("ready");
