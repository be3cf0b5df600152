// Node CommonJS: import() of the package (and of /slim and the gateway), next to require():
// one instance of the module, the same classes either way.
const required = require("dramatiq-results");

(async () => {
  const imported = await import("dramatiq-results");
  const { createGateway } = await import("dramatiq-results/gateway");
  const slim = await import("dramatiq-results/slim");
  const backend = new imported.StubBackend();
  const message = new required.Message({ actorName: "add", messageId: "consumer-node-dynamic" });
  await backend.storeResult(message, { sum: 3 });
  const value = await backend.getResult(message);
  const same = imported.StubBackend === required.StubBackend && imported.Message === required.Message;
  const ok = value.sum === 3 && same && typeof createGateway === "function" && typeof slim.init === "function";
  console.log(JSON.stringify({ ok, value, same }));
})();
