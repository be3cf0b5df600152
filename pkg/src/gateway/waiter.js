// Waiting for one message's result over HTTP (`/api/messages/<id>/result` and
// `/api/results/<queue>/<actor>/<id>`): many requests may wait at once, and they share one
// read of the store per round, never one connection or one poll each. A round reads every
// awaited result in one batch (`iterResults`, non-blocking: 1 000 keys per round trip);
// rounds run every `intervalMs` while anyone waits, and at once when something says a
// result may be there: the event poller finishing a message, or a keyspace notification on
// a result key (see ./keyspace.js). The HTTP client is answered the moment the round sees
// the result: it is pushed to it, it does not poll. Host-neutral.
import { describeOutcome } from "./records.js";

export class ResultWaiter {
  /**
   * @param {object} o
   * @param {object} o.backend the package's result backend (`iterResults`, `buildMessageKey`)
   * @param {(value: unknown) => string} o.encode a result value as JSON text
   * @param {number} [o.intervalMs] the longest gap between two rounds while anyone waits
   */
  constructor({ backend, encode, intervalMs = 250 }) {
    this.backend = backend;
    this.encode = encode;
    this.intervalMs = intervalMs;
  }

  /** result key → { identity, waiters: Set<(outcome) => void> } */
  #waiting = new Map();
  #timer = null;
  #round = null;
  #fullAt = 0;
  #again = false;

  /** The most requests that may wait at once (each holds a connection and a timer): more
   * are refused (429) rather than let a crowd grow the gateway's memory without bound. */
  maxWaiting = 10_000;
  #count = 0;

  /** Whether another request may wait now. */
  get full() {
    return this.#count >= this.maxWaiting;
  }

  /** How many results are awaited now. */
  get size() {
    return this.#waiting.size;
  }

  /** Whether `key` is awaited (a keyspace notification on it then calls `poke`). */
  awaits(key) {
    return this.#waiting.has(key);
  }

  /** Reads the store once, for one identity: its outcome (`{ json }`, `{ exception }`,
   * `{ error }`) or null while it has none. Throws when the store fails. */
  async read(identity) {
    return (await this.readFirst([identity]))?.outcome ?? null;
  }

  /** The first of `identities` (in order) with a stored result, read in one batch:
   * `{ identity, outcome }`, or null when none has one. Throws when the store fails. */
  async readFirst(identities) {
    const found = await this.readAll(identities);
    const identity = identities.find((x) => found.has(x));
    return identity ? { identity, outcome: found.get(identity) } : null;
  }

  /** The stored outcome of each of `identities` that has one, read in one batch: a Map
   * from the identity (the very object passed) to its outcome. Throws when the store fails. */
  async readAll(identities) {
    const found = new Map();
    if (!identities.length) return found;
    for await (const outcome of this.backend.iterResults(identities, { block: false })) {
      if (outcome.error?.code === "RESULT_MISSING") continue;
      if (outcome.error?.code === "RESULT_STORE" || outcome.error?.code === "RESULT_TIMEOUT") throw outcome.error;
      found.set(outcome.message, describeOutcome(outcome, this.encode));
    }
    return found;
  }

  /**
   * Resolves with the outcome of `identity` once it is stored, or null after `timeoutMs`
   * (or when `signal` aborts: the client left). An outcome `stale(outcome)` says is a
   * previous run's (still stored while the message runs again) does not count.
   */
  wait(identity, timeoutMs, signal, stale = null) {
    const key = this.backend.buildMessageKey(identity);
    return new Promise((resolve) => {
      let entry = this.#waiting.get(key);
      if (!entry) {
        entry = { identity, waiters: new Set() };
        this.#waiting.set(key, entry);
      }
      this.#count++;
      let settled = false;
      const done = (outcome) => {
        if (settled) return; // the timeout and the client leaving may both come
        if (outcome && stale?.(outcome)) return; // the previous run's
        settled = true;
        this.#count--;
        clearTimeout(timer);
        signal?.removeEventListener("abort", gone);
        entry.waiters.delete(done);
        if (!entry.waiters.size && this.#waiting.get(key) === entry) this.#waiting.delete(key);
        resolve(outcome);
      };
      const gone = () => {
        stale = null;
        done(null);
      };
      const timer = setTimeout(gone, timeoutMs);
      signal?.addEventListener("abort", gone, { once: true });
      entry.waiters.add(done);
      if (signal?.aborted) gone();
      else this.#schedule(this.intervalMs);
    });
  }

  /** Something says results may be there (all, or the one under `key`): read at once
   * (only that key, when one is named: a keyspace notification costs one read, not a
   * round over every waiter). */
  poke(key) {
    if (!this.#waiting.size || (key !== undefined && !this.#waiting.has(key))) return;
    if (key === undefined) this.#all = true;
    else this.#hot.add(key);
    this.#schedule(0);
  }

  /** Keys poked since the last round, and whether a round over every waiter is due. */
  #hot = new Set();
  #all = true;

  #schedule(ms) {
    if (this.#round) {
      if (ms === 0) this.#again = true;
      return;
    }
    if (this.#timer && ms !== 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#round = this.#check().finally(() => {
        this.#round = null;
        if (this.#waiting.size) this.#schedule(this.#again ? 0 : this.intervalMs);
        this.#again = false;
      });
    }, ms);
  }

  /** One round: every awaited result in one batch (or only the poked ones, when nothing
   * else is due); the waiters of those found answered. */
  async #check() {
    if (!this.#waiting.size) return;
    const due = this.#all || Date.now() - this.#fullAt >= this.intervalMs;
    const hot = this.#hot;
    this.#hot = new Set();
    this.#all = false;
    if (due) this.#fullAt = Date.now();
    const entries = due ? [...this.#waiting.values()] : [...hot].map((k) => this.#waiting.get(k)).filter(Boolean);
    if (!entries.length) return;
    const byIdentity = new Map(entries.map((e) => [e.identity, e]));
    try {
      for await (const outcome of this.backend.iterResults(entries.map((e) => e.identity), { block: false })) {
        const entry = byIdentity.get(outcome.message);
        if (!entry || outcome.error?.code === "RESULT_MISSING") continue;
        if (outcome.error?.code === "RESULT_STORE" || outcome.error?.code === "RESULT_TIMEOUT") return; // next round
        const described = describeOutcome(outcome, this.encode);
        for (const done of [...entry.waiters]) done(described);
      }
    } catch {
      // The store failed: the next round tries again; the waiters time out meanwhile.
    }
  }
}
