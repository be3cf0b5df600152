// The in-process broker (Dramatiq's `StubBroker`), actors and the global broker.
// Queues live here; every rule about a message (delays, option names and checks, queue
// names) is the wasm core's.
import {
  ActorSpec,
  Message,
  builtinActorOptions,
  canonicalQueueName,
  delayMessage,
  delayQueueName,
  messageEta,
  snakeCase,
  undelayMessage,
} from "../dist/dramatiq_results.js";
import { globalBroker, setGlobalBroker } from "../dist/global.js";
import { Middleware, Results, defaultMiddleware } from "./middleware.js";

/** No actor of that name is declared on the broker (Dramatiq's `ActorNotFound`). */
export class ActorNotFound extends Error {}
ActorNotFound.prototype.name = "ActorNotFound";

/** No queue of that name is declared on the broker (Dramatiq's `QueueNotFound`). */
export class QueueNotFound extends Error {}
QueueNotFound.prototype.name = "QueueNotFound";

/** `broker.join(queue, { timeout })` ran out of time (Dramatiq's `QueueJoinTimeout`). */
export class QueueJoinTimeout extends Error {}
QueueJoinTimeout.prototype.name = "QueueJoinTimeout";

let defaultLogger = console;

/** Sets the logger new brokers use (anything with `warn`, `error`, optionally `info`). */
export function setLogger(logger) {
  checkLogger(logger);
  defaultLogger = logger;
}

/** The logger new brokers use (`console` unless set). */
export function getLogger() {
  return defaultLogger;
}

function checkLogger(logger) {
  if (!logger || typeof logger.warn !== "function" || typeof logger.error !== "function") {
    throw new TypeError("a logger needs warn() and error() methods");
  }
}


/**
 * What every broker shares (Dramatiq's `Broker`): the logger, the middleware list and its
 * hooks, the declared actors, and the results backend. Subclasses hold the queues:
 * `StubBroker` in memory, `RedisBroker` on a Redis server.
 */
/** A `delay` option checked: none (undefined or null) → undefined, else a non-negative number of ms. */
export function checkDelay(delay) {
  if (delay === undefined || delay === null) return undefined;
  if (typeof delay !== "number" || !(delay >= 0)) throw new RangeError("delay must be a non-negative number of ms");
  return delay;
}

export class Broker {
  constructor({ middleware, logger } = {}) {
    if (logger !== undefined) checkLogger(logger);
    /** Warnings and errors go here (Dramatiq's logging). */
    this.logger = logger ?? defaultLogger;
    /** Declared actors by name. */
    this.actors = new Map();
    /** The middleware, in order (`after*` hooks run in reverse). */
    this.middleware = [];
    for (const m of middleware ?? defaultMiddleware()) this.addMiddleware(m);
  }

  /** Adds `middleware` at the end, or `{ before }` / `{ after }` the first middleware of a class. */
  addMiddleware(middleware, { before, after } = {}) {
    if (!(middleware instanceof Middleware) && typeof middleware !== "object") {
      throw new TypeError("middleware must be a Middleware object");
    }
    const anchor = before ?? after;
    if (anchor !== undefined) {
      const i = this.middleware.findIndex((m) => m instanceof anchor);
      if (i < 0) throw new TypeError(`middleware ${anchor.name} is not on this broker`);
      this.middleware.splice(before !== undefined ? i : i + 1, 0, middleware);
    } else {
      this.middleware.push(middleware);
    }
  }

  /** Every actor option the broker's middleware declare (snake_case), plus the keywords. */
  get actorOptions() {
    const names = new Set(builtinActorOptions().Broker);
    for (const m of this.middleware) for (const o of m.actorOptions ?? []) names.add(o);
    return names;
  }

  /** Runs `before<Signal>` on every middleware in order; errors propagate. */
  async emitBefore(signal, ...args) {
    const hook = "before" + signal[0].toUpperCase() + signal.slice(1);
    for (const m of this.middleware) if (typeof m[hook] === "function") await m[hook](this, ...args);
  }

  /** Runs `after<Signal>` on every middleware in reverse order; an error is logged, not raised. */
  async emitAfter(signal, ...args) {
    const hook = "after" + signal[0].toUpperCase() + signal.slice(1);
    for (const m of [...this.middleware].reverse()) {
      if (typeof m[hook] !== "function") continue;
      try {
        await m[hook](this, ...args);
      } catch (error) {
        this.logger.error(`Unexpected failure in ${hook} of ${m.constructor.name}.`, error);
      }
    }
  }

  /** Registers `actor` and declares its queue. */
  declareActor(actor) {
    this.actors.set(actor.actorName, actor);
    this.declareQueue(actor.queueName);
  }

  /** The actor named `name`; throws `ActorNotFound`. */
  getActor(name) {
    const actor = this.actors.get(name);
    if (!actor) throw new ActorNotFound(`Actor '${name}' is not declared on this broker.`);
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
  _sent(message, enqueued) {
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
   * A network broker's `afterEnqueue` hooks, last middleware first, once its write landed:
   * the message is sent, so a hook that throws is logged rather than failing the send.
   */
  _afterEnqueue(message, delay) {
    for (const m of [...this.middleware].reverse()) {
      try {
        m.afterEnqueue?.(this, message, delay);
      } catch (error) {
        this.logger.error(`Unexpected failure in afterEnqueue of ${m.constructor.name}.`, error);
      }
    }
  }

  /** The broker's results backend (from its `Results` middleware); throws when there is none. */
  getResultsBackend() {
    for (const m of this.middleware) if (m instanceof Results) return m.backend;
    throw new Error(
      "The broker doesn't have a results backend: add the Results middleware to it, or pass { backend } to getResult.",
    );
  }
}

/**
 * What the brokers that write over the network (`RedisBroker`, `RabbitmqBroker`) share:
 * `send` returns the message at once and `message.enqueued` settles when the write does;
 * `enqueue` is the same write as one Promise. A subclass gives `_prepare(message, delay)`
 * (what will be written, built at once, so a bad message or delay throws before any I/O),
 * `_preparedMessage(prepared)` (the `Message` it carries) and `_write(prepared, delay)`.
 * Internal: not exported from the package.
 */
export class NetworkBroker extends Broker {
  /** Writes `message` (after `delay` ms when given); resolves with the message as sent. */
  enqueue(message, { delay } = {}) {
    try {
      return this._write(this._prepare(message, delay), delay);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The message as it will be sent, at once; `message.enqueued` settles with the write. */
  send(message, { delay } = {}) {
    const prepared = this._prepare(message, delay);
    return this._sent(this._preparedMessage(prepared), this._write(prepared, delay));
  }
}

/**
 * An in-memory broker: named queues, each with a delay queue (`<queue>.DQ`), and a list of
 * dead-lettered messages. Workers in the same process consume from it.
 */
export class StubBroker extends Broker {
  constructor(options = {}) {
    super(options);
    /** Messages that failed (Dramatiq's `dead_letters`). */
    this.deadLetters = [];
    this._queues = new Map();
    this._listeners = new Set();
  }

  /** Declares a queue (and its delay queue). */
  declareQueue(name) {
    const q = canonicalQueueName(name);
    for (const n of [q, delayQueueName(q)]) {
      if (!this._queues.has(n)) this._queues.set(n, { messages: [], unfinished: 0 });
    }
  }

  /** The declared queue names (delay queues included). */
  getDeclaredQueues() {
    return new Set(this._queues.keys());
  }

  /**
   * Enqueues `message`, after `delay` ms if given; returns what was enqueued (for a
   * delay, a copy on `<queue>.DQ` with an `eta` option, which has the same result key).
   */
  enqueue(message, { delay } = {}) {
    if (!(message instanceof Message)) throw new TypeError("enqueue needs a Message");
    if (checkDelay(delay) > 0) message = delayMessage(message, delay, Date.now());
    const queue = this._queues.get(message.queueName);
    if (!queue) throw new QueueNotFound(`Queue '${message.queueName}' is not declared on this broker.`);
    for (const m of this.middleware) m.beforeEnqueue?.(this, message, delay);
    queue.messages.push(message);
    queue.unfinished += 1;
    for (const m of [...this.middleware].reverse()) m.afterEnqueue?.(this, message, delay);
    this._changed();
    return message;
  }

  /**
   * Resolves once `queue` and its delay queue have no unfinished messages. Rejects with
   * `QueueJoinTimeout` after `timeout` ms, and with the message's exception as soon as one
   * is dead-lettered when `failFast` is set.
   */
  join(queueName, { timeout, failFast = false } = {}) {
    const q = canonicalQueueName(queueName);
    if (!this._queues.has(q)) return Promise.reject(new QueueNotFound(`Queue '${q}' is not declared on this broker.`));
    const names = [q, delayQueueName(q)];
    const deadAtStart = this.deadLetters.length;
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (failFast && this.deadLetters.length > deadAtStart) {
          done();
          const dead = this.deadLetters[deadAtStart];
          return reject(dead.exception ?? new Error(`Message ${dead.messageId} failed.`));
        }
        if (names.every((n) => this._queues.get(n).unfinished === 0)) {
          done();
          resolve();
        }
      };
      const done = () => {
        clearTimeout(timer);
        this._listeners.delete(check);
      };
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          done();
          reject(new QueueJoinTimeout(`Queue '${q}' was not drained within ${timeout} ms.`));
        }, timeout);
      }
      this._listeners.add(check);
      check();
    });
  }

  /** Drops every message of `queue` (and its delay queue). */
  flush(queueName) {
    const q = canonicalQueueName(queueName);
    for (const n of [q, delayQueueName(q)]) {
      const queue = this._queues.get(n);
      if (!queue) continue;
      queue.unfinished -= queue.messages.length;
      queue.messages.length = 0;
    }
    this._changed();
  }

  /** Drops every message of every queue and the dead letters. */
  flushAll() {
    for (const n of this._queues.keys()) this.flush(n);
    this.deadLetters.length = 0;
  }

  /** Nothing to release for an in-memory broker; kept for Dramatiq's API. */
  close() {}

  // --- for workers -------------------------------------------------------------------

  /** Takes the next ready message of `queues` (all when undefined): due delayed ones first. */
  _take(queues) {
    const now = Date.now();
    let next = Infinity;
    for (const [name, queue] of this._queues) {
      if (queues && !queues.has(canonicalQueueName(name))) continue;
      if (!name.endsWith(".DQ")) {
        if (queue.messages.length > 0) return { message: queue.messages.shift(), queue: name };
        continue;
      }
      for (let i = 0; i < queue.messages.length; i++) {
        const eta = messageEta(queue.messages[i]) ?? 0;
        if (eta <= now) return { message: queue.messages.splice(i, 1)[0], queue: name, due: true };
        next = Math.min(next, eta);
      }
    }
    return { next };
  }

  /** Moves a due delayed message to its work queue. */
  _undelay(message) {
    this.enqueue(undelayMessage(message));
  }

  /** Marks a taken message done. */
  _finish(queueName, deadLetter) {
    const queue = this._queues.get(queueName);
    if (queue) queue.unfinished -= 1;
    if (deadLetter) this.deadLetters.push(deadLetter);
    this._changed();
  }

  /** Calls `listener` on every change until it is removed. */
  _listen(listener) {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  _changed() {
    for (const l of [...this._listeners]) l();
  }
}

/** Makes `broker` the global broker (Dramatiq's `set_broker`); returns it. */
export function setBroker(broker) {
  if (!broker || typeof broker.getResultsBackend !== "function") throw new TypeError("setBroker needs a broker");
  return setGlobalBroker(broker);
}

/** The global broker; a new `StubBroker` is made global when none was set (Dramatiq's `get_broker`). */
export function getBroker() {
  return globalBroker() ?? setGlobalBroker(new StubBroker());
}

function snakeKeys(options) {
  const out = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[snakeCase(k)] = v;
  return out;
}

/**
 * A JS function run by workers on messages (Dramatiq's `Actor`), or, declared with a name
 * instead of a function, a *remote* actor: one whose code lives elsewhere (a Python
 * worker). A remote actor sends messages like any other; no JS worker runs it.
 */
export class Actor {
  constructor(fn, { actorName, queueName = "default", priority = 0, broker, ...options } = {}) {
    let remote = false;
    if (typeof fn === "string") {
      if (fn === "") throw new TypeError("a remote actor needs a non-empty name");
      actorName = actorName ?? fn;
      fn = undefined;
      remote = true;
    } else if (typeof fn !== "function") {
      throw new TypeError("an actor needs a function, or the name of an actor whose code lives elsewhere");
    }
    const name = actorName ?? fn?.name;
    /** The broker the actor is declared on. */
    this.broker = broker ?? getBroker();
    if (actorName === undefined && fn.name) {
      // The Python side finds actors by name, and minifiers rename functions.
      this.broker.logger.warn(
        `actor "${fn.name}" is named after its function: pass { actorName: "${fn.name}" } so a minifier cannot rename it`,
      );
    }
    this.spec = new ActorSpec(name ?? "", queueName, options, [...this.broker.actorOptions]);
    /** The function (undefined for a remote actor). */
    this.fn = fn;
    /** Whether the actor's code lives elsewhere: declared by name, sent to, never run here. */
    this.remote = remote;
    /** The actor's name (its function's name unless `actorName` is given). */
    this.actorName = this.spec.actorName;
    /** The actor's queue. */
    this.queueName = queueName;
    /** The priority (kept for Dramatiq's API; the stub broker does not reorder). */
    this.priority = priority;
    /** The actor's options, snake_case, functions included (`retry_when`, `throws`). */
    this.options = snakeKeys(options);
    this.broker.declareActor(this);
  }

  /** A message for this actor, not sent (for pipelines and groups). */
  message(...args) {
    return this.messageWithOptions({ args });
  }

  /** A message with options (camelCase or snake_case names; stored snake_case), not sent. */
  messageWithOptions({ args = [], kwargs = {}, ...options } = {}) {
    return new Message({
      queueName: this.queueName,
      actorName: this.actorName,
      args,
      kwargs,
      options: snakeKeys(options),
    });
  }

  /** Sends a message with these arguments; returns the `Message`. */
  send(...args) {
    return this.sendWithOptions({ args });
  }

  /** Sends a message with `{ args, kwargs, delay, ...options }`; returns the enqueued `Message`. */
  sendWithOptions({ args = [], kwargs = {}, delay, ...options } = {}) {
    return sendOn(this.broker, this.messageWithOptions({ args, kwargs, ...options }), { delay });
  }

  /** Runs the function directly, in this process, without a message. */
  call(...args) {
    if (this.remote) {
      throw new TypeError(`Actor '${this.actorName}' is remote: its code runs elsewhere; send it a message instead.`);
    }
    return this.fn(...args);
  }

  toString() {
    return `Actor(${this.remote ? `remote ${JSON.stringify(this.actorName)}` : this.fn.name || "<anonymous>"}, queueName=${JSON.stringify(this.queueName)}, actorName=${JSON.stringify(this.actorName)})`;
  }
}

/**
 * `broker.send(message, options)` where the broker has it (every `Broker`), else
 * `broker.enqueue`: the enqueued `Message`, synchronously.
 */
export function sendOn(broker, message, options) {
  return typeof broker.send === "function" ? broker.send(message, options) : broker.enqueue(message, options);
}

/**
 * Declares `fn` as an actor on the global broker (or `options.broker`). Options:
 * `actorName`, `queueName`, `priority`, and any option the broker's middleware declare
 * (`storeResults`, `resultTtl`, `maxRetries`, `minBackoff`, `maxBackoff`, `retryWhen`,
 * `throws`, `maxAge`, `timeLimit`, `pipeIgnore`); others are rejected. With a string
 * instead of a function, declares a remote actor of that name (its code lives elsewhere).
 */
export function actor(fn, options) {
  if (typeof fn !== "function" && typeof options === "function") [fn, options] = [options, fn];
  return new Actor(fn, options);
}
