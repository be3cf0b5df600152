// CommonJS source: require() of the package in a webpack bundle.
const { StubBackend, Message } = require("dramatiq-results");

const backend = new StubBackend();
const message = new Message({ actorName: "add", messageId: "consumer-webpack-cjs" });
backend
  .storeResult(message, { sum: 3 })
  .then(() => backend.getResult(message))
  .then(
    (value) => (globalThis.result = { ok: value.sum === 3, value }),
    (error) => (globalThis.result = { ok: false, error: String(error) }),
  );
