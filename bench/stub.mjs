// Times stub store + get in Node and prints a table. A first entry point: later benches
// add Python Dramatiq and a plain-JS equivalent as baselines measured in the same run.
import { StubBackend, Message } from "dramatiq-results";

const sizes = {
  "small int": 42,
  "1 KB object": Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, `value-${i}-xxxx`])),
  "100 KB object": { rows: Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `row ${i}`, score: i * 1.5 })) },
};

const backend = new StubBackend();
const messages = Array.from({ length: 1000 }, (_, i) => new Message({ actorName: "bench", messageId: `id-${i}` }));

async function opsPerSecond(value, seconds = 1) {
  let ops = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) {
      const m = messages[ops % messages.length];
      await backend.storeResult(m, value);
      await backend.getResult(m);
      ops++;
    }
  }
  return ops / seconds;
}

const rows = [];
for (const [name, value] of Object.entries(sizes)) {
  await opsPerSecond(value, 0.2); // warm-up
  rows.push([name, Math.round(await opsPerSecond(value))]);
}
console.log("| value | store+get ops/s |\n|---|---|");
for (const [name, ops] of rows) console.log(`| ${name} | ${ops.toLocaleString("en-US")} |`);
