// The worker's side of a `RabbitmqBroker`: a channel per queue and delay queue (on the
// broker's consumer connection), each with its reconnect loop, the runners and the
// delayed-message mover. What to ack or reject, and the prefetch count, are the core's;
// the bytes held per queue are bounded here.
import {
  Message,
  delayQueueName,
  handleEta,
  rabbitmqPrefetch,
  rabbitmqReconnectBackoff,
  rabbitmqSettle,
  rabbitmqUndelay,
} from "../../../dist/dramatiq_results.js";
import { messageOf } from "../../internal/describe.js";
import { kEnsureQueue, kHandle, kHeld, kNewChannel, kProcess, kReleased } from "../../internal/symbols.js";
import { Consumer, loggedId, release, settledBy, stopTimedOut, takeDue } from "../../worker/consumer.js";
import { WorkerMessage } from "../../worker/message.js";

/**
 * The worker's side of a `RabbitmqBroker`: a channel per queue and delay queue with
 * Dramatiq's prefetch, `concurrency` runners, a loop moving due delayed messages to their
 * queue, and a reconnect loop per channel (as Python's consumer thread per queue: one
 * queue's trouble leaves the others alone). Unacked deliveries return to their queue when
 * a channel closes (stop, crash or lost connection): RabbitMQ redelivers them, so nothing
 * is lost.
 *
 * Bytes held. Dramatiq's prefetch bounds deliveries in count only (2 × concurrency, and
 * 1 000 × concurrency on a delay queue): with big messages that is gigabytes, decoded into
 * wasm memory, which never shrinks. RabbitMQ cannot bound a consumer in bytes (it refuses
 * `prefetch_size`), and changing the prefetch of a running consumer only works with global
 * QoS, which RabbitMQ 4.3 refuses. So each queue's consumer is given a window (its
 * prefetch) of what the bytes left under `prefetchBytes` hold at the size of the largest
 * recent delivery, and is replaced (cancel, consume again) when the window must shrink, or
 * could double: the server never has more in flight to us than that window. A queue starts
 * with a window of 1 until it has seen a delivery, so its first burst cannot be big; a
 * queue whose messages suddenly grow can bring in, before its consumer is cancelled, what
 * the old window allowed.
 *
 * A delivery is decoded on arrival (its actor's priority orders the ready ones; a delayed
 * one needs its eta). A delayed message held is then only its delivery's Buffer: its
 * decoded `Message` is freed once the `beforeDelayMessage` hooks are done with it, and it
 * is decoded again when due. Its bytes are in amqplib's Buffer anyway, outside wasm and
 * given back when collected; the decoded copy would be a second one, in wasm, which never
 * shrinks (47 delayed messages of 1.4 MB held: 67 MB of linear memory kept decoded, 5 MB
 * this way; bench/notes.md). Ready messages stay decoded: they are few (Dramatiq's 2 ×
 * concurrency), soon run, and a second decode costs about 5 ms per MB (the same 6.4 MB of
 * linear memory either way for 1 000 messages of 1 MB).
 */
export class RabbitmqConsumer extends Consumer {
  #done;

  constructor(broker, worker, options) {
    super(broker, worker, options);
    this.prefetch = rabbitmqPrefetch(this.concurrency, this.configuredPrefetch.queue, this.configuredPrefetch.delayQueue);
    /** The live channel of each queue and delay queue consumed, by name (see #queue). */
    this.queues = new Map();
    this.wakers = new Set(); // wakes the queue loops' reconnect back-offs (stop)
  }

  run() {
    this.running = true;
    this.warnIfIdle(this.names.length);
    const loops = this.names.flatMap((name) => [
      this.#queueLoop(name, this.prefetch.queue),
      this.#queueLoop(delayQueueName(name), this.prefetch.delayQueue),
    ]);
    this.#done = Promise.all([...loops, ...this.runners(), this.#delayLoop()]);
    return this.#done;
  }

  async stop({ deadline = Infinity, timeout } = {}) {
    if (!this.running) return;
    this.running = false;
    // Each wait on the server is bounded by the stop's deadline: on a connection gone
    // silent (a partition: no reply, no reset) a cancel or close would wait for amqplib's
    // heartbeat to notice, far past the timeout the caller gave.
    for (const q of this.queues.values()) {
      const tag = q.consumer?.tag;
      if (tag) await settledBy(q.ch.cancel(tag).catch(() => {}), deadline);
    }
    for (const q of this.queues.values()) q.lost();
    for (const wake of [...this.wakers]) wake();
    this.wakeRunners();
    this.delayWake?.();
    // Deliveries held but not started go back to their queue now (requeued, not
    // dead-lettered), so other workers take them while the runners finish theirs.
    const ready = this.ready.splice(0);
    for (const { held } of [...ready, ...this.delayed.splice(0)]) {
      try {
        held.ch.nack(held.delivery, false, true);
      } catch {
        // Its channel is gone, and RabbitMQ has requeued it already.
      }
      this.#drop(held);
    }
    // (A delayed item's message is freed once its hooks are done; see #deliver.)
    for (const { message } of ready) release(message);
    if (!(await settledBy(this.#done, deadline))) {
      this.broker.logger.warn(stopTimedOut(this.busy, timeout, "RabbitMQ delivers them again once their channel closes"));
    }
    // What is still held goes back to its queue when its channel closes.
    for (const { message } of this.ready.splice(0)) release(message);
    this.delayed.length = 0;
    const queues = [...this.queues.values()];
    this.queues.clear();
    // (A second past the deadline at most: what a close does not give back, RabbitMQ
    // gives back once it sees the connection gone.)
    const closing = Promise.all(queues.map((q) => q.ch.close().catch(() => {})));
    await settledBy(closing, Math.max(deadline, Date.now() + 1000));
  }

  /**
   * Consumes `queue`; after its channel or the connection is lost (or the server cancelled
   * its consumer), backs off and consumes it again. One loop per queue and delay queue, as
   * Python runs a consumer thread per queue: a queue that cannot be consumed (declared
   * with other arguments: 406) or whose consumer the server cancelled (it was deleted)
   * leaves the other queues' channels, and the deliveries running on them, alone.
   */
  async #queueLoop(queue, prefetch) {
    const logger = this.broker.logger;
    let attempts = 0;
    while (this.running) {
      let q;
      try {
        q = await this.#open(queue, prefetch);
        // stop() came while the channel was opening (#open refuses after it, but be sure):
        // stop() closes the channels once this loop is done.
        if (!this.running) break;
        if (attempts > 0) logger.warn(`Consuming from RabbitMQ again (queue ${queue}).`);
        attempts = 0;
        await q.closed;
      } catch (error) {
        if (!this.running) break;
        if (attempts === 0) logger.error(`Could not consume queue ${queue} from RabbitMQ: ${messageOf(error)}; reconnecting.`);
      }
      if (!this.running) break;
      if (q !== undefined) await this.#forget(q);
      let ms;
      [attempts, ms] = rabbitmqReconnectBackoff(attempts);
      logger.warn(`Lost the RabbitMQ consumer of queue ${queue}; reconnecting in ${Math.round(ms)} ms.`);
      await new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        this.wakers.add(wake);
      });
    }
  }

  /** A channel consuming `queue` (declared first, with Dramatiq's arguments). */
  async #open(queue, prefetch) {
    const ch = await this.broker[kNewChannel]({ consume: true });
    const q = this.#queue(queue, ch, prefetch);
    ch.on("close", () => q.lost());
    try {
      await this.broker[kEnsureQueue](ch, queue);
      if (!this.running) throw new Error("the worker is stopping");
      this.queues.set(queue, q);
      await this.#consume(q, 1);
    } catch (error) {
      q.live = false;
      if (this.queues.get(queue) === q) this.queues.delete(queue);
      await ch.close().catch(() => {});
      throw error;
    }
    return q;
  }

  /** `q`'s channel is gone (or must go): its deliveries come back from the server, so
   * drop our copies of them, and close it (which gives back any still unacked). */
  async #forget(q) {
    q.live = false;
    if (this.queues.get(q.name) === q) this.queues.delete(q.name);
    const mine = (item) => item.held.q === q;
    for (const item of this.ready) if (mine(item)) release(item.message);
    this.ready = this.ready.filter((item) => !mine(item));
    this.delayed = this.delayed.filter((item) => !mine(item));
    await q.ch.close().catch(() => {});
  }

  /**
   * A queue's channel and what this worker holds of it: `held` deliveries of `bytes` in all
   * (delivered, not yet acked or rejected), `size`, the largest recent delivery (it decays by
   * a tenth per delivery, so one big message does not narrow the window for good), and
   * `consumer`, the current consumer (`{ tag, window, out }`: its prefetch and how many of
   * its deliveries are held), null while there is none (no room, or being replaced).
   * `live` until its loop forgets it: deliveries of a channel no longer live cannot be
   * settled. `lost()` tells its loop the channel is gone (resolves `closed`).
   */
  #queue(name, ch, prefetch) {
    let lost;
    const closed = new Promise((resolve) => (lost = resolve));
    return { name, ch, prefetch, live: true, lost, closed, held: 0, bytes: 0, size: 0, consumer: null, switching: false };
  }

  /** Consumes `q` with a prefetch of `window` (per consumer, as Dramatiq's). */
  async #consume(q, window) {
    const consumer = { tag: null, window, out: 0 };
    q.consumer = consumer;
    try {
      await q.ch.prefetch(window);
      const { consumerTag } = await q.ch.consume(q.name, (delivery) => this.#deliver(q, consumer, delivery), { noAck: false });
      consumer.tag = consumerTag;
    } catch (error) {
      if (q.consumer === consumer) q.consumer = null;
      throw error;
    }
    // stop() came while it was being set up, and could not cancel it.
    if (!this.running) await q.ch.cancel(consumer.tag).catch(() => {});
    // Deliveries can arrive before consume-ok is seen here; what they changed counts now.
    this.#rebalance(q);
  }

  /**
   * How many more deliveries `q` has room for: Dramatiq's prefetch count less what is held,
   * and what the bytes left under `prefetchBytes` hold at its recent size (at least one
   * while any is left, as a `RedisBroker` fetch; one until a delivery was seen).
   */
  #room(q) {
    const bytesLeft = this.broker.prefetchBytes - q.bytes;
    const bySize = bytesLeft <= 0 ? 0 : q.size === 0 ? 1 : Math.max(1, Math.floor(bytesLeft / q.size));
    return Math.max(0, Math.min(q.prefetch - q.held, bySize));
  }

  /** Replaces `q`'s consumer when what it may still be sent is more than `q` has room
   * for, or when the room would take twice its window; starts one when there is room. */
  #rebalance(q) {
    if (q.switching || !this.running || !q.live) return;
    const c = q.consumer;
    if (c?.tag === null) return; // being set up: it cannot be cancelled before it has a tag
    const room = this.#room(q);
    if (c === null ? room < 1 : c.window - c.out <= room && room < 2 * c.window) return;
    q.switching = true;
    this.#switch(q).then(
      () => {
        q.switching = false;
        this.#rebalance(q);
      },
      (error) => {
        // A failed AMQP method closes its channel, and amqplib refuses any on a closed one:
        // consume again on a fresh channel (the reconnect loop), never retry on this one.
        if (this.running && q.live) {
          this.broker.logger.warn(`Could not resume consuming queue ${q.name} (${messageOf(error)}); reopening its channel.`);
          q.lost();
        }
      },
    );
  }

  async #switch(q) {
    const c = q.consumer;
    if (c !== null) {
      q.consumer = null;
      // Deliveries already sent arrive before cancel-ok; the unacked stay ours to settle.
      await q.ch.cancel(c.tag);
    }
    if (!this.running || !q.live) return;
    const room = this.#room(q);
    if (room >= 1) await this.#consume(q, room);
  }

  /** `held` is no longer held (settled, given back, or dropped): its bytes make room. */
  #drop(held) {
    if (!held.counted) return;
    held.counted = false;
    const { q, from } = held;
    q.held -= 1;
    q.bytes -= held.bytes;
    from.out -= 1;
    this.#rebalance(q);
  }

  #deliver(q, from, delivery) {
    const queue = q.name;
    if (delivery === null) {
      // The server cancelled the consumer (its queue was deleted): consume again.
      this.broker.logger.warn(`RabbitMQ cancelled the consumer of queue ${queue}.`);
      q.lost();
      return;
    }
    const bytes = delivery.content.length;
    const held = { consumer: this, ch: q.ch, delivery, queue, q, from, bytes, counted: false };
    const max = this.broker.maxMessageBytes;
    if (bytes > max) {
      // Never decoded: a body this big would take its size in wasm memory, for good.
      this.broker.logger.error(
        `Dead-lettering a message from queue ${queue}: its body is ${bytes} bytes, over maxMessageBytes (${max} bytes).`,
      );
      this.#settleNow(held, true);
      return;
    }
    held.counted = true;
    from.out += 1;
    q.held += 1;
    q.bytes += bytes;
    q.size = Math.max(bytes, Math.floor(q.size * 0.9));
    let message;
    let eta;
    let stub;
    try {
      message = Message.decode(delivery.content);
      // Python's worker drops an `eta` of null and replaces one that is not a number by
      // now, whatever queue the message came from: the core decides, as for Redis.
      const handled = handleEta(message, Date.now());
      if (handled !== undefined) {
        if (handled.warning !== undefined) this.broker.logger.warn(handled.warning);
        release(message);
        ({ message, eta } = handled);
      }
      // What a held delayed item shows once its message is freed (log lines).
      stub = { actorName: message.actorName, messageId: message.messageId };
    } catch (error) {
      release(message);
      this.broker.logger.error(`Dead-lettering a message from queue ${queue} that does not decode: ${messageOf(error)}`);
      this.#settleNow(held, true);
      this.#drop(held);
      return;
    }
    if (eta !== undefined) {
      const item = { held, message, eta };
      const hooked = this.holdDelayed(item);
      const unhold = () => {
        item.message = stub;
        release(message);
      };
      if (hooked === undefined) unhold();
      else hooked.then(unhold);
      this.delayWake?.();
    } else {
      this.addReady({ held, message });
      this.readyWaiters.shift()?.();
    }
    this.#rebalance(q);
  }

  /** A held delayed delivery's message, decoded again (it decoded on arrival). */
  #decode(held) {
    return Message.decode(held.delivery.content);
  }

  #settleNow(held, failed) {
    if (!held.q.live) return false;
    try {
      if (rabbitmqSettle(failed) === "ack") held.ch.ack(held.delivery);
      else held.ch.nack(held.delivery, false, false);
      return true;
    } catch {
      return false;
    }
  }

  /** Acks (or rejects) a processed delivery on the channel it came on. */
  settle(held, failed, proxy) {
    if (!this.#settleNow(held, failed)) {
      this.broker.logger.warn(
        `Could not ${failed ? "reject" : "ack"} message ${loggedId(proxy)}: its channel was lost, so RabbitMQ delivers it again.`,
      );
    }
  }

  /** A runner is done with `item` (settled by the worker, or left unacked by an unexpected
   * failure, to return when its channel closes): its bytes make room, its message is freed. */
  [kReleased](item) {
    this.#drop(item.held);
    release(item.message);
  }

  /** A message unhandled here (an unexpected failure) stays unacked and returns when its channel closes. */
  async [kHandle]({ held, message }) {
    const refusal = this.refusal(message, held.queue);
    if (refusal !== undefined) {
      await this.deadLetterRefused(message, refusal, () => this.#settleNow(held, true));
      return;
    }
    const proxy = new WorkerMessage(message);
    proxy[kHeld] = held;
    await this.worker[kProcess](held.queue, proxy);
  }

  async #delayLoop() {
    while (this.running) {
      const now = Date.now();
      const { due, held, next } = takeDue(this.delayed, now);
      this.delayed = held;
      for (const item of due) {
        if (!this.running) break;
        if (!item.held.q.live) continue; // redelivered by the server
        try {
          // Publish first, then ack: a crash in between duplicates rather than loses it.
          const message = this.#decode(item.held);
          let undelayed;
          let moved;
          try {
            undelayed = rabbitmqUndelay(message, this.broker.confirmDelivery).message;
            moved = await this.broker.enqueue(undelayed);
          } finally {
            release(message);
            release(undelayed);
          }
          this.#settleNow(item.held, false);
          this.#drop(item.held);
          release(moved);
        } catch (error) {
          this.broker.logger.error(`Could not move delayed message ${item.message.messageId} to its queue; retrying.`, error);
          // The same item (its message is swapped for a stub once the hooks are done with it).
          item.eta = Date.now() + 1000;
          this.delayed.push(item);
        }
      }
      if (!this.running) break;
      await this.sleep(Math.max(0, Math.min(next - Date.now(), 1000)), this, "delayWake");
    }
  }
}
