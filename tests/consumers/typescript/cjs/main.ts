// TypeScript in a CommonJS project: `import` compiles to `require()` (Node ≥ 20.19 loads the
// package's ES modules), under "module": "commonjs" (moduleResolution node10, which reads no
// `exports`: the subpaths' types come from `typesVersions`) and "nodenext". Every entry's
// types resolve, and the emitted JS runs the round trip.
import { StubBackend, Message, ready } from "dramatiq-results";
import { init } from "dramatiq-results/slim";
import { createGateway } from "dramatiq-results/gateway";
import { EVENT } from "dramatiq-results/gateway/protocol";

async function main(): Promise<void> {
  await ready;
  const backend = new StubBackend();
  const message = new Message({ actorName: "add", messageId: "consumer-ts-cjs" });
  await backend.storeResult(message, { sum: 3 });
  const value = await backend.getResult(message);
  const sum = typeof value === "object" && value !== null && !Array.isArray(value) ? value["sum"] : undefined;
  const ok = sum === 3 && typeof init === "function" && typeof createGateway === "function" && typeof EVENT === "object";
  console.log(JSON.stringify({ ok, value }));
}
void main();
