// The Results middleware: an actor with storeResults, a worker, and a blocking getResult.
import { StubBroker, Results, Worker, actor, setBroker } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const broker = new StubBroker();
broker.addMiddleware(new Results({ backend: makeBackend(), storeResults: false }));
setBroker(broker);

const computeTask = actor((x, y) => ({ computation: x * y + 42, inputs: [x, y] }), {
  actorName: "compute_task",
  storeResults: true,
});

const worker = new Worker(broker).start();
const message = computeTask.send(10, 20);
console.log(await message.getResult({ block: true, timeout: 30000 }));
await worker.stop();

// Output:
// { computation: 242, inputs: [ 10, 20 ] }
