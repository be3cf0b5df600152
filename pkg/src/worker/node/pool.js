// The `worker` command's executor: a pool of worker threads (`node:worker_threads`), each
// with the user's modules imported, that runs actor calls for a `Worker` (its `executor`
// option). A synchronous, CPU-bound actor then blocks only its own thread: the process's
// main thread keeps consuming, heartbeating and running the middleware. When an attempt's
// signal aborts (its time limit, a shutdown) the thread running it is terminated (that
// stops synchronous code, which nothing else in JavaScript can) and replaced.
import { Worker as Thread } from "node:worker_threads";
import { RateLimitExceeded, Retry, SkipMessage, TimeLimitExceeded } from "../../../dist/node.js";
import { checkOptions } from "../../internal/options.js";
import { kAborted, kOnAbort } from "../../internal/symbols.js";
import { kThreadName } from "./log.js";

/** A short text for an abort reason (a time limit, a shutdown), for the log. */
function describeReason(reason) {
  try {
    if (reason instanceof Error) return reason.message ? `${reason.name}: ${reason.message}` : reason.name;
    return String(reason);
  } catch {
    return "aborted";
  }
}

/**
 * The failure of a call whose thread ended under it: out of memory (`fatal`, the thread's
 * error), or the actor called `process.exit()`, which in a worker thread ends the thread
 * only. That is stored as Python stores an actor's `sys.exit(code)`: `SystemExit` with the
 * code as its message (the line logged says which thread exited, and why).
 */
function threadEnded(threadName, code, fatal, actorName) {
  if (fatal !== undefined) return new Error(`${threadName} stopped (${describeReason(fatal)}) while running actor ${actorName}.`);
  const error = new Error(String(code));
  error.name = "SystemExit";
  error.stack = `SystemExit: ${code}\n    (${threadName} exited with code ${code} while running actor ${actorName}: it called process.exit())`;
  return error;
}

/**
 * What a call resolves with when its actor returned a value no result store can hold and
 * structured clone cannot carry either (a function, a Symbol, an object whose `toJSON`
 * throws): the attempt succeeds, and whatever stores or sends the result (Results, an
 * `on_success` callback, a pipeline) is refused with `reason`, which the worker logs, as
 * when the actor runs on the worker's own thread, and as Python's worker does with a
 * result its encoder cannot write: nothing stored, the message acked.
 */
class UnstorableResult {
  constructor(reason) {
    Object.defineProperty(this, "reason", { value: reason });
  }
  toJSON() {
    throw new TypeError(this.reason);
  }
}

/**
 * The main thread's Error for what a thread's actor threw (`thread.js`'s plain form): one of
 * `actor`'s `throws` classes when the thread says it was one (built without calling its
 * constructor, so Retries fails it at once, as on the main thread), the package's own
 * errors as themselves, anything else an Error named after the thrown error's class.
 */
function reviveError(plain, threadName, actor) {
  let error;
  const Thrown = plain.throwsIndex === undefined ? undefined : [actor?.options?.throws].flat().filter((c) => typeof c === "function")[plain.throwsIndex];
  if (Thrown !== undefined) {
    error = Object.create(Thrown.prototype);
    Object.defineProperty(error, "message", { value: plain.message, writable: true, configurable: true });
    if (plain.name !== error.name) error.name = plain.name;
    // Stored and called back under the class the thread's error had, which may subclass
    // the listed one (Python stores `type(e).__name__`, whichever class of `throws` matched).
    if (typeof plain.type === "string" && plain.type !== "Error" && plain.type !== error.name) error.name = plain.type;
    if (plain.code !== undefined) error.code = plain.code;
  } else if (plain.name === "Retry") error = new Retry(plain.message, { delay: plain.delay });
  else if (plain.name === "SkipMessage") error = new SkipMessage(plain.message);
  else if (plain.name === "TimeLimitExceeded") error = new TimeLimitExceeded(plain.message);
  else if (plain.name === "RateLimitExceeded") error = new RateLimitExceeded(plain.message);
  else {
    error = new Error(plain.message);
    // Results stores the exception under its type, as Python stores its type's name.
    error.name = plain.type ?? plain.name;
    if (plain.code !== undefined) error.code = plain.code;
    // One of Dramatiq's own errors (a ResultTimeout an actor let through): stored as Python's.
    if (plain.dramatiqError === true) error[Symbol.for("dramatiq-results.dramatiqError")] = true;
  }
  if (plain.stack !== undefined) error.stack = `${plain.stack}\n    (in worker thread ${threadName})`;
  error[kThreadName] = threadName;
  return error;
}

/**
 * `new ThreadPool({ size, modules, brokerExport, logger, log, currentMessage })`: `size`
 * threads, each importing `modules` (file URLs) in order (`brokerExport`: as modules.js); `log` (`{ index, verbose, file }`) is how the
 * threads log; `currentMessage` (the broker has the `CurrentMessage` middleware) sends each
 * call's message along, so `CurrentMessage.getCurrentMessage()` works in the threads too.
 * `await start()` resolves once every thread is ready (rejects with the first import
 * error), `run` is a `Worker` executor, `close()` terminates the threads.
 */
export class ThreadPool {
  #size;
  #modules;
  #brokerExport;
  #log;
  #logger;
  #slots = [];
  #idle = [];
  #waiting = [];
  /** Who waits (whenFree) for a thread to be free. */
  #freeWaiters = [];
  #next = 1;
  #ids = 0;
  #closed = false;
  #jobs = 0;
  #currentMessage;

  constructor(options) {
    const { size, modules, brokerExport, logger, log, currentMessage } = checkOptions("new ThreadPool()", options, {
      size: "count",
      modules: "iterable",
      brokerExport: "string",
      logger: "object",
      log: "object",
      currentMessage: "boolean",
    });
    this.#currentMessage = currentMessage === true;
    this.#log = log ?? {};
    this.#size = size;
    this.#modules = [...modules];
    this.#brokerExport = brokerExport;
    this.#logger = logger ?? console;
    /** `run(actor, args, { message, signal })`: a `Worker` executor (bound); when `signal`
     * aborts, the call fails with its reason and its thread is terminated and replaced. */
    this.run = (actor, args, context) => this.#run(actor, args, context);
  }

  /** Starts the threads; resolves when all have imported the modules. */
  async start() {
    await Promise.all(Array.from({ length: this.#size }, () => this.#spawn()));
  }

  /**
   * Undefined when a thread is free to run a call now; else a Promise that resolves once
   * one may be (a thread freed or replaced, or the pool closed). The `Worker` asks before
   * it takes a message (`kExecutorFree`): a thread that replaces a stopped one starts up
   * (imports the modules) first, which no Python worker thread ever does again, and a
   * message taken meanwhile would spend its time limit waiting for it.
   */
  whenFree() {
    if (this.#closed || this.#idle.length > this.#waiting.length) return undefined;
    return new Promise((resolve) => this.#freeWaiters.push(resolve));
  }

  /** How many calls are running now. */
  get busy() {
    return this.#jobs;
  }

  #spawn() {
    const name = `Thread-${this.#next++}`;
    const thread = new Thread(new URL("./thread.js", import.meta.url), {
      workerData: { modules: this.#modules, brokerExport: this.#brokerExport, log: { ...this.#log, thread: name } },
      name,
    });
    const slot = { thread, name, job: undefined, ready: false };
    this.#slots.push(slot);
    return new Promise((resolve, reject) => {
      thread.on("message", (msg) => {
        if (msg.type === "ready") {
          slot.ready = true;
          this.#release(slot);
          resolve();
        } else if (msg.type === "importError") {
          reject(reviveError(msg.error, name));
        } else if (slot.job !== undefined && msg.id === slot.job.id) {
          const job = slot.job;
          slot.job = undefined;
          this.#jobs -= 1;
          if (msg.type === "result") job.resolve(msg.result);
          else if (msg.type === "unstorable") job.resolve(new UnstorableResult(msg.reason));
          else job.reject(reviveError(msg.error, name, job.actor));
          this.#release(slot);
        }
      });
      thread.on("error", (error) => {
        // The thread died: out of memory (Node ends a thread at its heap limit, the process
        // goes on), or an error its own handlers could not take.
        slot.fatal = error;
        this.#logger.error(`${name} failed.`, error);
        if (!slot.ready) reject(error);
      });
      thread.on("exit", (code) => {
        this.#slots.splice(this.#slots.indexOf(slot), 1);
        const at = this.#idle.indexOf(slot);
        if (at >= 0) this.#idle.splice(at, 1);
        const job = slot.job;
        slot.job = undefined;
        if (job !== undefined && !job.settled) {
          this.#jobs -= 1;
          job.reject(threadEnded(name, code, slot.fatal, job.actor.actorName));
        }
        if (!slot.ready) reject(new Error(`${name} exited (code ${code}) before it was ready.`));
        else if (!this.#closed && !slot.replaced) this.#replace(slot, `exited with code ${code}`);
      });
    });
  }

  #replace(slot, why) {
    slot.replaced = true;
    if (this.#closed) return;
    this.#logger.warn(`${slot.name} ${why}; starting a new thread.`);
    this.#spawn().catch((error) => {
      if (!this.#closed) this.#logger.error("A replacement thread failed to start.", error);
    });
  }

  /** `slot` is free: it takes the oldest call still waiting, or goes idle. */
  #release(slot) {
    for (;;) {
      const job = this.#waiting.shift();
      if (job === undefined) break;
      if (!job.settled) return this.#dispatch(job, slot); // else aborted while it waited
    }
    this.#idle.push(slot);
    for (const resolve of this.#freeWaiters.splice(0)) resolve();
  }

  #run(actor, args, context) {
    if (this.#closed) return Promise.reject(new Error("the thread pool is closed"));
    // The attempt's own abort hook when the caller is a `Worker` (its proxy); a bare
    // `signal` otherwise. The hook costs nothing until an abort; the signal would cost an
    // AbortController and an event listener for every message.
    const message = context?.message;
    const attempt = message !== null && typeof message === "object" && typeof message[kOnAbort] === "function" ? message : undefined;
    const signal = attempt === undefined ? context?.signal : undefined;
    if (attempt?.[kAborted]) return Promise.reject(attempt[kAborted].reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const job = { id: ++this.#ids, actor, args, attempt, settled: false, slot: undefined, unlisten: undefined };
      const settle = (fn) => (value) => {
        if (job.settled) return;
        job.settled = true;
        job.unlisten?.();
        fn(value);
      };
      job.resolve = settle(resolve);
      job.reject = settle(reject);
      // Registered in the caller's turn, so this runs before the Worker's own abort
      // listener: the reason it fails the attempt with then names the thread.
      const onAbort = (reason) => {
        const slot = job.slot;
        if (slot === undefined || slot.job !== job) return job.reject(reason);
        try {
          if (reason !== null && typeof reason === "object") reason[kThreadName] = slot.name;
        } catch {
          // A frozen reason: the line names the main thread instead.
        }
        slot.job = undefined;
        this.#jobs -= 1;
        job.reject(reason);
        // Terminating is the only way to stop synchronous code; a new thread takes its place.
        this.#replace(slot, `was stopped running ${actor.actorName} (${describeReason(reason)})`);
        slot.thread.terminate().catch(() => {});
      };
      if (attempt !== undefined) {
        job.unlisten = attempt[kOnAbort](onAbort);
      } else if (signal) {
        const listener = () => onAbort(signal.reason);
        signal.addEventListener("abort", listener, { once: true });
        job.unlisten = () => signal.removeEventListener("abort", listener);
      }
      const slot = this.#idle.shift();
      if (slot !== undefined) this.#dispatch(job, slot);
      else this.#waiting.push(job);
    });
  }

  /** Posts `job` to `slot`'s thread: the actor's name and arguments, and the message
   * itself only when an actor may ask for it (`CurrentMessage` on the broker). */
  #dispatch(job, slot) {
    job.slot = slot;
    slot.job = job;
    this.#jobs += 1;
    const { actor, args, attempt } = job;
    try {
      const call = { id: job.id, actorName: actor.actorName, args };
      if (this.#currentMessage && attempt !== undefined) call.message = attempt.message.encode();
      slot.thread.postMessage(call);
    } catch (error) {
      slot.job = undefined;
      this.#jobs -= 1;
      job.reject(new TypeError(`The arguments of a message for ${actor.actorName} cannot be sent to a thread.`, { cause: error }));
      this.#release(slot);
    }
  }

  /** Terminates every thread (a call still running is stopped). */
  async close() {
    this.#closed = true;
    for (const resolve of this.#freeWaiters.splice(0)) resolve();
    for (const job of this.#waiting.splice(0)) job.reject(new Error("the thread pool is closed"));
    await Promise.all(this.#slots.map((s) => s.thread.terminate().catch(() => {})));
  }
}
