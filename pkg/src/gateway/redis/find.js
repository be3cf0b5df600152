// Finding messages in Dramatiq's Redis broker keys: one message by its Dramatiq
// `message_id` (where it is now, and its body), and a search by text across the four
// states. Read-only and host-neutral; every read is bounded (SCAN-style cursors with COUNT,
// pages of at most 1000 bodies, a budget of bodies per request).
//
// A message is stored under its `redis_message_id` (each enqueue a new one), not its
// `message_id`, so finding it by `message_id` takes either a hint (the event poller's record
// names its queue and `redis_message_id`) checked with one script, or a walk of the bodies.
import { readMessage } from "../records.js";
import { Slots } from "../slots.js";
import { text } from "./broker.js";

// Where the message stored under ARGV[1] is in queue KEYS (list, hash, delay list, delay
// hash, dead-letter zset, dead-letter hash): {state, body} or {} when nowhere. A body in a
// hash whose id is on no list is held by a worker (in progress, or delayed until its eta).
const LOCATE = `
local id = ARGV[1]
if redis.call("ZSCORE", KEYS[5], id) then return {"dead-lettered", redis.call("HGET", KEYS[6], id) or false, "xq"} end
local body = redis.call("HGET", KEYS[2], id)
if body then
  if redis.call("LPOS", KEYS[1], id) then return {"queued", body, "q"} end
  return {"in-progress", body, "q"}
end
body = redis.call("HGET", KEYS[4], id)
if body then
  if redis.call("LPOS", KEYS[3], id) then return {"delayed", body, "dq"} end
  return {"delayed", body, "held"}
end
return {}`;

// A page of the dead-letter zset KEYS[1] with scores (when dead-lettered, ms) in
// [ARGV[1], ARGV[2]], in (score, id) order after the cursor (ARGV[4] a score, "" for the
// first page; ARGV[5] the id), at most ARGV[3] ids and, past the first, ARGV[6] bytes of
// bodies (HSTRLEN, so a page of big messages stays one bounded reply: 500 bodies of 600 KB
// would pass the client's reply cap and fail every bulk action), with their bodies from
// KEYS[2]; the fourth element is 1 when the byte budget cut the page short.
const DEAD_RANGE = `
local min, max, limit, score, after, budget = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local ids, scores = {}, {}
local bytes, cut = 0, 0
local function take(rows)
  for i = 1, #rows, 2 do
    if #ids >= limit or cut == 1 then return end
    local size = redis.call("HSTRLEN", KEYS[2], rows[i])
    if #ids > 0 and bytes + size > budget then cut = 1; return end
    bytes = bytes + size
    ids[#ids + 1] = rows[i]; scores[#scores + 1] = rows[i + 1]
  end
end
if score == "" then
  take(redis.call("ZRANGEBYSCORE", KEYS[1], min, max, "WITHSCORES", "LIMIT", 0, limit))
else
  local ties = redis.call("ZRANGEBYSCORE", KEYS[1], score, score, "WITHSCORES")
  local later = {}
  for i = 1, #ties, 2 do
    if ties[i] > after then later[#later + 1] = ties[i]; later[#later + 1] = ties[i + 1] end
  end
  take(later)
  if #ids < limit and cut == 0 then
    take(redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. score, max, "WITHSCORES", "LIMIT", 0, limit - #ids))
  end
end
if #ids == 0 then return {{}, {}, {}, 0} end
return {ids, scores, redis.call("HMGET", KEYS[2], unpack(ids)), cut}`;

/** The most bytes of bodies one page of dead letters reads (at least one body); a bulk
 * action's scripts then carry at most that (twice, for a requeue's old and new bodies).
 * 1 MiB, as `PAGE_BYTES` (./broker.js): at 8 MiB a page and a requeue script over big
 * messages held Redis 36 and 83 ms. */
export const DEAD_PAGE_BYTES = 1024 * 1024;

// One step of a lookup by id: HSCAN of the hash KEYS[1] from cursor ARGV[1] (COUNT
// ARGV[3]) answering the next cursor and only the fields whose body holds ARGV[2] or, when
// given, ARGV[4] (the id as it reads in the JSON: as JSON.stringify writes it, and as
// Python's json.dumps does, non-ASCII escaped), with how many bodies were looked at and their bytes: the
// bodies stay in Redis, so a hash of big messages (1 000 of 600 KB passed the client's
// reply cap and failed every lookup) costs one small reply per step.
const SCAN_FOR = `
local reply = redis.call("HSCAN", KEYS[1], ARGV[1], "COUNT", ARGV[3])
local rows, hits, bytes = reply[2], {}, 0
for i = 1, #rows, 2 do
  bytes = bytes + #rows[i + 1]
  if string.find(rows[i + 1], ARGV[2], 1, true) or (ARGV[4] and string.find(rows[i + 1], ARGV[4], 1, true)) then hits[#hits + 1] = rows[i] end
end
return {reply[1], hits, #rows / 2, bytes}`;

/** The bytes of bodies one step of a lookup aims to read. HSCAN copies every body it
 * returns into the script (about 4.5 ms a MB), so the step's COUNT follows the bodies'
 * size: with a fixed COUNT of 100, a step over 600 KB messages held Redis for 300-550 ms
 * (every client waited), where one now holds it for a few ms. */
export const FIND_STEP_BYTES = 256 * 1024;
/** How many lookups walk the broker at once (the others wait their turn). */
export const WALKS = 2;
/** How many lookups may wait for a walk; more are refused (429) rather than left to wait
 * past any client's patience. */
export const WALKS_WAITING = 1000;

/** The most bodies one step of a lookup asks for (small bodies: fewer round trips). */
export const FIND_STEP_MAX = 1000;

/** How many bodies one search reads at most before it answers (with a cursor). */
export const SCAN_BUDGET = 50_000;
/** How many searches (`?q=`) read the broker at once; the others wait their turn. A search
 * is up to SCAN_BUDGET bodies read and matched in the gateway (about 0.4 s of its CPU for
 * 50 000 small ones): with no bound, a viewer sending searches in parallel multiplied that
 * at will, and every other request waited behind them (20 parallel searches of 50 000
 * bodies: another viewer's `/api/queues` took 150 ms at the median, 14 ms with this). */
export const SEARCHES = 2;
/** How many searches may wait; more are refused (429), as lookups by id are. */
export const SEARCHES_WAITING = 100;

/** How many bodies one lookup by id reads at most. The bodies stay in Redis (steps of 100,
 * each well under a millisecond, only the ids that match come back), so a lookup costs
 * about 3 µs a body: a broker of 160 000 messages is read in about half a second. With
 * the search's budget instead, a message past the first 50 000 bodies was "not found"
 * (and an operator's requeue of it 404) while it sat in the broker. */
export const FIND_BUDGET = 1_000_000;

/** How `id` reads inside a message's JSON text: as JSON.stringify writes it (this
 * package's producers, UTF-8), then, when it differs, as Python's `json.dumps` does
 * (Dramatiq's encoder keeps `ensure_ascii`: every character from DEL, U+007F, on as a
 * lowercase `\uXXXX` escape, astral ones as two). Looking for the first only, an id such as
 * "ünïcødé-1" that a Python producer sent was not found by a walk (404: not followed, not
 * requeued, not deleted). */
export function jsonNeedles(id) {
  const plain = JSON.stringify(id).slice(1, -1);
  const ascii = plain.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return ascii === plain ? [plain] : [plain, ascii];
}

/** The message's JSON text as a searchable string: what `?q=` matches. */
export function haystack(message) {
  const options = message.options ?? {};
  const traceback = typeof options.traceback === "string" ? options.traceback : "";
  let args = "";
  try {
    args = JSON.stringify([message.args, message.kwargs], (_, v) => (typeof v === "bigint" ? String(v) : v));
  } catch {
    // Not representable: matched by id, actor and traceback only.
  }
  return `${message.message_id}\n${message.actor_name}\n${args}\n${traceback}`.toLowerCase();
}

/** Where `record` (a poller record, or a described message: `{ queue, message }`) says its
 * body is, as `find` takes it: `{ queue, rid }`, or null when it does not say. */
export function hintOf(record) {
  const rid = record?.message?.options?.redis_message_id;
  return record?.queue && typeof rid === "string" ? { queue: record.queue, rid } : null;
}

/** The 404 of a lookup whose budget ran out before it found the message (see
 * below): not "unknown", but not among the bodies read. */
export const notAmong = ({ looked }) => ({
  error: `not found among the ${looked} messages the lookup read (it stops there): the broker may hold it beyond them`,
  complete: false,
});

export class MessageFinder {
  /** Lookups by id walking the broker (ids the gateway has no record of). */
  #walks = new Slots(WALKS, WALKS_WAITING, "too many lookups by id are walking the broker (ids the gateway has no record of): try again shortly");
  /** Searches (`?q=`) reading the broker. */
  #searches = new Slots(SEARCHES, SEARCHES_WAITING, "too many searches are reading the broker: try again shortly");
  /**
   * @param {import("./broker.js").BrokerReader} reader
   * @param {(text: string) => object} decodeMessage
   * @param {() => Promise<string[]>} [queues] the queue names to look in
   */
  constructor(reader, decodeMessage, queues = () => reader.queues()) {
    this.reader = reader;
    this.queues = queues;
    this.keys = reader.keys;
    this.decodeMessage = decodeMessage;
  }

  /** `body` as a Dramatiq message, or null (gone, or malformed: see ../records.js). */
  #decode(body) {
    return body == null ? null : (readMessage(body, this.decodeMessage).message ?? null);
  }

  /** Where the message stored under `rid` in `queue` is: `{ state, queue, rid, body,
   * message, malformed, where }` (where: "q", "dq", "held" or "xq"; `message` null and
   * `malformed` saying why for a body that is no message, see ../records.js), or null. */
  async at(queue, rid) {
    const k = this.keys;
    const dq = k.delayQueue(queue);
    const keys = [k.queue(queue), k.messages(queue), k.queue(dq), k.messages(dq), k.deadLetters(queue), k.deadLetterMessages(queue)];
    const reply = await this.reader.redis.sendCommand(["EVAL", LOCATE, "6", ...keys, rid]);
    if (!Array.isArray(reply) || reply.length < 3) return null;
    const body = text(reply[1]);
    const { message = null, malformed = null } = body == null ? {} : readMessage(body, this.decodeMessage);
    return { state: text(reply[0]), queue, rid, body, message, malformed, where: text(reply[2]) };
  }

  /**
   * The message whose Dramatiq id is `messageId`: first where `hint` (`{ queue, rid }`)
   * says, else by walking the bodies (HSCAN, at most FIND_BUDGET of them) state by state
   * across every queue, so one queue with many messages does not hide another's: with
   * `first: "dead"` (an operator's lookup) the dead letters first, then the waiting (and
   * running) messages, then the delayed ones; with `first: "waiting"` (a result awaited
   * for a message just sent) the waiting and delayed ones before the dead letters. Answers
   * as `at`, null when no body has the id, or `{ incomplete: true, looked }` when the
   * budget ran out first (the message may be among the bodies not read).
   */
  async find(messageId, hint, { first = "dead" } = {}) {
    if (hint?.queue && hint?.rid) {
      const found = await this.at(hint.queue, hint.rid);
      if (found && found.message?.message_id === messageId) return found;
    }
    // One walk at a time per WALKS slot: each step is short, but a crowd of walks (lookups
    // of ids the gateway never saw) queued their steps in Redis back to back: 50 at once
    // took PING from 0.1 ms to a p99 of 93 ms for every client.
    const release = await this.#walks.take();
    try {
      return await this.#walkAll(messageId, first);
    } finally {
      release();
    }
  }

  async #walkAll(messageId, first) {
    const budget = { left: FIND_BUDGET, seen: 0, bytes: 0 };
    const needle = jsonNeedles(messageId);
    const k = this.keys;
    const dead = (queue) => k.deadLetterMessages(queue);
    const waiting = (queue) => k.messages(queue);
    const delayed = (queue) => k.messages(k.delayQueue(queue));
    const order = first === "waiting" ? [waiting, delayed, dead] : [dead, waiting, delayed];
    // The queues known first; on a miss, those a fresh discovery finds besides (a queue
    // created since the poller last looked).
    const known = await this.queues();
    const fresh = async () => (await this.reader.queues()).filter((q) => !known.includes(q));
    for (const queues of [known, fresh]) {
      const names = typeof queues === "function" ? await queues() : queues;
      for (const hash of order) {
        for (const queue of names) {
          const found = await this.#walk(queue, hash(queue), messageId, needle, budget);
          if (found) return found;
          if (budget.left <= 0) return { incomplete: true, looked: FIND_BUDGET - budget.left };
        }
      }
    }
    return null;
  }

  /** Looks for `messageId` (as `needle` reads in JSON) among the bodies of `queue`'s hash
   * `hash`, HSCAN by HSCAN, spending `budget.left`. */
  async #walk(queue, hash, messageId, needle, budget) {
    let cursor = "0";
    do {
      // COUNT from the bodies' mean size so far (1 before any was seen: the first step
      // learns it), so that a step reads about FIND_STEP_BYTES.
      const count = budget.seen ? Math.max(1, Math.min(FIND_STEP_MAX, Math.floor((FIND_STEP_BYTES * budget.seen) / Math.max(1, budget.bytes)))) : 1;
      const [next, hits, looked, bytes] = await this.reader.redis.sendCommand(["EVAL", SCAN_FOR, "1", hash, cursor, needle[0], String(count), ...needle.slice(1)]);
      cursor = text(next);
      budget.left -= Number(looked);
      // The latest steps weigh most: a hash of big bodies after many small ones.
      budget.seen = budget.seen / 2 + Number(looked);
      budget.bytes = budget.bytes / 2 + Number(bytes);
      for (const field of hits) {
        const found = await this.at(queue, text(field));
        if (found && found.message?.message_id === messageId) return found;
      }
    } while (cursor !== "0" && budget.left > 0);
    return null;
  }

  /**
   * A page of `queue`'s dead letters dead-lettered within [since, until] (ms), after
   * `after` (`{ s, id }` of the last one read): `{ items: [{ id, at, body, message }], after }`,
   * `after` null after the last.
   */
  async deadLetters(queue, { since = 0, until = Infinity, after = null, limit = 500, maxBytes = DEAD_PAGE_BYTES }) {
    const k = this.keys;
    const max = Number.isFinite(until) ? String(until) : "+inf";
    const [ids, scores, bodies, cut] = await this.reader.redis.sendCommand(["EVAL", DEAD_RANGE, "2", k.deadLetters(queue), k.deadLetterMessages(queue),
      String(since), max, String(limit), after?.s ?? "", after?.id ?? "", String(maxBytes)]);
    const items = ids.map((id, i) => {
      const body = text(bodies[i]);
      return { id: text(id), at: Number(text(scores[i])), body, message: this.#decode(body) };
    });
    const last = items.at(-1);
    const more = items.length === limit || Number(cut) === 1;
    return { items, after: more && last ? { s: text(scores.at(-1)), id: last.id } : null };
  }

  /**
   * A page of the messages matching `q` (a case-insensitive substring of the id, the actor,
   * the arguments or the traceback) in `queues` × `states`, in that order, reading at most
   * SCAN_BUDGET bodies: `{ items: [{ state, queue, message, body }], cursor }` where
   * `cursor` (`{ qi, st, inner }`, or null after the last) resumes.
   */
  async search(q, options) {
    const release = await this.#searches.take();
    try {
      return await this.#search(q, options);
    } finally {
      release();
    }
  }

  async #search(q, { queues, states, limit, cursor }) {
    const needle = q.toLowerCase();
    // A needle of plain ASCII reads the same in the stored JSON as in the decoded message:
    // only bodies that hold it are decoded.
    const plain = /^[\x20-\x7e]*$/.test(needle) && !/["\\]/.test(needle);
    const items = [];
    let budget = SCAN_BUDGET;
    let qi = cursor?.qi ?? 0;
    let st = cursor?.st ?? 0;
    let inner = cursor?.inner;
    while (qi < queues.length && items.length < limit && budget > 0) {
      const queue = queues[qi];
      const page = await this.reader.page(queue, states[st], inner, 500);
      let cut = -1;
      for (let j = 0; j < page.items.length; j++) {
        const { id, body } = page.items[j];
        budget--;
        if (body == null || (plain && !body.toLowerCase().includes(needle))) continue;
        const message = this.#decode(body);
        if (!message || !haystack(message).includes(needle)) continue;
        items.push({ state: states[st], queue, message, rid: id });
        if (items.length >= limit) {
          cut = j;
          break;
        }
      }
      if (cut >= 0 && cut < page.items.length - 1) {
        // Full before the page's end: the reader's own cursor after item `cut` (read again,
        // that many bodies), so the next page starts right after the last match.
        page.cursor = (await this.reader.page(queue, states[st], inner, cut + 1)).cursor;
      }
      if (page.cursor) inner = page.cursor;
      else {
        inner = undefined;
        if (++st >= states.length) {
          st = 0;
          qi++;
        }
      }
    }
    return { items, cursor: qi < queues.length ? { qi, st, ...(inner ? { inner } : {}) } : null };
  }
}
