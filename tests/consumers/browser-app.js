// The round trip every browser consumer runs: store, then read back, on a StubBackend.
// tests/js/consumers.test.mjs writes it into each browser project as its app.js.
// No top-level await, so it builds for es2020 and IIFE targets too. Reports on
// `globalThis.result` (a page) or by postMessage (a Web Worker).
import { StubBackend, Message, ready } from "dramatiq-results";

function report(result) {
  if (typeof document === "undefined") globalThis.postMessage(result);
  else globalThis.result = result;
}

async function roundTrip() {
  const backend = new StubBackend();
  const message = new Message({ actorName: "add", messageId: "consumer-browser" });
  await backend.storeResult(message, { sum: 3 });
  const value = await backend.getResult(message);
  await ready;
  return { ok: value.sum === 3, value };
}

roundTrip().then(report, (error) => report({ ok: false, error: String(error?.stack ?? error) }));
