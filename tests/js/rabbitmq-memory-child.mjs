// Run by rabbitmq-bounds.test.mjs in a child process with --expose-gc, so what it measures
// is this worker's memory only: a RabbitmqBroker worker (concurrency 8) runs the `count`
// messages already on `queue`, then prints its wasm memory before and after as JSON.
//
//   node --expose-gc tests/js/rabbitmq-memory-child.mjs <amqp url> <queue> <count>

// The module's linear memory, caught as it is instantiated (before the package is imported):
// its size is the exact high-water mark, where `external − arrayBuffers` of
// `process.memoryUsage()` also moves with other external memory.
let linear;
const RealInstance = WebAssembly.Instance;
WebAssembly.Instance = Object.assign(
  function Instance(module, imports) {
    const instance = new RealInstance(module, imports);
    linear ??= instance.exports.memory;
    return instance;
  },
  { prototype: RealInstance.prototype },
);
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (...args) => {
  const out = await instantiate(...args);
  linear ??= (out.instance ?? out).exports.memory;
  return out;
};
const { RabbitmqBroker, Worker, actor } = await import("dramatiq-results");

const [url, queue, count] = process.argv.slice(2);
const MB = 1 << 20;
const wasmMB = () => {
  globalThis.gc();
  return +(linear.buffer.byteLength / MB).toFixed(1);
};

const broker = await RabbitmqBroker.connect(url, { middleware: [] });
const ids = new Map();
actor(
  (s) => {
    ids.set(s.slice(0, 12), (ids.get(s.slice(0, 12)) ?? 0) + 1);
    return s.length;
  },
  { broker, actorName: "big", queueName: queue },
);
const before = wasmMB();
const worker = new Worker(broker, { concurrency: 8 }).start();
let runs = 0;
while ((runs = [...ids.values()].reduce((a, b) => a + b, 0)) < Number(count)) await new Promise((r) => setTimeout(r, 20));
await worker.stop();
const after = wasmMB();
await broker.close();
console.log(JSON.stringify({ before, after, runs, distinct: ids.size }));
