// Store + get on the stub, two builds of the package in one process, interleaved: the A/B
// harness for throughput changes (bench/results.md, "Throughput, issue 29"). The machine is
// shared, so rounds alternate A, B, plain JS and each keeps its best.
//
//   node bench/values_ab.mjs <dist A> [<dist B>] [--rounds N] [--ms M] [--cpu]
//   (a dist folder is a copy of pkg/dist after scripts/build; its node.js is imported)
// --cpu counts pairs per second of the process's CPU time instead of wall time: on a
// loaded machine wall time mostly measures the wait for a core.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { PlainJsStore } from "./plain_js_store.mjs";

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const rounds = flag("--rounds", 5);
const ms = flag("--ms", 700);
const cpu = args.includes("--cpu");
if (cpu) args.splice(args.indexOf("--cpu"), 1);
const dists = args.length ? args : ["pkg/dist"];
const clock = cpu
  ? () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();

const builds = [];
for (const [i, dist] of dists.entries()) {
  const mod = await import(pathToFileURL(resolve(dist, "node.js")).href);
  await mod.ready;
  builds.push({ name: String.fromCharCode(65 + i), mod, dist });
}

const values = {
  "small int": 42,
  "1 KB object": Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, `value-${i}-xxxx`])),
  "100 KB object": { rows: Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `row ${i}`, score: i * 1.5 })) },
};

async function opsPerSecond(store, messages, value, ms) {
  let ops = 0;
  const start = clock();
  const end = start + ms;
  while (clock() < end) {
    for (let i = 0; i < 20; i++) {
      const m = messages[ops % messages.length];
      await store.storeResult(m, value);
      await store.getResult(m);
      ops++;
    }
  }
  return (ops * 1000) / (clock() - start);
}

const contenders = [
  ...builds.map((b) => ({
    name: b.name,
    store: new b.mod.StubBackend(),
    messages: Array.from({ length: 1000 }, (_, i) => new b.mod.Message({ actorName: "bench", messageId: `id-${i}` })),
  })),
  { name: "plain", store: new PlainJsStore(), messages: Array.from({ length: 1000 }, (_, i) => ({ queueName: "default", actorName: "bench", messageId: `id-${i}` })) },
];

// Same bytes from every build (a cheap guard that the benchmark compares like with like).
for (const value of Object.values(values)) {
  const seen = new Set();
  for (const c of contenders.slice(0, -1)) {
    const b = builds.find((x) => x.name === c.name);
    await c.store.storeResult(c.messages[0], value);
    const bytes = await c.store.getResultBytes(c.messages[0]);
    seen.add(Buffer.from(bytes).toString("hex"));
    const back = await c.store.getResult(c.messages[0]);
    if (JSON.stringify(back) !== JSON.stringify(value)) throw new Error(`${b.dist}: value changed`);
  }
  if (seen.size !== 1) throw new Error("the builds store different bytes");
}

const os = await import("node:os");
console.log(`node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}, ${rounds} rounds of ${ms} ms ${cpu ? "CPU" : "wall"} time`);
for (const [label, value] of Object.entries(values)) {
  const best = {};
  for (const c of contenders) await opsPerSecond(c.store, c.messages, value, 150);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...contenders].reverse() : contenders;
    for (const c of order) best[c.name] = Math.max(best[c.name] ?? 0, await opsPerSecond(c.store, c.messages, value, ms));
  }
  const cells = contenders.map((c) =>
    c.name === "plain" ? `plain ${best.plain.toFixed(0)}` : `${c.name} ${best[c.name].toFixed(0)} (${(best[c.name] / best.plain).toFixed(2)}×)`,
  );
  console.log(`${label.padEnd(14)} ${cells.join("  ")}`);
}
console.log(`load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
