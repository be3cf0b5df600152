// The worker's side of a `RabbitmqBroker`: a channel per queue and delay queue, the
// runners, the delayed-message mover and a reconnect loop. What to ack or reject, and the
// prefetch, are the core's.
import {
  Message,
  delayQueueName,
  messageEta,
  rabbitmqPrefetch,
  rabbitmqReconnectBackoff,
  rabbitmqSettle,
  rabbitmqUndelay,
} from "../../../dist/dramatiq_results.js";
import { kEnsureQueue, kHandle, kHeld, kNewChannel, kProcess } from "../../internal/symbols.js";
import { Consumer, settledBy, stopTimedOut, takeDue } from "../../worker/consumer.js";
import { WorkerMessage } from "../../worker/message.js";
import { sleep } from "./amqp.js";

/**
 * The worker's side of a `RabbitmqBroker`: a channel per queue and delay queue with
 * Dramatiq's prefetch, `concurrency` runners, a loop moving due delayed messages to their
 * queue, and a reconnect loop. Unacked deliveries return to their queue when a channel
 * closes (stop, crash or lost connection): RabbitMQ redelivers them, so nothing is lost.
 */
export class RabbitmqConsumer extends Consumer {
  #done;

  constructor(broker, worker, options) {
    super(broker, worker, options);
    this.prefetch = rabbitmqPrefetch(this.concurrency);
    this.generation = 0; // bumped on every (re)connect: deliveries of older channels cannot be settled
    this.channels = [];
    this.lost = null; // resolves when a channel of this generation closes
    this.wakeLost = null;
  }

  run() {
    this.running = true;
    this.warnIfIdle(this.names.length);
    this.#done = Promise.all([this.#connectLoop(), ...this.runners(), this.#delayLoop()]);
    return this.#done;
  }

  async stop({ deadline = Infinity, timeout } = {}) {
    if (!this.running) return;
    this.running = false;
    for (const { ch, tag } of this.channels) await ch.cancel(tag).catch(() => {});
    this.wakeLost?.();
    this.wakeRunners();
    this.delayWake?.();
    // Deliveries held but not started go back to their queue now (requeued, not
    // dead-lettered), so other workers take them while the runners finish theirs.
    for (const { held } of [...this.ready.splice(0), ...this.delayed.splice(0)]) {
      try {
        held.ch.nack(held.delivery, false, true);
      } catch {
        // Its channel is gone, and RabbitMQ has requeued it already.
      }
    }
    if (!(await settledBy(this.#done, deadline))) {
      this.broker.logger.warn(stopTimedOut(this.busy, timeout, "RabbitMQ delivers them again once their channel closes"));
    }
    // What is still held goes back to its queue when its channel closes.
    this.ready.length = 0;
    this.delayed.length = 0;
    await this.#closeChannels();
  }

  async #closeChannels() {
    const channels = this.channels;
    this.channels = [];
    for (const { ch } of channels) await ch.close().catch(() => {});
  }

  /** Consumes; after a lost connection or channel, backs off and consumes again. */
  async #connectLoop() {
    const logger = this.broker.logger;
    let attempts = 0;
    while (this.running) {
      try {
        await this.#open();
        if (attempts > 0) logger.warn("Consuming from RabbitMQ again.");
        attempts = 0;
        await new Promise((resolve) => {
          this.wakeLost = resolve;
          this.lost.then(resolve);
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
      await this.#closeChannels();
      let ms;
      [attempts, ms] = rabbitmqReconnectBackoff(attempts);
      logger.warn(`Lost the RabbitMQ consumer; reconnecting in ${Math.round(ms)} ms.`);
      await sleep(ms);
    }
  }

  async #open() {
    const generation = this.generation;
    let lost;
    this.lost = new Promise((resolve) => (lost = resolve));
    const channels = [];
    try {
      for (const name of this.names) {
        for (const [queue, prefetch] of [
          [name, this.prefetch.queue],
          [delayQueueName(name), this.prefetch.delayQueue],
        ]) {
          const ch = await this.broker[kNewChannel]();
          channels.push({ ch });
          ch.on("close", () => lost());
          await this.broker[kEnsureQueue](ch, name);
          await ch.prefetch(prefetch);
          const { consumerTag } = await ch.consume(queue, (delivery) => this.#deliver(ch, queue, generation, delivery, lost), {
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

  #deliver(ch, queue, generation, delivery, lost) {
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
      this.#settleNow(held, true);
      return;
    }
    const eta = messageEta(message);
    if (eta !== undefined) {
      this.holdDelayed({ held, message, eta });
      this.delayWake?.();
    } else {
      this.addReady({ held, message });
      this.readyWaiters.shift()?.();
    }
  }

  #settleNow(held, failed) {
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
    if (!this.#settleNow(held, failed)) {
      this.broker.logger.warn(
        `Could not ${failed ? "reject" : "ack"} message ${messageId}: its channel was lost, so RabbitMQ delivers it again.`,
      );
    }
  }

  /** A message unhandled here (an unexpected failure) stays unacked and returns when its channel closes. */
  async [kHandle]({ held, message }) {
    const refusal = this.refusal(message, held.queue);
    if (refusal !== undefined) {
      this.broker.logger.error(refusal);
      this.#settleNow(held, true);
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
        if (item.held.generation !== this.generation) continue; // redelivered by the server
        try {
          // Publish first, then ack: a crash in between duplicates rather than loses it.
          await this.broker.enqueue(rabbitmqUndelay(item.message, this.broker.confirmDelivery).message);
          this.#settleNow(item.held, false);
        } catch (error) {
          this.broker.logger.error(`Could not move delayed message ${item.message.messageId} to its queue; retrying.`, error);
          this.delayed.push({ ...item, eta: Date.now() + 1000 });
        }
      }
      if (!this.running) break;
      await this.sleep(Math.max(0, Math.min(next - Date.now(), 1000)), this, "delayWake");
    }
  }
}
