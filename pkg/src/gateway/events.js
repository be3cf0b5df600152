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

import { publicError, toJson } from "./http.js";
import { BROKER_STATES, EVENT } from "./protocol.js";
import { describeOutcome, readMessage, summarize } from "./records.js";

export { describeOutcome, toJson };

const KIB = 1024;
const MIB = 1024 * KIB;
const utf8 = new TextEncoder();

// A message one snapshot sees in more than one place (say a worker's acks set and the queue
// it was pushed back to) counts in the state of highest rank.
const RANK = { "in-progress": 1, delayed: 2, queued: 3, "dead-lettered": 4 };
const IN_BROKER = new Set(BROKER_STATES);

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
   * @param {(message: string) => void} [o.log] where failures' details go
   *
   * Memory is bounded in bytes, whatever producers send: a message whose JSON is longer than
   * `maxMessageBytes` is kept as a summary (its ids, actor, queue, timestamp and scalar
   * options; `truncated` on the record says how long it was), so is a result value longer
   * than that (`{ omitted: length }`); once the records' JSON passes `recordBytes`, new
   * messages are kept as summaries too; at most `maxRecords` messages are followed (more are
   * counted, not listed: `status.truncated`); the event ring keeps at most `ringSize` events
   * and `ringBytes` of their JSON. See SECURITY.md ("Gateway").
   */
  constructor({
    reader,
    backend,
    decodeMessage = JSON.parse,
    encode = toJson,
    resultKeys = null,
    readKey = null,
    decodeResult = null,
    log = null,
    resultScanCalls = 10,
    resultScanCount = 1000,
    intervalMs = 500,
    discoverEveryMs = 5000,
    recheckEveryMs = 5000,
    resultGraceMs = 15_000,
    cap = 10_000,
    ringSize = 20_000,
    maxFinished = 20_000,
    ringBytes = 64 * MIB,
    recordBytes = 64 * MIB,
    maxMessageBytes = 64 * KIB,
    maxRecords = 100_000,
    resultReads = 1000,
    queueCounts = null,
  }) {
    /** With a broker other than Redis (`serve --amqp`): `() => Promise<rows>` of the
     * `queues` overview, read at most every `discoverEveryMs` instead of the snapshot's. */
    this.queueCounts = queueCounts;
    Object.assign(this, { reader, backend, decodeMessage, encode, resultKeys: readKey && decodeResult ? resultKeys : null, readKey, decodeResult, log, resultScanCalls, resultScanCount, intervalMs, discoverEveryMs, recheckEveryMs, resultGraceMs, cap, ringSize, maxFinished, ringBytes, recordBytes, maxMessageBytes, maxRecords, resultReads });
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
    /** New ids the last round did not read (`maxRecords` reached). */
    this.truncated = 0;
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
  /** When the last whole round (result keys' walk and late results included) started. */
  #wholeAt = -Infinity;
  #recheckedAt = 0;
  /** redis_message_id → { messageId, message } for the ids seen in the last snapshot. */
  #rids = new Map();
  /** The bytes of the ring's events' JSON. */
  #ringUsed = 0;
  /** record → the JSON of its last event (what a client holds of it), for snapshots. */
  #latest = new WeakMap();
  /** The bytes of the records' latest JSON (an estimate kept as they change). */
  #recordsUsed = 0;
  /** The snapshot as sent to a new client, built once per head: `{ head, chunks }`. */
  #snapshot = null;
  /** The walk over result keys: its SCAN cursor, the keys of the last whole walk (null
   * until the first, the baseline, is done) and those of this one. */
  #walk = { cursor: "0", previous: null, current: new Set() };

  /** The queues the poller knows (found by discovery). */
  get queueNames() {
    return this.#queues;
  }

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
    clearTimeout(this.#wakeTimer);
    this.#wakeTimer = null;
    this.#wakeUp?.();
    clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Calls `fn()` once something changed (new events in the ring, the status, the queues or
   * workers overview), at most once per round, until the returned function is called. A
   * subscriber reads what changed itself (`since(id)`, `statusJson()`, `overview`,
   * `versions`): the work of a round does not grow with the number of subscribers, and a
   * subscriber holds no copy of anything.
   */
  subscribe(fn) {
    this.#subscribers.add(fn);
    this.lastWatchedAt = Date.now();
    return () => {
      if (this.#subscribers.delete(fn)) this.lastWatchedAt = Date.now();
    };
  }

  #wakeUp = null;

  /**
   * Polls now rather than at the end of the interval (a keyspace notification said a
   * broker key changed; see ./keyspace.js), and with `discover` looks for new queues too.
   * An early round starts `wakeGap` after the last round ended (`wakeGapRatio` times its
   * duration): a message a worker finishes within milliseconds is still read while it is
   * in the broker, and however busy the deployment, rounds take at most
   * 1 / (1 + wakeGapRatio) of the gateway's time (and a smaller share of Redis's).
   */
  wake({ discover = false } = {}) {
    if (discover) this.#discoveredAt = -Infinity;
    if (!this.#wakeUp) {
      this.#woken = true; // mid-round: the change may be after its snapshot, so go again
      return;
    }
    const wait = this.#roundEndAt + this.wakeGap - performance.now();
    if (wait > 0) {
      if (!this.#wakeTimer) this.#wakeTimer = setTimeout(() => ((this.#wakeTimer = null), this.wake()), wait);
      return;
    }
    clearTimeout(this.#timer);
    this.#wakeUp();
  }

  #woken = false;

  #wakeTimer = null;
  /** How long the gap before the next early round is, in rounds: it starts this many times
   * the last round's duration after that round ended. With a fixed 50 ms between early
   * rounds' starts, 21 of 50 messages a Python worker finished within milliseconds while
   * other messages kept the deployment busy were never read; spaced by cost (ratio 1, at
   * least 5 ms), none of 200 in two runs (ratio 2: 9 of 100). The rounds a wake starts are
   * light (see #loop), so their cost is the broker's snapshot, not the result store's size. */
  wakeGapRatio = 1;
  /** The shortest gap between early rounds (ms): at most 200 a second. */
  minWakeGapMs = 5;
  /** How long the last round took (ms), and when it ended (`performance.now()`). */
  #roundMs = 0;
  #roundEndAt = -Infinity;

  /** The gap before the next early round (ms): `wakeGapRatio` rounds' worth, from
   * `minWakeGapMs` up to the poll interval. */
  get wakeGap() {
    return Math.min(this.intervalMs, Math.max(this.minWakeGapMs, this.wakeGapRatio * this.#roundMs));
  }

  /** Calls `fn(event)` for every record event, like `subscribe`, for the gateway's own
   * parts (the message history, the result waiters): not a viewer, so not counted in
   * `watchers` (an unwatched Worker gateway still stops polling). */
  observe(fn) {
    this.#observers.add(fn);
    return () => this.#observers.delete(fn);
  }

  #observers = new Set();

  /** Sends an event without an id (not replayed) to every open stream: the operator's
   * `audit` entries and bulk progress. The last 256 are kept (`noticesAfter`); a stream
   * sends those after the last it sent (see routes/events.js), counted in
   * `versions.notices`. */
  notify(type, json) {
    this.#notices.push({ seq: ++this.versions.notices, type, json });
    if (this.#notices.length > 256) this.#notices.shift();
    this.#notify();
  }

  #notices = [];

  /** The notices after number `seq`, oldest first. */
  noticesAfter(seq) {
    return this.#notices.filter((n) => n.seq > seq);
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
        const started = performance.now();
        // A round a wake starts before the interval is up is light: it reads the broker (what
        // a short-lived message needs) but not the result keys' walk or late results, whose
        // cost grows with the store, not with the change that woke it. (0.9: timers run
        // late, never early, so the interval's own rounds are always whole.)
        await this.tick({ light: Date.now() - this.#wholeAt < this.intervalMs * 0.9 });
        this.#roundEndAt = performance.now();
        this.#roundMs = this.#roundEndAt - started;
        const rest = this.#woken ? this.wakeGap : Math.max(0, this.intervalMs - this.#roundMs);
        this.#woken = false;
        if (this.#stopped) break;
        await new Promise((resolve) => {
          this.#timer = setTimeout(resolve, rest);
          this.#wakeUp = resolve;
        });
        this.#wakeUp = null;
      }
    } finally {
      this.#running = false;
    }
  }

  /** One round: snapshot, diff, results (with `light`, not the result keys' walk or late
   * results). Never throws: a failure becomes the status. */
  async tick({ light = false } = {}) {
    try {
      await this.#tick(light);
      this.ticks++;
      this.#setStatus(null);
    } catch (error) {
      this.#setStatus(error);
    }
    if (this.#pending) this.#notify();
  }

  /** Whether events or overviews changed since the subscribers were last told. */
  #pending = false;

  /** Tells every subscriber that something changed (they read it themselves). */
  #notify() {
    this.#pending = false;
    for (const fn of this.#subscribers) {
      try {
        fn();
      } catch {
        // A subscriber's failure is its own.
      }
    }
  }

  /** How many times the status and each overview changed (a subscriber compares). */
  versions = { status: 0, queues: 0, workers: 0, notices: 0 };

  #setStatus(error) {
    const ok = !error;
    const message = error ? publicError(error) : null;
    // Keys skipped for their type: named in the status (the first ten), so whoever looks
    // sees them; a new one makes a status event, as a change of health does.
    const stray = [...this.reader.stray].slice(0, 10);
    const was = this.status;
    const changed = was.ok !== ok || was.error !== message || (was.stray?.length ?? 0) !== stray.length;
    this.status = { ok, error: message, at: Date.now(), stray, ...(this.truncated ? { truncated: this.truncated } : {}) };
    if (error && was.ok !== false) this.log?.(`polling failed: ${error.cause?.message ?? error.message ?? error}`);
    if (ok && was.ok === false) this.log?.("polling again");
    if (changed) {
      this.versions.status++;
      this.#notify();
    }
  }

  #emit(type, record) {
    const json = toJson(record);
    const event = { id: ++this.head, type, json };
    if (type !== EVENT.removed) {
      this.#recordsUsed += json.length - (this.#latest.get(record)?.length ?? 0);
      this.#latest.set(record, json);
    }
    this.ring.push(event);
    this.#ringUsed += json.length;
    let drop = 0;
    while (this.ring.length - drop > 1 && (this.ring.length - drop > this.ringSize || this.#ringUsed > this.ringBytes)) {
      this.#ringUsed -= this.ring[drop].json.length;
      drop++;
    }
    if (drop) this.ring.splice(0, drop);
    this.#pending = true;
    for (const fn of this.#observers) fn(event, record);
  }

  /** The bytes of the ring's events and of the records' JSON (what the bounds bound). */
  get memory() {
    return { ringEvents: this.ring.length, ringBytes: this.#ringUsed, records: this.records.size, recordBytes: this.#recordsUsed };
  }

  /** Forgets a record (its latest JSON goes with it). */
  #forget(messageId) {
    const record = this.records.get(messageId);
    if (!record) return;
    this.#recordsUsed -= this.#latest.get(record)?.length ?? 0;
    this.#latest.delete(record);
    this.records.delete(messageId);
  }

  /**
   * The snapshot a new client gets, as UTF-8 chunks of about 64 KiB: `reset`, then one
   * `snapshot` event per record (the last carrying the head's id) or `ready`. Built once per
   * head and shared by every client (a crowd costs the bytes it is sent, not one
   * serialisation each).
   */
  snapshot() {
    if (this.#snapshot?.head === this.head) return this.#snapshot;
    const parts = [`event: ${EVENT.reset}\ndata: ${toJson({ head: this.head, records: this.records.size })}\n\n`];
    let i = 0;
    for (const record of this.records.values()) {
      const json = this.#latest.get(record) ?? toJson(record);
      const last = ++i === this.records.size;
      parts.push(`event: ${EVENT.snapshot}\ndata: ${json}\n${last ? `id: ${this.head}\n` : ""}\n`);
    }
    if (!this.records.size) parts.push(`event: ${EVENT.ready}\ndata: {}\nid: ${this.head}\n\n`);
    const chunks = [];
    let pending = [];
    let size = 0;
    const flush = () => {
      if (pending.length) chunks.push(utf8.encode(pending.join("")));
      pending = [];
      size = 0;
    };
    for (const part of parts) {
      pending.push(part);
      size += part.length;
      if (size >= 64 * KIB) flush();
    }
    flush();
    this.#snapshot = { head: this.head, chunks };
    return this.#snapshot;
  }

  /** A message as kept: whole, or (too long, or the records over their budget) a summary. */
  #keep(message, bytes) {
    if (bytes <= this.maxMessageBytes && this.#recordsUsed <= this.recordBytes) return { message };
    return { message: summarize(message), truncated: bytes };
  }

  #parse(body, queue, rid) {
    if (body == null) return null;
    const { message, malformed } = readMessage(body, this.decodeMessage);
    // Listed, not hidden: what the broker holds under an id but no one can read as a message
    // (a producer could hide messages from the view otherwise).
    if (malformed) return { messageId: `malformed:${rid}`, message: null, key: null, malformed, actor: null, bytes: body.length };
    let key = null;
    try {
      key = this.backend.buildMessageKey({ queueName: queue, actorName: message.actor_name, messageId: message.message_id });
    } catch {
      // A name the key derivation refuses: shown without a key.
    }
    // The actor's name is the producer's too: a record keeps at most its first 200 characters
    // (its key was derived from the whole name above).
    const actor = typeof message.actor_name === "string" && message.actor_name.length > 200 ? `${message.actor_name.slice(0, 200)}…` : message.actor_name;
    return { messageId: message.message_id, ...this.#keep(message, body.length), key, actor };
  }

  async #tick(light) {
    const now = Date.now();
    if (!light) this.#wholeAt = now;
    if (now - this.#discoveredAt >= this.discoverEveryMs) {
      // Queues seen once stay listed (an empty queue has no keys), up to a thousand.
      for (const q of await this.reader.queues()) if (this.#queues.size < 1000) this.#queues.add(q);
      this.#discoveredAt = now;
    }
    // Known records' queues stay in the snapshot even before the next discovery.
    const queues = [...new Set([...this.#queues, ...[...this.records.values()].filter((r) => IN_BROKER.has(r.state)).map((r) => r.queue)])].sort();
    const { heartbeats, queues: read } = await this.reader.snapshot(queues, this.cap);
    // A name whose every key is of another type (`SET dramatiq:cache-flag 1`) is no queue.
    for (const q of read) if (q.strayOnly) this.#queues.delete(q.name);
    const snapshot = read.filter((q) => !q.strayOnly);
    if (this.queueCounts && now - this.#countedAt >= this.discoverEveryMs) {
      this.#countedAt = now;
      try {
        this.#counted = await this.queueCounts();
      } catch {
        // The other broker is down: its counts are left as they were (its routes say 503).
      }
    }
    this.#overview(snapshot, heartbeats, now);

    // redis_message_id → message, reading the bodies of ids not seen in the last round.
    const rids = new Map();
    const observed = new Map();
    const windowFull = new Set(); // queues whose dead letters exceed what one snapshot reads
    let skipped = 0; // new ids not read: `maxRecords` messages are followed already
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
        let unknown = ids.filter((id) => !this.#rids.has(id) && !rids.has(id));
        if (unknown.length && this.records.size >= this.maxRecords) {
          skipped += unknown.length;
          unknown = [];
        }
        const bodies = unknown.length ? await this.reader.bodies(hash, unknown) : [];
        unknown.forEach((id, i) => {
          const parsed = this.#parse(bodies[i], s.name, id);
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
        this.#forget(o.key);
        this.finished.delete(o.key);
        this.#emit(EVENT.removed, stand);
      }
      if (!record) {
        const fresh = { messageId, queue: o.queue, actor: o.actor, state: o.state, message: o.message, key: o.key, result: null, expired: false, since: now, finishedAt: null };
        if (o.truncated) fresh.truncated = o.truncated;
        if (o.malformed) Object.assign(fresh, { malformed: o.malformed, bytes: o.bytes });
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

    this.truncated = skipped;
    // Records that left the broker: read their results, in one batch. (Not while ids went
    // unread: a record whose message came back under a new id would look gone.)
    const gone = [];
    for (const record of skipped ? [] : this.records.values()) {
      if (!IN_BROKER.has(record.state) || observed.has(record.messageId)) continue;
      if (record.state === "dead-lettered" && windowFull.has(record.queue)) continue; // beyond the read window
      gone.push(record);
      if (gone.length >= this.resultReads) break; // the rest next round: the poll's cost is bounded
    }
    const goneOutcomes = await this.#results(gone);
    for (const record of gone) {
      if (record.state === "dead-lettered") {
        this.#forget(record.messageId);
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

    if (light) return;

    // Results of messages no snapshot saw (sent and done between two polls).
    if (this.resultKeys) await this.#walkResults(now);

    // Results that come after the message left (an exception is stored after dead-lettering).
    const ended = [...this.records.values()].filter((r) => r.finishedAt !== null);
    const justGone = new Set(gone);
    const pending = this.#some("pending", ended.filter((r) => !r.result && !justGone.has(r) && now - r.finishedAt <= this.resultGraceMs));
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
      const held = this.#some("held", ended.filter((r) => r.result && !r.expired));
      const outcomes = await this.#results(held);
      for (const record of held) {
        if (outcomes.has(record)) continue;
        record.expired = true;
        this.#emit(EVENT.expired, record);
      }
    }
  }

  /** At most `resultReads` of `list`, taking turns across rounds (`name` keeps the turn). */
  #some(name, list) {
    if (list.length <= this.resultReads) return list;
    const start = (this.#turns[name] ?? 0) % list.length;
    const out = list.slice(start, start + this.resultReads);
    if (out.length < this.resultReads) out.push(...list.slice(0, this.resultReads - out.length));
    this.#turns[name] = start + this.resultReads;
    return out;
  }

  #turns = {};

  #countedAt = -Infinity;
  #counted = [];

  /** Queue counts and live workers, sent (without an event id) when they change. */
  #overview(snapshot, heartbeats, now) {
    const queues = this.queueCounts ? toJson(this.#counted) : toJson(snapshot.map((q) => ({
      name: q.name,
      queued: q.queued,
      delayed: q.delayed + q.held,
      inProgress: q.inProgress,
      deadLettered: q.deadLettered,
    })));
    const fresh = heartbeats.filter((w) => w.lastSeen >= now - this.reader.heartbeatTimeoutMs);
    const workers = toJson(fresh);
    for (const [type, json] of [[EVENT.queues, queues], [EVENT.workers, workers]]) {
      if (this.overview[type] === json) continue;
      this.overview[type] = json;
      this.versions[type]++;
      this.#pending = true;
    }
  }

  #finish(record, now) {
    record.finishedAt = now;
    this.finished.delete(record.messageId);
    this.finished.add(record.messageId);
    while (this.finished.size > this.maxFinished) {
      const oldest = this.finished.values().next().value;
      this.finished.delete(oldest);
      this.#forget(oldest);
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
    return describeOutcome(await this.decodeResult(bytes), this.encode, this.maxMessageBytes);
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
      out.set(record, describeOutcome(outcome, this.encode, this.maxMessageBytes));
    }
    return out;
  }
}
