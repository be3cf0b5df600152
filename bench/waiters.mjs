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

// The same N results arriving one by one, collected by one getResults and by one
// iterResults: a store wakes only the keys it wrote, so this is O(N) overall (it was
// O(N²): 10 000 took 94 s). Target: within 3× of the N single waiters above.
async function collect(kind) {
  const fresh = new StubBackend();
  const batch = Array.from({ length: N }, (_, i) => new Message({ actorName: "many", messageId: `${kind}-${i}` }));
  for (const m of batch) fresh.buildMessageKey(m);
  const t0 = performance.now();
  let done;
  if (kind === "getResults") {
    done = fresh.getResults(batch, { timeout: 120_000 });
  } else {
    done = (async () => {
      const out = [];
      for await (const item of fresh.iterResults(batch, { timeout: 120_000 })) out.push(item.value);
      return out;
    })();
  }
  for (let i = 0; i < N; i++) await fresh.storeResult(batch[i], i);
  const got = await done;
  if (got.length !== N) throw new Error(`${kind}: ${got.length} results`);
  return performance.now() - t0;
}
const getResultsMs = await collect("getResults");
const iterResultsMs = await collect("iterResults");

console.log(
  JSON.stringify({
    waiters: N,
    bytesPerWaiter: (during.js - before.js) / N,
    heapPerWaiter: (during.heap - before.heap) / N,
    externalPerWaiter: (during.external - before.external) / N,
    rssPerWaiter: (during.rss - before.rss) / N,
    storeAllMs: stored - start,
    wakeAllMs: woken - start,
    getResultsMs,
    iterResultsMs,
  }),
);
