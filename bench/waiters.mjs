// 10 000 concurrent blocked waiters on the stub: memory per waiter and the time to wake
// them all. Run in its own process (`node --expose-gc`) by bench/run.mjs so the heap it
// measures holds nothing else. Prints one JSON object.
import { StubBackend, Message } from "dramatiq-results";

const N = Number(process.argv[2] ?? 10_000);
const backend = new StubBackend();
const messages = Array.from({ length: N }, (_, i) => new Message({ actorName: "wait", messageId: `w-${i}` }));
for (const m of messages) backend.buildMessageKey(m); // identities cached before measuring

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 20));
  }
};
const usage = () => {
  const u = process.memoryUsage();
  return { js: u.heapUsed + u.external, heap: u.heapUsed, external: u.external, rss: u.rss };
};

await settle();
const before = usage();
const waits = messages.map((m) => backend.getResult(m, { block: true, timeout: 120_000 }));
await settle();
const during = usage();

const start = performance.now();
for (let i = 0; i < N; i++) await backend.storeResult(messages[i], i);
const stored = performance.now();
const values = await Promise.all(waits);
const woken = performance.now();
if (values[N - 1] !== N - 1) throw new Error("a waiter got the wrong value");

console.log(
  JSON.stringify({
    waiters: N,
    bytesPerWaiter: (during.js - before.js) / N,
    heapPerWaiter: (during.heap - before.heap) / N,
    externalPerWaiter: (during.external - before.external) / N,
    rssPerWaiter: (during.rss - before.rss) / N,
    storeAllMs: stored - start,
    wakeAllMs: woken - start,
  }),
);
