// The gateway's one poller: it snapshots the broker's keys every `intervalMs`, diffs the
// snapshot against what it knew, and turns the differences into events that every SSE
// client shares. Host-neutral (timers and promises only).
//
// A message is known by its Dramatiq `message_id`, which survives retries and delays (each
// enqueue gives it a new `redis_message_id`). Its states: `queued`, `delayed`,
// `in-progress`, then `done`, `failed` or `dead-lettered`. Event types:
//   appeared       first seen (in whichever state)
//   started        a worker took it (into `in-progress`)
//   retried        it left `in-progress` for the delay queue or the queue (a failed attempt)
//   moved          any other move between waiting states (its eta came: delayed → queued)
//   finished       it left the broker and its result (if it stores one) is a value
//   failed         its stored result is an exception (also sent for a dead-lettered message
//                  once the exception Dramatiq stores after the dead-lettering is found)
//   dead-lettered  it landed in the dead-letter queue
//   expired        its result's TTL ran out
//   removed        it left the dead-letter queue (Dramatiq drops dead letters after 7 days),
//                  or a record known only by its result key gave way to its message's
//
// A message sent and done between two polls leaves nothing in the broker to see; its only
// trace is its result, if its actor stores one. So, with `resultKeys` (results in the same
// Redis), the poller also walks the result keys with SCAN, a few calls per round, and a key
// that appears without a record it knows becomes a record of its own (`unseen: true`),
// `finished` or `failed` with its decoded result. With namespace-prefixed keys the key
// names the queue, actor and message id; with Dramatiq's default MD5 keys nothing can be
// recovered from the key, so such a record is its key and its result only (`messageId`
// is then the key, `queue`, `actor` and `message` null). Results present when the gateway
// starts are the baseline (the first full walk), not events; a message whose actor stores
// no result and that lasts less than a poll is never seen.
//
// Every event carries the message's whole record, so a client simply keeps the latest
// record per `messageId`. Events have increasing ids and the last `ringSize` are kept, so a
// client reconnecting with `Last-Event-ID` gets exactly what it missed; one that has been
// away longer (or is new) gets the current records as a snapshot first. The names of the
// states and events live in ./protocol.js, which the page imports too.

import { BROKER_STATES, EVENT } from "./protocol.js";

// A message one snapshot sees in more than one place (say a worker's acks set and the queue
// it was pushed back to) counts in the state of highest rank.
const RANK = { "in-progress": 1, delayed: 2, queued: 3, "dead-lettered": 4 };
const IN_BROKER = new Set(BROKER_STATES);

/** `JSON.stringify` that writes a `BigInt` as a number literal (exact), not a TypeError. */
export function toJson(value) {
  const marks = [];
  const text = JSON.stringify(value, (_, v) => {
    if (typeof v !== "bigint") return v;
    marks.push(v);
    return `\u0000bigint${marks.length - 1}\u0000`;
  });
  return marks.length ? text.replace(/"\\u0000bigint(\d+)\\u0000"/g, (_, i) => String(marks[Number(i)])) : text;
}

/** What a stored result says, as sent to clients: `{ json }` (the value in Dramatiq's own
 * JSON encoding), `{ exception: { type, message } }`, or `{ error: { type, message } }`
 * for bytes the package could not decode. */
function describeOutcome({ value, error }, encode) {
  if (!error) return { json: encode(value) };
  if (error.code === "RESULT_FAILURE") {
    return { exception: { type: String(error.exceptionType), message: String(error.exceptionValue) } };
  }
  return { error: { type: error.name, message: error.message } };
}

export class EventPoller {
  /**
   * @param {object} o
   * @param {import("./redis/broker.js").BrokerReader} o.reader
   * @param {object} o.backend a ResultBackend of the package (RedisBackend, MemcachedBackend…)
   * @param {(text: string) => object} o.decodeMessage parses a message's JSON text
   * @param {(value: unknown) => string} o.encode a result value as JSON text
   * @param {{ pattern: string, parse(key: string): { queueName: string, actorName: string, messageId: string } | null }} [o.resultKeys]
   *   the SCAN pattern of result keys and what a key says of its message (null: nothing)
   * @param {(key: string) => Promise<Uint8Array|null>} [o.readKey] a result key's stored bytes
   * @param {(bytes: Uint8Array) => Promise<{ value?: unknown, error?: Error }>} [o.decodeResult] stored bytes as the package reads them
   */
  constructor({
    reader,
    backend,
    decodeMessage = JSON.parse,
    encode = toJson,
    resultKeys = null,
    readKey = null,
    decodeResult = null,
    resultScanCalls = 10,
    resultScanCount = 1000,
    intervalMs = 500,
    discoverEveryMs = 5000,
    recheckEveryMs = 5000,
    resultGraceMs = 15_000,
    cap = 10_000,
    ringSize = 20_000,
    maxFinished = 20_000,
  }) {
    Object.assign(this, { reader, backend, decodeMessage, encode, resultKeys: readKey && decodeResult ? resultKeys : null, readKey, decodeResult, resultScanCalls, resultScanCount, intervalMs, discoverEveryMs, recheckEveryMs, resultGraceMs, cap, ringSize, maxFinished });
    /** messageId → record. */
    this.records = new Map();
    /** The ids of finished records, oldest first (to forget the oldest beyond `maxFinished`). */
    this.finished = new Set();
    /** The last `ringSize` events, `{ id, type, json }`. */
    this.ring = [];
    // Event ids start from the clock (in µs), so the ids of a restarted gateway are above
    // any its predecessor gave: a client coming back with an older id gets a snapshot.
    this.head = Date.now() * 1000;
    /** `{ ok, error, at }` of the last tick. */
    this.status = { ok: null, error: null, at: 0 };
    this.ticks = 0;
    /** The last `queues` and `workers` overviews sent, as JSON. */
    this.overview = { queues: "[]", workers: "[]" };
    this.#subscribers = new Set();
  }

  #subscribers;
  #timer = null;
  #running = false;
  #stopped = true;
  #queues = new Set();
  #discoveredAt = -Infinity;
  #recheckedAt = 0;
  /** redis_message_id → { messageId, message } for the ids seen in the last snapshot. */
  #rids = new Map();
  /** The walk over result keys: its SCAN cursor, the keys of the last whole walk (null
   * until the first, the baseline, is done) and those of this one. */
  #walk = { cursor: "0", previous: null, current: new Set() };

  /** Whether the poll loop runs (between `start()` and `stop()`). */
  get running() {
    return !this.#stopped;
  }

  /** How many subscribers (open event streams) there are. */
  get watchers() {
    return this.#subscribers.size;
  }

  /** Starts polling (idempotent). */
  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Calls `fn({ id, type, json })` for every event and `fn({ type: "status", json })` on
   * status changes, until the returned function is called. */
  subscribe(fn) {
    this.#subscribers.add(fn);
    this.lastWatchedAt = Date.now();
    return () => {
      if (this.#subscribers.delete(fn)) this.lastWatchedAt = Date.now();
    };
  }

  /** When a subscriber last came or went (ms since the epoch; 0 before the first). */
  lastWatchedAt = 0;

  /** The events after `id`, or null when some of them are no longer kept. */
  since(id) {
    if (id > this.head) return null; // not one of ours
    if (id === this.head) return [];
    const first = this.ring[0]?.id ?? this.head + 1;
    if (id < first - 1) return null;
    return this.ring.slice(id - first + 1);
  }

  statusJson() {
    return toJson(this.status);
  }

  async #loop() {
    if (this.#running) return;
    this.#running = true;
    try {
      while (!this.#stopped) {
        const started = Date.now();
        await this.tick();
        const rest = Math.max(0, this.intervalMs - (Date.now() - started));
        if (this.#stopped) break;
        await new Promise((resolve) => (this.#timer = setTimeout(resolve, rest)));
      }
    } finally {
      this.#running = false;
    }
  }

  /** One round: snapshot, diff, results. Never throws: a failure becomes the status. */
  async tick() {
    try {
      await this.#tick();
      this.ticks++;
      this.#setStatus(null);
    } catch (error) {
      this.#setStatus(error);
    }
  }

  #setStatus(error) {
    const ok = !error;
    const message = error ? String(error.cause?.message ?? error.message ?? error) : null;
    const changed = this.status.ok !== ok || this.status.error !== message;
    this.status = { ok, error: message, at: Date.now() };
    if (changed) for (const fn of this.#subscribers) fn({ type: EVENT.status, json: this.statusJson() });
  }

  #emit(type, record) {
    const event = { id: ++this.head, type, json: toJson(record) };
    this.ring.push(event);
    if (this.ring.length > this.ringSize) this.ring.splice(0, this.ring.length - this.ringSize);
    for (const fn of this.#subscribers) fn(event);
  }

  #parse(body, queue) {
    if (body == null) return null;
    let message;
    try {
      message = this.decodeMessage(body);
    } catch {
      return null;
    }
    if (!message || typeof message.message_id !== "string" || typeof message.actor_name !== "string") return null;
    let key = null;
    try {
      key = this.backend.buildMessageKey({ queueName: queue, actorName: message.actor_name, messageId: message.message_id });
    } catch {
      // A name the key derivation refuses: shown without a key.
    }
    return { messageId: message.message_id, message, key };
  }

  async #tick() {
    const now = Date.now();
    if (now - this.#discoveredAt >= this.discoverEveryMs) {
      // Queues seen once stay listed (an empty queue has no keys), up to a thousand.
      for (const q of await this.reader.queues()) if (this.#queues.size < 1000) this.#queues.add(q);
      this.#discoveredAt = now;
    }
    // Known records' queues stay in the snapshot even before the next discovery.
    const queues = [...new Set([...this.#queues, ...[...this.records.values()].filter((r) => IN_BROKER.has(r.state)).map((r) => r.queue)])].sort();
    const { heartbeats, queues: snapshot } = await this.reader.snapshot(queues, this.cap);
    this.#overview(snapshot, heartbeats, now);

    // redis_message_id → message, reading the bodies of ids not seen in the last round.
    const rids = new Map();
    const observed = new Map();
    const windowFull = new Set(); // queues whose dead letters exceed what one snapshot reads
    for (const s of snapshot) {
      if (s.deadLettered > s.deadIds.length) windowFull.add(s.name);
      const k = this.reader.keys;
      const groups = [
        ["queued", k.messages(s.name), s.queuedIds],
        ["delayed", k.messages(k.delayQueue(s.name)), [...s.delayedIds, ...s.heldIds]],
        ["in-progress", k.messages(s.name), s.ackedIds],
        ["dead-lettered", k.deadLetterMessages(s.name), s.deadIds],
      ];
      for (const [state, hash, ids] of groups) {
        const unknown = ids.filter((id) => !this.#rids.has(id) && !rids.has(id));
        const bodies = unknown.length ? await this.reader.bodies(hash, unknown) : [];
        unknown.forEach((id, i) => {
          const parsed = this.#parse(bodies[i], s.name);
          if (parsed) rids.set(id, parsed);
        });
        for (const id of ids) {
          const parsed = rids.get(id) ?? this.#rids.get(id);
          if (!parsed) continue; // gone between the snapshot and the read: next round
          rids.set(id, parsed);
          const seen = observed.get(parsed.messageId);
          if (!seen || RANK[state] > RANK[seen.state]) observed.set(parsed.messageId, { state, queue: s.name, ...parsed });
        }
      }
    }
    this.#rids = rids;

    for (const [messageId, o] of observed) {
      const record = this.records.get(messageId);
      // Its result was found first, under a key that named nothing: that record was this one.
      const stand = !record && o.key ? this.records.get(o.key) : undefined;
      if (stand?.unseen && stand.key === o.key) {
        this.records.delete(o.key);
        this.finished.delete(o.key);
        this.#emit(EVENT.removed, stand);
      }
      if (!record) {
        const fresh = { messageId, queue: o.queue, actor: o.message.actor_name, state: o.state, message: o.message, key: o.key, result: null, expired: false, since: now, finishedAt: null };
        this.records.set(messageId, fresh);
        if (o.state === "dead-lettered") fresh.finishedAt = now;
        this.#emit(EVENT.appeared, fresh);
        continue;
      }
      if (record.state === o.state) continue;
      const from = record.state;
      Object.assign(record, { state: o.state, queue: o.queue, message: o.message, key: o.key, since: now });
      if (this.finished.delete(messageId) || from === "dead-lettered") Object.assign(record, { result: null, expired: false, finishedAt: null });
      let type = EVENT.moved;
      if (o.state === "in-progress") type = EVENT.started;
      else if (o.state === "dead-lettered") type = EVENT.deadLettered;
      else if (from === "in-progress") type = EVENT.retried;
      if (o.state === "dead-lettered") record.finishedAt = now; // not forgotten while it is there
      this.#emit(type, record);
    }

    // Records that left the broker: read their results, in one batch.
    const gone = [];
    for (const record of this.records.values()) {
      if (!IN_BROKER.has(record.state) || observed.has(record.messageId)) continue;
      if (record.state === "dead-lettered" && windowFull.has(record.queue)) continue; // beyond the read window
      gone.push(record);
    }
    const goneOutcomes = await this.#results(gone);
    for (const record of gone) {
      if (record.state === "dead-lettered") {
        this.records.delete(record.messageId);
        this.finished.delete(record.messageId);
        this.#emit(EVENT.removed, record);
        continue;
      }
      const outcome = goneOutcomes.get(record);
      record.state = outcome?.exception ? "failed" : "done";
      record.result = outcome ?? null;
      record.since = now;
      this.#finish(record, now);
      this.#emit(outcome?.exception ? EVENT.failed : EVENT.finished, record);
    }

    // Results of messages no snapshot saw (sent and done between two polls).
    if (this.resultKeys) await this.#walkResults(now);

    // Results that come after the message left (an exception is stored after dead-lettering).
    const ended = [...this.records.values()].filter((r) => r.finishedAt !== null);
    const justGone = new Set(gone);
    const pending = ended.filter((r) => !r.result && !justGone.has(r) && now - r.finishedAt <= this.resultGraceMs);
    if (pending.length) {
      const outcomes = await this.#results(pending);
      for (const record of pending) {
        const outcome = outcomes.get(record);
        if (!outcome) continue;
        record.result = outcome;
        if (record.state === "done" && outcome.exception) record.state = "failed";
        this.#emit(outcome.exception ? EVENT.failed : EVENT.finished, record);
      }
    }

    // Now and then, whether results are still there.
    if (now - this.#recheckedAt >= this.recheckEveryMs) {
      this.#recheckedAt = now;
      const held = ended.filter((r) => r.result && !r.expired);
      const outcomes = await this.#results(held);
      for (const record of held) {
        if (outcomes.has(record)) continue;
        record.expired = true;
        this.#emit(EVENT.expired, record);
      }
    }
  }

  /** Queue counts and live workers, sent (without an event id) when they change. */
  #overview(snapshot, heartbeats, now) {
    const queues = toJson(snapshot.map((q) => ({
      name: q.name,
      queued: q.queued,
      delayed: q.delayed + q.heldIds.length,
      inProgress: q.ackedIds.length,
      deadLettered: q.deadLettered,
    })));
    const fresh = heartbeats.filter((w) => w.lastSeen >= now - this.reader.heartbeatTimeoutMs);
    const workers = toJson(fresh);
    for (const [type, json] of [[EVENT.queues, queues], [EVENT.workers, workers]]) {
      if (this.overview[type] === json) continue;
      this.overview[type] = json;
      for (const fn of this.#subscribers) fn({ type, json });
    }
  }

  #finish(record, now) {
    record.finishedAt = now;
    this.finished.delete(record.messageId);
    this.finished.add(record.messageId);
    while (this.finished.size > this.maxFinished) {
      const oldest = this.finished.values().next().value;
      this.finished.delete(oldest);
      this.records.delete(oldest);
    }
  }

  /** A few SCAN steps over the result keys; a key new since the last whole walk, of no
   * known record, becomes an `unseen` record with its result. */
  async #walkResults(now) {
    const walk = this.#walk;
    const known = new Set();
    for (const r of this.records.values()) if (r.key) known.add(r.key);
    const fresh = [];
    for (let calls = 0; calls < this.resultScanCalls; calls++) {
      const [next, keys] = await this.reader.scanLists(walk.cursor, this.resultKeys.pattern, this.resultScanCount);
      for (const key of keys) {
        if (walk.current.has(key)) continue;
        walk.current.add(key);
        if (walk.previous && !walk.previous.has(key) && !known.has(key)) fresh.push(key);
      }
      walk.cursor = next;
      if (next === "0") {
        walk.previous = walk.current;
        walk.current = new Set();
        break;
      }
    }
    for (let i = 0; i < fresh.length; i += 100) {
      const chunk = fresh.slice(i, i + 100);
      const outcomes = await Promise.all(chunk.map((key) => this.#readOutcome(key)));
      chunk.forEach((key, j) => {
        const outcome = outcomes[j];
        // Gone again (expired), or not a result: a list under a key of that shape whose
        // bytes the package does not read as Dramatiq's is not claimed.
        if (!outcome || outcome.error) return;
        const id = this.resultKeys.parse(key);
        const record = {
          messageId: id?.messageId ?? key,
          queue: id?.queueName ?? null,
          actor: id?.actorName ?? null,
          state: outcome.exception ? "failed" : "done",
          message: null,
          key,
          result: outcome,
          expired: false,
          unseen: true,
          since: now,
          finishedAt: now,
        };
        if (this.records.has(record.messageId)) return;
        this.records.set(record.messageId, record);
        this.#finish(record, now);
        this.#emit(outcome.exception ? EVENT.failed : EVENT.finished, record);
      });
    }
  }

  /** The outcome stored under `key` (null when absent), read and decoded as the package does. */
  async #readOutcome(key) {
    const bytes = await this.readKey(key);
    if (bytes == null) return null;
    return describeOutcome(await this.decodeResult(bytes), this.encode);
  }

  /** The stored results of `records` (a non-blocking batch read through the backend):
   * record → outcome, for those that have one. A failing store throws. */
  async #results(records) {
    const out = new Map();
    // Records known by their key only (an unseen result under an MD5 key): read by key.
    const byKey = records.filter((r) => r.key && r.queue === null);
    const outcomes = await Promise.all(byKey.map((r) => this.#readOutcome(r.key)));
    byKey.forEach((r, i) => outcomes[i] && out.set(r, outcomes[i]));
    const withKey = records.filter((r) => r.key && r.queue !== null);
    if (!withKey.length) return out;
    const byMessage = new Map(withKey.map((r) => [{ queueName: r.queue, actorName: r.actor, messageId: r.messageId }, r]));
    const stream = this.backend.iterResults([...byMessage.keys()], { block: false });
    for await (const outcome of stream) {
      const record = byMessage.get(outcome.message);
      if (!record) continue;
      if (outcome.error?.code === "RESULT_MISSING") continue;
      if (outcome.error?.code === "RESULT_STORE" || outcome.error?.code === "RESULT_TIMEOUT") throw outcome.error;
      out.set(record, describeOutcome(outcome, this.encode));
    }
    return out;
  }
}
