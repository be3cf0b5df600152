// The worker's side of a `RedisBroker`: fetching, holding, heartbeating and requeueing, as
// Dramatiq's `_RedisConsumer` does. What each command is and what its reply means is the
// core's (`RedisTransport`); this is the loop around it.
import { RedisTransport, delayQueueName } from "../../../dist/dramatiq_results.js";
import { kAfterEnqueue, kConsumers, kHandle, kHeld, kNotify, kProcess, kReleased, kSupervised, kTransport } from "../../internal/symbols.js";
import { Consumer, release, settledBy, stopTimedOut, takeDue } from "../../worker/consumer.js";
import { WorkerMessage } from "../../worker/message.js";

// Dramatiq's WORKER_TIMEOUT_MS(), read from the core on first use (the wasm is instantiated
// after this module loads).
let workerTimeout;
function WORKER_TIMEOUT_MS() {
  return (workerTimeout ??= RedisTransport.workerTimeout());
}

/**
 * The worker's side of a `RedisBroker`: one fetch loop per queue and delay queue (fetching
 * up to the prefetch, heartbeating at least every `WORKER_TIMEOUT` ms), `concurrency`
 * runners, and one loop moving due delayed messages to their queue.
 */
export class RedisConsumer extends Consumer {
  #done;
  /** Set once a stop's timeout passed: the retries of acks (and moves) give up then. */
  #abandoned = false;
  /** Wakes the retries sleeping in `untilAnswered` (a stop gave up on them). */
  #retryWakes = new Set();
  /** When the last fetch went through (ms since the epoch): the last regular heartbeat. */
  #lastHeartbeat;
  /** Items out of `ready` and `delayed` but still held: being run, or being moved. */
  #inHand = new Set();

  constructor(broker, worker, options) {
    super(broker, worker, options);
    this.transport = broker[kTransport];
    this.queues = this.names.flatMap((name) => [
      this.#queue(name, RedisTransport.queuePrefetch(this.concurrency, this.configuredPrefetch.queue)),
      this.#queue(delayQueueName(name), RedisTransport.delayQueuePrefetch(this.concurrency, this.configuredPrefetch.delayQueue)),
    ]);
  }

  #queue(name, prefetch) {
    // `held` messages of `bytes` in all; a queue fetches while both are under their bounds.
    return { name, prefetch, held: 0, bytes: 0, misses: 0, wake: null, woken: false, failing: false };
  }

  /** Runs until `stop()`; resolves once every loop has ended. */
  run() {
    this.running = true;
    this.broker[kConsumers].add(this);
    this.warnIfIdle(this.queues.length);
    const loops = [...this.queues.map((q) => this.#fetchLoop(q)), ...this.runners(), this.#delayLoop()];
    this.#done = Promise.all(loops);
    return this.#done;
  }

  /**
   * Stops fetching, requeues what is held but not started (at once, so other workers take
   * it while the runners finish theirs), lets the runners finish their message (until
   * `deadline`, ms since the epoch), and requeues what a fetch under way brought in
   * meanwhile. The requeues wait for the server until the deadline too (the last one a
   * `WORKER_TIMEOUT_MS` past it at most): on a connection gone silent, what they could
   * not give back stays in this worker's ack set, back once its heartbeat times out.
   */
  async stop({ deadline = Infinity, timeout } = {}) {
    if (!this.running) return;
    this.running = false;
    this.#wakeAll();
    await settledBy(this.#requeueHeld(), deadline);
    if (!(await settledBy(this.#done, deadline))) {
      // As Dramatiq's worker after `stop(timeout)`: what still runs stays in this worker's
      // ack set, and goes back to its queue once the heartbeat times out. In a `worker`
      // command's process the supervisor gives it back as the process exits: saying "once
      // the heartbeat times out" there told operators of a 60 s wait that never happens.
      const back = this.worker?.[kSupervised]
        ? "return to their queue as this worker process exits (its supervisor gives them back)"
        : "return to their queue once this worker's heartbeat times out";
      this.broker.logger.warn(stopTimedOut(this.busy, timeout, back));
      this.#abandoned = true;
      for (const wake of this.#retryWakes) wake();
    }
    this.broker[kConsumers].delete(this);
    await settledBy(this.#requeueHeld(), Math.max(deadline, Date.now() + WORKER_TIMEOUT_MS()));
  }

  /**
   * Calls `call` until it resolves: a settlement (ack, nack, a delayed message's ack) lost
   * to a dropped connection or a restarting server is tried again, every idle back-off
   * (≤ `WORKER_TIMEOUT_MS`), until the server answers, as Dramatiq's worker retries
   * `post_process_message`; `failed` is logged at the first failure (with its cause) and
   * once a minute while it lasts, `back` once it went through after failing. Gives up only
   * when a stop's timeout has passed (the message then stays in this worker's ack set,
   * redelivered after its heartbeat times out).
   * Resolves whether or not it went through: the caller goes on either way.
   */
  async untilAnswered(call, failed, back) {
    let failures = 0;
    let logged = 0;
    for (;;) {
      try {
        await call();
        if (failures > 0) this.broker.logger.warn?.(back);
        return true;
      } catch (error) {
        // At the first failure, then once a minute while it lasts (Python logs each retry,
        // every 5 s): an error that never clears must not hold a runner unseen.
        if (Date.now() - logged >= 60_000) {
          logged = Date.now();
          this.broker.logger.error(failures === 0 ? failed : `Still failing: ${failed}`, error);
        }
        if (this.#abandoned) return false;
        let ms;
        [failures, ms] = this.transport.idleBackoff(failures);
        await new Promise((resolve) => {
          const wake = () => (clearTimeout(timer), this.#retryWakes.delete(wake), resolve());
          const timer = setTimeout(wake, ms);
          this.#retryWakes.add(wake);
        });
        if (this.#abandoned) return false;
      }
    }
  }

  /**
   * Notes a heartbeat (every script call is one; the fetches are the regular ones, at
   * least every `WORKER_TIMEOUT_MS`), and warns when none went out for longer than the
   * heartbeat timeout: another worker's maintenance may then have handed the messages this
   * one holds, running ones included, to other workers, which run them again. Python's
   * worker heartbeats from its consumer threads whatever its actors do; here a synchronous
   * actor blocks the event loop, and the heartbeats with it.
   */
  #heartbeatSent() {
    const now = Date.now();
    const silent = now - (this.#lastHeartbeat ?? now);
    this.#lastHeartbeat = now;
    const timeout = this.transport.heartbeatTimeout;
    if (silent <= timeout || silent <= 2 * WORKER_TIMEOUT_MS()) return;
    this.broker.logger.warn(
      `This worker sent no heartbeat for ${silent} ms, longer than the heartbeat timeout (${timeout} ms): ` +
        "other workers may have taken back the messages it holds and run them again. " +
        "A synchronous actor blocks the event loop, and the heartbeats with it: run long ones with `dramatiq-results worker` " +
        "(on worker threads) or make them async.",
    );
  }

  async #requeueHeld() {
    const left = new Map();
    for (const item of [...this.ready, ...this.delayed]) {
      const ids = left.get(item.queue.name) ?? [];
      ids.push(RedisTransport.redisMessageId(item.message));
      left.set(item.queue.name, ids);
    }
    this.ready.length = 0;
    this.delayed.length = 0;
    for (const [queue, ids] of left) {
      try {
        await this.transport.requeue(queue, ids);
      } catch (error) {
        this.broker.logger.error(
          `Could not requeue ${ids.length} prefetched message(s) of queue ${queue}; ` +
            "they return to it once this worker's heartbeat times out.",
          error,
        );
      }
    }
  }

  /** A message was enqueued on `queueName` in this process: fetch now. */
  wake(queueName) {
    for (const q of this.queues) {
      if (q.name !== queueName) continue;
      // Also when a fetch is under way: it may have missed the message, so no idle sleep after.
      q.woken = true;
      q.wake?.();
    }
  }

  /** The worker resumed: fetch again at once, and run what is held. */
  resumed() {
    this.#wakeAll();
  }

  #wakeAll() {
    for (const q of this.queues) q.wake?.();
    this.wakeRunners();
    this.delayWake?.();
  }

  async #fetchLoop(q) {
    const logger = this.broker.logger;
    let failures = 0;
    const { prefetchBytes, maxMessageBytes } = this.broker;
    while (this.running) {
      // Bounded in bytes as well as in count: the bodies fetched live in wasm memory until
      // processed (or, delayed, until due), and wasm memory never shrinks.
      const room = Math.max(0, prefetchBytes - q.bytes);
      // A paused worker fetches nothing more (Python's pauses its consumer threads); its
      // fetch of 0 still heartbeats, so what it holds stays its own.
      const want = room > 0 && !this.worker?.paused ? Math.max(0, q.prefetch - q.held) : 0;
      q.woken = false;
      let got;
      try {
        // With no room, a fetch of 0 is the heartbeat.
        got = await this.transport.fetch(q.name, want, Math.max(1, room), maxMessageBytes);
      } catch (error) {
        if (!q.failing) logger.error(`Could not fetch from queue ${q.name}; retrying until the server answers.`, error);
        q.failing = true;
        let ms;
        [failures, ms] = this.transport.idleBackoff(failures);
        await this.sleep(ms, q, "wake");
        continue;
      }
      if (q.failing) {
        logger.warn?.(`Fetching from queue ${q.name} works again.`);
        // A failed fetch may have run on the server, its reply lost: then it took ids
        // into this worker's ack set that this worker never saw.
        q.reconcile = true;
      }
      q.failing = false;
      this.#heartbeatSent();
      failures = 0;
      for (const { message, eta, bytes, warning } of got.messages) {
        // Python's worker warns of an eta that is no number (the core replaced it by now).
        if (warning !== undefined) logger.warn(warning);
        q.held += 1;
        q.bytes += bytes;
        if (eta === undefined) this.addReady({ queue: q, message, bytes });
        else this.holdDelayed({ queue: q, message, eta, bytes });
      }
      if (got.messages.length > 0) {
        this.wakeRunners();
        this.delayWake?.();
      }
      for (const bad of got.bad) await this.#deadLetterBody(q, bad);
      if (q.reconcile) await this.#reconcile(q);
      if (got.missing > 0) {
        logger.warn(`${got.missing} message id(s) fetched from queue ${q.name} had no stored body; skipped.`);
      }
      const n = got.messages.length + got.bad.length;
      if (!this.running) break;
      if (want === 0) {
        if (!q.woken) await this.sleep(WORKER_TIMEOUT_MS(), q, "wake");
      } else if (n === 0 && !q.woken) {
        let ms;
        [q.misses, ms] = this.transport.idleBackoff(q.misses);
        await this.sleep(ms, q, "wake");
      } else {
        q.misses = 0;
        // Full now: this fetch was the heartbeat, so wait for room (a runner's release
        // wakes this loop) rather than send a fetch of 0 straight away.
        if (q.held >= q.prefetch && !q.woken) await this.sleep(WORKER_TIMEOUT_MS(), q, "wake");
      }
    }
  }

  /**
   * Requeues the ids of `q` that this worker's ack set holds on the server but the worker
   * does not (not ready, delayed, run or moved here): a fetch whose reply was lost took
   * them, and they would stay there as long as the worker lives and heartbeats (Python's
   * worker leaves them so until it dies). Runs in `q`'s fetch loop, between its fetches,
   * so no fetch of `q` is under way; an id acked meanwhile is skipped by the requeue.
   */
  async #reconcile(q) {
    const logger = this.broker.logger;
    q.reconcile = false;
    try {
      const ids = await this.transport.heldIds(q.name);
      const known = new Set();
      for (const item of [...this.ready, ...this.delayed, ...this.#inHand]) {
        if (item.queue !== q) continue;
        try {
          known.add(RedisTransport.redisMessageId(item.message));
        } catch {
          // (A stub whose message is gone: it is not in the ack set's way.)
        }
      }
      const orphans = ids.filter((id) => !known.has(id));
      if (orphans.length === 0) return;
      logger.warn(
        `${orphans.length} message(s) of queue ${q.name} were taken into this worker's ack set by a fetch whose reply was lost; ` +
          "giving them back to the queue.",
      );
      await this.transport.requeue(q.name, orphans);
    } catch (error) {
      logger.error(`Could not check this worker's ack set of queue ${q.name} after a failed fetch; trying again after the next fetch.`, error);
      q.reconcile = true;
    }
  }

  async #deadLetterBody(q, { reason, redisMessageId }) {
    const logger = this.broker.logger;
    if (redisMessageId === undefined) {
      logger.error(
        `Fetched a body from queue ${q.name} that is ${reason}; its id could not be found, ` +
          "so it stays held by this worker until its heartbeat times out.",
      );
      return;
    }
    logger.error(`Dead-lettering message ${redisMessageId} from queue ${q.name}: its body is ${reason}.`);
    try {
      await this.transport.nack(q.name, redisMessageId);
    } catch (error) {
      logger.error(`Could not dead-letter message ${redisMessageId} from queue ${q.name}.`, error);
    }
  }

  /** A runner is done with `item` (a message unhandled here stays held: requeued on stop,
   * or redelivered after the heartbeat timeout); its queue may fetch one more. */
  [kReleased](item) {
    this.#inHand.delete(item);
    this.#releasedFrom(item);
    release(item.message);
  }

  #releasedFrom({ queue: q, bytes }) {
    // With big messages the bytes, not the count, bound what is held: then every release
    // may make room, and wakes the loop as before.
    const byteBound = q.bytes * 2 >= this.broker.prefetchBytes;
    q.held -= 1;
    q.bytes -= bytes;
    // Refill in batches of half the runners, not one fetch per finished message: each
    // fetch is a round trip and a script call on the server, and under CPU-bound actors a
    // fetch of 1 per message cost the worker a third of its main thread's time
    // (bench/worker_command.md). Python's consumer fetches only once its cache is empty;
    // this keeps half the runners' worth ready meanwhile.
    // (A prefetch below half the runners, Dramatiq's `dramatiq_queue_prefetch=1`, refills
    // on every release: waiting for more room than the prefetch has would wait a heartbeat.)
    if (!byteBound && q.prefetch - q.held < Math.min(q.prefetch, Math.max(1, this.concurrency >> 1))) return;
    q.woken = true;
    q.wake?.();
  }

  async [kHandle](item) {
    this.#inHand.add(item);
    const { queue, message, actorName } = item;
    const broker = this.broker;
    const id = RedisTransport.redisMessageId(message);
    const refusal = this.refusal(message, queue.name, actorName);
    if (refusal !== undefined) {
      await this.deadLetterRefused(message, refusal, async () => {
        try {
          await this.transport.nack(queue.name, id);
        } catch (error) {
          broker.logger.error(`Could not dead-letter message ${message.messageId} from queue ${queue.name}.`, error);
        }
      });
      return;
    }
    const proxy = new WorkerMessage(message);
    proxy[kHeld] = { queue: queue.name, id, consumer: this };
    await this.worker[kProcess](queue.name, proxy);
  }

  async #delayLoop() {
    while (this.running) {
      const now = Date.now();
      const { due, held, next } = takeDue(this.delayed, now);
      this.delayed = held;
      // Held until moved and acked: a check of the ack set meanwhile must count them.
      for (const item of due) this.#inHand.add(item);
      for (const item of due) {
        if (!this.running) {
          this.#inHand.delete(item);
          this.delayed.push(item);
          continue;
        }
        let moved;
        try {
          moved = await this.transport.undelay(item.queue.name, item.message);
        } catch (error) {
          this.broker.logger.error(`Could not move delayed message ${item.message.messageId} to its queue; retrying.`, error);
          this.#inHand.delete(item);
          this.delayed.push({ ...item, eta: Date.now() + WORKER_TIMEOUT_MS() });
          continue;
        }
        try {
          // Dramatiq moves a due message with a full enqueue, so its after_enqueue hooks
          // (Prometheus' retry count among them) see the move too.
          this.broker[kAfterEnqueue](moved, undefined);
          this.broker[kNotify](moved.queueName);
        } catch (error) {
          // (The hooks log their own failures; this keeps the loop, and the ack below.)
          this.broker.logger.error(`Unexpected failure after moving delayed message ${item.message.messageId}.`, error);
        }
        release(moved);
        // The copy is on its queue: only the original's ack is left, and it alone is
        // retried (moving it again would enqueue a second copy, which would run twice).
        const id = RedisTransport.redisMessageId(item.message);
        await this.untilAnswered(
          () => this.transport.ack(item.queue.name, id),
          `Could not ack delayed message ${item.message.messageId} on queue ${item.queue.name} after moving it to its queue; ` +
            "retrying until the server answers (if this worker stops first, it is moved, and runs, again once its heartbeat times out).",
          `Delayed message ${item.message.messageId} on queue ${item.queue.name}: acked after the server answered again.`,
        );
        this.#inHand.delete(item);
        this.#releasedFrom(item);
        release(item.message);
      }
      if (!this.running) break;
      await this.sleep(Math.max(0, Math.min(next - Date.now(), WORKER_TIMEOUT_MS())), this, "delayWake");
    }
  }
}
