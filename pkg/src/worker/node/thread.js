// A worker thread of the `worker` command: imports the user's modules (so it has their
// actor functions), then runs the calls its process's ThreadPool posts, one at a time.
// Messages, hooks, acks and heartbeats stay on the process's main thread; a thread only
// runs actor code, so a synchronous actor here stalls nothing else, and the pool can stop
// it at its time limit by terminating the thread.
import { parentPort, workerData } from "node:worker_threads";
import { Broker, CurrentMessage, Message, RateLimitExceeded, Retry, SkipMessage, TimeLimitExceeded, WorkerMessage, getBroker, setLogger } from "../../../dist/node.js";
import { kRunExposed, kSendsLanded, kStoredAs } from "../../internal/symbols.js";
import { createLogger } from "./log.js";
import { importModules } from "./modules.js";

/** `value instanceof Class`, false where asking throws (a Proxy, a hostile `Symbol.hasInstance`).
 * (Here, not imported: the package ships src/worker/node/ and few other sources.) */
function isInstance(value, Class) {
  try {
    return value instanceof Class;
  } catch {
    return false;
  }
}

/** `value[key]`, undefined where reading it throws. */
function readSafely(value, key) {
  try {
    return value[key];
  } catch {
    return undefined;
  }
}

/**
 * What crosses back for a thrown value: what Results stores for it (`type`, `message`, as
 * the main thread describes anything an actor throws, so the stored failure is the same
 * wherever the actor ran), which of the package's own errors it is, and enough to rebuild
 * it. Never throws: an actor may throw a revoked Proxy or an Error whose getters throw.
 */
function thrownToPlain(thrown, actor) {
  try {
    return plain(thrown, actor);
  } catch {
    return { name: "Error", type: "Error", message: "the actor threw a value that cannot be read" };
  }
}

function plain(thrown, actor) {
  const [type, message, dramatiqError] = WorkerMessage[kStoredAs](thrown);
  const out = { name: "Error", type, message, dramatiqError };
  if (!isInstance(thrown, Error)) return out;
  // The package's own errors are rebuilt as themselves (Retries and the log treat them apart).
  const own = [Retry, SkipMessage, TimeLimitExceeded, RateLimitExceeded].find((Class) => isInstance(thrown, Class));
  if (own !== undefined) out.name = own.prototype.name;
  const stack = readSafely(thrown, "stack");
  if (typeof stack === "string") out.stack = stack;
  const code = readSafely(thrown, "code");
  if (typeof code === "string") out.code = code;
  const delay = readSafely(thrown, "delay");
  if (typeof delay === "number") out.delay = delay;
  // Which of the actor's `throws` classes it is: the main thread's Retries asks with its
  // own copies of those classes, which an error from this thread is no instance of.
  const throws = [actor?.options?.throws].flat().filter((c) => typeof c === "function");
  const index = throws.findIndex((Class) => isInstance(thrown, Class));
  if (index >= 0) out.throwsIndex = index;
  return out;
}

/**
 * `value` as the main thread's result store would see it, in a form structured clone
 * carries: what `JSON.stringify` reads (each `toJSON` called with its key, own enumerable
 * properties of any object, so a class instance with a `toJSON`, a Decimal, a Luxon
 * DateTime, is stored as its JSON, not as its private fields), with what JSON cannot carry
 * but a store writes (BigInt, NaN, ±Infinity, -0) kept as values, and what a store refuses
 * (a Map, a function, a cycle) kept as it is, to be refused there with the same words.
 * Throws what `toJSON`, a getter or a Proxy trap throws, as the store would.
 */
function storable(value, key = "", path = new Set()) {
  if (value === null || (typeof value !== "object" && typeof value !== "bigint")) return value;
  const toJSON = value.toJSON;
  if (typeof toJSON === "function") {
    value = toJSON.call(value, key);
    if (value === null || typeof value !== "object") return value;
  }
  if (typeof value !== "object" || path.has(value)) return value; // a cycle: the store names it
  if (value instanceof Map || value instanceof Set || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return value;
  path.add(value);
  let out;
  if (Array.isArray(value)) {
    out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = storable(value[i], String(i), path);
  } else {
    out = {};
    for (const k of Object.keys(value)) {
      const v = storable(value[k], k, path);
      // Defined, not assigned: a key named `__proto__` is data, as in JSON.
      if (v !== undefined) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  path.delete(value);
  return out;
}

/** Frees a call's message (wasm memory) once its actor is done; a copy the actor kept
 * (`asDict()`) stays usable, the proxy does not, as for messages on the main thread. */
function freeMessage(proxy) {
  try {
    proxy?.message?.free?.();
  } catch {
    // Already freed.
  }
}

/** `error`'s message, never throwing. */
function messageOf(error) {
  const message = readSafely(error, "message");
  return typeof message === "string" ? message : "a value that cannot be read";
}

async function main() {
  const { modules, brokerExport, log } = workerData;
  // What the modules and actors log here is named after this process and thread.
  const logger = createLogger({ component: `dramatiq.WorkerProcess(${log.index})`, thread: log.thread, verbose: log.verbose, file: log.file });
  setLogger(logger);
  // Work an actor left running after it returned (a timer, a promise nobody awaits) may
  // throw later, while this thread runs another message. Node's default would end the
  // thread and fail that other message; Python's worker logs what a thread an actor
  // started raises and goes on (threading's excepthook), and so does this thread.
  let running;
  const stray = (what) => (error) => {
    logger.error(`${what} in ${log.thread}, from work an actor left running (${running === undefined ? "between messages" : `while running ${running}`}); the thread goes on.`, error);
  };
  process.on("uncaughtException", stray("Uncaught exception"));
  process.on("unhandledRejection", stray("Unhandled promise rejection"));
  try {
    await importModules(modules, brokerExport);
  } catch (error) {
    parentPort.postMessage({ type: "importError", error: thrownToPlain(error) });
    return;
  }
  parentPort.on("message", async ({ id, actorName, args, message }) => {
    let reply;
    let proxy;
    let actor;
    running = actorName;
    try {
      actor = getBroker().actors.get(actorName);
      if (actor === undefined || typeof actor.fn !== "function") {
        throw new Error(`Actor '${actorName}' is not declared on the global broker of this thread after importing the modules.`);
      }
      let result;
      if (message === undefined) {
        result = await actor.fn(...args);
      } else {
        // CurrentMessage is on: the actor may ask for its message, as on the main thread.
        // Its signal never aborts here: an abort (time limit, shutdown) ends the thread.
        // Decoded from the bytes the main thread holds, so the copy is the message exactly
        // (a dict from `asDict()` would come back with integer-like keys first and integral
        // floats as ints, as JS objects read them): `encode()` here gives those bytes.
        proxy = new WorkerMessage(Message.decode(message));
        result = await CurrentMessage[kRunExposed](proxy, () => actor.fn(...args));
      }
      try {
        reply = { type: "result", id, result: storable(result === undefined ? null : result) };
      } catch (error) {
        // A toJSON, a getter or a Proxy trap threw: the store would have refused the value.
        reply = { type: "unstorable", id, reason: messageOf(error) };
      }
    } catch (thrown) {
      reply = { type: "error", id, error: thrownToPlain(thrown, actor) };
    }
    // What the actor sent lands before its outcome is reported (and its message acked), as
    // Python's send() has written when it returns: this thread may be terminated next (the
    // next call's time limit, a stop), which would drop a write still under way. (A write
    // that hangs keeps the call running, under its time limit, as a hung send does in Python.)
    await Broker[kSendsLanded]();
    running = undefined;
    freeMessage(proxy);
    try {
      parentPort.postMessage(reply);
    } catch (cause) {
      // What a store refuses and structured clone cannot carry either (a function, a Symbol):
      // the main thread's store refuses it, as if the actor had run there.
      parentPort.postMessage({ type: "unstorable", id, reason: `Actor '${actorName}' returned a value that cannot be stored: ${messageOf(cause)}` });
    }
  });
  parentPort.postMessage({ type: "ready" });
}

main();
