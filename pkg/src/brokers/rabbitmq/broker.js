// Dramatiq's `RabbitmqBroker` over amqplib (Node only: AMQP runs over a raw TCP socket and
// amqplib is built on Node's `net`). Every protocol decision — queue arguments, routing
// keys, bodies, publish properties, prefetch, ack or reject, the reconnect back-off — is
// the wasm core's (src/brokers/rabbitmq.rs); this file owns the connection, the publishing
// channel and the retries around it; the worker's side is consumer.js.
import {
  Message,
  RedisTransport,
  canonicalQueueName,
  rabbitmqDeclarations,
  rabbitmqMaxDeclareAttempts,
  rabbitmqMaxEnqueueAttempts,
  rabbitmqOwnChannel,
  rabbitmqRefusedSize,
  rabbitmqMaxPriority,
  rabbitmqPublish,
  rabbitmqReconnectBackoff,
  rabbitmqRevive,
  rabbitmqUrls,
} from "../../../dist/dramatiq_results.js";
import { ConnectionClosed, QueueJoinTimeout } from "../../errors.js";
import { messageOf } from "../../internal/describe.js";
import { checkOptions } from "../../internal/options.js";
import {
  kAfterEnqueue,
  kAmqpCore,
  kConsume,
  kEnsureQueue,
  kFinish,
  kHeld,
  kNewChannel,
  kProbe,
  kPrepare,
  kPreparedMessage,
  kWrite,
  kWritesSettled,
} from "../../internal/symbols.js";
import { NetworkBroker, canonical, checkDelay, emitBeforeEnqueue } from "../broker.js";
import { buffer, isChannelModel, isConnectionError, loadAmqplib, sleep } from "./amqp.js";
import { RabbitmqConsumer } from "./consumer.js";

/** The servers `connect(url)` tries, in order: a list as given, a string split on `;` (by
 * the core, as Dramatiq splits its `url`); anything else (amqplib's URL object) as is. */
function connectionUrls(url) {
  let urls;
  if (typeof url === "string") urls = rabbitmqUrls(url);
  else if (Array.isArray(url)) urls = [...url];
  else return [url];
  if (urls.length === 0) throw new TypeError("RabbitmqBroker.connect needs at least one URL");
  for (const u of urls) {
    if (typeof u !== "string" || u === "") throw new TypeError("RabbitmqBroker.connect: every URL in the list must be a non-empty string");
  }
  return urls;
}

let maxEnqueueAttempts;
let maxDeclareAttempts;
let ownChannel; // [bytes, concurrency], from the core on first use

/**
 * Dramatiq's `RabbitmqBroker`: messages go to RabbitMQ queues declared exactly as Python
 * declares them, so Python and JS producers and workers share them.
 *
 * `connection` is an amqplib connection (`await amqplib.connect(url)`) or a function that
 * opens one (`() => amqplib.connect(url)`); with a function the broker (and its workers)
 * reconnect by themselves after the connection is lost, and workers consume on a connection
 * of their own (RabbitMQ blocks a connection that publishes during a memory or disk alarm,
 * acks and all; Python's consumers never publish either). `RabbitmqBroker.connect(url,
 * options)` does the latter for you. Options: `confirmDelivery` (wait for RabbitMQ to
 * confirm every publish, as Dramatiq's `confirm_delivery`), `maxPriority` (queues get
 * `x-max-priority`; every broker sharing a queue must agree), `deadMessageTtl` (ms dead
 * letters stay on `<q>.XQ`; default 7 days, Python's `dramatiq_dead_message_ttl`),
 * `middleware`, `logger`, and the bounds `RedisBroker` has: `prefetchBytes` (64 MiB; the
 * most bytes of messages a worker holds per queue) and `maxMessageBytes` (64 MiB; a larger
 * send is refused before anything is published, a larger delivery dead-lettered unread).
 *
 * Sending: `actor.send()` (and pipelines, groups) return the `Message` at once and
 * `message.enqueued` says how the publish went (as on `RedisBroker`); `await
 * broker.enqueue(message, { delay })` is the same publish as one Promise.
 */
export class RabbitmqBroker extends NetworkBroker {
  /** The core's RabbitMQ decisions the gateway's `--amqp` reads and writes queues with
   * (the gateway ships outside the bundle; see internal/symbols.js). */
  static [kAmqpCore] = Object.freeze({ declarations: rabbitmqDeclarations, revive: rabbitmqRevive });
  #open; // the function reopening the connection, or undefined
  #connection = undefined; // Promise of the current connection
  #channel = undefined; // Promise of the publishing channel
  #ownChannels = { busy: 0, waiting: [] }; // publishes on channels of their own
  #refusedOver; // { size, reason }: RabbitMQ refused a publish over its max_message_size
  #declared = new WeakMap(); // channel → Map of canonical queue → its declaration (a Promise)
  #declaring = new WeakMap(); // channel → Set of its declarations still under way
  // Canonical queues this broker declared on RabbitMQ (Dramatiq's queues not in
  // `queues_pending`): a send declares the others first, with MAX_DECLARE_ATTEMPTS.
  #ensured = new Set();
  #consuming = undefined; // Promise of the connection workers consume on (see #consumerConnection)
  #returned = new Set(); // "<routing key> <message id>" of publishes RabbitMQ returned
  #draining = new WeakMap(); // channel → Promise of its next 'drain'
  #closed = false;

  constructor(connection, options) {
    const { confirmDelivery = false, maxPriority, deadMessageTtl, middleware, logger, prefetchBytes, maxMessageBytes } =
      checkOptions(
        "new RabbitmqBroker()",
        options,
        // The core checks maxPriority. deadMessageTtl is checked here: the core takes a
        // number, and JS would hand it `true` as 1 (dead letters kept 1 ms) or "5" as 5.
        // 0 is Python's too (`dramatiq_dead_message_ttl=0`: dead letters expire at once).
        {
          confirmDelivery: "boolean",
          maxPriority: "any",
          deadMessageTtl: "natural?",
          middleware: "any",
          logger: "any",
          prefetchBytes: "count",
          maxMessageBytes: "count",
        },
      );
    super({ middleware, logger });
    if (isChannelModel(connection)) {
      this.#adopt(connection);
    } else if (typeof connection === "function") {
      this.#open = connection;
    } else {
      throw new TypeError("RabbitmqBroker needs an amqplib connection or a function that opens one");
    }
    /** Whether every publish waits for RabbitMQ's confirm (Dramatiq's `confirm_delivery`). */
    this.confirmDelivery = Boolean(confirmDelivery);
    /** `x-max-priority` of the queues, or undefined. */
    this.maxPriority = rabbitmqMaxPriority(maxPriority);
    /** How long dead letters stay on `<q>.XQ`, in ms (undefined: Dramatiq's 7 days). A null
     * option is no option: undefined here, as declared, not null. */
    this.deadMessageTtl = deadMessageTtl ?? undefined;
    // The core keeps one default for both brokers' bounds (RedisTransport has them).
    /** The most bytes of messages a worker holds per queue (delivered, not yet acked or
     * rejected), besides Dramatiq's prefetch count. */
    this.prefetchBytes = prefetchBytes ?? RedisTransport.prefetchBytes();
    /** The largest message sent or taken: a larger send is refused before anything is
     * published, a larger delivery is dead-lettered with the reason, never decoded. */
    this.maxMessageBytes = maxMessageBytes ?? RedisTransport.maxMessageBytes();
    // Checked once here, so a bad value fails at construction rather than on first use.
    rabbitmqDeclarations("default", this.maxPriority, deadMessageTtl);
  }

  /**
   * Connects to `url` (`amqp://user:pass@host:port/vhost`) with amqplib and returns a
   * broker that reconnects to it when the connection is lost. As Dramatiq's `url`, several
   * servers may be named, as a list or one string separated by `;`: every (re)connection
   * tries them in order and takes the first that answers (the last one's error when none
   * does). `options` are the constructor's, plus `socketOptions` for amqplib's `connect`
   * (`noDelay` defaults to true here, as pika sets `TCP_NODELAY`).
   */
  static async connect(url, { socketOptions, ...options } = {}) {
    const { connect } = loadAmqplib();
    const urls = connectionUrls(url);
    // TCP_NODELAY as pika sets it: without it a publish can wait ~40 ms for delayed ACKs.
    const sockets = { noDelay: true, ...socketOptions };
    const open = async () => {
      let last;
      for (const u of urls) {
        try {
          return await connect(u, sockets);
        } catch (error) {
          last = error;
        }
      }
      throw last;
    };
    const broker = new RabbitmqBroker(open, options);
    await broker.connection();
    return broker;
  }

  #adopt(connection) {
    const current = Promise.resolve(connection);
    this.#connection = current;
    connection.on("close", () => {
      if (this.#connection === current) this.#forget();
    });
    connection.on("error", (error) => {
      if (!this.#closed) this.logger.warn(`RabbitMQ connection error: ${messageOf(error)}`);
    });
    this.#sayBlocked(connection, "");
  }

  /** Logs RabbitMQ's connection.blocked (a memory or disk alarm: publishes wait, and a send
   * awaiting its publish or confirm waits with them, as Python's does) and its end. */
  #sayBlocked(connection, which) {
    connection.on("blocked", (reason) => {
      this.logger.warn(`RabbitMQ blocked the connection${which} (${reason}): publishes wait until it is unblocked.`);
    });
    connection.on("unblocked", () => this.logger.warn(`RabbitMQ unblocked the connection${which}.`));
  }

  #forget() {
    this.#connection = undefined;
    this.#channel = undefined;
  }

  /** The current amqplib connection, opened again when it was lost (and the broker can). */
  async connection() {
    if (this.#closed) throw new ConnectionClosed("the broker is closed");
    if (this.#connection !== undefined) return this.#connection;
    if (!this.#open) {
      throw new ConnectionClosed("the RabbitMQ connection is closed and the broker was given no way to reopen it");
    }
    const opening = (async () => {
      const conn = await this.#open();
      if (!isChannelModel(conn)) throw new TypeError("the connection function must resolve to an amqplib connection");
      return conn;
    })();
    this.#connection = opening;
    try {
      const conn = await opening;
      if (this.#connection === opening) this.#adopt(conn);
      if (this.#closed) await conn.close().catch(() => {});
      return conn;
    } catch (error) {
      if (this.#connection === opening) this.#connection = undefined;
      throw error;
    }
  }

  /**
   * The connection workers consume on: one of its own when the broker can open one, as
   * each of Python's consumers has. RabbitMQ blocks a connection that publishes during a
   * resource alarm (`connection.blocked`) and then reads nothing more from it, acks
   * included; a worker acking on the connection its retries and delayed messages are
   * published on stopped dead at its first publish in an alarm, where Python's worker goes
   * on acking (and so draining the queues the alarm is about). Over a connection given
   * as an object (no way to open another), the workers share it.
   */
  #consumerConnection() {
    if (!this.#open) return this.connection();
    if (this.#closed) return Promise.reject(new ConnectionClosed("the broker is closed"));
    if (this.#consuming === undefined) {
      const opening = (async () => {
        const conn = await this.#open();
        if (!isChannelModel(conn)) throw new TypeError("the connection function must resolve to an amqplib connection");
        conn.on("close", () => {
          if (this.#consuming === opening) this.#consuming = undefined;
        });
        conn.on("error", (error) => {
          if (!this.#closed) this.logger.warn(`RabbitMQ connection error (consumers): ${messageOf(error)}`);
        });
        this.#sayBlocked(conn, " the workers consume on");
        if (this.#closed) await conn.close().catch(() => {});
        return conn;
      })();
      this.#consuming = opening;
      opening.catch(() => {
        if (this.#consuming === opening) this.#consuming = undefined;
      });
    }
    return this.#consuming;
  }

  /**
   * A new channel on the current connection (with `consume`, on the consumers' connection);
   * `declared` tracks the queues declared on it.
   */
  async [kNewChannel]({ confirm = false, consume = false } = {}) {
    const conn = await (consume ? this.#consumerConnection() : this.connection());
    const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
    this.#declared.set(ch, new Map());
    // amqplib emits 'error' before 'close' when the server closes a channel; a listener
    // keeps it from being an uncaught exception (the operation that caused it rejects).
    ch.on("error", () => {});
    return ch;
  }

  /** Opens and closes a channel, so a worker can refuse to start without the server. */
  async [kProbe]() {
    const ch = await this[kNewChannel]();
    await ch.close().catch(() => {});
  }

  /** The channel publishes and declarations go through (a confirm channel with `confirmDelivery`). */
  channel() {
    if (this.#channel === undefined) {
      const opening = this[kNewChannel]({ confirm: this.confirmDelivery }).then((ch) => {
        ch.on("close", () => {
          if (this.#channel === opening) this.#channel = undefined;
        });
        ch.on("return", (returned) => this.#onReturn(returned));
        ch.on("error", (error) => this.#learn(error));
        return ch;
      });
      this.#channel = opening;
      opening.catch(() => {
        if (this.#channel === opening) this.#channel = undefined;
      });
    }
    return this.#channel;
  }

  #dropChannel(ch) {
    if (this.#channel === undefined) return;
    const current = this.#channel;
    current
      .then((c) => {
        if (ch !== undefined && c !== ch) return;
        if (this.#channel === current) this.#channel = undefined;
        c.close().catch(() => {});
      })
      .catch(() => {});
  }

  #onReturn(returned) {
    try {
      const { fields, content } = returned;
      this.#returned.add(`${fields.routingKey} ${Message.decode(content).messageId}`);
    } catch {
      // Not one of ours: nothing waits for it.
    }
  }

  /**
   * Declares `queue`'s three queues on `ch` (once per channel), with Dramatiq's arguments.
   * Callers arriving while the declaration is under way wait for that same one, so the
   * publishes after it go out in the order they were asked for.
   */
  [kEnsureQueue](ch, queue) {
    const q = canonical(queue);
    let declared = this.#declared.get(ch);
    if (declared === undefined) {
      declared = new Map();
      this.#declared.set(ch, declared);
    }
    let pending = declared.get(q);
    if (pending === undefined) {
      pending = (async () => {
        for (const d of rabbitmqDeclarations(q, this.maxPriority, this.deadMessageTtl)) {
          try {
            await ch.assertQueue(d.queue, { durable: d.durable, arguments: d.arguments });
          } catch (error) {
            // A lost channel is retried on a fresh one; a refusal (406 PRECONDITION_FAILED:
            // the queue exists with other arguments; 403, 405) would be refused again, and
            // is raised as Python's declare raises it, ConnectionClosed with the server's words.
            if (isConnectionError(error)) throw error;
            throw new ConnectionClosed(`could not declare queue ${d.queue}: ${messageOf(error)}`, { cause: error });
          }
        }
      })();
      declared.set(q, pending);
      let declaring = this.#declaring.get(ch);
      if (declaring === undefined) this.#declaring.set(ch, (declaring = new Set()));
      declaring.add(pending);
      const settled = () => declaring.delete(pending);
      pending.then(settled, () => {
        settled();
        if (declared.get(q) === pending) declared.delete(q);
      });
    }
    return pending;
  }

  /**
   * Resolves once no declaration is under way on `ch`. A declaration RabbitMQ refuses
   * closes its channel, and the server drops every frame sent on it after the refused
   * one: a publish written there behind another queue's declaration was lost while its
   * send resolved (unconfirmed), or failed and was sent again (confirmed). Waiting puts
   * it after the outcome: on the channel still open, or, when it closed, on a new one.
   */
  async #declarationsSettled(ch) {
    const declaring = this.#declaring.get(ch);
    while (declaring !== undefined && declaring.size > 0) await Promise.allSettled([...declaring]);
  }

  /** Declares `queue`'s three queues on RabbitMQ now (otherwise they are declared on first use). */
  async ensureQueue(queue) {
    this.declareQueue(queue);
    await this.#ensure(canonical(queue));
  }

  /**
   * Dramatiq's `_ensure_queue`: declares canonical `q`'s three queues on the publishing
   * channel, trying again at once on a new connection after a lost one, and failing with
   * `ConnectionClosed` after MAX_DECLARE_ATTEMPTS (2), as Python's does before a send's
   * first publish: a server that cannot be reached fails a send to a new queue after two
   * connection attempts, not the six of a publish.
   */
  async #ensure(q) {
    for (let attempt = 1; ; attempt++) {
      let ch;
      try {
        ch = await this.channel();
        await this[kEnsureQueue](ch, q);
        this.#ensured.add(q);
        return;
      } catch (error) {
        if (this.#closed) throw new ConnectionClosed("the broker is closed", { cause: error });
        if (!isConnectionError(error)) throw error;
        this.#dropChannel(ch);
        const maxAttempts = (maxDeclareAttempts ??= rabbitmqMaxDeclareAttempts());
        if (attempt >= maxAttempts) {
          throw new ConnectionClosed(`could not declare queue ${q}: ${messageOf(error)}`, { cause: error });
        }
        this.logger.warn(`Retrying declare of queue ${q} (${attempt}/${maxAttempts}): ${messageOf(error)}`);
      }
    }
  }

  /** The publish for `message` (delay applied), `beforeEnqueue` hooks run. */
  [kPrepare](message, delay) {
    if (!(message instanceof Message)) throw new TypeError("enqueue needs a Message");
    delay = checkDelay(delay);
    const out = rabbitmqPublish(message, delay, Date.now(), this.confirmDelivery);
    emitBeforeEnqueue(this, out.message, delay);
    return out;
  }

  /**
   * Publishes (on `<queue>.DQ` with an `eta` after a delay, as Dramatiq does, even for 0);
   * with `confirmDelivery`, settles once RabbitMQ confirmed it. A queue this broker has not
   * declared yet is declared first (`#ensure`: 2 attempts, as Dramatiq's). A lost
   * connection or channel is retried (6 attempts in all, as Dramatiq) before
   * `ConnectionClosed`.
   */
  async [kWrite](out, delay) {
    const sent = out.message;
    const body = buffer(out.body);
    const queueName = sent.queueName;
    const q = canonical(queueName);
    this.declareQueue(queueName);
    for (let attempt = 1; ; attempt++) {
      // Outside the retries, as Python's declare_queue(ensure=True) raises its
      // ConnectionClosed past the enqueue loop.
      if (!this.#ensured.has(q)) await this.#ensure(q);
      let ch;
      try {
        ch = await this.channel();
        await this[kEnsureQueue](ch, queueName);
        // (Checked again after each wait: another declaration may have begun meanwhile.)
        while (this.#declaring.get(ch)?.size > 0) await this.#declarationsSettled(ch);
        await this.#publish(ch, out, body, sent);
        break;
      } catch (error) {
        if (this.#closed) throw new ConnectionClosed("the broker is closed", { cause: error });
        if (!isConnectionError(error)) throw error;
        // A nack or a return leaves the channel open, with other publishes in flight on it:
        // closing it would fail (and resend) those too.
        if (!error.channelOpen) this.#dropChannel(ch);
        const maxAttempts = (maxEnqueueAttempts ??= rabbitmqMaxEnqueueAttempts());
        if (attempt >= maxAttempts) {
          throw new ConnectionClosed(`could not enqueue message ${sent.messageId}: ${messageOf(error)}`, { cause: error });
        }
        this.logger.warn(`Retrying enqueue of message ${sent.messageId} (${attempt}/${maxAttempts}): ${messageOf(error)}`);
        await sleep(rabbitmqReconnectBackoff(attempt - 1)[1]);
      }
    }
    this[kAfterEnqueue](sent, delay);
    return sent;
  }

  /** One Promise per channel for every publish waiting on its 'drain' (or its end). */
  #drained(ch) {
    let waiting = this.#draining.get(ch);
    if (waiting === undefined) {
      waiting = new Promise((resolve) => {
        const done = () => {
          ch.off("drain", done);
          ch.off("close", done);
          this.#draining.delete(ch);
          resolve();
        };
        ch.on("drain", done);
        ch.on("close", done);
      });
      this.#draining.set(ch, waiting);
    }
    return waiting;
  }

  /** Remembers the `max_message_size` a refusal named, so later publishes over it fail at
   * once, with the server's own words, instead of closing a channel each. */
  #learn(error) {
    let text;
    try {
      text = String(error?.message ?? "");
    } catch {
      return undefined;
    }
    const size = rabbitmqRefusedSize(text);
    if (size !== undefined) this.#refusedOver = { size, reason: text };
    return size;
  }

  /** The error of a publish RabbitMQ refused (or would, by a refusal already seen): never
   * retried, since the same bytes would be refused again. */
  #refusal(sent, bytes, reason, cause) {
    const error = new Error(`RabbitMQ refused message ${sent.messageId} (${bytes} bytes): ${reason}`, { cause });
    error.code = "MESSAGE_REFUSED";
    error.refused = true;
    return error;
  }

  #publish(ch, out, body, sent) {
    if (body.length > this.maxMessageBytes) {
      // Refused here, as RedisBroker does: a worker would dead-letter it unread anyway.
      const error = new Error(
        `message ${sent.messageId} is ${body.length} bytes, over maxMessageBytes (${this.maxMessageBytes} bytes); nothing was published`,
      );
      error.code = "MESSAGE_REFUSED";
      error.refused = true;
      return Promise.reject(error);
    }
    const known = this.#refusedOver;
    if (known !== undefined && body.length > known.size) {
      return Promise.reject(this.#refusal(sent, body.length, known.reason));
    }
    const [ownBytes] = (ownChannel ??= rabbitmqOwnChannel());
    if (body.length >= ownBytes) return this.#publishAlone(ch, out, body, sent);
    if (!this.confirmDelivery) {
      // amqplib buffers the frame; false only asks the caller to wait for 'drain' (or the
      // channel's end: the frame was handed over, and unconfirmed publishing promises no more).
      if (ch.publish(out.exchange, out.routingKey, body, out.options)) return undefined;
      return this.#drained(ch);
    }
    return new Promise((resolve, reject) => {
      ch.publish(out.exchange, out.routingKey, body, out.options, (error) => {
        // RabbitMQ sends a basic.return before the confirm of the same publish.
        if (this.#returned.size > 0 && this.#returned.delete(`${out.routingKey} ${sent.messageId}`)) {
          // Unroutable: its queue is gone. Declare it again and retry (Dramatiq does too).
          this.#undeclared(ch, out.routingKey);
          return reject(this.#unroutable(sent));
        }
        if (error) return reject(this.#unconfirmed(sent, error));
        resolve();
      });
    });
  }

  /** `queue` was found gone (a publish returned): the next attempt declares it again, as
   * Python puts it back in `queues_pending`. */
  #undeclared(ch, queue) {
    const q = canonical(queue);
    this.#declared.get(ch)?.delete(q);
    this.#ensured.delete(q);
  }

  #unroutable(sent) {
    const error = new Error(`message ${sent.messageId} was returned as unroutable (its queue is gone)`);
    return Object.assign(error, { amqpRetry: true, channelOpen: true });
  }

  /** The error of a publish RabbitMQ did not confirm: nacked (amqplib's words for a
   * basic.nack; the channel stays open), or of unknown outcome because the channel closed
   * first. Both are retried (as Python retries its NackError). */
  #unconfirmed(sent, error) {
    if (error?.message === "message nacked") {
      const nacked = new Error(
        `RabbitMQ nacked message ${sent.messageId}: it did not take it (a queue at its length limit with overflow reject-publish, or a failure of its own)`,
        { cause: error },
      );
      return Object.assign(nacked, { amqpRetry: true, channelOpen: true });
    }
    const lost = new Error(`RabbitMQ did not confirm message ${sent.messageId}: ${messageOf(error)}`, { cause: error });
    return Object.assign(lost, { amqpRetry: true });
  }

  /**
   * A large publish on a confirm channel of its own (confirmed whether or not the broker
   * confirms deliveries): RabbitMQ closes the channel of a publish over its
   * `max_message_size`, and on the shared channel that would leave every other publish in
   * flight of unknown outcome (retried, so possibly doubled). Alone, a refusal fails this
   * publish only, with the server's reason.
   */
  async #publishAlone(shared, out, body, sent) {
    const slots = this.#ownChannels;
    const [, concurrency] = (ownChannel ??= rabbitmqOwnChannel());
    if (slots.busy >= concurrency) await new Promise((resolve) => slots.waiting.push(resolve));
    else slots.busy += 1;
    let ch;
    try {
      ch = await (await this.connection()).createConfirmChannel();
      let closedBy;
      ch.on("error", (error) => {
        closedBy = error;
        this.#learn(error);
      });
      ch.on("return", (returned) => this.#onReturn(returned));
      await new Promise((resolve, reject) => {
        ch.publish(out.exchange, out.routingKey, body, out.options, async (error) => {
          if (this.#returned.size > 0 && this.#returned.delete(`${out.routingKey} ${sent.messageId}`)) {
            // Its declarations are stale: the next attempt declares the queue again.
            this.#undeclared(shared, out.routingKey);
            return reject(this.#unroutable(sent));
          }
          if (!error) return resolve();
          if (error.message === "message nacked") return reject(this.#unconfirmed(sent, error));
          // The server's reason arrives as the channel's 'error', around the same time.
          if (closedBy === undefined) await new Promise((r) => setTimeout(r, 20));
          if (closedBy?.code === 406) return reject(this.#refusal(sent, body.length, closedBy.message, closedBy));
          reject(this.#unconfirmed(sent, closedBy ?? error));
        });
      });
    } finally {
      ch?.close().catch(() => {});
      const next = slots.waiting.shift();
      if (next) next();
      else slots.busy -= 1;
    }
  }

  /** The message a prepared publish carries. */
  [kPreparedMessage](out) {
    return out.message;
  }

  /** `[messages ready on <q>, on <q>.DQ, on <q>.XQ]` (Dramatiq's `get_queue_message_counts`; unacked ones are not counted). */
  async getQueueMessageCounts(queue) {
    // On a channel of its own: a refused declaration closes its channel, and on the
    // publishing one it would drop the publishes sent behind it.
    const ch = await this[kNewChannel]();
    try {
      const counts = [];
      for (const d of rabbitmqDeclarations(canonicalQueueName(queue), this.maxPriority, this.deadMessageTtl)) {
        let ok;
        try {
          ok = await ch.assertQueue(d.queue, { durable: d.durable, arguments: d.arguments });
        } catch (error) {
          if (isConnectionError(error)) throw error;
          throw new ConnectionClosed(`could not declare queue ${d.queue}: ${error?.message}`, { cause: error });
        }
        counts.push(ok.messageCount);
      }
      return counts;
    } finally {
      ch.close().catch(() => {});
    }
  }

  /**
   * Drops every message of `queue`, its delay queue and its dead letters. Purged by name,
   * as Python's `flush`: nothing is declared, so a queue declared with other arguments
   * (another `maxPriority`) is emptied all the same, and one that does not exist is skipped
   * (RabbitMQ's 404 closes the channel: the next purge goes on a new one, as Python's does).
   */
  async flush(queue) {
    const q = canonicalQueueName(queue);
    let ch;
    try {
      for (const d of rabbitmqDeclarations(q, this.maxPriority, this.deadMessageTtl)) {
        ch ??= await this[kNewChannel]();
        try {
          await ch.purgeQueue(d.queue);
        } catch (error) {
          // A refusal of the server (a number: 404 NOT_FOUND, 403, 405) closed the channel;
          // a lost connection is not for us to hide.
          if (typeof error?.code !== "number") throw error;
          ch = undefined;
        }
      }
    } finally {
      ch?.close().catch(() => {});
    }
  }

  /** Flushes every declared queue. */
  async flushAll() {
    for (const q of this.getDeclaredQueues()) await this.flush(q);
  }

  /**
   * Resolves once `queue` and its delay queue were seen empty `minSuccesses` times in a
   * row, `idleTime` ms apart (Dramatiq's `join`: unacked messages are not counted, so it
   * is for tests). Rejects with `QueueJoinTimeout` after `timeout` ms.
   */
  async join(queue, options) {
    const { timeout, minSuccesses = 10, idleTime = 100 } = checkOptions("RabbitmqBroker.join()", options, {
      timeout: "ms?",
      minSuccesses: "count",
      idleTime: "ms",
    });
    const deadline = timeout == null ? Infinity : Date.now() + timeout;
    let successes = 0;
    while (successes < minSuccesses) {
      // Python's `QueueJoinTimeout(queue_name)`: the name, as given, is the message.
      if (Date.now() >= deadline) throw new QueueJoinTimeout(String(queue));
      const [ready, delayed] = await this.getQueueMessageCounts(queue);
      successes = ready + delayed === 0 ? successes + 1 : 0;
      await sleep(idleTime);
    }
  }

  /**
   * Closes the connection (and with it every channel); the broker cannot be used afterwards.
   * Publishes under way (a `send()` not awaited) finish first, and every message sent
   * before is on RabbitMQ by then, confirms or not.
   */
  async close() {
    if (!this.#closed) await this[kWritesSettled]();
    this.#closed = true;
    const conn = this.#connection;
    const consuming = this.#consuming;
    const publishing = this.#channel;
    this.#forget();
    this.#consuming = undefined;
    // amqplib puts a connection's Close on the wire ahead of publishes still buffered on a
    // channel, and RabbitMQ drops those (an enqueue-then-close script lost every message).
    // The publish channel's own Close goes after its publishes, and its CloseOk says the
    // server has them, as pika's blocking publish does for Python's broker.close().
    if (publishing) {
      try {
        await (await publishing).close();
      } catch {
        // Already closed with its connection, or never opened.
      }
    }
    for (const c of [consuming, conn]) {
      if (!c) continue;
      try {
        await (await c).close();
      } catch {
        // Already closed, or never opened.
      }
    }
  }

  // --- for workers -------------------------------------------------------------------

  /** A consumer for `worker` (see `Worker`). */
  [kConsume](worker, options) {
    return new RabbitmqConsumer(this, worker, options);
  }

  /** Acks a processed message, or rejects it (dead-letters it to `<q>.XQ`) when it failed. */
  [kFinish](queueName, deadLetter, proxy) {
    // Synchronous (the ack is a frame amqplib queues): nothing for the worker to await.
    const held = proxy?.[kHeld];
    // The proxy, not its id: the id is read only for a warning, and an actor may have freed
    // or replaced its message (reading it first threw, and the delivery was never settled).
    held?.consumer.settle(held, Boolean(deadLetter), proxy);
  }
}
