// Errors: a missing result, a wait that times out, and an actor that raised.
import {
  StubBroker, Results, Worker, actor, setBroker,
  ResultError, ResultMissing, ResultTimeout, ResultFailure,
} from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const broker = new StubBroker({ logger: { warn() {}, error() {}, info() {} } });
broker.addMiddleware(new Results({ backend: makeBackend(), storeResults: true }));
setBroker(broker);
const slow = actor(() => new Promise((r) => setTimeout(() => r("done"), 200)), { actorName: "slow" });
const fails = actor(() => { throw new TypeError("bad input: 42"); }, { actorName: "fails", maxRetries: 0 });
const worker = new Worker(broker).start();

const m = slow.send();
try { await m.getResult(); } catch (e) { console.log(e instanceof ResultMissing, e.name); }
try { await m.getResult({ block: true, timeout: 50 }); } catch (e) { console.log(e instanceof ResultTimeout, e.name); }
console.log(await m.getResult({ block: true }));

try {
  await fails.send().getResult({ block: true });
} catch (e) {
  console.log(e instanceof ResultFailure, e instanceof ResultError, e.message);
  console.log(e.exceptionType, "|", e.exceptionValue);
}
await worker.stop();

// Output:
// true ResultMissing
// true ResultTimeout
// done
// true true actor raised TypeError: bad input: 42
// TypeError | bad input: 42
