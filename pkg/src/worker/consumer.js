// What a network broker's worker consumer (`RedisBroker`'s, `RabbitmqBroker`'s) shares.
// Internal: a consumer is made by its broker for a `Worker`, never by users.
import { canonicalQueueName, undefinedActorLine } from "../../dist/dramatiq_results.js";
import { ActorNotFound } from "../errors.js";
import { kExecutorFree, kHandle, kReleased } from "../internal/symbols.js";
import { WorkerMessage } from "./message.js";

/**
 * Frees a fetched or delivered message's wasm memory once the worker is done with it
 * (processed, dead-lettered, moved or given back), instead of when the JS garbage collector
 * gets to its wrapper: wasm memory is no pressure on the collector, so 1 000 processed
 * messages of 1 MB left 107 MB of wasm memory (which never shrinks) where freeing leaves
 * 24 MB (bench/notes.md). Whoever kept the `Message` gets a TypeError on its next use (copy
 * what you keep: `message.asDict()`); a message being processed is never freed.
 */
export function release(message) {
  try {
    message?.free?.();
  } catch {
    // Already freed, or not ours to free.
  }
}

/** `message`'s id for a log line, or `unreadable` when reading it throws: an actor may have
 * freed or replaced its message, and a throw here would end the runner (and the process,
 * with an unhandled rejection) or leave the message unsettled. */
export function loggedId(message, unreadable = "(freed or replaced by its actor)") {
  try {
    return message.messageId;
  } catch {
    return unreadable;
  }
}

/**
 * Splits a network worker's held delayed messages (`{ eta, … }`) at `now`: those due,
 * earliest eta first (Dramatiq's worker keeps them in a priority queue by eta, so of two
 * found due at once the one due first runs first; equal etas keep their order), and those
 * still held, with `next`, the earliest eta still held. Dramatiq holds a message only while
 * `eta > now`, so a NaN eta is due at once (and first).
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
  if (due.length > 1) due.sort((a, b) => etaOrder(a.eta) - etaOrder(b.eta));
  return { due, held, next };
}

/** An eta as a sort key: NaN (due at once) first. */
function etaOrder(eta) {
  return Number.isNaN(eta) ? -Infinity : eta;
}

/**
 * The queues a consumer consumes, the messages it holds (`ready` for the runners, by actor
 * priority; `delayed` until their eta), and `concurrency` runners handing each ready
 * message to the subclass's `[kHandle](item)`. The broker's subclass fetches or is
 * delivered messages, settles them, and moves delayed ones (`run`, `stop`, `[kHandle]`,
 * and optionally `[kReleased](item)`, called once a runner is done with an item).
 */
/**
 * Resolves `true` once `promise` settles, or `false` at `deadline` (ms since the epoch;
 * Infinity: never), whichever is first; the timer is cleared either way.
 */
export async function settledBy(promise, deadline) {
  if (deadline === Infinity) {
    await promise;
    return true;
  }
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), false);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why `message` cannot run in a worker of `broker` (its actor is unknown there, or remote),
 * or undefined when it can: `{ line, error }`, the line logged and the `ActorNotFound` the
 * message is dead-lettered with. For an unknown actor both are Python's consumer's: the
 * line `Received message for undefined actor '<name>'. Moving it to the DLQ.`, the error
 * `ActorNotFound(<name>)`.
 */
export function refusalOf(broker, message, queueName, actorName = message.actorName) {
  const actor = broker.actors.get(actorName);
  if (actor !== undefined && !actor.remote) return undefined;
  if (actor === undefined) {
    const name = typeof actorName === "string" ? actorName : String(actorName);
    return { line: undefinedActorLine(name), error: new ActorNotFound(name) };
  }
  const line = `Dead-lettering message ${message.messageId} (${actorName}) from queue ${queueName}: the actor is remote (its code runs elsewhere).`;
  return { line, error: new ActorNotFound(line) };
}

/** The warning for a stop whose timeout passed with messages still running. */
export function stopTimedOut(count, timeout, what) {
  return `Worker stopped after its timeout of ${timeout} ms with ${count} message(s) still running; ` +
    `they are not acked and ${what}.`;
}

export class Consumer {
  constructor(broker, worker, { queues, concurrency, prefetch }) {
    this.broker = broker;
    this.worker = worker;
    this.concurrency = concurrency;
    /** Configured prefetch counts (0: the core's default for `concurrency`). */
    this.configuredPrefetch = { queue: prefetch?.queue ?? 0, delayQueue: prefetch?.delayQueue ?? 0 };
    /** The canonical names of the queues consumed: `queues`, else those of the broker's local actors. */
    this.names = queues
      ? [...new Set([...queues].map((q) => canonicalQueueName(q)))]
      : [...new Set([...broker.actors.values()].filter((a) => !a.remote).map((a) => canonicalQueueName(a.queueName)))];
    /** Messages ready for the runners, in priority order. */
    this.ready = [];
    /** Delayed messages held until their eta. */
    this.delayed = [];
    this.running = false;
    /** How many messages the runners are handling now (a stop's warning counts them). */
    this.busy = 0;
    /** Runners waiting for a ready message. */
    this.readyWaiters = [];
    /** Runners waiting for the executor to be free (`kExecutorFree`). */
    this.freeWaiters = [];
    /** Wakes the delayed-message loop early (set while it sleeps). */
    this.delayWake = null;
  }

  /** Warns when there is nothing to consume (a worker of a broker with no local actor). */
  warnIfIdle(count) {
    if (count === 0) this.broker.logger.warn("Worker has no queue to consume: declare actors or pass { queues }.");
  }

  /** The runners: `concurrency` loops taking ready messages. */
  runners() {
    return Array.from({ length: this.concurrency }, () => this.#runLoop());
  }

  /**
   * Queues `item` for the runners by its actor's priority, as Dramatiq's worker does:
   * lower numbers first, arrival order among equals.
   */
  addReady(item) {
    // Read from the core once: refusal() reads it again.
    item.actorName ??= item.message.actorName;
    const priority = this.broker.actors.get(item.actorName)?.priority ?? 0;
    item.priority = typeof priority === "number" ? priority : 0;
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1].priority > item.priority) i -= 1;
    this.ready.splice(i, 0, item);
  }

  /**
   * Holds a fetched or delivered delayed `item` until its eta, telling the middleware first,
   * as Dramatiq's worker does (`before_delay_message`: its Prometheus counts a delayed
   * message in memory). A hook's failure is logged: holding the message never depends on it.
   * Returns a Promise of the hooks' end when there are hooks.
   */
  holdDelayed(item) {
    this.delayed.push(item);
    if (!this.broker.middleware.some((m) => typeof m.beforeDelayMessage === "function")) return undefined;
    const messageId = item.message.messageId;
    // Resolves once the hooks are done with `item.message` (never rejects).
    return this.broker
      .emitBefore("delayMessage", new WorkerMessage(item.message))
      .catch((error) => this.broker.logger.error(`Unexpected failure in beforeDelayMessage of message ${messageId}.`, error));
  }

  /** The worker resumed after a pause: its runners take ready messages again. */
  resumed() {
    this.wakeRunners();
  }

  /** Wakes the idle runners (messages are ready, or the consumer stops). */
  wakeRunners() {
    for (const w of this.readyWaiters.splice(0)) w();
    for (const w of [...this.freeWaiters]) w();
  }

  /** Sleeps `ms`, or until woken through `holder[key]`. */
  sleep(ms, holder, key) {
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
  refusal(message, queueName, actorName = message.actorName) {
    return refusalOf(this.broker, message, queueName, actorName);
  }

  /**
   * Dead-letters `message`, which cannot run here (`refusal`, from `refusal()`, is logged),
   * with the nack hooks around `nack()` (the broker's part), as Dramatiq's consumer does for
   * a message of an undefined actor: failed, with `ActorNotFound` as its exception, so
   * `Prometheus` counts the reject and every `afterNack` sees it.
   */
  async deadLetterRefused(message, refusal, nack) {
    const broker = this.broker;
    broker.logger.error(refusal.line);
    const proxy = new WorkerMessage(message);
    proxy.fail();
    proxy.exception = refusal.error;
    try {
      await broker.emitBefore("nack", proxy);
    } catch (error) {
      broker.logger.error(`Unexpected failure before nack of message ${message.messageId}.`, error);
    }
    await nack();
    await broker.emitAfter("nack", proxy);
  }

  async #runLoop() {
    while (this.running) {
      // No thread of the `worker` command's pool free to run it (one it replaced is still
      // starting): a message taken now would wait, its time limit running (Python's threads
      // never start again), so it is taken once one is.
      const free = this.worker?.[kExecutorFree]?.();
      if (free !== undefined) {
        // (Or until woken: the consumer stops.)
        await new Promise((resolve) => {
          const done = () => {
            const at = this.freeWaiters.indexOf(done);
            if (at >= 0) this.freeWaiters.splice(at, 1);
            resolve();
          };
          this.freeWaiters.push(done);
          free.then(done);
        });
        continue;
      }
      // A paused worker's runners start nothing until it resumes (or stops).
      const item = this.worker?.paused ? undefined : this.ready.shift();
      if (item === undefined) {
        await new Promise((resolve) => this.readyWaiters.push(resolve));
        continue;
      }
      this.busy += 1;
      try {
        await this[kHandle](item);
      } catch (error) {
        // Not the actor's failure (the worker handles those): keep the runner alive; the
        // broker's own rules bring the message back (requeued, or redelivered).
        this.broker.logger.error(`Unexpected failure handling message ${loggedId(item.message)}.`, error);
      } finally {
        this.busy -= 1;
        this[kReleased]?.(item);
      }
    }
  }
}
