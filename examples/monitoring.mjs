// Monitoring: poll the state of many tasks without blocking, as a dashboard would.
import { StubBroker, Results, Worker, actor, setBroker, Missing, ResultFailure } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const backend = makeBackend();
const broker = new StubBroker({ logger: { warn() {}, error() {}, info() {} } });
broker.addMiddleware(new Results({ backend, storeResults: true }));
setBroker(broker);
const job = actor(async (ms) => {
  await new Promise((r) => setTimeout(r, ms));
  if (ms === 60) throw new Error("disk full");
  return ms;
}, { actorName: "job", maxRetries: 0 });

const messages = [20, 60, 400].map((ms) => job.send(ms));
async function status() {
  const states = [];
  for (const m of messages) {
    try {
      const v = await backend.tryGetResult(m);
      states.push(v === Missing ? "pending" : `done(${v})`);
    } catch (e) {
      states.push(e instanceof ResultFailure ? `failed(${e.exceptionValue})` : "error");
    }
  }
  return states.join(" ");
}

console.log("before:", await status());
const worker = new Worker(broker).start();
await new Promise((r) => setTimeout(r, 200));
console.log("at 200 ms:", await status());
// failFast: false, or join rejects with the failed job's error once the queue drains.
await broker.join("default", { failFast: false });
console.log("at the end:", await status());
await worker.stop();

// Output:
// before: pending pending pending
// at 200 ms: done(20) failed(disk full) pending
// at the end: done(20) failed(disk full) done(400)
