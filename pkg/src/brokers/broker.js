// What every broker shares (Dramatiq's `Broker`), and what the brokers that write over the
// network share (`NetworkBroker`). The queues themselves are each subclass's: `StubBroker`
// in memory (stub.js), `RedisBroker` (redis/), `RabbitmqBroker` (rabbitmq/).
import { Message, builtinActorOptions, canonicalQueueName, delayQueueName } from "../../dist/dramatiq_results.js";
import { ActorNotFound, SkipMessage } from "../errors.js";
import { isInstance, readSafely } from "../internal/describe.js";
import { checkLogger, getLogger, guardLogger } from "../internal/logger.js";
import { checkOptions } from "../internal/options.js";
import { freeIfCopied } from "../internal/owned.js";
import { kAfterEnqueue, kPrepare, kPreparedMessage, kSendsCopies, kSendsLanded, kSent, kWrite, kWritesSettled } from "../internal/symbols.js";
import { Middleware, Results, defaultMiddleware } from "../middleware/index.js";
import { rememberBroker } from "./sent.js";

/** A `delay` option checked: none (undefined or null) → undefined, else a finite number of
 * ms. A negative one is an eta in the past, due at once, as Python's `now + delay` is. */
export function checkDelay(delay) {
  if (delay === undefined || delay === null) return undefined;
  if (typeof delay !== "number" || !Number.isFinite(delay)) throw new RangeError("delay must be a finite number of ms");
  return delay;
}

/**
 * What every broker shares (Dramatiq's `Broker`): the logger, the middleware list and its
 * hooks, the declared actors, and the results backend. Subclasses hold the queues:
 * `StubBroker` in memory, `RedisBroker` on a Redis server, `RabbitmqBroker` on RabbitMQ.
 */
/** Every network broker's writes under way, in this thread (see `kSendsLanded`). */
const allWrites = new Set();

export class Broker {
  #logger;
  /** Set once the constructor's own middleware are in: later ones are told what exists. */
  #built = false;

  /**
   * Resolves once every write under way now, of every network broker here, has settled
   * (`kSendsLanded`). Those only: writes started meanwhile (work an actor left running that
   * sends on a timer) are not waited for, or such work could hold the caller forever.
   */
  static async [kSendsLanded]() {
    if (allWrites.size > 0) await Promise.allSettled([...allWrites]);
  }

  constructor(options) {
    const { middleware, logger } = checkOptions(`new ${new.target.name}()`, options, {
      middleware: "iterable",
      logger: "object",
    });
    this.logger = logger ?? getLogger();
    /** Declared actors by name. */
    this.actors = new Map();
    /** The middleware, in order (`after*` hooks run in reverse). */
    this.middleware = [];
    for (const m of middleware ?? defaultMiddleware()) this.addMiddleware(m);
    this.#built = true;
  }

  /** Warnings and errors go here (Dramatiq's logging), through methods that never throw:
   * a throwing logger cannot cut a failure path short. */
  get logger() {
    return this.#logger;
  }

  set logger(logger) {
    checkLogger(logger);
    this.#logger = guardLogger(logger);
  }

  /** Adds `middleware` at the end, or `{ before }` / `{ after }` the first middleware of a class. */
  addMiddleware(middleware, options) {
    const { before, after } = checkOptions("addMiddleware()", options, { before: "function", after: "function" });
    if (!(middleware instanceof Middleware) && typeof middleware !== "object") {
      throw new TypeError("middleware must be a Middleware object");
    }
    // Python asserts this: which of the two to honour would be a guess.
    if (before !== undefined && after !== undefined) throw new TypeError("addMiddleware(): give either before or after, not both");
    // Allowed, as in Python, but a second one of a kind (Python's `isinstance(existing,
    // type(new))`) is seldom what was meant. Plain objects are no kind.
    const kind = readSafely(middleware, "constructor");
    if (typeof kind === "function" && kind !== Object && this.middleware.some((m) => isInstance(m, kind))) {
      this.logger.warn(`You're adding a middleware of the same type twice: ${readSafely(kind, "name")}. It may have unexpected results.`);
    }
    const anchor = before ?? after;
    if (anchor !== undefined) {
      const i = this.middleware.findIndex((m) => m instanceof anchor);
      if (i < 0) throw new TypeError(`middleware ${anchor.name} is not on this broker`);
      this.middleware.splice(before !== undefined ? i : i + 1, 0, middleware);
    } else {
      this.middleware.push(middleware);
    }
    // As Dramatiq's add_middleware: a middleware added later hears of the actors, queues
    // and delay queues declared before it (a failure logged, as every declare hook's).
    if (this.#built) {
      for (const actor of this.actors.values()) runSyncHook(this, middleware, "afterDeclareActor", [actor]);
      for (const q of this.getDeclaredQueues()) runSyncHook(this, middleware, "afterDeclareQueue", [q]);
      for (const q of this.getDeclaredDelayQueues?.() ?? []) runSyncHook(this, middleware, "afterDeclareDelayQueue", [q]);
    }
  }

  /** Every actor option the broker's middleware declare (snake_case), plus the keywords. */
  get actorOptions() {
    const names = new Set(builtinActorOptions().Broker);
    for (const m of this.middleware) for (const o of m.actorOptions ?? []) names.add(o);
    return names;
  }

  /**
   * Runs `before<Signal>` on every middleware in order. A `SkipMessage` propagates (the
   * worker skips the message); any other error is logged and the next hook runs, as
   * Dramatiq's `emit_before` does (a failing middleware neither fails the message nor
   * keeps the hooks after it from running).
   */
  emitBefore(signal, ...args) {
    // Most signals have no hook on most brokers (the worker emits four per message): then
    // a settled Promise, without an async function's frame and its Promises.
    const first = firstWith(this, "before", signal);
    return typeof first === "number" ? emitBeforeFrom(this, hookName("before", signal), first, args) : first;
  }

  /** Runs `after<Signal>` on every middleware in reverse order; an error is logged, not raised. */
  emitAfter(signal, ...args) {
    const first = firstWith(this, "after", signal);
    return typeof first === "number" ? emitAfterFrom(this, hookName("after", signal), args) : first;
  }

  /**
   * Registers `actor` and declares its queue, between the middleware's `beforeDeclareActor`
   * and `afterDeclareActor` (Dramatiq's `declare_actor`; a hook's failure is logged).
   */
  declareActor(actor) {
    for (const m of this.middleware) runSyncHook(this, m, "beforeDeclareActor", [actor]);
    this.declareQueue(actor.queueName);
    this.actors.set(actor.actorName, actor);
    for (const m of [...this.middleware].reverse()) runSyncHook(this, m, "afterDeclareActor", [actor]);
  }

  /** The actor named `name`; throws `ActorNotFound`. */
  getActor(name) {
    const actor = this.actors.get(name);
    // Python's `ActorNotFound(actor_name)`: the name is the message.
    if (!actor) throw new ActorNotFound(String(name));
    return actor;
  }

  /**
   * What `actor.send()`, pipelines and groups call: enqueues `message` and returns the
   * `Message` as enqueued, synchronously. A network broker returns it before the write
   * lands and says how it went in `message.enqueued` (see `RedisBroker`).
   */
  send(message, options) {
    return this.enqueue(message, options);
  }

  /**
   * `message`, sent by a network broker whose write `enqueued` settles later: it gains
   * `message.enqueued`, and its `getResult()` waits for the write first and reads from this
   * broker's backend unless one is given. A failed write is logged here, so a caller that
   * never looks at `enqueued` leaves no unhandled rejection.
   */
  [kSent](message, enqueued) {
    rememberBroker(message, this);
    enqueued.catch((error) =>
      this.logger.error(`Could not enqueue message ${message.messageId} on queue ${message.queueName}.`, error),
    );
    Object.defineProperty(message, "enqueued", { value: enqueued });
    const getResult = Message.prototype.getResult;
    Object.defineProperty(message, "getResult", {
      value: (options = {}) =>
        enqueued.then(() => {
          if (options?.backend == null) {
            try {
              options = { ...options, backend: this.getResultsBackend() };
            } catch {}
          }
          return getResult.call(message, options);
        }),
    });
    return message;
  }

  /**
   * The `afterEnqueue` hooks, last middleware first, once the message is enqueued (a
   * network broker's write landed): the message is sent, so a hook that throws is logged
   * rather than failing the send.
   */
  [kAfterEnqueue](message, delay) {
    // No delay is undefined for the hooks (as declared), whether it was given as null or not at all.
    delay ??= undefined;
    for (const m of [...this.middleware].reverse()) runSyncHook(this, m, "afterEnqueue", [message, delay]);
  }

  /** The broker's results backend (from its `Results` middleware); throws when there is none. */
  getResultsBackend() {
    for (const m of this.middleware) if (m instanceof Results) return m.backend;
    throw new Error(
      "The broker doesn't have a results backend: add the Results middleware to it, or pass { backend } to getResult.",
    );
  }
}


// A network broker declares the queue of every message it writes, and per-write calls into
// wasm cost a few µs each once the process has idled waiting for a confirm (bench/notes.md):
// the canonical name of each queue name seen is asked once (a handful per app; the cache is
// dropped if it ever grows large).
const canonicalNames = new Map();
/** `canonicalQueueName(name)`, remembered. */
export function canonical(name) {
  let q = canonicalNames.get(name);
  if (q === undefined) {
    q = canonicalQueueName(name);
    if (canonicalNames.size >= 1024) canonicalNames.clear();
    canonicalNames.set(name, q);
  }
  return q;
}

/**
 * What the brokers that write over the network (`RedisBroker`, `RabbitmqBroker`) share:
 * `send` returns the message at once and `message.enqueued` settles when the write does;
 * `enqueue` is the same write as one Promise. A subclass gives `[kPrepare](message, delay)`
 * (what will be written, built at once, so a bad message or delay throws before any I/O),
 * `[kPreparedMessage](prepared)` (the `Message` it carries) and `[kWrite](prepared, delay)`.
 * Internal: not exported from the package.
 */
export class NetworkBroker extends Broker {
  #writing = new Set(); // the writes under way
  #queues = new Set(); // the declared queues' canonical names

  /**
   * Declares a queue (and its delay queue), running the middleware's `beforeDeclareQueue`,
   * `afterDeclareQueue` and `afterDeclareDelayQueue` the first time, as Dramatiq's brokers
   * emit them. Nothing is written here: Redis needs nothing, and `RabbitmqBroker` declares
   * the queue on RabbitMQ, with Dramatiq's arguments, before its first use.
   */
  declareQueue(name) {
    const q = canonical(name);
    if (this.#queues.has(q)) return;
    declareQueueWithHooks(this, q, () => this.#queues.add(q));
  }

  /** The declared (canonical) queue names, as Dramatiq's `get_declared_queues`. */
  getDeclaredQueues() {
    return new Set(this.#queues);
  }

  /** The declared delay queues (`<queue>.DQ`), as Dramatiq's `get_declared_delay_queues`. */
  getDeclaredDelayQueues() {
    return new Set([...this.#queues].map((q) => delayQueueName(q)));
  }

  /** It writes a copy of the message it is given (see internal/owned.js). */
  get [kSendsCopies]() {
    return true;
  }

  /** Writes `message` (after `delay` ms when given); resolves with the message as sent. */
  enqueue(message, options) {
    try {
      // Checked inside: a bad option rejects, as every failure of this Promise does.
      const { delay } = checkOptions("enqueue()", options, { delay: "any" });
      const prepared = this[kPrepare](message, delay);
      // Both the message handed in and the one sent read their result from this broker.
      rememberBroker(message, this);
      rememberBroker(this[kPreparedMessage](prepared), this);
      return this.#track(this[kWrite](prepared, delay));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The message as it will be sent, at once; `message.enqueued` settles with the write. */
  send(message, options) {
    const { delay } = checkOptions("send()", options, { delay: "any" });
    const prepared = this[kPrepare](message, delay);
    rememberBroker(message, this);
    return this[kSent](this[kPreparedMessage](prepared), this.#track(this[kWrite](prepared, delay)));
  }

  #track(writing) {
    this.#writing.add(writing);
    allWrites.add(writing);
    const done = () => {
      this.#writing.delete(writing);
      allWrites.delete(writing);
    };
    writing.then(done, done);
    return writing;
  }

  /**
   * Resolves once every write under way has settled. Python's `send()` has written when it
   * returns, so its `close()` finds nothing in flight; a `close()` here waits on this, so a
   * `send()` not awaited before it still lands (and its `enqueued` settles).
   */
  async [kWritesSettled]() {
    while (this.#writing.size > 0) await Promise.allSettled([...this.#writing]);
  }
}

/**
 * `broker.send(message, options)` where the broker has it (every `Broker`), else
 * `broker.enqueue`: the enqueued `Message`, synchronously.
 */
export function sendOn(broker, message, options) {
  return typeof broker.send === "function" ? broker.send(message, options) : broker.enqueue(message, options);
}

/** `sendOn` for a message made only to be sent (see internal/owned.js). */
export function sendOwned(broker, message, options) {
  return freeIfCopied(broker, message, sendOn(broker, message, options));
}

const hookNames = { before: new Map(), after: new Map() };

/** `before` + `processMessage` → `beforeProcessMessage`, made once per signal name. */
function hookName(when, signal) {
  let name = hookNames[when].get(signal);
  if (name === undefined) {
    name = when + signal[0].toUpperCase() + signal.slice(1);
    hookNames[when].set(signal, name);
  }
  return name;
}

/**
 * The index of `broker`'s first middleware with the hook for `when` + `signal`, or else a
 * settled Promise: fulfilled when none has it, rejected when naming or reading one threw
 * (as the hooks' loop would have rejected).
 */
function firstWith(broker, when, signal) {
  try {
    const hook = hookName(when, signal);
    const list = broker.middleware;
    for (let i = 0; i < list.length; i += 1) if (typeof list[i][hook] === "function") return i;
  } catch (error) {
    return Promise.reject(error);
  }
  return Promise.resolve();
}

/** `emitBefore`'s hooks, from the middleware at `first` on. */
async function emitBeforeFrom(broker, hook, first, args) {
  const list = broker.middleware;
  for (let i = first; i < list.length; i += 1) {
    const m = list[i];
    if (typeof m[hook] !== "function") continue;
    try {
      // A synchronous hook's value is not awaited: the worker emits four signals per
      // message, and a turn of the microtask queue per hook is most of their cost.
      const out = m[hook](broker, ...args);
      if (isThenable(out)) await out;
    } catch (error) {
      if (isInstance(error, SkipMessage)) throw error;
      logHookFailure(broker, hook, m, args[0], error);
    }
  }
}

/** `emitAfter`'s hooks, last middleware first. */
async function emitAfterFrom(broker, hook, args) {
  const list = broker.middleware.slice();
  for (let i = list.length - 1; i >= 0; i -= 1) {
    const m = list[i];
    if (typeof m[hook] !== "function") continue;
    try {
      const out = m[hook](broker, ...args);
      if (isThenable(out)) await out;
    } catch (error) {
      logHookFailure(broker, hook, m, args[0], error);
    }
  }
}

/**
 * Runs every middleware's synchronous `beforeEnqueue(broker, message, delay)`, in order, as
 * `emitBefore` does: a `SkipMessage` propagates (the send throws it, as Dramatiq's
 * `MiddlewareError`), any other error is logged and the message is sent all the same.
 */
export function emitBeforeEnqueue(broker, message, delay) {
  // No delay is undefined for the hooks (as declared), whether it was given as null or not at all.
  delay ??= undefined;
  for (const m of broker.middleware) runSyncHook(broker, m, "beforeEnqueue", [message, delay], { skips: true });
}

/**
 * Declares the canonical queue `q` between the middleware's hooks, in the order Dramatiq's
 * `declare_queue` emits them: `beforeDeclareQueue` in order, `register()`,
 * `afterDeclareQueue` in reverse order, `registerDelay(dq)`, then `afterDeclareDelayQueue`
 * for `q`'s delay queue in reverse order. A hook's failure is logged; the queue is declared
 * all the same. The caller checks that `q` is new.
 */
export function declareQueueWithHooks(broker, q, register, registerDelay = () => {}) {
  for (const m of broker.middleware) runSyncHook(broker, m, "beforeDeclareQueue", [q]);
  register();
  for (const m of [...broker.middleware].reverse()) runSyncHook(broker, m, "afterDeclareQueue", [q]);
  const dq = delayQueueName(q);
  registerDelay(dq);
  for (const m of [...broker.middleware].reverse()) runSyncHook(broker, m, "afterDeclareDelayQueue", [dq]);
}

/**
 * Calls `middleware[hook](broker, ...args)`, a hook Dramatiq calls synchronously (the
 * enqueue and declare hooks): a failure is logged, never thrown (with `skips`, but for a
 * `SkipMessage`); an async hook is not waited for, and its rejection is logged rather than
 * left unhandled (which would end a Node process).
 */
export function runSyncHook(broker, middleware, hook, args, { skips = false } = {}) {
  try {
    const out = typeof middleware[hook] === "function" ? middleware[hook](broker, ...args) : undefined;
    if (isThenable(out)) Promise.resolve(out).catch((error) => logHookFailure(broker, hook, middleware, args[0], error));
  } catch (error) {
    if (skips && isInstance(error, SkipMessage)) throw error;
    logHookFailure(broker, hook, middleware, args[0], error);
  }
}

/**
 * Logs a hook's failure naming the hook, the middleware's class and, for a message's
 * hook, the message id (Dramatiq names the first two; the id says which message it hit).
 * Reads nothing that could throw: the middleware or the message may be anyone's object.
 */
function logHookFailure(broker, hook, middleware, subject, error) {
  const name = readSafely(readSafely(middleware, "constructor"), "name");
  const id = readSafely(subject, "messageId");
  const of = typeof name === "string" && name !== "" ? ` of ${name}` : "";
  const on = typeof id === "string" ? ` for message ${id}` : "";
  broker.logger.error(`Unexpected failure in ${hook}${of}${on}.`, error);
}

/** Whether a hook returned something to wait for. Reading `then` may throw (a hostile
 * value): the hook's own failure then, as an await of it would have been. */
function isThenable(value) {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function";
}
