// Dramatiq's `RabbitmqBroker` over amqplib (Node only: AMQP runs over a raw TCP socket and
// amqplib is built on Node's `net`). Every protocol decision — queue arguments, routing
// keys, bodies, publish properties, ack or reject — is the wasm core's
// (src/brokers/rabbitmq.rs); this file only owns the connection, the channels and the
// retries around them.
import {
  Message,
  canonicalQueueName,
  delayQueueName,
  rabbitmqDeclarations,
  rabbitmqMaxEnqueueAttempts,
  rabbitmqMaxPriority,
  rabbitmqPublish,
} from "../../dist/dramatiq_results.js";
import { QueueJoinTimeout, StubBroker } from "../broker.js";

/** The broker lost its connection or channel and could not get it back (Dramatiq's `ConnectionClosed`). */
export class ConnectionClosed extends Error {}
ConnectionClosed.prototype.name = "ConnectionClosed";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A view of wasm bytes amqplib can send (it wants a Buffer), without a copy. */
function buffer(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isChannelModel(value) {
  return value && typeof value.createChannel === "function" && typeof value.close === "function";
}

/**
 * Dramatiq's `RabbitmqBroker`: messages go to RabbitMQ queues declared exactly as Python
 * declares them, so Python and JS producers and workers share them.
 *
 * `connection` is an amqplib connection (`await amqplib.connect(url)`) or a function that
 * opens one (`() => amqplib.connect(url)`); with a function the broker reconnects by
 * itself after the connection is lost. `RabbitmqBroker.connect(url, options)` does the
 * latter for you. Options: `confirmDelivery` (wait for RabbitMQ to confirm every publish,
 * as Dramatiq's `confirm_delivery`), `maxPriority` (queues get `x-max-priority`; every
 * broker sharing a queue must agree), `deadMessageTtl` (ms dead letters stay on `<q>.XQ`,
 * default 7 days, Python's `dramatiq_dead_message_ttl`), `middleware`, `logger`.
 */
export class RabbitmqBroker extends StubBroker {
  constructor(connection, { confirmDelivery = false, maxPriority, deadMessageTtl, middleware, logger } = {}) {
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
    /** Canonical names of the declared queues. */
    this.queues = new Set();
    this._channel = undefined; // Promise of the publishing channel
    this._declared = new WeakMap(); // channel → Set of canonical queues declared on it
    this._returned = new Set(); // "<routing key> <message id>" of publishes RabbitMQ returned
    this._closed = false;
    this._reconnects = 0;
  }

  /**
   * Connects to `url` (`amqp://user:pass@host:port/vhost`) with amqplib and returns a
   * broker that reconnects to it when the connection is lost. `options` are the
   * constructor's, plus `socketOptions` for amqplib's `connect`.
   */
  static async connect(url, { socketOptions, ...options } = {}) {
    let amqplib;
    try {
      amqplib = await import("amqplib");
    } catch (error) {
      throw new Error("RabbitmqBroker.connect needs the amqplib package: npm install amqplib", { cause: error });
    }
    const connect = amqplib.connect ?? amqplib.default?.connect;
    const broker = new RabbitmqBroker(() => connect(url, socketOptions), options);
    await broker.connection();
    return broker;
  }

  _adopt(connection) {
    this._connection = Promise.resolve(connection);
    const lost = () => {
      if (this._connection === undefined) return;
      // Only forget it if it is still the current one.
      this._connection.then((current) => {
        if (current === connection) this._forget();
      });
    };
    connection.on("close", lost);
    connection.on("error", (error) => {
      if (!this._closed) this.logger.warn(`RabbitMQ connection error: ${error.message}`);
    });
  }

  _forget() {
    this._connection = undefined;
    this._channel = undefined;
  }

  /** The current amqplib connection, opened (or reopened, with back-off) when needed. */
  async connection() {
    if (this._closed) throw new ConnectionClosed("the broker is closed");
    if (this._connection === undefined) {
      if (!this._open) throw new ConnectionClosed("the RabbitMQ connection is closed and the broker was given no way to reopen it");
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
    return this._connection;
  }

  /** The channel publishes and declarations go through (a confirm channel with `confirmDelivery`). */
  async channel() {
    if (this._channel === undefined) {
      const opening = (async () => {
        const conn = await this.connection();
        const ch = this.confirmDelivery ? await conn.createConfirmChannel() : await conn.createChannel();
        this._declared.set(ch, new Set());
        const lost = () => {
          if (this._channel === opening) this._channel = undefined;
        };
        ch.on("close", lost);
        ch.on("error", (error) => {
          lost();
          if (!this._closed) this.logger.warn(`RabbitMQ channel error: ${error.message}`);
        });
        ch.on("return", (returned) => this._onReturn(returned));
        return ch;
      })();
      this._channel = opening;
      opening.catch(() => {
        if (this._channel === opening) this._channel = undefined;
      });
    }
    return this._channel;
  }

  _onReturn({ fields, content }) {
    try {
      const id = Message.decode(content).messageId;
      this._returned.add(`${fields.routingKey} ${id}`);
    } catch {
      // Not one of ours: nothing waits for it.
    }
  }

  /** Declares `name`'s queues locally; they are declared on RabbitMQ before first use. */
  declareQueue(name) {
    const q = canonicalQueueName(name);
    if (this.queues.has(q)) return;
    this.queues.add(q);
    for (const m of this.middleware) m.beforeDeclareQueue?.(this, q);
    for (const m of [...this.middleware].reverse()) m.afterDeclareQueue?.(this, q);
    for (const m of [...this.middleware].reverse()) m.afterDeclareDelayQueue?.(this, delayQueueName(q));
  }

  /** The declared (canonical) queue names. */
  getDeclaredQueues() {
    return new Set(this.queues);
  }

  /** Declares `queue`'s three queues on `ch` (once per channel), with Dramatiq's arguments. */
  async _ensureQueue(ch, queue) {
    const q = canonicalQueueName(queue);
    const done = this._declared.get(ch);
    if (done?.has(q)) return;
    for (const d of rabbitmqDeclarations(q, this.maxPriority, this.deadMessageTtl)) {
      await ch.assertQueue(d.queue, { durable: d.durable, arguments: d.arguments });
    }
    done?.add(q);
  }

  /** Declares `queue`'s three queues on RabbitMQ now (they are otherwise declared on first use). */
  async ensureQueue(queue) {
    this.declareQueue(queue);
    await this._ensureQueue(await this.channel(), queue);
  }

  /**
   * Enqueues `message` (after `delay` ms when given: on `<queue>.DQ` with an `eta`, as
   * Dramatiq does, even for 0) and resolves with the message as sent. With
   * `confirmDelivery` it resolves once RabbitMQ confirmed it; a lost connection is retried
   * (6 attempts in all, as Dramatiq) before `ConnectionClosed`.
   */
  async enqueue(message, { delay } = {}) {
    if (!(message instanceof Message)) throw new TypeError("enqueue needs a Message");
    if (delay !== undefined && delay !== null && (typeof delay !== "number" || !(delay >= 0))) {
      throw new RangeError("delay must be a non-negative number of ms");
    }
    const out = rabbitmqPublish(message, delay ?? undefined, Date.now(), this.confirmDelivery);
    const sent = out.message;
    const body = buffer(out.body);
    const maxAttempts = rabbitmqMaxEnqueueAttempts();
    this.declareQueue(message.queueName);
    for (let attempt = 1; ; attempt++) {
      try {
        const ch = await this.channel();
        await this._ensureQueue(ch, message.queueName);
        await this.emitBefore("enqueue", sent, delay);
        await this._publish(ch, out, body, sent);
        await this.emitAfter("enqueue", sent, delay);
        return sent;
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        this._dropChannel();
        if (attempt >= maxAttempts) throw new ConnectionClosed(`could not enqueue ${sent.messageId}: ${error.message}`, { cause: error });
        this.logger.warn?.(`Retrying enqueue of ${sent.messageId} (${attempt}/${maxAttempts}): ${error.message}`);
        if (attempt > 1) await sleep(Math.min(100 * 2 ** (attempt - 2), 2000));
      }
    }
  }

  _dropChannel() {
    const ch = this._channel;
    this._channel = undefined;
    ch?.then((c) => c.close().catch(() => {})).catch(() => {});
  }

  _publish(ch, out, body, sent) {
    if (!this.confirmDelivery) {
      // amqplib buffers the frame; false only asks the caller to wait for 'drain'.
      if (ch.publish(out.exchange, out.routingKey, body, out.options)) return undefined;
      return new Promise((resolve) => ch.once("drain", resolve));
    }
    const key = `${out.routingKey} ${sent.messageId}`;
    return new Promise((resolve, reject) => {
      ch.publish(out.exchange, out.routingKey, body, out.options, (error) => {
        if (error) return reject(Object.assign(new Error(`RabbitMQ did not confirm ${sent.messageId}`), { cause: error, amqpConnection: true }));
        if (this._returned.delete(key)) {
          // Unroutable: its queue is gone. Declare it again on a fresh channel and retry.
          this._declared.get(ch)?.delete(canonicalQueueName(out.routingKey));
          return reject(Object.assign(new Error(`message ${sent.messageId} was returned as unroutable`), { amqpConnection: true }));
        }
        resolve();
      });
    });
  }

  /** `[messages ready on <q>, on <q>.DQ, on <q>.XQ]` (Dramatiq's `get_queue_message_counts`; for tests). */
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

  /** Drops every message of every declared queue. */
  async flushAll() {
    for (const q of this.queues) await this.flush(q);
  }

  /**
   * Resolves once `queue` and its delay queue have been seen empty `minSuccesses` times
   * in a row, `idleTime` ms apart (Dramatiq's `join`: unacked messages are not counted,
   * so it is for tests). Rejects with `QueueJoinTimeout` after `timeout` ms.
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

  /** Closes the channels and the connection; the broker cannot be used afterwards. */
  async close() {
    this._closed = true;
    const conn = this._connection;
    this._forget();
    if (conn) {
      try {
        await (await conn).close();
      } catch {
        // Already closed or never opened.
      }
    }
  }

  // The in-memory queues of StubBroker are not this broker's.
  _take() {
    throw new TypeError("RabbitmqBroker has no in-memory queues");
  }
}

/** Whether `error` is a lost connection or channel (worth a retry on a fresh channel). */
function isConnectionError(error) {
  if (!error || typeof error !== "object") return false;
  if (error.amqpConnection) return true;
  if (error instanceof ConnectionClosed) return false;
  // A declaration RabbitMQ refused (406 PRECONDITION_FAILED): retrying cannot help.
  if (error.code === 406) return false;
  const text = `${error.name} ${error.message} ${error.code ?? ""}`;
  return /Channel closed|Connection closed|ECONNREFUSED|ECONNRESET|EPIPE|IllegalOperationError|Channel ended|CONNECTION_FORCED|socket/i.test(text);
}
