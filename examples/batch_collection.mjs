// Batch collection: a group of tasks, collected under one deadline, with progress.
import { StubBroker, Results, Worker, actor, group, setBroker } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const backend = makeBackend();
const broker = new StubBroker();
broker.addMiddleware(new Results({ backend, storeResults: true }));
setBroker(broker);
const square = actor(async (n) => {
  await new Promise((r) => setTimeout(r, 60 * (5 - n))); // far enough apart to finish in order on a loaded machine
  return n * n;
}, { actorName: "square" });
const worker = new Worker(broker, { concurrency: 5 }).start();

const g = group([1, 2, 3, 4].map((n) => square.message(n))).run();
console.log("in order:", await g.getResults({ block: true, timeout: 5000 }));

const messages = [1, 2, 3, 4].map((n) => square.send(n));
const done = [];
for await (const { value } of backend.iterResults(messages, {
  timeout: 5000,
  onProgress: (n, total) => done.push(`${n}/${total}`),
})) {
  console.log("finished:", value);
}
console.log("progress:", done.join(" "));
await worker.stop();

// Output:
// in order: [ 1, 4, 9, 16 ]
// finished: 16
// finished: 9
// finished: 4
// finished: 1
// progress: 1/4 2/4 3/4 4/4
