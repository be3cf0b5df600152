// dramatiq-results/slim: nothing loads until init(), which fetches the .wasm that webpack
// copied into the build (it understands `new URL("…", import.meta.url)`).
import { init, StubBackend, Message } from "dramatiq-results/slim";

async function roundTrip() {
  let before;
  try {
    new StubBackend();
  } catch (error) {
    before = String(error.message);
  }
  await init();
  const backend = new StubBackend();
  const message = new Message({ actorName: "add", messageId: "consumer-webpack-slim" });
  await backend.storeResult(message, { sum: 3 });
  const value = await backend.getResult(message);
  return { ok: value.sum === 3 && /not loaded yet/.test(before), value, before };
}

roundTrip().then(
  (result) => (globalThis.result = result),
  (error) => (globalThis.result = { ok: false, error: String(error?.stack ?? error) }),
);
