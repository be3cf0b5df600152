// Node CommonJS: require() of the package (an ES module without top-level await).
const { StubBackend, Message } = require("dramatiq-results");

const backend = new StubBackend();
const message = new Message({ actorName: "add", messageId: "consumer-node-cjs" });
backend
  .storeResult(message, { sum: 3 })
  .then(() => backend.getResult(message))
  .then((value) => console.log(JSON.stringify({ ok: value.sum === 3, value })));
