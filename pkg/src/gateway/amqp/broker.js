// The gateway over a Dramatiq RabbitMQ deployment: what AMQP 0-9-1 lets a client see and do
// without consuming anything it does not mean to. Node only (amqplib, an optional peer
// dependency loaded through Node's `require`, as the RabbitMQ broker loads it).
//
//   counts       a passive `queue.declare` (amqplib's `checkQueue`) of `q`, `q.DQ` and `q.XQ`:
//                the messages *ready* on each. Messages a worker holds (running, or delayed
//                messages it prefetched until their eta) are not counted: RabbitMQ reports
//                them only through the management plugin.
//   deadLetters  `basic.get` without ack on a channel of its own, then every message nacked
//                back with requeue: nothing is consumed, but RabbitMQ marks them redelivered,
//                and may put them back in another order.
//   act          `basic.get` from `q.XQ`; a match to requeue is published revived (the core's
//                `rabbitmqRevive`: on `q`, no eta, retries at 0) on a confirm channel, and
//                the dead letter is acked only once RabbitMQ confirmed the publish (and did
//                not return it); a match to delete is acked; the rest nacked back. A crash
//                between the confirm and the ack leaves both copies (a duplicate, never a
//                loss); a message one operator holds is invisible to another, so two
//                operators never act on the same message.
//
// Every queue name (`q.DQ`, `q.XQ`) and every published byte comes from the core, handed
// in by the host (`RabbitmqBroker[kAmqpCore]` of the package's Node entry, and its `Message`):
// this file ships as a source beside the bundle and cannot import the wasm glue itself.
import { Unavailable } from "../http.js";
import { readMessage } from "../records.js";

/** amqplib, loaded through Node's `require` as the package's RabbitMQ broker loads it. */
function loadAmqplib() {
  const nodeModule = globalThis.process?.getBuiltinModule?.("node:module");
  if (!nodeModule) throw new Error("--amqp runs on Node only: AMQP needs a raw TCP socket");
  try {
    return nodeModule.createRequire(import.meta.url)("amqplib");
  } catch (error) {
    throw new Error("--amqp needs the amqplib package: npm install amqplib", { cause: error });
  }
}

/** A view of wasm bytes amqplib can send (it wants a Buffer), without a copy. */
const buffer = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The most dead letters one request takes off `q.XQ` at once (held unacked until it ends). */
export const MAX_HELD = 10_000;


/** What names a dead letter that is not a Dramatiq message (it has no id of its own, and
 * AMQP gives a message none): the SHA-256 of its body, 128 bits in hex. Two identical
 * bodies share it; a delete by it takes one of them. */
export function malformedId(body) {
  const { createHash } = globalThis.process.getBuiltinModule("node:crypto");
  return `sha256-${createHash("sha256").update(body).digest("hex").slice(0, 32)}`;
}

/** The x-death time of a dead letter (ms), when RabbitMQ recorded one. */
function deadAt(properties) {
  const death = properties?.headers?.["x-death"];
  const time = Array.isArray(death) ? death[0]?.time : undefined;
  const seconds = typeof time === "object" && time !== null ? Number(time.value) : Number(time);
  return Number.isFinite(seconds) ? seconds * 1000 : null;
}

/** A RabbitMQ deployment's queues as the gateway reads and changes them. */
export class AmqpBroker {
  #url;
  #core;
  #connection = null;
  #opening = null;

  /**
   * @param {string} url the AMQP URL
   * @param {{ queues: string[], core: { declarations: Function, revive: Function, Message: { decode(bytes: Uint8Array): object } }, decodeMessage?: (text: string) => object }} o
   *   `queues`: the declared queue names to show (AMQP cannot list queues); `core`: the
   *   package's `RabbitmqBroker[kAmqpCore]` with its `Message`
   */
  constructor(url, { queues, core, decodeMessage = JSON.parse }) {
    for (const q of queues) {
      if (typeof q !== "string" || !/^[A-Za-z0-9_.-]{1,200}$/.test(q)) throw new TypeError(`AmqpBroker: not a queue name: ${String(q).slice(0, 60)}`);
    }
    this.#url = url;
    this.#core = core;
    this.queueNames = [...queues];
    this.decodeMessage = decodeMessage;
  }

  /** The open connection, opened (again) when needed. */
  async #conn() {
    if (this.#connection) return this.#connection;
    if (!this.#opening) {
      const amqplib = loadAmqplib();
      this.#opening = amqplib
        .connect(this.#url)
        .then((conn) => {
          conn.on("error", () => {}); // "close" follows
          conn.on("close", () => {
            if (this.#connection === conn) this.#connection = null;
          });
          this.#connection = conn;
          return conn;
        })
        .finally(() => (this.#opening = null));
    }
    return this.#opening;
  }

  /** The names Dramatiq's RabbitMQ broker declares for `queue`: `[q, q.DQ, q.XQ]`, from the core. */
  namesOf(queue) {
    return this.#core.declarations(queue, undefined, undefined).map((d) => d.queue);
  }

  /** Runs `work(channel)` on a fresh channel (a confirm channel with `confirm`), closed after:
   * whatever it still holds unacked goes back to its queue. AMQP failures are `Unavailable`. */
  async #withChannel(work, { confirm = false } = {}) {
    let ch;
    try {
      const conn = await this.#conn();
      ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
    } catch (error) {
      throw new Unavailable(error);
    }
    let closed = false;
    ch.on("error", () => {});
    ch.on("close", () => (closed = true));
    try {
      return await work(ch, () => closed);
    } finally {
      if (!closed) await ch.close().catch(() => {});
    }
  }

  /** Checks the connection (for `/api/status`). */
  async ping() {
    await this.#withChannel(async () => {});
  }

  /** `[{ name, queued, delayed, inProgress: null, deadLettered }]` per declared queue; a queue
   * RabbitMQ does not have is listed with `missing: true` and null counts. */
  async counts() {
    const out = [];
    for (const name of this.queueNames) {
      const row = { name, queued: null, delayed: null, inProgress: null, deadLettered: null };
      const [q, dq, xq] = this.namesOf(name);
      // A passive declare of a missing queue closes its channel (404): one channel per queue.
      const counts = await this.#withChannel(async (ch, closed) => {
        const got = [];
        for (const n of [q, dq, xq]) {
          try {
            got.push((await ch.checkQueue(n)).messageCount);
          } catch (error) {
            if (closed() || error?.code === 404) return null;
            throw new Unavailable(error);
          }
        }
        return got;
      });
      if (counts) [row.queued, row.delayed, row.deadLettered] = counts;
      else row.missing = true;
      out.push(row);
    }
    return out;
  }

  /**
   * Takes up to `max` dead letters of `queue` off `q.XQ` (unacked, on one channel) and hands
   * each to `decide({ message, body, deadAt, redelivered })`, which answers "requeue",
   * "delete" or anything else (left). Then: revived copies published and confirmed, their dead
   * letters and the deleted ones acked, every other one nacked back with requeue. Answers
   * `{ items: [{ message, body, deadAt, outcome }], more }` in the order read; `outcome` is
   * "requeued", "deleted", "left", "refused" (a body the core cannot revive, or one naming
   * another queue: left where it is) or "failed" (the publish was not confirmed or was
   * returned: the dead letter stays). `beforeRevive(messages)`, when given, runs before the
   * revived copies are published. A body that is not a Dramatiq message has `message` null,
   * `malformed` (why) and `id` (`malformedId`), and reaches `decide` only with
   * `decideMalformed: true` (then only "delete" means anything for it). `prepare(items)`,
   * when given, runs once every dead letter is read and before any `decide` (what a decision
   * needs beside the bodies, read in one batch: the exceptions their runs stored).
   * `stopAt(item)`, when given, is asked of each dead letter as it is read: once it answers
   * true no more are taken (a lookup by id reads up to its hit, not the whole queue).
   */
  async act(queue, decide, options) {
    // One request at a time per queue: what one holds unacked is invisible to the others
    // (a viewer's search made an operator's requeue of a dead letter that was there answer
    // 404), and the dead letters held at once stay one request's MAX_HELD per queue. The
    // next starts once this one's channel is closed (its nacks are then back on q.XQ).
    const before = this.#turns.get(queue) ?? Promise.resolve();
    let done;
    const turn = before.then(() => new Promise((resolve) => (done = resolve)));
    this.#turns.set(queue, turn);
    await before;
    try {
      return await this.#act(queue, decide, options);
    } finally {
      done();
      if (this.#turns.get(queue) === turn) this.#turns.delete(queue);
    }
  }

  /** queue → the promise the next `act` on it waits for. */
  #turns = new Map();

  async #act(queue, decide, { max = MAX_HELD, beforeRevive, decideMalformed = false, prepare, stopAt } = {}) {
    const [q, , xq] = this.namesOf(queue);
    return this.#withChannel(async (ch) => {
      const items = [];
      let more = false;
      try {
        for (;;) {
          if (items.length >= max) {
            more = true;
            break;
          }
          const m = await ch.get(xq, { noAck: false });
          if (m === false) break;
          const body = m.content.toString("utf8");
          const { message, malformed } = readMessage(body, this.decodeMessage);
          const item = { message: message ?? null, body, deadAt: deadAt(m.properties), redelivered: m.fields.redelivered, outcome: "left", delivery: m };
          // A body that is no message is acted on only by a decision made for such bodies.
          if (malformed) Object.assign(item, { malformed, id: malformedId(m.content) });
          items.push(item);
          if (stopAt?.(item)) break;
        }
      } catch (error) {
        // What was taken before the failure goes back when the channel closes.
        if (error?.code === 404) return { items: [], more: false, missing: true };
        throw new Unavailable(error);
      }
      // A failure here leaves every dead letter where it was (the channel's close puts back
      // what it holds).
      if (prepare) await prepare(items);
      for (const item of items) {
        const { malformed } = item;
        let choice = null;
        if (!malformed || decideMalformed) {
          try {
            choice = decide(item);
          } catch {
            choice = null;
          }
        }
        item.choice = choice;
      }
      const toRequeue = items.filter((i) => i.choice === "requeue" && i.message);
      if (toRequeue.length) {
        // The host's step before the copies go out (the gateway drops the failed run's
        // result, so whoever waits for the new run's result gets it, not the old failure).
        if (beforeRevive) await beforeRevive(toRequeue.map((i) => i.message));
        await this.#publishRevived(q, toRequeue);
      }
      let lost = null;
      for (const item of items) {
        if (item.choice === "delete") item.outcome = "deleted";
        try {
          if (item.outcome === "requeued" || item.outcome === "deleted") ch.ack(item.delivery);
          else ch.nack(item.delivery, false, true);
        } catch (error) {
          // The channel is gone: RabbitMQ put every dead letter it held back (a requeued
          // one's copy is out too: a duplicate, never a loss).
          lost = error;
          break;
        }
      }
      if (lost) throw new Unavailable(lost);
      // The acks and nacks are on their way before the channel's close (same channel, in order).
      return { items: items.map(({ delivery: _d, choice: _c, ...rest }) => rest), more };
    });
  }

  /** Publishes the revived copy of each item on a confirm channel; marks those RabbitMQ
   * confirmed and did not return "requeued", the others "failed". */
  async #publishRevived(q, items) {
    await this.#withChannel(
      async (pub, closed) => {
        // The queue must exist: a mandatory publish to no queue comes back (returned, then
        // confirmed), and a missing queue is not ours to declare (its arguments are the
        // deployment's).
        try {
          await pub.checkQueue(q);
        } catch (error) {
          if (closed() || error?.code === 404) {
            for (const i of items) i.outcome = "failed";
            return;
          }
          throw new Unavailable(error);
        }
        const returned = new Set();
        pub.on("return", (m) => returned.add(m.properties?.messageId ?? m.content.toString("utf8")));
        const sent = [];
        for (const item of items) {
          let revived = null;
          let decoded = null;
          try {
            decoded = this.#core.Message.decode(new Uint8Array(item.delivery.content));
            revived = this.#core.revive(decoded, true);
          } catch {
            item.outcome = "refused"; // not a message the core reads: left where it is
            continue;
          } finally {
            decoded?.free?.();
          }
          revived.message.free?.();
          // The revived copy must stay on this queue (a body naming another queue is a
          // producer's doing: left where it is).
          if (revived.routingKey !== q) {
            item.outcome = "refused";
            continue;
          }
          const body = buffer(revived.body);
          sent.push({ item, text: body.toString("utf8"), confirmed: new Promise((resolve) => pub.publish(revived.exchange, revived.routingKey, body, revived.options, (err) => resolve(!err))) });
        }
        const oks = await Promise.all(sent.map((s) => s.confirmed));
        sent.forEach((s, i) => (s.item.outcome = oks[i] && !returned.has(s.text) ? "requeued" : "failed"));
      },
      { confirm: true },
    );
  }

  /** Closes the connection. */
  async close() {
    const conn = this.#connection ?? (await this.#opening?.catch(() => null));
    this.#connection = null;
    await conn?.close().catch(() => {});
  }
}
