// The watch list: messages whose results the dashboard waits for, and their states.
//
// However many messages are watched, there is ONE blocking wait in flight: a single
// `backend.iterResults` over every waiting message, which reads all pending keys in one
// batch per round and sleeps until a store announces a write (or the next back-off). When
// the list changes the wait is aborted and restarted over the new set, so a thousand
// watched messages cost one loop, not a thousand timers. Each message keeps its own
// deadline: the batch runs until the earliest one, marks those whose time is up as timed
// out, and starts again over the rest.
//
// Results expire (Dramatiq's `result_ttl`). A finished message is re-read now and then,
// non-blocking and again in one batch, and one that has vanished is marked expired.
import { ResultFailure, ResultMissing, ResultTimeout } from "dramatiq-results";

/** The states a watched message can be in, in the order they are shown. */
export const STATES = ["waiting", "done", "failed", "timed out", "expired"];

/** How long to rest between re-reads of finished messages (to notice expiry), at least:
 * after a slow re-read (many results, a remote store) the rest is four times as long, so
 * re-reading never takes more than a fifth of the store's time. */
const RECHECK_MS = 1500;
/** How long to back off after the store itself failed before trying again (ms). */
const RETRY_MS = 2000;
/** How often, while messages wait, one non-blocking read checks that the store answers. */
const PROBE_MS = 2000;

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * One watched message. `message` is the plain `{ queueName, actorName, messageId }` handed
 * to the backend (the same object comes back in outcomes, which is how they are matched).
 */
export class Entry {
  constructor(id, key, message, { sentAt, deadline }) {
    this.id = id;
    /** The store key (Dramatiq's `build_message_key`). */
    this.key = key;
    this.message = message;
    this.sentAt = sentAt;
    this.deadline = deadline;
    /** One of `STATES`. */
    this.state = "waiting";
    this.value = undefined;
    /** `{ type, message }` of the exception a failed actor raised, or of an unreadable result. */
    this.error = undefined;
    /** When the dashboard first saw the result (epoch ms). */
    this.seenAt = undefined;
    /** When the result was found gone. */
    this.expiredAt = undefined;
  }
  get latency() {
    return this.seenAt === undefined ? undefined : Math.max(0, this.seenAt - this.sentAt);
  }
}

/**
 * The watch list over one backend. Emits `change` (detail: the entries that changed) and
 * `status` (detail: `{ error }` when the store fails, `{ error: null }` once it answers).
 */
export class Watchlist extends EventTarget {
  /** Every entry, in the order added. */
  entries = [];
  /** Diagnostics the tests read: batches started, waits in flight now and at most. */
  stats = { batches: 0, inFlight: 0, maxInFlight: 0, rechecks: 0 };
  #byKey = new Map();
  #nextId = 1;
  #backend;
  #controller = null;
  #wake = null;
  #closed = false;

  constructor(backend) {
    super();
    this.#backend = backend;
    this.#loop();
    this.#recheckLoop();
    this.#probeLoop();
  }

  get backend() {
    return this.#backend;
  }

  /**
   * Watches `messages` (MessageLike), each for `timeoutMs` from now (`Infinity`: no limit).
   * `sentAt(message)` gives when it was sent (default: the message's own timestamp, else
   * now). A message already watched is not added twice. Returns the new entries.
   */
  add(messages, { timeoutMs = 60_000, sentAt } = {}) {
    const now = Date.now();
    const added = [];
    for (const m of messages) {
      const message = {
        queueName: m.queueName ?? m.queue_name ?? "default",
        actorName: m.actorName ?? m.actor_name,
        messageId: m.messageId ?? m.message_id,
      };
      const key = this.#backend.buildMessageKey(message);
      if (this.#byKey.has(key)) continue;
      const stamp = sentAt?.(m) ?? m.messageTimestamp ?? m.message_timestamp;
      const entry = new Entry(this.#nextId++, key, message, {
        sentAt: Number.isFinite(stamp) && stamp <= now ? stamp : now,
        deadline: now + timeoutMs,
      });
      this.#byKey.set(key, entry);
      this.entries.push(entry);
      added.push(entry);
    }
    if (added.length) {
      this.#emit(added);
      this.#restart();
    }
    return added;
  }

  /** Waits again, for `timeoutMs` more, for the messages that timed out. */
  retryTimedOut({ timeoutMs = 60_000 } = {}) {
    const again = this.entries.filter((e) => e.state === "timed out");
    for (const e of again) {
      e.state = "waiting";
      e.deadline = Date.now() + timeoutMs;
    }
    if (again.length) {
      this.#emit(again);
      this.#restart();
    }
  }

  /** Stops watching everything. */
  clear() {
    this.entries = [];
    this.#byKey.clear();
    this.#emit([]);
    this.#restart();
  }

  /** Stops both loops for good. */
  close() {
    this.#closed = true;
    this.#restart();
  }

  /** The watched messages as Dramatiq message dicts (what `add` and the JSON import read). */
  toDicts() {
    return this.entries.map(({ message: m, sentAt }) => ({
      queue_name: m.queueName,
      actor_name: m.actorName,
      message_id: m.messageId,
      message_timestamp: sentAt,
    }));
  }

  #emit(changed) {
    this.dispatchEvent(new CustomEvent("change", { detail: changed }));
  }

  #status(error) {
    this.dispatchEvent(new CustomEvent("status", { detail: { error } }));
  }

  /** Aborts the wait in flight (the loop then starts over the current list). */
  #restart() {
    this.#controller?.abort();
    this.#wake?.();
  }

  /**
   * The one blocking wait, over whichever messages are waiting. After the store failed, the
   * next round is a single non-blocking read, so the status clears as soon as the store
   * answers again rather than when a long wait ends.
   */
  async #loop() {
    let probe = false;
    while (!this.#closed) {
      const pending = this.entries.filter((e) => e.state === "waiting");
      if (!pending.length) {
        await new Promise((resolve) => (this.#wake = resolve));
        this.#wake = null;
        continue;
      }
      const controller = (this.#controller = new AbortController());
      const byMessage = new Map(pending.map((e) => [e.message, e]));
      const earliest = pending.reduce((min, e) => Math.min(min, e.deadline), Infinity);
      const timeout = Math.max(0, earliest - Date.now());
      this.stats.batches++;
      this.stats.maxInFlight = Math.max(this.stats.maxInFlight, ++this.stats.inFlight);
      let failed = null;
      try {
        const options = { block: !probe, timeout: probe ? 10_000 : timeout, signal: controller.signal };
        for await (const outcome of this.#backend.iterResults([...byMessage.keys()], options)) {
          const entry = byMessage.get(outcome.message);
          if (outcome.error?.code === "RESULT_STORE") failed = outcome.error; // the store, not the message
          else if (outcome.error instanceof ResultMissing) continue; // a probe: still waiting
          else if (entry?.state === "waiting") this.#settle(entry, outcome);
        }
        if (!failed) this.#status(null);
        probe = Boolean(failed);
      } catch (error) {
        if (!controller.signal.aborted) probe = Boolean((failed = error));
      } finally {
        this.stats.inFlight--;
      }
      if (failed) {
        // Its messages are still waiting: tell, back off, and wait again.
        this.#status(failed);
        await sleep(RETRY_MS, controller.signal);
      }
    }
  }

  /** Applies one outcome of the wait to its entry. */
  #settle(entry, { value, error }) {
    const now = Date.now();
    if (error instanceof ResultTimeout) {
      // The batch ends at the earliest deadline; the others simply wait on in the next one.
      if (entry.deadline - now > 5) return;
      if (error.cause) this.#status(error.cause); // the store was too slow to answer
      entry.state = "timed out";
    } else {
      entry.seenAt = now;
      if (error) {
        entry.state = "failed";
        entry.error = error instanceof ResultFailure
          ? { type: String(error.exceptionType), message: String(error.exceptionValue) }
          : { type: error.name, message: error.message }; // unreadable bytes: a DecodeError
      } else {
        entry.state = "done";
        entry.value = value;
      }
    }
    this.#emit([entry]);
  }

  /**
   * A blocking wait waits out a store that stops answering (it retries until its deadline,
   * which may be minutes away), so while messages wait, a non-blocking read of one of them
   * every few seconds tells whether the store answers: the page says the source is down as
   * soon as it is, and live again once it answers.
   */
  async #probeLoop() {
    let down = false;
    while (!this.#closed) {
      await sleep(PROBE_MS);
      const waiting = this.entries.find((e) => e.state === "waiting");
      if (!waiting || this.#closed) continue;
      try {
        await this.#backend.getResult(waiting.message);
      } catch (error) {
        if (error?.code === "RESULT_STORE") {
          down = true;
          this.#status(error);
          continue;
        }
      }
      if (down) {
        down = false;
        this.#status(null);
      }
    }
  }

  /** Re-reads finished messages, one non-blocking batch at a time, to notice expiry. */
  async #recheckLoop() {
    let took = 0;
    while (!this.#closed) {
      await sleep(Math.max(RECHECK_MS, 4 * took));
      const started = performance.now();
      const finished = this.entries.filter((e) => e.state === "done" || e.state === "failed");
      if (!finished.length) continue;
      const byMessage = new Map(finished.map((e) => [e.message, e]));
      this.stats.rechecks++;
      try {
        const stream = this.#backend.iterResults([...byMessage.keys()], { block: false, timeout: 10_000 });
        for await (const { message, error } of stream) {
          const entry = byMessage.get(message);
          const stillShown = this.#byKey.get(entry.key) === entry && (entry.state === "done" || entry.state === "failed");
          if (!(error instanceof ResultMissing) || !stillShown) continue;
          entry.state = "expired";
          entry.expiredAt = Date.now();
          this.#emit([entry]);
        }
      } catch {
        // A failing store is reported by the wait; the next re-read tries again.
      }
      took = performance.now() - started;
    }
  }
}
