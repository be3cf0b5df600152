// Dramatiq's `RabbitmqBroker` over amqplib (Node only: AMQP runs over a raw TCP socket and
// amqplib is built on Node's `net`). Every protocol decision — queue arguments, routing
// keys, bodies, publish properties, prefetch, ack or reject, the reconnect back-off — is
// the wasm core's (src/brokers/rabbitmq.rs); this file owns the connection, the channels,
// the retries around them and the worker's consumer.
import {
  Message,
  canonicalQueueName,
  delayQueueName,
  messageEta,
  rabbitmqDeclarations,
  rabbitmqMaxEnqueueAttempts,
  rabbitmqMaxPriority,
  rabbitmqPrefetch,
  rabbitmqPublish,
  rabbitmqReconnectBackoff,
  rabbitmqSettle,
  rabbitmqUndelay,
} from "../dist/dramatiq_results.js";
import { NetworkBroker, QueueJoinTimeout, checkDelay } from "./broker.js";
import { Consumer, WorkerMessage, takeDue } from "./worker.js";

/** The broker lost its connection or channel and could not get it back (Dramatiq's `ConnectionClosed`). */
export class ConnectionClosed extends Error {}
ConnectionClosed.prototype.name = "ConnectionClosed";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Per-publish calls into wasm cost a few µs each once the process has idled waiting for a
// confirm (bench/notes.md), so what does not change is asked once: the canonical name of
// each queue name seen (a handful per app; the cache is dropped if it ever grows large)
// and the enqueue attempt limit.
const canonicalNames = new Map();
function canonical(name) {
  let q = canonicalNames.get(name);
  if (q === undefined) {
    q = canonicalQueueName(name);
    if (canonicalNames.size >= 1024) canonicalNames.clear();
    canonicalNames.set(name, q);
  }
  return q;
}
let maxEnqueueAttempts;

/** A view of wasm bytes amqplib can send (it wants a Buffer), without a copy. */
function buffer(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * amqplib, loaded through Node's `require` (`process.getBuiltinModule`, Node ≥ 20.16): no
 * `import("amqplib")` for bundlers to chase in the package's browser and workerd builds,
 * where RabbitMQ cannot run anyway.
 */
function loadAmqplib() {
  const nodeModule = globalThis.process?.getBuiltinModule?.("node:module");
  if (!nodeModule) {
    throw new Error("RabbitmqBroker.connect runs on Node only: AMQP needs a raw TCP socket (amqplib uses Node's net)");
  }
  try {
    return nodeModule.createRequire(import.meta.url)("amqplib");
  } catch (error) {
    throw new Error("RabbitmqBroker.connect needs the amqplib package: npm install amqplib", { cause: error });
  }
}

function isChannelModel(value) {
  return value && typeof value.createChannel === "function" && typeof value.close === "function";
}

/** Whether `error` is a lost connection or channel (worth a retry on a fresh channel). */
function isConnectionError(error) {
  if (!error || typeof error !== "object") return false;
  if (error.amqpRetry) return true;
  if (error instanceof ConnectionClosed) return false;
  // A declaration RabbitMQ refused (406 PRECONDITION_FAILED): retrying cannot help.
  if (error.code === 406) return false;
  const text = `${error.name} ${error.message} ${error.code ?? ""}`;
  return /Channel closed|Connection closed|Channel ended|ECONNREFUSED|ECONNRESET|EPIPE|IllegalOperationError|CONNECTION_FORCED|socket|closed/i.test(
    text,
  );
}

/**
 * Dramatiq's `RabbitmqBroker`: messages go to RabbitMQ queues declared exactly as Python
 * declares them, so Python and JS producers and workers share them.
 *
 * `connection` is an amqplib connection (`await amqplib.connect(url)`) or a function that
 * opens one (`() => amqplib.connect(url)`); with a function the broker (and its workers)
 * reconnect by themselves after the connection is lost. `RabbitmqBroker.connect(url,
 * options)` does the latter for you. Options: `confirmDelivery` (wait for RabbitMQ to
 * confirm every publish, as Dramatiq's `confirm_delivery`), `maxPriority` (queues get
 * `x-max-priority`; every broker sharing a queue must agree), `deadMessageTtl` (ms dead
 * letters stay on `<q>.XQ`; default 7 days, Python's `dramatiq_dead_message_ttl`),
 * `middleware`, `logger`.
 *
 * Sending: `actor.send()` (and pipelines, groups) return the `Message` at once and
 * `message.enqueued` says how the publish went (as on `RedisBroker`); `await
 * broker.enqueue(message, { delay })` is the same publish as one Promise.
 */
export class RabbitmqBroker extends NetworkBroker {
  constructor(connection, { confirmDelivery = false, maxPriority, deadMessageTtl, middleware, logger, ...rest } = {}) {
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new TypeError(`unknown RabbitmqBroker option ${unknown[0]}`);
    super({ middleware, logger });
    if (isChannelModel(connection)) {
      this._open = undefined;
      this._adopt(connection);
    } else if (typeof connection === "function") {
      this._open = connection;
      this._connection = undefined;
    } else {
      throw new TypeError("RabbitmqBroker needs an amqplib connection or a function that opens one");
    }
    /** Whether every publish waits for RabbitMQ's confirm (Dramatiq's `confirm_delivery`). */
    this.confirmDelivery = Boolean(confirmDelivery);
    /** `x-max-priority` of the queues, or undefined. */
    this.maxPriority = rabbitmqMaxPriority(maxPriority);
    /** How long dead letters stay on `<q>.XQ`, in ms (undefined: Dramatiq's 7 days). */
    this.deadMessageTtl = deadMessageTtl;
    // Checked once here, so a bad value fails at construction rather than on first use.
    rabbitmqDeclarations("default", this.maxPriority, deadMessageTtl);
    this._queues = new Set(); // canonical names
    this._channel = undefined; // Promise of the publishing channel
    this._declared = new WeakMap(); // channel → Map of canonical queue → its declaration (a Promise)
    this._returned = new Set(); // "<routing key> <message id>" of publishes RabbitMQ returned
    this._draining = new WeakMap(); // channel → Promise of its next 'drain'
    this._closed = false;
  }

  /**
   * Connects to `url` (`amqp://user:pass@host:port/vhost`) with amqplib and returns a
   * broker that reconnects to it when the connection is lost. `options` are the
   * constructor's, plus `socketOptions` for amqplib's `connect` (`noDelay` defaults to
   * true here, as pika sets `TCP_NODELAY`).
   */
  static async connect(url, { socketOptions, ...options } = {}) {
    const { connect } = loadAmqplib();
    // TCP_NODELAY as pika sets it: without it a publish can wait ~40 ms for delayed ACKs.
    const sockets = { noDelay: true, ...socketOptions };
    const broker = new RabbitmqBroker(() => connect(url, sockets), options);
    await broker.connection();
    return broker;
  }

  _adopt(connection) {
    const current = Promise.resolve(connection);
    this._connection = current;
    connection.on("close", () => {
      if (this._connection === current) this._forget();
    });
    connection.on("error", (error) => {
      if (!this._closed) this.logger.warn(`RabbitMQ connection error: ${error.message}`);
    });
  }

  _forget() {
    this._connection = undefined;
    this._channel = undefined;
  }

  /** The current amqplib connection, opened again when it was lost (and the broker can). */
  async connection() {
    if (this._closed) throw new ConnectionClosed("the broker is closed");
    if (this._connection !== undefined) return this._connection;
    if (!this._open) {
      throw new ConnectionClosed("the RabbitMQ connection is closed and the broker was given no way to reopen it");
    }
    const opening = (async () => {
      const conn = await this._open();
      if (!isChannelModel(conn)) throw new TypeError("the connection function must resolve to an amqplib connection");
      return conn;
    })();
    this._connection = opening;
    try {
      const conn = await opening;
      if (this._connection === opening) this._adopt(conn);
      if (this._closed) await conn.close().catch(() => {});
      return conn;
    } catch (error) {
      if (this._connection === opening) this._connection = undefined;
      throw error;
    }
  }

  /** A new channel on the current connection; `declared` tracks the queues declared on it. */
  async _newChannel({ confirm = false } = {}) {
    const conn = await this.connection();
    const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
    this._declared.set(ch, new Map());
    // amqplib emits 'error' before 'close' when the server closes a channel; a listener
    // keeps it from being an uncaught exception (the operation that caused it rejects).
    ch.on("error", () => {});
    return ch;
  }

  /** The channel publishes and declarations go through (a confirm channel with `confirmDelivery`). */
  channel() {
    if (this._channel === undefined) {
      const opening = this._newChannel({ confirm: this.confirmDelivery }).then((ch) => {
        ch.on("close", () => {
          if (this._channel === opening) this._channel = undefined;
        });
        ch.on("return", (returned) => this._onReturn(returned));
        return ch;
      });
      this._channel = opening;
      opening.catch(() => {
        if (this._channel === opening) this._channel = undefined;
      });
    }
    return this._channel;
  }

  _dropChannel(ch) {
    if (this._channel === undefined) return;
    const current = this._channel;
    current
      .then((c) => {
        if (ch !== undefined && c !== ch) return;
        if (this._channel === current) this._channel = undefined;
        c.close().catch(() => {});
      })
      .catch(() => {});
  }

  _onReturn({ fields, content }) {
    try {
      this._returned.add(`${fields.routingKey} ${Message.decode(content).messageId}`);
    } catch {
      // Not one of ours: nothing waits for it.
    }
  }

  /** Declares `name`'s queues here; they are declared on RabbitMQ before first use. */
  declareQueue(name) {
    const q = canonical(name);
    if (this._queues.has(q)) return;
    for (const m of this.middleware) m.beforeDeclareQueue?.(this, q);
    this._queues.add(q);
    for (const m of [...this.middleware].reverse()) m.afterDeclareQueue?.(this, q);
    for (const m of [...this.middleware].reverse()) m.afterDeclareDelayQueue?.(this, delayQueueName(q));
  }

  /** The declared (canonical) queue names. */
  getDeclaredQueues() {
    return new Set(this._queues);
  }

  /**
   * Declares `queue`'s three queues on `ch` (once per channel), with Dramatiq's arguments.
   * Callers arriving while the declaration is under way wait for that same one, so the
   * publishes after it go out in the order they were asked for.
   */
  _ensureQueue(ch, queue) {
    const q = canonical(queue);
    let declared = this._declared.get(ch);
    if (declared === undefined) {
      declared = new Map();
      this._declared.set(ch, declared);
    }
    let pending = declared.get(q);
    if (pending === undefined) {
      pending = (async () => {
        for (const d of rabbitmqDeclarations(q, this.maxPriority, this.deadMessageTtl)) {
          await ch.assertQueue(d.queue, { durable: d.durable, arguments: d.arguments });
        }
      })();
      declared.set(q, pending);
      pending.catch(() => {
        if (declared.get(q) === pending) declared.delete(q);
      });
    }
    return pending;
  }

  /** Declares `queue`'s three queues on RabbitMQ now (otherwise they are declared on first use). */
  async ensureQueue(queue) {
    this.declareQueue(queue);
    await this._ensureQueue(await this.channel(), queue);
  }

  /** The publish for `message` (delay applied), `beforeEnqueue` hooks run. */
  _prepare(message, delay) {
    if (!(message instanceof Message)) throw new TypeError("enqueue needs a Message");
    delay = checkDelay(delay);
    const out = rabbitmqPublish(message, delay, Date.now(), this.confirmDelivery);
    for (const m of this.middleware) m.beforeEnqueue?.(this, out.message, delay);
    return out;
  }

  /**
   * Publishes (on `<queue>.DQ` with an `eta` after a delay, as Dramatiq does, even for 0);
   * with `confirmDelivery`, settles once RabbitMQ confirmed it. A lost connection or channel
   * is retried (6 attempts in all, as Dramatiq) before `ConnectionClosed`.
   */
  async _write(out, delay) {
    const sent = out.message;
    const body = buffer(out.body);
    const queueName = sent.queueName;
    this.declareQueue(queueName);
    for (let attempt = 1; ; attempt++) {
      let ch;
      try {
        ch = await this.channel();
        await this._ensureQueue(ch, queueName);
        await this._publish(ch, out, body, sent);
        break;
      } catch (error) {
        if (this._closed) throw new ConnectionClosed("the broker is closed", { cause: error });
        if (!isConnectionError(error)) throw error;
        this._dropChannel(ch);
        const maxAttempts = (maxEnqueueAttempts ??= rabbitmqMaxEnqueueAttempts());
        if (attempt >= maxAttempts) {
          throw new ConnectionClosed(`could not enqueue message ${sent.messageId}: ${error.message}`, { cause: error });
        }
        this.logger.warn(`Retrying enqueue of message ${sent.messageId} (${attempt}/${maxAttempts}): ${error.message}`);
        await sleep(rabbitmqReconnectBackoff(attempt - 1)[1]);
      }
    }
    this._afterEnqueue(sent, delay);
    return sent;
  }

  /** One Promise per channel for every publish waiting on its 'drain' (or its end). */
  _drained(ch) {
    let waiting = this._draining.get(ch);
    if (waiting === undefined) {
      waiting = new Promise((resolve) => {
        const done = () => {
          ch.off("drain", done);
          ch.off("close", done);
          this._draining.delete(ch);
          resolve();
        };
        ch.on("drain", done);
        ch.on("close", done);
      });
      this._draining.set(ch, waiting);
    }
    return waiting;
  }

  _publish(ch, out, body, sent) {
    if (!this.confirmDelivery) {
      // amqplib buffers the frame; false only asks the caller to wait for 'drain' (or the
      // channel's end: the frame was handed over, and unconfirmed publishing promises no more).
      if (ch.publish(out.exchange, out.routingKey, body, out.options)) return undefined;
      return this._drained(ch);
    }
    return new Promise((resolve, reject) => {
      ch.publish(out.exchange, out.routingKey, body, out.options, (error) => {
        // RabbitMQ sends a basic.return before the confirm of the same publish.
        if (this._returned.size > 0 && this._returned.delete(`${out.routingKey} ${sent.messageId}`)) {
          // Unroutable: its queue is gone. Declare it again and retry (Dramatiq does too).
          this._declared.get(ch)?.delete(canonical(out.routingKey));
          return reject(Object.assign(new Error(`message ${sent.messageId} was returned as unroutable`), { amqpRetry: true }));
        }
        if (error) {
          const nacked = new Error(`RabbitMQ did not confirm message ${sent.messageId}`, { cause: error });
          return reject(Object.assign(nacked, { amqpRetry: true }));
        }
        resolve();
      });
    });
  }

  /** The message a prepared publish carries. */
  _preparedMessage(out) {
    return out.message;
  }

  /** `[messages ready on <q>, on <q>.DQ, on <q>.XQ]` (Dramatiq's `get_queue_message_counts`; unacked ones are not counted). */
  async getQueueMessageCounts(queue) {
    const ch = await this.channel();
    const counts = [];
    for (const d of rabbitmqDeclarations(canonicalQueueName(queue), this.maxPriority, this.deadMessageTtl)) {
      const ok = await ch.assertQueue(d.queue, { durable: d.durable, arguments: d.arguments });
      counts.push(ok.messageCount);
    }
    return counts;
  }

  /** Drops every message of `queue`, its delay queue and its dead letters. */
  async flush(queue) {
    const q = canonicalQueueName(queue);
    const ch = await this.channel();
    await this._ensureQueue(ch, q);
    for (const d of rabbitmqDeclarations(q, this.maxPriority, this.deadMessageTtl)) await ch.purgeQueue(d.queue);
  }

  /** Flushes every declared queue. */
  async flushAll() {
    for (const q of this._queues) await this.flush(q);
  }

  /**
   * Resolves once `queue` and its delay queue were seen empty `minSuccesses` times in a
   * row, `idleTime` ms apart (Dramatiq's `join`: unacked messages are not counted, so it
   * is for tests). Rejects with `QueueJoinTimeout` after `timeout` ms.
   */
  async join(queue, { timeout, minSuccesses = 10, idleTime = 100 } = {}) {
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    let successes = 0;
    while (successes < minSuccesses) {
      if (Date.now() >= deadline) throw new QueueJoinTimeout(`Queue '${queue}' was not drained within ${timeout} ms.`);
      const [ready, delayed] = await this.getQueueMessageCounts(queue);
      successes = ready + delayed === 0 ? successes + 1 : 0;
      await sleep(idleTime);
    }
  }

  /** Closes the connection (and with it every channel); the broker cannot be used afterwards. */
  async close() {
    this._closed = true;
    const conn = this._connection;
    this._forget();
    if (conn) {
      try {
        await (await conn).close();
      } catch {
        // Already closed, or never opened.
      }
    }
  }

  // --- for workers -------------------------------------------------------------------

  /** A consumer for `worker` (see `Worker`). */
  _consume(worker, options) {
    return new RabbitmqConsumer(this, worker, options);
  }

  /** Acks a processed message, or rejects it (dead-letters it to `<q>.XQ`) when it failed. */
  async _finish(queueName, deadLetter, proxy) {
    await proxy?._amqp?.consumer.settle(proxy._amqp, Boolean(deadLetter), proxy.messageId);
  }
}

/**
 * The worker's side of a `RabbitmqBroker`: a channel per queue and delay queue with
 * Dramatiq's prefetch, `concurrency` runners, a loop moving due delayed messages to their
 * queue, and a reconnect loop. Unacked deliveries return to their queue when a channel
 * closes (stop, crash or lost connection): RabbitMQ redelivers them, so nothing is lost.
 */
class RabbitmqConsumer extends Consumer {
  constructor(broker, worker, options) {
    super(broker, worker, options);
    this.prefetch = rabbitmqPrefetch(this.concurrency);
    this.generation = 0; // bumped on every (re)connect: deliveries of older channels cannot be settled
    this.channels = [];
    this._lost = null; // resolves when a channel of this generation closes
    this._wakeLost = null;
  }

  run() {
    this.running = true;
    this._warnIfIdle(this.names.length);
    this._done = Promise.all([this._connectLoop(), ...this._runners(), this._delayLoop()]);
    return this._done;
  }

  async stop() {
    if (!this.running) return;
    this.running = false;
    for (const { ch, tag } of this.channels) await ch.cancel(tag).catch(() => {});
    this._wakeLost?.();
    this._wakeRunners();
    this._delayWake?.();
    await this._done;
    // What is still held goes back to its queue when its channel closes.
    this.ready.length = 0;
    this.delayed.length = 0;
    await this._closeChannels();
  }

  async _closeChannels() {
    const channels = this.channels;
    this.channels = [];
    for (const { ch } of channels) await ch.close().catch(() => {});
  }

  /** Consumes; after a lost connection or channel, backs off and consumes again. */
  async _connectLoop() {
    const logger = this.broker.logger;
    let attempts = 0;
    while (this.running) {
      try {
        await this._open();
        if (attempts > 0) logger.warn("Consuming from RabbitMQ again.");
        attempts = 0;
        await new Promise((resolve) => {
          this._wakeLost = resolve;
          this._lost.then(resolve);
        });
      } catch (error) {
        if (!this.running) break;
        if (attempts === 0) logger.error(`Could not consume from RabbitMQ: ${error.message}; reconnecting.`);
      }
      if (!this.running) break;
      // Deliveries of the old channels come back from the server; drop our copies.
      this.generation += 1;
      this.ready.length = 0;
      this.delayed.length = 0;
      await this._closeChannels();
      let ms;
      [attempts, ms] = rabbitmqReconnectBackoff(attempts);
      logger.warn(`Lost the RabbitMQ consumer; reconnecting in ${Math.round(ms)} ms.`);
      await sleep(ms);
    }
  }

  async _open() {
    const generation = this.generation;
    let lost;
    this._lost = new Promise((resolve) => (lost = resolve));
    const channels = [];
    try {
      for (const name of this.names) {
        for (const [queue, prefetch] of [
          [name, this.prefetch.queue],
          [delayQueueName(name), this.prefetch.delayQueue],
        ]) {
          const ch = await this.broker._newChannel();
          channels.push({ ch });
          ch.on("close", () => lost());
          await this.broker._ensureQueue(ch, name);
          await ch.prefetch(prefetch);
          const { consumerTag } = await ch.consume(queue, (delivery) => this._deliver(ch, queue, generation, delivery, lost), {
            noAck: false,
          });
          channels.at(-1).tag = consumerTag;
        }
      }
    } catch (error) {
      for (const { ch } of channels) await ch.close().catch(() => {});
      throw error;
    }
    this.channels = channels;
  }

  _deliver(ch, queue, generation, delivery, lost) {
    if (delivery === null) {
      // The server cancelled the consumer (its queue was deleted): consume again.
      this.broker.logger.warn(`RabbitMQ cancelled the consumer of queue ${queue}.`);
      lost();
      return;
    }
    const held = { consumer: this, ch, generation, delivery, queue };
    let message;
    try {
      message = Message.decode(delivery.content);
    } catch (error) {
      this.broker.logger.error(`Dead-lettering a message from queue ${queue} that does not decode: ${error.message}`);
      this._settleNow(held, true);
      return;
    }
    const eta = messageEta(message);
    if (eta !== undefined) {
      this.delayed.push({ held, message, eta });
      this._delayWake?.();
    } else {
      this._ready({ held, message });
      this._readyWaiters.shift()?.();
    }
  }

  _settleNow(held, failed) {
    if (held.generation !== this.generation) return false;
    try {
      if (rabbitmqSettle(failed) === "ack") held.ch.ack(held.delivery);
      else held.ch.nack(held.delivery, false, false);
      return true;
    } catch {
      return false;
    }
  }

  /** Acks (or rejects) a processed delivery on the channel it came on. */
  settle(held, failed, messageId) {
    if (!this._settleNow(held, failed)) {
      this.broker.logger.warn(
        `Could not ${failed ? "reject" : "ack"} message ${messageId}: its channel was lost, so RabbitMQ delivers it again.`,
      );
    }
  }

  /** A message unhandled here (an unexpected failure) stays unacked and returns when its channel closes. */
  async _handle({ held, message }) {
    const refusal = this._refusal(message, held.queue);
    if (refusal !== undefined) {
      this.broker.logger.error(refusal);
      this._settleNow(held, true);
      return;
    }
    const proxy = new WorkerMessage(message);
    proxy._amqp = held;
    await this.worker._process(held.queue, proxy);
  }

  async _delayLoop() {
    while (this.running) {
      const now = Date.now();
      const { due, held, next } = takeDue(this.delayed, now);
      this.delayed = held;
      for (const item of due) {
        if (!this.running) break;
        if (item.held.generation !== this.generation) continue; // redelivered by the server
        try {
          // Publish first, then ack: a crash in between duplicates rather than loses it.
          await this.broker.enqueue(rabbitmqUndelay(item.message, this.broker.confirmDelivery).message);
          this._settleNow(item.held, false);
        } catch (error) {
          this.broker.logger.error(`Could not move delayed message ${item.message.messageId} to its queue; retrying.`, error);
          this.delayed.push({ ...item, eta: Date.now() + 1000 });
        }
      }
      if (!this.running) break;
      await this._sleep(Math.max(0, Math.min(next - Date.now(), 1000)), this, "_delayWake");
    }
  }
}
