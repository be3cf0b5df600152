// Dramatiq's `RedisBroker` in JavaScript: the same keys, script effects and message bytes
// as Python's, so JS producers and workers share queues with Python ones. What to send and
// what a reply means is the wasm core's (`RedisTransport`, over src/brokers/redis); this
// file is the broker's bookkeeping and the worker's consumer loop.
import { Message, RedisTransport, canonicalQueueName, delayQueueName } from "../dist/dramatiq_results.js";
import { NetworkBroker, QueueJoinTimeout, checkDelay } from "./broker.js";
import { Consumer, WorkerMessage, takeDue } from "./worker.js";

// Dramatiq's WORKER_TIMEOUT_MS(), read from the core on first use (the wasm is instantiated
// after this module loads).
let workerTimeout;
function WORKER_TIMEOUT_MS() {
  return (workerTimeout ??= RedisTransport.workerTimeout());
}

/**
 * A broker on Redis, in Dramatiq 2.2.1's layout: `new RedisBroker(client, { namespace =
 * "dramatiq", middleware, logger, heartbeatTimeout = 60000, deadMessageTtl = 7 days,
 * maintenanceChance = 1000 })`. `client` is a connected node-redis or ioredis client (or
 * any object with `sendCommand(argv)`, `call(...argv)` or `callBuffer(...argv)`); the
 * broker never closes it.
 *
 * Sending: `actor.send()` (and pipelines, groups) return the `Message` at once; the write
 * is under way and `message.enqueued` says how it went (resolves with the message,
 * rejects with a `ResultError` whose `cause` is the client's error; a failure is also
 * logged, so never an unhandled rejection). `message.getResult()` awaits it first.
 * `await broker.enqueue(message, { delay })` is the same write as one Promise.
 */
export class RedisBroker extends NetworkBroker {
  constructor(client, { namespace, middleware, logger, heartbeatTimeout, deadMessageTtl, maintenanceChance, ...rest } = {}) {
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new TypeError(`unknown RedisBroker option ${unknown[0]}`);
    super({ middleware, logger });
    /** The protocol over the client (internal). */
    this._transport = new RedisTransport(client, { namespace, heartbeatTimeout, deadMessageTtl, maintenanceChance });
    /** The Redis client. */
    this.client = client;
    this._queues = new Set();
    this._consumers = new Set();
  }

  /** The key namespace (Dramatiq's default: "dramatiq"). */
  get namespace() {
    return this._transport.namespace;
  }

  /** The id this broker heartbeats and holds messages as (Dramatiq's `broker_id`). */
  get brokerId() {
    return this._transport.workerId;
  }

  /** Declares a queue (and its delay queue). Redis needs nothing; workers consume these. */
  declareQueue(name) {
    const q = canonicalQueueName(name);
    this._queues.add(q);
    this._queues.add(delayQueueName(q));
  }

  /** The declared queue names (delay queues included). */
  getDeclaredQueues() {
    return new Set(this._queues);
  }

  /** The message as it will be written (fresh `redis_message_id`, delay applied), hooks run. */
  _prepare(message, delay) {
    if (!(message instanceof Message)) throw new TypeError("enqueue needs a Message");
    const prepared = this._transport.prepare(message, checkDelay(delay));
    for (const m of this.middleware) m.beforeEnqueue?.(this, prepared, delay);
    return prepared;
  }

  /**
   * Enqueues (on `<queue>.DQ` with an `eta` after a delay) as one script call: body and
   * queue entry written atomically, Python's `Message.encode()` bytes, a fresh
   * `redis_message_id`.
   */
  async _write(prepared, delay) {
    await this._transport.send(prepared);
    this._afterEnqueue(prepared, delay);
    this._notify(prepared.queueName);
    return prepared;
  }

  /** A prepared write is the message as enqueued. */
  _preparedMessage(prepared) {
    return prepared;
  }

  /**
   * Resolves once `queue` and its delay queue hold no message (stored, or held by this
   * broker's worker); rejects with `QueueJoinTimeout` after `timeout` ms. Polls `qsize`.
   */
  async join(queueName, { timeout } = {}) {
    const q = canonicalQueueName(queueName);
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    let misses = 0;
    for (;;) {
      if ((await this._transport.qsize(q)) === 0) return;
      if (Date.now() >= deadline) throw new QueueJoinTimeout(`Queue '${q}' was not drained within ${timeout} ms.`);
      let ms;
      [misses, ms] = this._transport.idleBackoff(misses);
      await new Promise((r) => setTimeout(r, Math.min(ms, 100, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Drops every message of `queue` and its delay queue, and their dead letters. */
  async flush(queueName) {
    const q = canonicalQueueName(queueName);
    await this._transport.purge(q);
    await this._transport.purge(delayQueueName(q));
  }

  /** Flushes every declared queue. */
  async flushAll() {
    for (const q of this._queues) if (!q.endsWith(".DQ")) await this.flush(q);
  }

  /** Nothing to release: the client is the caller's to close. */
  close() {}

  // --- for workers -------------------------------------------------------------------

  /** A consumer for `worker` (see `Worker`). */
  _consume(worker, options) {
    return new RedisConsumer(this, worker, options);
  }

  /** Acks (or, with `deadLetter`, nacks) a processed message on the queue it came from. */
  async _finish(queueName, deadLetter, proxy) {
    const held = proxy?._redis;
    if (!held) return;
    try {
      if (deadLetter) await this._transport.nack(held.queue, held.id);
      else await this._transport.ack(held.queue, held.id);
    } catch (error) {
      // It stays in this worker's ack set: requeued on stop, or after the heartbeat timeout.
      this.logger.error(
        `Could not ${deadLetter ? "nack" : "ack"} message ${proxy.messageId} on queue ${held.queue}; ` +
          "it will be delivered again.",
        error,
      );
    }
  }

  /** Wakes this process's consumers of `queue` (a message was just enqueued there). */
  _notify(queueName) {
    for (const c of this._consumers) c.wake(queueName);
  }
}

/**
 * The worker's side of a `RedisBroker`: one fetch loop per queue and delay queue (fetching
 * up to the prefetch, heartbeating at least every `WORKER_TIMEOUT` ms), `concurrency`
 * runners, and one loop moving due delayed messages to their queue.
 */
class RedisConsumer extends Consumer {
  constructor(broker, worker, options) {
    super(broker, worker, options);
    this._transport = broker._transport;
    this.queues = this.names.flatMap((name) => [
      this._queue(name, RedisTransport.queuePrefetch(this.concurrency)),
      this._queue(delayQueueName(name), RedisTransport.delayQueuePrefetch(this.concurrency)),
    ]);
  }

  _queue(name, prefetch) {
    return { name, prefetch, held: 0, misses: 0, wake: null, woken: false, failing: false };
  }

  /** Runs until `stop()`; resolves once every loop has ended. */
  run() {
    this.running = true;
    this.broker._consumers.add(this);
    this._warnIfIdle(this.queues.length);
    const loops = [...this.queues.map((q) => this._fetchLoop(q)), ...this._runners(), this._delayLoop()];
    this._done = Promise.all(loops);
    return this._done;
  }

  /** Stops fetching, lets the runners finish their message, and requeues the rest. */
  async stop() {
    if (!this.running) return;
    this.running = false;
    this._wakeAll();
    await this._done;
    this.broker._consumers.delete(this);
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
        await this._transport.requeue(queue, ids);
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

  _wakeAll() {
    for (const q of this.queues) q.wake?.();
    this._wakeRunners();
    this._delayWake?.();
  }

  async _fetchLoop(q) {
    const logger = this.broker.logger;
    let failures = 0;
    while (this.running) {
      const want = Math.max(0, q.prefetch - q.held);
      q.woken = false;
      let got;
      try {
        // With no room, a fetch of 0 is the heartbeat.
        got = await this._transport.fetch(q.name, want);
      } catch (error) {
        if (!q.failing) logger.error(`Could not fetch from queue ${q.name}; retrying until the server answers.`, error);
        q.failing = true;
        let ms;
        [failures, ms] = this._transport.idleBackoff(failures);
        await this._sleep(ms, q, "wake");
        continue;
      }
      if (q.failing) logger.warn?.(`Fetching from queue ${q.name} works again.`);
      q.failing = false;
      failures = 0;
      for (const { message, eta } of got.messages) {
        q.held += 1;
        if (eta === undefined) this._ready({ queue: q, message });
        else this.delayed.push({ queue: q, message, eta });
      }
      if (got.messages.length > 0) {
        this._wakeRunners();
        this._delayWake?.();
      }
      for (const bad of got.bad) await this._deadLetterBody(q, bad);
      if (got.missing > 0) {
        logger.warn(`${got.missing} message id(s) fetched from queue ${q.name} had no stored body; skipped.`);
      }
      const n = got.messages.length + got.bad.length;
      if (!this.running) break;
      if (want === 0) {
        if (!q.woken) await this._sleep(WORKER_TIMEOUT_MS(), q, "wake");
      } else if (n === 0 && !q.woken) {
        let ms;
        [q.misses, ms] = this._transport.idleBackoff(q.misses);
        await this._sleep(ms, q, "wake");
      } else {
        q.misses = 0;
      }
    }
  }

  async _deadLetterBody(q, { reason, redisMessageId }) {
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
      await this._transport.nack(q.name, redisMessageId);
    } catch (error) {
      logger.error(`Could not dead-letter message ${redisMessageId} from queue ${q.name}.`, error);
    }
  }

  /** A runner is done with `item` (a message unhandled here stays held: requeued on stop,
   * or redelivered after the heartbeat timeout); its queue may fetch one more. */
  _released(item) {
    this._releasedFrom(item.queue);
  }

  _releasedFrom(q) {
    q.held -= 1;
    q.woken = true;
    q.wake?.();
  }

  async _handle({ queue, message }) {
    const broker = this.broker;
    const id = RedisTransport.redisMessageId(message);
    const refusal = this._refusal(message, queue.name);
    if (refusal !== undefined) {
      broker.logger.error(refusal);
      try {
        await this._transport.nack(queue.name, id);
      } catch (error) {
        broker.logger.error(`Could not dead-letter message ${message.messageId} from queue ${queue.name}.`, error);
      }
      return;
    }
    const proxy = new WorkerMessage(message);
    proxy._redis = { queue: queue.name, id };
    await this.worker._process(queue.name, proxy);
  }

  async _delayLoop() {
    while (this.running) {
      const now = Date.now();
      const { due, held, next } = takeDue(this.delayed, now);
      this.delayed = held;
      for (const item of due) {
        if (!this.running) {
          this.delayed.push(item);
          continue;
        }
        try {
          const moved = await this._transport.undelay(item.queue.name, item.message);
          this.broker._notify(moved.queueName);
          this._releasedFrom(item.queue);
        } catch (error) {
          this.broker.logger.error(`Could not move delayed message ${item.message.messageId} to its queue; retrying.`, error);
          this.delayed.push({ ...item, eta: Date.now() + WORKER_TIMEOUT_MS() });
        }
      }
      if (!this.running) break;
      await this._sleep(Math.max(0, Math.min(next - Date.now(), WORKER_TIMEOUT_MS())), this, "_delayWake");
    }
  }
}
