// The demo on the embedded default, the in-memory stub backend (examples/backend.mjs picks
// another with DRAMATIQ_RESULTS_BACKEND): store and read back a
// result, wait for one with a timeout, see a failure, and see the exact bytes Python stores.
import {
  Message,
  JSONEncoder,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
} from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const backend = makeBackend();
const say = (label, value) => console.log(`${label.padEnd(34)} ${value}`);

// 1. Store a result and read it back, as a Dramatiq worker and a caller would.
const message = new Message({ queueName: "default", actorName: "compute_task", args: [10, 20] });
say("message", `${message} id=${message.messageId}`);
say("result key (md5, as Dramatiq)", backend.buildMessageKey(message));
await backend.storeResult(message, { computation: 10 * 20 + 42, inputs: [10, 20] });
say("read back", JSON.stringify(await backend.getResult(message)));
const bytes = await backend.getResultBytes(message);
say("stored bytes (what Python reads)", new TextDecoder().decode(bytes));

// 2. Wait for a result that a worker stores 50 ms later: resolves the moment it lands.
const later = new Message({ actorName: "slow_task" });
setTimeout(() => backend.storeResult(later, "done"), 50);
let t0 = performance.now();
const value = await backend.getResult(later, { block: true, timeout: 5000 });
say("blocking wait", `${JSON.stringify(value)} after ${(performance.now() - t0).toFixed(1)} ms`);

// 3. Wait with a timeout for a result that never comes.
t0 = performance.now();
try {
  await backend.getResult(new Message({ actorName: "never" }), { block: true, timeout: 200 });
} catch (err) {
  const ok = err instanceof ResultTimeout;
  say("timeout", `${err.name} (instanceof ResultTimeout: ${ok}) after ${(performance.now() - t0).toFixed(1)} ms`);
}

// 4. A non-blocking read of nothing.
try {
  await backend.getResult(new Message({ actorName: "nothing_yet" }));
} catch (err) {
  say("non-blocking read", `${err.name} (instanceof ResultMissing: ${err instanceof ResultMissing})`);
}

// 5. A failure: the actor raised, and the stored envelope says so.
const failing = new Message({ actorName: "divide", args: [1, 0] });
await backend.storeException(failing, new RangeError("division by zero"));
try {
  await backend.getResult(failing);
} catch (err) {
  if (!(err instanceof ResultFailure)) throw err;
  say("failure", err.message);
  say("  exceptionType / exceptionValue", `${err.exceptionType} / ${err.exceptionValue}`);
}

// 6. The encoder writes exactly what Python's json.dumps writes.
const encoder = new JSONEncoder();
const sample = { "ünï": "😀", pi: 3.14159, big: 2n ** 70n, nan: NaN, whole: 1e16 };
say("JSONEncoder bytes", new TextDecoder().decode(encoder.encode(sample)));
