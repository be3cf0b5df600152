// The worker (Dramatiq's `Worker`): takes messages off a broker's queues and runs their
// actors, with the middleware hooks in Dramatiq's order, so results are stored exactly
// when and as Dramatiq stores them.
import { handleEta, missingResultsWarning, pipesOnward, undelayMessage } from "../../dist/dramatiq_results.js";
import { exceptionInfo } from "../../dist/errors.js";
import { RateLimitExceeded, Retry, SkipMessage } from "../errors.js";
import { runInAttempt } from "../internal/context.js";
import { asError, describeValue, isInstance, readSafely } from "../internal/describe.js";
import { checkOptions } from "../internal/options.js";
import {
  kAborted,
  kChanged,
  kConsume,
  kExposed,
  kFinish,
  kListen,
  kOnAbort,
  kOverdue,
  kExecutorFree,
  kPrefetch,
  kProcess,
  kTake,
  kUndelay,
  kWorker,
} from "../internal/symbols.js";
import { Results } from "../middleware/index.js";
import { refusalOf, settledBy, stopTimedOut } from "./consumer.js";
import { WorkerMessage } from "./message.js";

/** The most messages one `Worker` runs at once: each runner is held for the worker's life,
 * so 1e6 took 1.1 GB and 1e7 ended the process out of memory (Python's threads stop far
 * below this; the `worker` command's `--threads` stops at 1024). */
export const MAX_CONCURRENCY = 65_536;

/** How long `stop()` waits for the messages in hand by default: Dramatiq's
 * `Worker.stop(timeout=600000)`. */
const STOP_TIMEOUT_MS = 600_000;

/**
 * Runs actors for messages on `broker`, `concurrency` at a time (default 8, Dramatiq's
 * thread count). `queues` limits it to some queues. `start()` begins, `stop()` finishes
 * the messages in hand and resolves, `join()` waits until the queues are drained.
 *
 * On a `StubBroker` the worker takes messages itself; a network broker (`RedisBroker`,
 * `RabbitmqBroker`) gives it a consumer that fetches, holds delayed messages, and hands
 * each message to the worker.
 */
export class Worker {
  #running = false;
  #loops = [];
  #consumer;
  #busy = 0;
  #paused = false;
  #resumers = [];

  constructor(broker, options) {
    if (!broker || (typeof broker[kTake] !== "function" && typeof broker[kConsume] !== "function")) {
      throw new TypeError("Worker needs a StubBroker, a RedisBroker or a RabbitmqBroker");
    }
    const { concurrency = 8, queues, executor } = checkOptions("new Worker()", options, {
      concurrency: "any",
      queues: "iterable",
      executor: "function",
    });
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      throw new RangeError(`new Worker(): concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, got ${describeValue(concurrency)}`);
    }
    /** The broker it consumes from. */
    this.broker = broker;
    /** How many messages it runs at once. */
    this.concurrency = concurrency;
    /** The queues it consumes (undefined: every queue of the broker's actors). */
    this.queues = queues ? new Set([...queues]) : undefined;
    for (const name of this.queues ?? []) {
      if (typeof name !== "string") throw new TypeError(`new Worker(): option queues must hold queue names (strings), got ${describeValue(name)}`);
    }
    /**
     * What runs an actor: `executor(actor, args, { message, signal })` returns the actor's
     * result or a Promise of it; `signal` is the attempt's (it aborts at the time limit or
     * a shutdown, and the attempt then fails with its reason whatever the executor does).
     * Undefined: `actor.fn(...args)` in this thread. The `worker` command runs actors on
     * worker threads through it, so a synchronous actor stalls nothing else, and stops the
     * thread when the signal aborts.
     */
    this.executor = executor;
  }

  /** Starts consuming. Calling it on a running worker does nothing. */
  start() {
    if (this.#running) return this;
    this.#running = true;
    if (typeof this.broker[kConsume] === "function") {
      this.#consumer = this.broker[kConsume](this, { queues: this.queues, concurrency: this.concurrency, prefetch: this[kPrefetch] });
      this.#loops = [this.#consumer.run()];
      return this;
    }
    this.#loops = Array.from({ length: this.concurrency }, () => this.#loop());
    return this;
  }

  /**
   * Pauses the worker (Python's `Worker.pause()`): no message starts running until
   * `resume()`; those running finish. As Python's paused consumers, a `RedisBroker`'s
   * fetches no more messages (it goes on heartbeating, so what it holds stays its own) and
   * a `RabbitmqBroker`'s channels hold what RabbitMQ delivers, up to the prefetch. Once
   * resumed, the messages held run highest priority first.
   */
  pause() {
    this.#paused = true;
  }

  /** Resumes a paused worker (Python's `Worker.resume()`). */
  resume() {
    this.#paused = false;
    this.#wakePaused();
  }

  /** Whether the worker is paused (`pause()` until `resume()`). */
  get paused() {
    return this.#paused;
  }

  #wakePaused() {
    for (const wake of this.#resumers.splice(0)) wake();
    this.#consumer?.resumed();
  }

  /**
   * Stops taking messages; resolves once those in hand are processed, or once `timeout` ms
   * passed (Python's `worker.stop(timeout=…)`; default 600 000 ms, as Dramatiq's). Messages still running
   * then are not acked: a warning says so, and the broker delivers them again (Redis after
   * this worker's heartbeat times out, RabbitMQ once their channel closes). On Redis an ack
   * that fails is retried until the server answers (as Python's worker does), and a stop
   * waits for it as for a running message.
   */
  async stop(options) {
    const { timeout = STOP_TIMEOUT_MS } = checkOptions("worker.stop()", options, { timeout: "ms" });
    const deadline = Date.now() + timeout;
    // Dramatiq's `before_worker_shutdown` (ShutdownNotifications aborts the attempts that
    // asked to hear of it), then the stop, then `after_worker_shutdown`.
    const wasRunning = this.#running;
    if (wasRunning) await this.#emitShutdown("before");
    this.#running = false;
    // A paused runner wakes to see the worker stopping (it starts nothing more).
    this.#wakePaused();
    if (this.#consumer) {
      await this.#consumer.stop({ deadline, timeout });
    } else {
      this.broker[kChanged]();
      if (!(await settledBy(Promise.all(this.#loops), deadline))) {
        this.broker.logger.warn(stopTimedOut(this.#busy, timeout, "stay where they are until they finish"));
      }
    }
    this.#consumer = undefined;
    this.#loops = [];
    if (wasRunning) await this.#emitShutdown("after");
  }

  /** The worker-shutdown hooks: a hook's failure is logged, never stops the stop. */
  async #emitShutdown(when) {
    try {
      if (when === "before") await this.broker.emitBefore("workerShutdown", this);
      else await this.broker.emitAfter("workerShutdown", this);
    } catch (error) {
      this.broker.logger.error(`Unexpected failure in ${when}WorkerShutdown.`, error);
    }
  }

  /**
   * Resolves once every consumed queue is drained (delayed and retried messages included),
   * whether or not messages were dead-lettered.
   */
  async join(options) {
    const { timeout } = checkOptions("worker.join()", options, { timeout: "ms?" });
    const names = this.queues ?? new Set([...this.broker.getDeclaredQueues()].filter((n) => !n.endsWith(".DQ")));
    // Dramatiq's `Worker.join` waits for the queues only; dead letters are the caller's to
    // look at (a `StubBroker`'s `join` alone fails fast).
    // Only a StubBroker fails fast (and takes the option); network brokers just wait.
    const each = typeof this.broker[kTake] === "function" ? { timeout, failFast: false } : { timeout };
    for (const name of names) await this.broker.join(name, each);
  }

  async #loop() {
    while (this.#running) {
      if (this.#paused) {
        await new Promise((resolve) => this.#resumers.push(resolve));
        continue;
      }
      // No call the executor can start now: take no message before it can (see consumer.js).
      const free = this[kExecutorFree]?.();
      if (free !== undefined) {
        await free;
        continue;
      }
      // The messages a Python worker would hold now (its prefetch, less those running) are
      // the ones the broker picks the highest priority among.
      const window = Math.max(1, (this[kPrefetch]?.queue || this.concurrency * 2) - this.#busy);
      const taken = this.broker[kTake](this.queues, window);
      if (taken.message === undefined) {
        await this.#idle(taken.next);
        continue;
      }
      if (taken.due) {
        await this.#promote(taken);
      } else {
        this.#busy += 1;
        try {
          // Dramatiq's worker reads an `eta` on any message it receives (the core decides):
          // `null` is dropped, one that is no number is warned of and replaced by now, and
          // a message with one waits for it on the delay queue.
          const handled = handleEta(taken.message, Date.now());
          if (handled?.warning !== undefined) this.broker.logger.warn(handled.warning);
          const proxy = new WorkerMessage(handled?.message ?? taken.message);
          const refusal = refusalOf(this.broker, proxy, taken.queue, proxy.actorName);
          if (refusal !== undefined) await this.#refuse(taken.queue, proxy, refusal);
          else if (handled?.eta !== undefined) await this.#hold(taken.queue, proxy, handled.eta);
          else await this[kProcess](taken.queue, proxy);
        } catch (error) {
          // `[kProcess]` settles its message whatever happens; this only keeps the loop alive.
          this.broker.logger.error("Unexpected failure in the worker loop.", error);
        } finally {
          this.#busy -= 1;
        }
      }
    }
  }

  /**
   * Dead-letters a message this worker cannot run (its actor is unknown, or remote) without
   * running any hook but the nack's, as Dramatiq's consumer does for a message of an
   * undefined actor: failed, with `ActorNotFound` as its exception.
   */
  async #refuse(queue, proxy, refusal) {
    this.broker.logger.error(refusal.line);
    proxy.fail();
    proxy.exception = refusal.error;
    await this.#settle(queue, proxy);
  }

  /**
   * A message taken off a work queue with an `eta` waits for it on the delay queue (from
   * where it comes back without `eta`, as Python's worker re-enqueues it); it leaves its
   * queue acked.
   */
  async #hold(queue, proxy, eta) {
    try {
      this.broker.enqueue(undelayMessage(proxy.message), { delay: Math.max(0, eta - Date.now()) });
    } catch (error) {
      this.broker.logger.error(`Could not delay message ${proxy.messageId} until its eta.`, error);
      proxy.fail();
    }
    await this.#settle(queue, proxy);
  }

  /** Waits for a change on the broker, or until the next delayed message is due. */
  #idle(nextEta) {
    return new Promise((resolve) => {
      let timer;
      const stop = this.broker[kListen](() => finish());
      const finish = () => {
        stop();
        clearTimeout(timer);
        resolve();
      };
      if (Number.isFinite(nextEta)) timer = setTimeout(finish, Math.max(0, nextEta - Date.now()));
    });
  }

  /** A due delayed message goes to its work queue; the delay-queue copy is acked. */
  async #promote({ message, queue }) {
    const proxy = new WorkerMessage(message);
    try {
      this.broker[kUndelay](message);
    } catch (error) {
      this.broker.logger.error(`Could not move delayed message ${message.messageId}.`, error);
      proxy.fail();
    }
    await this.#settle(queue, proxy);
  }

  /** Runs one message with its hooks, then settles it (a consumer calls this too). */
  async [kProcess](queue, message) {
    const broker = this.broker;
    message[kWorker] = this;
    try {
      await broker.emitBefore("processMessage", message);
      let result = null;
      if (!message.failed) {
        const actor = broker.getActor(message.actorName);
        // Awaited only when the actor's outcome is a Promise: a synchronous actor costs no
        // async frame and no turn of the microtask queue.
        result = this.#run(actor, message);
        if (result && typeof result.then === "function") result = await untilAborted(result, message);
        // Past its time limit, the attempt fails even if the code ran to the end (a
        // synchronous actor holds off the timer): Python's worker would have stopped it.
        const overdue = message[kOverdue]?.();
        if (overdue !== undefined) throw overdue;
        if (result === undefined) result = null;
        if (result !== null && !pipesOnward(message.message) && !broker.middleware.some((m) => m instanceof Results)) {
          broker.logger.warn(missingResultsWarning(message.actorName));
        }
      }
      await broker.emitAfter("processMessage", message, { result });
    } catch (caught) {
      // An actor that throws (a SkipMessage, a Retry too) after the check that would have
      // stopped it never got that far on a Python worker: TimeLimitExceeded is raised in it
      // first. (Undefined when the limit's abort is what ended it: the reason is thrown.)
      const thrown = message[kOverdue]?.() ?? caught;
      // The log line never keeps the after hooks from running (TimeLimit's among them, whose
      // timer would otherwise hold the process for the whole limit): an actor may have
      // replaced or freed its message, so even reading its actor's name can throw.
      if (isInstance(thrown, SkipMessage)) {
        message.exception = thrown;
        logSafely(() => broker.logger.warn(`Message ${message} was skipped.`));
        await broker.emitAfter("skipMessage", message);
      } else {
        const error = asError(thrown);
        message.exception = error;
        logSafely(() => logFailure(broker, message, error));
        await broker.emitAfter("processMessage", message, { exception: error });
      }
    } finally {
      await this.#settle(queue, message);
    }
  }

  /**
   * Runs the actor (with `message` as the current attempt when `CurrentMessage` is on, for
   * `getCurrentMessage()` and `currentSignal()`); an async actor's attempt fails as soon as
   * its signal aborts (a time limit, a shutdown), with the abort's reason (the caller
   * awaits a thenable through `untilAborted`). Returns what the actor returned; throws
   * what it threw.
   */
  #run(actor, message) {
    if (actor.remote) throw new TypeError(`Actor '${actor.actorName}' is remote: its code runs elsewhere, not in this worker.`);
    const kwargs = message.kwargs;
    const args = message.args;
    if (Object.keys(kwargs).length > 0) args.push(kwargs);
    const aborted = message[kAborted];
    if (aborted) throw aborted.reason;
    const executor = this.executor;
    // An executor gets the attempt's signal (made only then: few in-thread actors look).
    // The signal is made on demand: the command's pool listens through the proxy's cheaper
    // abort hook, so most executor calls never make one.
    const call = executor === undefined ? () => actor.fn(...args) : () => executor(actor, args, executorContext(message));
    // Only under CurrentMessage: on Node 20 an AsyncLocalStorage in use slows every Promise.
    return message[kExposed] ? runInAttempt(message, call) : call();
  }

  /**
   * Acks or nacks (dead-letters) a processed message, with the hooks around it. The queue
   * counts it done only after the `after*` hooks, so `join()` resolving means its result
   * is stored.
   */
  async #settle(queue, message) {
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
      const finished = broker[kFinish](queue, message.failed ? message : undefined, message);
      if (finished !== undefined) await finished;
    }
  }
}

/**
 * Logs an attempt's failure at Python's worker's level: a `RateLimitExceeded` at debug (a
 * rate-limited actor retried all day would otherwise flood the log with stacks), one of
 * the actor's `throws` classes at info, a `Retry` not at all (the actor asked for it),
 * anything else as an error with its stack.
 */
function logFailure(broker, message, error) {
  const logger = broker.logger;
  if (isInstance(error, RateLimitExceeded)) {
    logger.debug?.(`Rate limit exceeded in message ${message}: ${readSafely(error, "message")}.`);
    return;
  }
  const actor = broker.actors.get(message.actorName);
  // (A message's own `throws` option, JSON, holds no class.)
  const throws = [actor?.options.throws].flat().filter((c) => typeof c === "function");
  if (throws.some((Class) => isInstance(error, Class))) {
    logger.info?.(`Failed to process message ${message} with expected exception ${exceptionInfo(error)[0]}.`);
  } else if (!isInstance(error, Retry)) {
    logger.error(`Failed to process message ${message} with unhandled exception.`, error);
  }
}

/** Runs `log`; what it throws is dropped (a log line is never worth a message's hooks). */
function logSafely(log) {
  try {
    log();
  } catch {
    // A message its actor replaced, a logger that throws: the hooks run all the same.
  }
}

/** An executor's `{ message, signal }`, with `signal` read (and so made) only when asked. */
function executorContext(message) {
  return {
    message,
    get signal() {
      return message.signal;
    },
  };
}

/** `thenable`'s outcome, or a rejection with the abort's reason once `message`'s attempt aborts, whichever is first. */
function untilAborted(thenable, message) {
  return new Promise((resolve, reject) => {
    const stop = message[kOnAbort](reject);
    Promise.resolve(thenable).then(resolve, reject).finally(stop);
  });
}
