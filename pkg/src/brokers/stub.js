// Dramatiq's `StubBroker`: queues in memory, consumed by workers in the same process.
// Every rule about a message (delays, queue names) is the wasm core's.
import {
  Message,
  canonicalQueueName,
  delayMessage,
  delayQueueName,
  messageEta,
  undelayMessage,
} from "../../dist/dramatiq_results.js";
import { QueueJoinTimeout, QueueNotFound } from "../errors.js";
import { checkOptions } from "../internal/options.js";
import { kAfterEnqueue, kChanged, kFinish, kListen, kTake, kUndelay } from "../internal/symbols.js";
import { Broker, checkDelay, declareQueueWithHooks, emitBeforeEnqueue } from "./broker.js";
import { rememberBroker } from "./sent.js";

/**
 * An in-memory broker: named queues, each with a delay queue (`<queue>.DQ`), and a list of
 * dead-lettered messages. Workers in the same process consume from it.
 */
export class StubBroker extends Broker {
  #queues = new Map();
  #listeners = new Set();
  #deadByQueue = new Map();
  // Whether any actor has a priority other than 0 (only then does a take compare them), and
  // the order messages were enqueued in (equal priorities run in it).
  #prioritized = false;
  #order = new WeakMap();
  #enqueued = 0;

  constructor(options) {
    const checked = checkOptions("new StubBroker()", options, {
      middleware: "iterable",
      logger: "object",
      failFastDefault: "boolean",
    });
    const { middleware, logger, failFastDefault = true } = checked;
    super({ middleware, logger });
    /** Messages that failed (Dramatiq's `dead_letters`). */
    this.deadLetters = [];
    /** `join`'s `failFast` when it is not given (Dramatiq's `fail_fast_default`, default true). */
    this.failFastDefault = failFastDefault;
  }

  /** Registers `actor` (see `Broker.declareActor`). */
  declareActor(actor) {
    super.declareActor(actor);
    if (actor.priority !== 0) this.#prioritized = true;
  }

  /** Declares a queue (and its delay queue), running the middleware's `beforeDeclareQueue`,
   * `afterDeclareQueue` and `afterDeclareDelayQueue` the first time (Dramatiq's `declare_queue`). */
  declareQueue(name) {
    const q = canonicalQueueName(name);
    if (this.#queues.has(q)) return;
    declareQueueWithHooks(
      this,
      q,
      () => this.#queues.set(q, { messages: [], unfinished: 0 }),
      (dq) => this.#queues.has(dq) || this.#queues.set(dq, { messages: [], unfinished: 0 }),
    );
  }

  /** The declared queue names (delay queues included). */
  getDeclaredQueues() {
    return new Set(this.#queues.keys());
  }

  /** The declared delay queues (`<queue>.DQ`), as Dramatiq's `get_declared_delay_queues`. */
  getDeclaredDelayQueues() {
    return new Set([...this.#queues.keys()].filter((n) => n.endsWith(".DQ")));
  }

  /**
   * Enqueues `message`, after `delay` ms if given; returns what was enqueued (for a
   * delay, a copy on `<queue>.DQ` with an `eta` option, which has the same result key).
   */
  enqueue(message, options) {
    const { delay } = checkOptions("enqueue()", options, { delay: "any" });
    if (!(message instanceof Message)) throw new TypeError("enqueue needs a Message");
    rememberBroker(message, this);
    // Any delay, 0 too, goes to the delay queue: Dramatiq's `if delay is not None`.
    if (checkDelay(delay) !== undefined) message = delayMessage(message, delay, Date.now());
    const queue = this.#queues.get(message.queueName);
    // Python's `QueueNotFound(queue_name)`: the name is the message (the delay queue's, delayed).
    if (!queue) throw new QueueNotFound(message.queueName);
    emitBeforeEnqueue(this, message, delay);
    rememberBroker(message, this);
    queue.messages.push(message);
    if (this.#prioritized) this.#order.set(message, this.#enqueued++);
    queue.unfinished += 1;
    // Enqueued now: a hook that throws is logged, never a failed send of a message sent.
    this[kAfterEnqueue](message, delay);
    this[kChanged]();
    return message;
  }

  /**
   * Resolves once `queue` and its delay queue have no unfinished messages. Rejects with
   * `QueueJoinTimeout` after `timeout` ms. With `failFast` (default `failFastDefault`,
   * true, as Dramatiq's), once drained it rejects with the exception of the queue's first
   * dead-lettered message, if any (dead letters from before the join included, as in
   * Dramatiq; `flushAll()` clears them).
   */
  join(queueName, options) {
    const { timeout, failFast } = checkOptions("StubBroker.join()", options, { timeout: "ms?", failFast: "boolean?" });
    // The name as given, as Dramatiq's `queues[name]` and `queues[dq_name(name)]`: a delay
    // queue's name waits on that queue alone, a dead-letter queue's is not a queue.
    if (typeof queueName !== "string") return Promise.reject(new TypeError(`join(): a queue name is a string, got ${typeof queueName}`));
    const q = queueName;
    const names = [q, delayQueueName(q)];
    if (!names.every((n) => this.#queues.has(n))) return Promise.reject(new QueueNotFound(q));
    const shouldFailFast = failFast ?? this.failFastDefault;
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (!names.every((n) => this.#queues.get(n).unfinished === 0)) return;
        done();
        const dead = shouldFailFast ? this.#deadByQueue.get(q)?.[0] : undefined;
        if (dead) reject(dead.exception ?? new Error("Message failed with unknown error"));
        else resolve();
      };
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      if (timeout !== undefined && timeout !== null) {
        timer = setTimeout(() => {
          done();
          // Python's stub (`join_queue`): the time waited, in seconds.
          reject(new QueueJoinTimeout(`timed out after ${(timeout / 1000).toFixed(2)} seconds`));
        }, timeout);
      }
      this.#listeners.add(check);
      check();
    });
  }

  /**
   * Drops every message of the queue of that name, as Dramatiq's `StubBroker.flush`: that
   * queue only (its delay queue is flushed by its own name, `<queue>.DQ`). An undeclared
   * name throws `QueueNotFound` (Python's raises `KeyError`).
   */
  flush(queueName) {
    if (typeof queueName !== "string") throw new TypeError(`flush(): a queue name is a string, got ${typeof queueName}`);
    const queue = this.#queues.get(queueName);
    if (!queue) throw new QueueNotFound(queueName);
    queue.unfinished -= queue.messages.length;
    queue.messages.length = 0;
    this[kChanged]();
  }

  /** Drops every message of every queue and the dead letters. */
  flushAll() {
    for (const n of this.#queues.keys()) this.flush(n);
    this.deadLetters.length = 0;
    this.#deadByQueue.clear();
  }

  /** Nothing to release for an in-memory broker; kept for Dramatiq's API. */
  close() {}

  // --- for workers -------------------------------------------------------------------

  /**
   * Takes the next ready message of `queues` (all when undefined): due delayed ones first.
   * When actors have priorities, the first `window` messages of each queue (what a Python
   * worker would have prefetched) are compared, and the one of the lowest priority number,
   * earliest enqueued among equals, is taken: Dramatiq's worker runs its prefetched
   * messages in that order.
   */
  [kTake](queues, window = 1) {
    const now = Date.now();
    let next = Infinity;
    let best;
    for (const [name, queue] of this.#queues) {
      if (queues && !queues.has(canonicalQueueName(name))) continue;
      if (!name.endsWith(".DQ")) {
        if (queue.messages.length === 0) continue;
        if (!this.#prioritized) return { message: queue.messages.shift(), queue: name };
        const end = Math.min(queue.messages.length, window);
        for (let i = 0; i < end; i++) {
          const message = queue.messages[i];
          const priority = this.actors.get(message.actorName)?.priority;
          const rank = [typeof priority === "number" ? priority : 0, this.#order.get(message) ?? -1];
          if (best === undefined || rank[0] < best.rank[0] || (rank[0] === best.rank[0] && rank[1] < best.rank[1])) {
            best = { rank, queue, name, i };
          }
        }
        continue;
      }
      // The due message of the earliest eta first, as Dramatiq's worker's delay queue
      // (ordered by eta) gives them.
      let first = -1;
      let firstEta = Infinity;
      for (let i = 0; i < queue.messages.length; i++) {
        const eta = messageEta(queue.messages[i]) ?? 0;
        if (eta <= now) {
          if (first < 0 || eta < firstEta) [first, firstEta] = [i, eta];
        } else {
          next = Math.min(next, eta);
        }
      }
      if (first >= 0) return { message: queue.messages.splice(first, 1)[0], queue: name, due: true };
    }
    if (best !== undefined) return { message: best.queue.messages.splice(best.i, 1)[0], queue: best.name };
    return { next };
  }

  /** Moves a due delayed message to its work queue. */
  [kUndelay](message) {
    this.enqueue(undelayMessage(message));
  }

  /** Marks a taken message done. */
  [kFinish](queueName, deadLetter) {
    const queue = this.#queues.get(queueName);
    if (queue) queue.unfinished -= 1;
    if (deadLetter) {
      this.deadLetters.push(deadLetter);
      const q = canonicalQueueName(queueName);
      if (!this.#deadByQueue.has(q)) this.#deadByQueue.set(q, []);
      this.#deadByQueue.get(q).push(deadLetter);
    }
    this[kChanged]();
  }

  /** Calls `listener` on every change until it is removed. */
  [kListen](listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  [kChanged]() {
    for (const l of [...this.#listeners]) l();
  }
}

