// A pipeline: each step's result is appended to the next step's arguments.
import { StubBroker, Results, Worker, actor, pipeline, setBroker } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const broker = new StubBroker();
broker.addMiddleware(new Results({ backend: makeBackend(), storeResults: true }));
setBroker(broker);
const add = actor((x, y = 0) => x + y, { actorName: "add" });
const describe = actor((total) => `total is ${total}`, { actorName: "describe" });
const worker = new Worker(broker).start();

const p = pipeline([add.message(1, 2), add.message(3), add.message(4), describe.message()]).run();
console.log(await p.getResult({ block: true }));
console.log(await p.getResults({ block: true }));
console.log("completed:", await p.completed(), await p.completedCount(), "of", p.length);
await worker.stop();

// Output:
// total is 10
// [ 3, 6, 10, 'total is 10' ]
// completed: true 4 of 4
