// What the gateway saw of each message, for `GET /api/messages/<id>`: the states it moved
// through (from the event poller's record events), the operator's actions on it, and its
// queue and actor (so its result can still be found once it has left the broker, say after
// a requeue the poller never saw run). Bounded: the newest `maxMessages` messages,
// `maxEntries` entries each. Host-neutral.

export class MessageHistory {
  constructor({ maxMessages = 50_000, maxEntries = 32, maxPairs = 1000 } = {}) {
    this.maxMessages = maxMessages;
    this.maxEntries = maxEntries;
    this.maxPairs = maxPairs;
    /** messageId → { queue, actor, entries: [{ at, state, event, by? }] oldest first } */
    this.messages = new Map();
  }

  /** `queue\0actor` → { queue, actor }, the most recently seen last. */
  #pairs = new Map();

  /** The queue and actor pairs of the messages seen, the most recent first (at most
   * `maxPairs`): where a message the gateway never saw may have run (its result key is
   * derived from them). */
  pairs() {
    return [...this.#pairs.values()].reverse();
  }

  /** Remembers that `actor`'s messages go to `queue` (a message of theirs was seen). Names
   * over 200 characters (a hostile producer's, or clipped by the poller) are not kept. */
  notePair(queue, actor) {
    const fits = (name) => typeof name === "string" && name.length > 0 && name.length <= 200;
    if (!fits(queue) || !fits(actor)) return;
    const pair = `${queue}\0${actor}`;
    this.#pairs.delete(pair);
    this.#pairs.set(pair, { queue, actor });
    if (this.#pairs.size > this.maxPairs) this.#pairs.delete(this.#pairs.keys().next().value);
  }

  /** Appends an entry to a message's history (a repeated state is not added again);
   * `where` (`{ queue, actor }`) is remembered when given. */
  add(messageId, entry, where) {
    if (typeof messageId !== "string") return;
    let m = this.messages.get(messageId);
    if (!m) {
      m = { queue: null, actor: null, entries: [] };
      this.messages.set(messageId, m);
      if (this.messages.size > this.maxMessages) this.messages.delete(this.messages.keys().next().value);
    }
    if (where?.queue && where?.actor) {
      Object.assign(m, { queue: where.queue, actor: where.actor });
      this.notePair(where.queue, where.actor);
    }
    const last = m.entries.at(-1);
    if (last && last.state === entry.state && last.event === entry.event && !entry.by) return;
    m.entries.push(entry);
    if (m.entries.length > this.maxEntries) m.entries.splice(0, m.entries.length - this.maxEntries);
  }

  /** The history of `messageId`, oldest first ([] when none). */
  of(messageId) {
    return this.messages.get(messageId)?.entries ?? [];
  }

  /** `{ queue, actor }` last known of `messageId`, or null. */
  where(messageId) {
    const m = this.messages.get(messageId);
    return m?.queue ? { queue: m.queue, actor: m.actor } : null;
  }

  /** Follows `poller`'s record events; answers the function that stops following. A record
   * known only by its result key (an MD5 key names no message) is not a message's. */
  follow(poller) {
    return poller.observe((event, record) => {
      if (!record?.messageId || !event.type || (record.unseen && record.queue === null)) return;
      this.add(record.messageId, { at: Date.now(), state: record.state, event: event.type }, { queue: record.queue, actor: record.actor });
    });
  }
}
