// A worker thread of the `worker` command: imports the user's modules (so it has their
// actor functions), then runs the calls its process's ThreadPool posts, one at a time.
// Messages, hooks, acks and heartbeats stay on the process's main thread; a thread only
// runs actor code, so a synchronous actor here stalls nothing else, and the pool can stop
// it at its time limit by terminating the thread.
import { parentPort, workerData } from "node:worker_threads";
import { CurrentMessage, Message, WorkerMessage, getBroker, setLogger } from "../../../dist/node.js";
import { kRunExposed } from "../../internal/symbols.js";
import { createLogger } from "./log.js";
import { importModules } from "./modules.js";

/** What crosses back for a thrown value: enough to rebuild the error on the main thread.
 * Never throws: an actor may throw a revoked Proxy or an object whose getters throw. */
/** `value instanceof Class`, false where asking throws (a Proxy, a hostile `Symbol.hasInstance`).
 * (Here, not imported: the package ships src/worker/node/ and few other sources.) */
function isInstance(value, Class) {
  try {
    return value instanceof Class;
  } catch {
    return false;
  }
}

function thrownToPlain(thrown, actor) {
  try {
    return plain(thrown, actor);
  } catch {
    return { name: "Error", message: "the actor threw a value that cannot be read" };
  }
}

function plain(thrown, actor) {
  if (thrown instanceof Error) {
    const name = String(thrown.name ?? "Error");
    // The class's name when the error kept Error's (`class AppError extends Error {}`):
    // what Results and on_failure store, as Python stores `type(e).__name__`.
    const ctor = typeof thrown.constructor?.name === "string" ? thrown.constructor.name : "";
    // Which of the actor's `throws` classes it is: the main thread's Retries asks with its
    // own copies of those classes, which an error from this thread is no instance of.
    const throws = [actor?.options?.throws].flat().filter((c) => typeof c === "function");
    const index = throws.findIndex((Class) => isInstance(thrown, Class));
    return {
      name,
      type: name !== "Error" || !ctor ? name : ctor,
      message: String(thrown.message ?? ""),
      stack: typeof thrown.stack === "string" ? thrown.stack : undefined,
      code: typeof thrown.code === "string" ? thrown.code : undefined,
      delay: typeof thrown.delay === "number" ? thrown.delay : undefined,
      throwsIndex: index < 0 ? undefined : index,
    };
  }
  let message;
  try {
    message = String(thrown);
  } catch {
    message = "a value that cannot be converted to a string";
  }
  return { name: "Error", message };
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

async function main() {
  const { modules, brokerExport, log } = workerData;
  // What the modules and actors log here is named after this process and thread.
  setLogger(createLogger({ component: `dramatiq.WorkerProcess(${log.index})`, thread: log.thread, verbose: log.verbose, file: log.file }));
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
        proxy = new WorkerMessage(Message.fromDict(message));
        result = await CurrentMessage[kRunExposed](proxy, () => actor.fn(...args));
      }
      reply = { type: "result", id, result: result === undefined ? null : result };
      freeMessage(proxy);
      parentPort.postMessage(reply);
      return;
    } catch (thrown) {
      reply = { type: "error", id, error: thrownToPlain(thrown, actor) };
    }
    freeMessage(proxy);
    try {
      parentPort.postMessage(reply);
    } catch (cause) {
      // The result could not be cloned (a function, a class instance with private state).
      parentPort.postMessage({ type: "error", id, error: thrownToPlain(new TypeError(`Actor '${actorName}' returned a value that cannot leave its thread.`, { cause })) });
    }
  });
  parentPort.postMessage({ type: "ready" });
}

main();
