// Reads through the package alternating with a plain-JS store of the same shape, as a
// benchmark does: on Node 20 (V8 11) with JS→wasm call inlining on, this aborts the process
// in V8's deoptimizer ("Fatal error … unreachable code"). Run by tests/js/node-v8.test.mjs in
// a child process; prints "survived" and exits 0 when it does.
import { StubBackend, Message } from "dramatiq-results";
import { PlainJsStore } from "../../../bench/plain_js_store.mjs";

const values = {
  "small int": 42,
  "1 KB object": Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, `value-${i}-xxxx`])),
  "100 KB object": { rows: Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `row ${i}`, score: i * 1.5 })) },
};
const messages = Array.from({ length: 1000 }, (_, i) => new Message({ actorName: "bench", messageId: `id-${i}` }));

async function ops(store, value, ms, mode) {
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) {
      const m = messages[n % 1000];
      if (mode !== "get") await store.storeResult(m, value);
      if (mode !== "store") await store.getResult(m);
      n++;
    }
  }
  return (n * 1000) / (performance.now() - start);
}

const mode = "get";
for (const [, v] of Object.entries(values)) {
  const a = new StubBackend();
  const b = new PlainJsStore();
  await a.storeResult(messages[0], v);
  for (const m of messages) {
    await a.storeResult(m, v);
    await b.storeResult(m, v);
  }
  const best = { ours: 0, plain: 0 };
  for (let r = 0; r < 3; r++) {
    best.ours = Math.max(best.ours, await ops(a, v, 150, mode));
    best.plain = Math.max(best.plain, await ops(b, v, 150, mode));
  }
}
console.log("survived");
