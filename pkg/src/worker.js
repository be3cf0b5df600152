// The worker (Dramatiq's `Worker`): takes messages off a broker's queues and runs their
// actors, with the middleware hooks in Dramatiq's order, so results are stored exactly
// when and as Dramatiq stores them.
import { canonicalQueueName, missingResultsWarning, pipesOnward } from "../dist/dramatiq_results.js";
import { Results, SkipMessage, TimeLimit, TimeLimitExceeded } from "./middleware.js";
import { asError, isInstance } from "./describe.js";

/**
 * Splits a network worker's held delayed messages (`{ eta, … }`) at `now`: those due, in
 * order, and those still held, with `next`, the earliest eta still held. Dramatiq holds a
 * message only while `eta > now`, so a NaN eta is due at once.
 */
export function takeDue(items, now) {
  const due = [];
  const held = [];
  let next = Infinity;
  for (const item of items) {
    if (item.eta > now) {
      held.push(item);
      next = Math.min(next, item.eta);
    } else {
      due.push(item);
    }
  }
  return { due, held, next };
}

/**
 * What a network broker's worker consumer (`RedisBroker`'s, `RabbitmqBroker`'s) shares:
 * the queues it consumes, the messages it holds (`ready` for the runners, by actor
 * priority; `delayed` until their eta), and `concurrency` runners handing each ready
 * message to the broker's `_handle(item)`. The broker's subclass fetches or is delivered
 * messages, settles them, and moves delayed ones (`run`, `stop`, `_handle`, and
 * optionally `_released(item)`, called once a runner is done with an item).
 */
export class Consumer {
  constructor(broker, worker, { queues, concurrency }) {
    this.broker = broker;
    this.worker = worker;
    this.concurrency = concurrency;
    /** The canonical names of the queues consumed: `queues`, else those of the broker's local actors. */
    this.names = queues
      ? [...new Set([...queues].map((q) => canonicalQueueName(q)))]
      : [...new Set([...broker.actors.values()].filter((a) => !a.remote).map((a) => canonicalQueueName(a.queueName)))];
    this.ready = [];
    this.delayed = [];
    this.running = false;
    this._readyWaiters = [];
    this._delayWake = null;
  }

  /** Warns when there is nothing to consume (a worker of a broker with no local actor). */
  _warnIfIdle(count) {
    if (count === 0) this.broker.logger.warn("Worker has no queue to consume: declare actors or pass { queues }.");
  }

  /** The runners: `concurrency` loops taking ready messages. */
  _runners() {
    return Array.from({ length: this.concurrency }, () => this._runLoop());
  }

  /**
   * Queues `item` for the runners by its actor's priority, as Dramatiq's worker does:
   * lower numbers first, arrival order among equals.
   */
  _ready(item) {
    const priority = this.broker.actors.get(item.message.actorName)?.priority ?? 0;
    item.priority = typeof priority === "number" ? priority : 0;
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1].priority > item.priority) i -= 1;
    this.ready.splice(i, 0, item);
  }

  /** Wakes the idle runners (messages are ready, or the consumer stops). */
  _wakeRunners() {
    for (const w of this._readyWaiters.splice(0)) w();
  }

  /** Sleeps `ms`, or until woken through `holder[key]`. */
  _sleep(ms, holder, key) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (holder[key] === done) holder[key] = null;
        resolve();
      }
      holder[key] = done;
    });
  }

  /**
   * Why `message` cannot run in this worker (its actor is unknown here, or remote), or
   * undefined when it can: such a message is dead-lettered with that reason logged.
   */
  _refusal(message, queueName) {
    const actor = this.broker.actors.get(message.actorName);
    if (actor !== undefined && !actor.remote) return undefined;
    const why = actor === undefined ? "no actor of that name is declared on this worker's broker" : "the actor is remote (its code runs elsewhere)";
    return `Dead-lettering message ${message.messageId} (${message.actorName}) from queue ${queueName}: ${why}.`;
  }

  async _runLoop() {
    while (this.running) {
      const item = this.ready.shift();
      if (item === undefined) {
        await new Promise((resolve) => this._readyWaiters.push(resolve));
        continue;
      }
      try {
        await this._handle(item);
      } catch (error) {
        // Not the actor's failure (the worker handles those): keep the runner alive; the
        // broker's own rules bring the message back (requeued, or redelivered).
        this.broker.logger.error(`Unexpected failure handling message ${item.message.messageId}.`, error);
      } finally {
        this._released?.(item);
      }
    }
  }
}

/**
 * A message being processed (Dramatiq's `MessageProxy`): the `Message` plus whether it
 * failed and the exception it carries. Middleware hooks receive this.
 */
export class WorkerMessage {
  constructor(message) {
    /** The underlying `Message` (a middleware may replace it with an updated copy). */
    this.message = message;
    /** Whether the message failed (it is then nacked and dead-lettered). */
    this.failed = false;
    /** The exception the actor raised, if any. */
    this.exception = undefined;
  }

  /** Marks the message failed. */
  fail() {
    this.failed = true;
  }

  get queueName() {
    return this.message.queueName;
  }
  get actorName() {
    return this.message.actorName;
  }
  get messageId() {
    return this.message.messageId;
  }
  get messageTimestamp() {
    return this.message.messageTimestamp;
  }
  get args() {
    return this.message.args;
  }
  get kwargs() {
    return this.message.kwargs;
  }
  get options() {
    return this.message.options;
  }
  asDict() {
    return this.message.asDict();
  }
  toString() {
    return this.message.toString();
  }
}

/**
 * Runs actors for messages on `broker`, `concurrency` at a time (default 8, Dramatiq's
 * thread count). `queues` limits it to some queues. `start()` begins, `stop()` finishes
 * the messages in hand and resolves, `join()` waits until the queues are drained.
 *
 * On a `StubBroker` the worker takes messages itself; a network broker (`RedisBroker`)
 * gives it a consumer (`broker._consume(worker, options)`) that fetches, holds delayed
 * messages, and hands each message to `_process`.
 */
export class Worker {
  constructor(broker, { concurrency = 8, queues } = {}) {
    if (!broker || (typeof broker._take !== "function" && typeof broker._consume !== "function")) {
      throw new TypeError("Worker needs a StubBroker, a RedisBroker or a RabbitmqBroker");
    }
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError("concurrency must be a positive integer");
    this.broker = broker;
    this.concurrency = concurrency;
    this.queues = queues ? new Set([...queues]) : undefined;
    this._running = false;
    this._loops = [];
  }

  /** Starts consuming. Calling it on a running worker does nothing. */
  start() {
    if (this._running) return this;
    this._running = true;
    if (typeof this.broker._consume === "function") {
      this._consumer = this.broker._consume(this, { queues: this.queues, concurrency: this.concurrency });
      this._loops = [this._consumer.run()];
      return this;
    }
    this._loops = Array.from({ length: this.concurrency }, () => this._loop());
    return this;
  }

  /** Stops taking messages; resolves once those in hand are processed. */
  async stop() {
    this._running = false;
    if (this._consumer) await this._consumer.stop();
    else this.broker._changed();
    await Promise.all(this._loops);
    this._consumer = undefined;
    this._loops = [];
  }

  /** Resolves once every consumed queue is drained (delayed and retried messages included). */
  async join({ timeout } = {}) {
    const names = this.queues ?? new Set([...this.broker.getDeclaredQueues()].filter((n) => !n.endsWith(".DQ")));
    for (const name of names) await this.broker.join(name, { timeout });
  }

  async _loop() {
    while (this._running) {
      const taken = this.broker._take(this.queues);
      if (taken.message === undefined) {
        await this._idle(taken.next);
        continue;
      }
      if (taken.due) {
        await this._promote(taken);
      } else {
        try {
          await this._process(taken.queue, new WorkerMessage(taken.message));
        } catch (error) {
          // `_process` settles its message whatever happens; this only keeps the loop alive.
          this.broker.logger.error("Unexpected failure in the worker loop.", error);
        }
      }
    }
  }

  /** Waits for a change on the broker, or until the next delayed message is due. */
  _idle(nextEta) {
    return new Promise((resolve) => {
      let timer;
      const stop = this.broker._listen(() => finish());
      const finish = () => {
        stop();
        clearTimeout(timer);
        resolve();
      };
      if (Number.isFinite(nextEta)) timer = setTimeout(finish, Math.max(0, nextEta - Date.now()));
    });
  }

  /** A due delayed message goes to its work queue; the delay-queue copy is acked. */
  async _promote({ message, queue }) {
    const proxy = new WorkerMessage(message);
    try {
      this.broker._undelay(message);
    } catch (error) {
      this.broker.logger.error(`Could not move delayed message ${message.messageId}.`, error);
      proxy.fail();
    }
    await this._settle(queue, proxy);
  }

  async _process(queue, message) {
    const broker = this.broker;
    try {
      await broker.emitBefore("processMessage", message);
      let result = null;
      if (!message.failed) {
        const actor = broker.getActor(message.actorName);
        result = await this._run(actor, message);
        if (result === undefined) result = null;
        if (result !== null && !pipesOnward(message.message) && !broker.middleware.some((m) => m instanceof Results)) {
          broker.logger.warn(missingResultsWarning(message.actorName));
        }
      }
      await broker.emitAfter("processMessage", message, { result });
    } catch (thrown) {
      if (isInstance(thrown, SkipMessage)) {
        message.exception = thrown;
        broker.logger.warn(`Message ${message} was skipped.`);
        await broker.emitAfter("skipMessage", message);
      } else {
        const error = asError(thrown);
        message.exception = error;
        broker.logger.error(`Failed to process message ${message} with unhandled exception.`, error);
        await broker.emitAfter("processMessage", message, { exception: error });
      }
    } finally {
      await this._settle(queue, message);
    }
  }

  /** Runs the actor, bounded by the time limit when it returns a Promise. */
  async _run(actor, message) {
    if (actor.remote) throw new TypeError(`Actor '${actor.actorName}' is remote: its code runs elsewhere, not in this worker.`);
    const kwargs = message.kwargs;
    const args = message.args;
    if (Object.keys(kwargs).length > 0) args.push(kwargs);
    const out = actor.fn(...args);
    if (!out || typeof out.then !== "function") return out;
    const limiter = this.broker.middleware.find((m) => m instanceof TimeLimit);
    if (!limiter) return out;
    const limit = limiter.limitFor(this.broker, message);
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new TimeLimitExceeded(`Time limit of ${limit} ms exceeded by ${message}.`)),
        limit,
      );
    });
    try {
      return await Promise.race([out, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Acks or nacks (dead-letters) a processed message, with the hooks around it. The queue
   * counts it done only after the `after*` hooks, so `join()` resolving means its result
   * is stored.
   */
  async _settle(queue, message) {
    const broker = this.broker;
    const signal = message.failed ? "nack" : "ack";
    try {
      try {
        await broker.emitBefore(signal, message);
      } catch (error) {
        broker.logger.error(`Unexpected failure before ${signal} of ${message}.`, error);
      }
      await broker.emitAfter(signal, message);
    } finally {
      // Whatever a hook or the logger did, the message leaves the queue (dead-lettered
      // when failed), so join() and the next message are never held up.
      if (!message.failed) message.exception = undefined;
      await broker._finish(queue, message.failed ? message : undefined, message);
    }
  }
}
