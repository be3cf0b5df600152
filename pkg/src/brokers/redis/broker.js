// Dramatiq's `RedisBroker` in JavaScript: the same keys, script effects and message bytes
// as Python's, so JS producers and workers share queues with Python ones. What to send and
// what a reply means is the wasm core's (`RedisTransport`, over src/brokers/redis); this
// file is the broker's bookkeeping; its worker side is consumer.js.
import { Message, RedisTransport, canonicalQueueName, delayQueueName } from "../../../dist/dramatiq_results.js";
import { QueueJoinTimeout } from "../../errors.js";
import { checkOptions } from "../../internal/options.js";
import {
  kAfterEnqueue,
  kConsume,
  kConsumers,
  kFinish,
  kHeld,
  kNotify,
  kPrepare,
  kPreparedMessage,
  kProbe,
  kReleaseWorker,
  kTransport,
  kWrite,
  kWritesSettled,
} from "../../internal/symbols.js";
import { NetworkBroker, checkDelay, emitBeforeEnqueue } from "../broker.js";
import { loggedId } from "../../worker/consumer.js";
import { RedisConsumer } from "./consumer.js";

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

  constructor(client, options) {
    const { namespace, middleware, logger, heartbeatTimeout, deadMessageTtl, maintenanceChance, prefetchBytes, maxMessageBytes } = checkOptions(
      "new RedisBroker()",
      options,
      // The core checks the values of the transport's options.
      {
        namespace: "any",
        middleware: "any",
        logger: "any",
        heartbeatTimeout: "any",
        deadMessageTtl: "any",
        maintenanceChance: "any",
        prefetchBytes: "count",
        maxMessageBytes: "count",
      },
    );
    super({ middleware, logger });
    /** The most bytes of messages a worker holds per queue (fetched, not yet finished). */
    this.prefetchBytes = prefetchBytes ?? RedisTransport.prefetchBytes();
    /** The largest message sent or taken: a larger send is refused before anything is
     * written, a larger one fetched is dead-lettered with the reason. */
    this.maxMessageBytes = maxMessageBytes ?? RedisTransport.maxMessageBytes();
    this[kTransport] = new RedisTransport(client, {
      namespace,
      heartbeatTimeout,
      deadMessageTtl,
      maintenanceChance,
      maxMessageBytes: this.maxMessageBytes,
    });
    this[kConsumers] = new Set();
    /** The Redis client. */
    this.client = client;
  }

  /** The key namespace (Dramatiq's default: "dramatiq"). */
  get namespace() {
    return this[kTransport].namespace;
  }

  /** The id this broker heartbeats and holds messages as (Dramatiq's `broker_id`). */
  get brokerId() {
    return this[kTransport].workerId;
  }

  /** The message as it will be written (fresh `redis_message_id`, delay applied), hooks run. */
  [kPrepare](message, delay) {
    if (!(message instanceof Message)) throw new TypeError("enqueue needs a Message");
    const prepared = this[kTransport].prepare(message, checkDelay(delay));
    emitBeforeEnqueue(this, prepared, delay);
    return prepared;
  }

  /**
   * Enqueues (on `<queue>.DQ` with an `eta` after a delay) as one script call: body and
   * queue entry written atomically, Python's `Message.encode()` bytes, a fresh
   * `redis_message_id`.
   */
  async [kWrite](prepared, delay) {
    await this[kTransport].send(prepared);
    this[kAfterEnqueue](prepared, delay);
    this[kNotify](prepared.queueName);
    return prepared;
  }

  /** A prepared write is the message as enqueued. */
  [kPreparedMessage](prepared) {
    return prepared;
  }

  /**
   * Resolves once `queue` and its delay queue hold no message (stored, or held by this
   * broker's worker); rejects with `QueueJoinTimeout` after `timeout` ms. Polls `qsize` every
   * `interval` ms (Dramatiq's `join(interval=100)`; by default sooner at first, backing off
   * to 100 ms).
   */
  async join(queueName, options) {
    const { timeout, interval } = checkOptions("RedisBroker.join()", options, { timeout: "ms?", interval: "ms?" });
    const q = canonicalQueueName(queueName);
    const deadline = timeout == null ? Infinity : Date.now() + timeout;
    let misses = 0;
    for (;;) {
      if ((await this[kTransport].qsize(q)) === 0) return;
      // Python's `QueueJoinTimeout(queue_name)`: the name, as given, is the message.
      if (Date.now() >= deadline) throw new QueueJoinTimeout(String(queueName));
      let ms;
      [misses, ms] = this[kTransport].idleBackoff(misses);
      await new Promise((r) => setTimeout(r, Math.min(interval ?? Math.min(ms, 100), Math.max(0, deadline - Date.now()))));
    }
  }

  /** Drops every message of `queue` and its delay queue, and their dead letters. */
  async flush(queueName) {
    const q = canonicalQueueName(queueName);
    await this[kTransport].purge(q);
    await this[kTransport].purge(delayQueueName(q));
  }

  /** Flushes every declared queue. */
  async flushAll() {
    for (const q of this.getDeclaredQueues()) await this.flush(q);
  }

  /**
   * Lets the writes under way finish (a `send()` not awaited lands, as Python's would have),
   * then releases nothing: the client is the caller's to close, after this.
   */
  async close() {
    await this[kWritesSettled]();
  }

  // --- for workers -------------------------------------------------------------------

  /** A consumer for `worker` (see `Worker`). */
  [kConsume](worker, options) {
    return new RedisConsumer(this, worker, options);
  }

  /**
   * Acks (or, with `deadLetter`, nacks) a processed message on the queue it came from. A
   * failed ack is tried again until the server answers, as Dramatiq's worker does
   * (`post_process_message`): given up, the message would stay in this worker's ack set
   * while it lives and run a second time once it is gone. Only a stop whose timeout passes
   * gives up on it (it then runs again after the heartbeat timeout, as Python's would).
   */
  async [kFinish](queueName, deadLetter, proxy) {
    const held = proxy?.[kHeld];
    if (!held) return;
    const what = deadLetter ? "nack" : "ack";
    // Read once, and safely: an actor may have freed or replaced its message, and a throw
    // here would leave the message unsettled (held until this worker's heartbeat times out).
    const id = loggedId(proxy, `${held.id} (its message freed or replaced by its actor)`);
    await held.consumer.untilAnswered(
      () => (deadLetter ? this[kTransport].nack(held.queue, held.id) : this[kTransport].ack(held.queue, held.id)),
      `Could not ${what} message ${id} on queue ${held.queue}; retrying until the server answers ` +
        "(if this worker stops first, the message runs again once its heartbeat times out).",
      `Message ${id} on queue ${held.queue}: ${what} done after the server answered again.`,
    );
  }

  /**
   * Gives every message the worker `deadBrokerId` held on `queues` (canonical names; by
   * default those of this broker's local actors) and their delay queues back to them, and
   * drops its heartbeat (unless `stopped`: a worker that stopped cleanly keeps it, as a
   * stopped Python worker's stays until maintenance drops it): the worker command's
   * supervisor calls this as soon as a worker process has exited, instead of leaving its
   * messages until its heartbeat times out.
   */
  async [kReleaseWorker](deadBrokerId, queues, { stopped = false } = {}) {
    if (deadBrokerId === this.brokerId) throw new TypeError("a broker cannot release its own messages");
    const names = queues ?? [...this.actors.values()].filter((a) => !a.remote).map((a) => a.queueName);
    for (const q of new Set([...names].map((n) => canonicalQueueName(n)))) {
      await this[kTransport].release(q, deadBrokerId, stopped);
      await this[kTransport].release(delayQueueName(q), deadBrokerId, stopped);
    }
  }

  /** One round trip to the server (no heartbeat), so a worker can refuse to start without it. */
  async [kProbe]() {
    await this[kTransport].ping();
  }

  /** Wakes this process's consumers of `queue` (a message was just enqueued there). */
  [kNotify](queueName) {
    for (const c of this[kConsumers]) c.wake(queueName);
  }
}
