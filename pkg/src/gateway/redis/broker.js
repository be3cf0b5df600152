// Read-only views of Dramatiq's Redis broker layout (dramatiq/brokers/redis/dispatch.lua),
// over any client with node-redis's raw-command shape: `sendCommand(argv) → Promise<reply>`,
// replies as Buffers / Uint8Arrays / strings, arrays, numbers or null. Host-neutral: no Node
// APIs, so the same code runs in workerd.
//
// The layout, for a namespace `ns` and a queue `q` (every name comes from the package's
// `RedisBrokerKeys`, the core's one home of the layout; the scripts below only join an acks
// set's prefix, a worker id from the heartbeats and a queue, as the core's `acks` does):
//   ns:q                     list of redis_message_ids waiting (LPOP from the left, RPUSH right)
//   ns:q.msgs                hash id → message JSON, for the waiting and in-progress ones
//   ns:q.DQ, ns:q.DQ.msgs    the delay queue, the same shape; its messages carry options.eta
//   ns:__acks__.<w>.<q>      set of ids worker <w> fetched and has not acked yet
//   ns:__acks__.<w>.<q>.DQ   ids a worker holds from the delay queue until their eta
//   ns:q.XQ, ns:q.XQ.msgs    dead letters: zset id → when (ms), and their messages
//   ns:__heartbeats__        zset worker id → last heartbeat (ms)
// Every read below is bounded (SCAN with COUNT, capped ranges), and the reads that must be
// consistent with each other are one Lua script (read-only), so no message is seen twice or
// missed because it moved between two commands.

const decoder = new TextDecoder();

/** A reply item as text (bulk strings come back as Buffers / Uint8Arrays from node-redis). */
export function text(reply) {
  if (reply == null) return null;
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  return String(reply);
}

/** A WITHSCORES reply as [member, score] pairs: flat in RESP2, nested pairs in RESP3. */
export function pairs(reply) {
  if (!Array.isArray(reply)) return [];
  if (reply.length && Array.isArray(reply[0])) return reply;
  const out = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([reply[i], reply[i + 1]]);
  return out;
}

/** A queue name the gateway accepts: Dramatiq's own names are identifiers with dots and
 * dashes; anything else (spaces, glob characters, control bytes) is refused. */
export const QUEUE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}$/;

/** Whether `name` names a queue under `keys` (a `RedisBrokerKeys`): a name of the allowed
 * characters whose key names it back (so not a delay or dead-letter queue, which are views
 * of one, nor the broker's own `__…` keys). */
export const isQueueName = (keys, name) => QUEUE_NAME.test(name) && keys.queueOf(keys.queue(name)) === name;

// Reads the union of the acks sets of queue ARGV[5] (ARGV[4] the acks sets' prefix) of every worker
// in the heartbeats (KEYS[1]), sorted, and the page after ARGV[2] (an id, or "" for the
// first page) of at most ARGV[1] ids, with their messages from the hash ARGV[3].
const SET_PAGE = `
local seen, ids = {}, {}
for _, worker in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
  for _, id in ipairs(redis.call("SMEMBERS", ARGV[4] .. worker .. "." .. ARGV[5])) do
    if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
  end
end
table.sort(ids)
local limit, after, out = tonumber(ARGV[1]), ARGV[2], {}
for _, id in ipairs(ids) do
  if #out >= limit then break end
  if after == "" or id > after then out[#out + 1] = id end
end
if #out == 0 then return {{}, {}} end
return {out, redis.call("HMGET", ARGV[3], unpack(out))}`;

// A page of a queue list (KEYS[1]) with the messages from its hash (KEYS[2]). The cursor is
// the last id handed out (ARGV[2]) and where it was (ARGV[3]). Dramatiq only pops from the
// left and pushes on the right, so an id still present is at or before where it was, and
// everything before it in the list was handed out already; an id gone (or found further
// right: popped and pushed back) means everything that stood before it was popped too.
// The one case this cannot tell: the last id popped, requeued (a worker shutting down) and
// found again no further right than it was, after many pops; the next page then starts
// after it and may skip messages that stood between.
const LIST_PAGE = `
local limit, last, at = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local start = 0
if last ~= "" then
  local p = redis.call("LPOS", KEYS[1], last, "MAXLEN", at + 1)
  if p then start = p + 1 end
end
local ids = redis.call("LRANGE", KEYS[1], start, start + limit - 1)
if #ids == 0 then return {start, {}, {}} end
return {start, ids, redis.call("HMGET", KEYS[2], unpack(ids))}`;

// A page of a dead-letter zset (KEYS[1]) in (score, id) order after the cursor (ARGV[2] a
// score, "" for the first page; ARGV[3] the id), with messages from KEYS[2].
const ZSET_PAGE = `
local limit, score, after = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ids, scores = {}, {}
local function take(rows)
  for i = 1, #rows, 2 do
    if #ids >= limit then return end
    ids[#ids + 1] = rows[i]; scores[#scores + 1] = rows[i + 1]
  end
end
if score == "" then
  take(redis.call("ZRANGE", KEYS[1], 0, limit - 1, "WITHSCORES"))
else
  local ties = redis.call("ZRANGEBYSCORE", KEYS[1], score, score, "WITHSCORES")
  local later = {}
  for i = 1, #ties, 2 do
    if ties[i] > after then later[#later + 1] = ties[i]; later[#later + 1] = ties[i + 1] end
  end
  take(later)
  if #ids < limit then
    take(redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. score, "+inf", "WITHSCORES", "LIMIT", 0, limit - #ids))
  end
end
if #ids == 0 then return {{}, {}, {}} end
return {ids, scores, redis.call("HMGET", KEYS[2], unpack(ids))}`;

// One consistent snapshot of every queue's ids, for the event poller. KEYS[1] is the
// heartbeats zset, then per queue its list, delay list and dead-letter zset. The workers'
// acks sets are named after the heartbeats read in the same script (as dispatch.lua names
// them), so a worker that has just started cannot hold a message the snapshot misses.
// ARGV[1] caps every range read, ARGV[2] is the acks sets' prefix, then per queue its name
// and its delay queue's name. Answers {heartbeats (flat id, ms pairs), per queue {llen,
// ids, dq llen, dq ids, xq card, newest xq ids, acked ids, dq acked ids}}.
const SNAPSHOT = `
local cap, acksPrefix = tonumber(ARGV[1]), ARGV[2]
local beats = redis.call("ZRANGE", KEYS[1], 0, -1, "WITHSCORES")
local out = {beats}
for base = 2, #KEYS, 3 do
  local q, dq, xq = KEYS[base], KEYS[base + 1], KEYS[base + 2]
  local i = (base - 2) / 3
  local name, dqname = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
  local acked, dqacked = {}, {}
  for i = 1, #beats, 2 do
    local acks = acksPrefix .. beats[i] .. "."
    for _, id in ipairs(redis.call("SMEMBERS", acks .. name)) do acked[#acked + 1] = id end
    for _, id in ipairs(redis.call("SMEMBERS", acks .. dqname)) do dqacked[#dqacked + 1] = id end
  end
  local ids, dqids, xqids = {}, {}, {}
  if cap > 0 then
    ids = redis.call("LRANGE", q, 0, cap - 1)
    dqids = redis.call("LRANGE", dq, 0, cap - 1)
    xqids = redis.call("ZREVRANGE", xq, 0, cap - 1)
  end
  out[#out + 1] = {
    redis.call("LLEN", q), ids, redis.call("LLEN", dq), dqids, redis.call("ZCARD", xq), xqids, acked, dqacked,
  }
end
return out`;

/** The broker's keys under one namespace, read through `redis.sendCommand`. */
export class BrokerReader {
  /**
   * @param {{ sendCommand(argv: Array<string|Uint8Array>): Promise<unknown> }} redis
   * @param {{ keys: import("../../index.js").RedisBrokerKeys, heartbeatTimeoutMs?: number, scanCount?: number, maxScanCalls?: number }} options
   */
  constructor(redis, { keys, heartbeatTimeoutMs = 60_000, scanCount = 1000, maxScanCalls = 1000 }) {
    if (!keys || typeof keys.queueOf !== "function") throw new TypeError("BrokerReader: keys must be a RedisBrokerKeys");
    this.redis = redis;
    this.keys = keys;
    this.heartbeatTimeoutMs = heartbeatTimeoutMs;
    this.scanCount = scanCount;
    this.maxScanCalls = maxScanCalls;
  }

  #send(argv) {
    return this.redis.sendCommand(argv.map((a) => (typeof a === "number" ? String(a) : a)));
  }

  #eval(script, keys, args) {
    return this.#send(["EVAL", script, keys.length, ...keys, ...args]);
  }

  /**
   * The queue names present now, sorted: found with SCAN (never KEYS) over `ns:*`, at most
   * `maxScanCalls` calls of `scanCount` keys each. Delay and dead-letter queues fold into
   * their queue; acks sets name their queue after the worker id.
   */
  async queues() {
    const names = new Set();
    // Every broker key starts as a queue's does (the empty queue name's key is the prefix).
    // SCAN's MATCH is a glob: escape the namespace's glob characters.
    const pattern = `${this.keys.queue("").replace(/[*?[\]\\]/g, "\\$&")}*`;
    let cursor = "0";
    let calls = 0;
    do {
      const [next, keys] = await this.#send(["SCAN", cursor, "MATCH", pattern, "COUNT", this.scanCount]);
      cursor = text(next);
      for (const raw of keys) {
        const name = this.keys.queueOf(text(raw));
        if (name !== undefined && isQueueName(this.keys, name)) names.add(name);
      }
    } while (cursor !== "0" && ++calls < this.maxScanCalls);
    return [...names].sort();
  }

  /**
   * One SCAN step over keys matching `pattern` that hold lists (results are one-element
   * lists): `[nextCursor, keys]` as text. `TYPE list` filters on the server where Redis
   * has it (6.0+); an older server is asked without it.
   */
  async scanLists(cursor, pattern, count) {
    if (this.#typedScan) {
      try {
        const [next, keys] = await this.#send(["SCAN", cursor, "MATCH", pattern, "COUNT", count, "TYPE", "list"]);
        return [text(next), keys.map(text)];
      } catch (error) {
        if (!/syntax|TYPE/i.test(String(error?.cause?.message ?? error?.message))) throw error;
        this.#typedScan = false;
      }
    }
    const [next, keys] = await this.#send(["SCAN", cursor, "MATCH", pattern, "COUNT", count]);
    return [text(next), keys.map(text)];
  }

  #typedScan = true;

  /** Every worker with a heartbeat entry (fresh or not), `{ id, lastSeen }`, newest first,
   * at most `limit`. Dramatiq removes a dead worker's entry once its acks are requeued. */
  async heartbeats(limit = 1000) {
    const reply = await this.#send(["ZREVRANGE", this.keys.heartbeats(), 0, limit - 1, "WITHSCORES"]);
    return pairs(reply).map(([id, score]) => ({ id: text(id), lastSeen: Number(text(score)) }));
  }

  /** The workers whose last heartbeat is within `heartbeatTimeoutMs` of `now`. */
  async workers(now = Date.now()) {
    return (await this.heartbeats()).filter((w) => w.lastSeen >= now - this.heartbeatTimeoutMs);
  }

  /** Counts for each queue: `{ name, queued, delayed, inProgress, deadLettered }`. */
  async counts(queues) {
    if (!queues.length) return [];
    const { queues: snap } = await this.snapshot(queues, 0);
    return snap.map((s) => ({
      name: s.name,
      queued: s.queued,
      delayed: s.delayed + s.heldIds.length,
      inProgress: s.ackedIds.length,
      deadLettered: s.deadLettered,
    }));
  }

  /**
   * One atomic snapshot of `queues` (a Lua script): every heartbeat `{ id, lastSeen }` and,
   * for each queue, the totals and, capped at `cap` per range, the waiting ids (oldest
   * first), the delayed ids, the newest dead-letter ids, and the ids workers hold
   * (`ackedIds` being processed, `heldIds` delayed until their eta).
   */
  async snapshot(queues, cap) {
    const k = this.keys;
    const keys = [k.heartbeats()];
    const args = [cap, k.acksPrefix()];
    for (const q of queues) {
      const dq = k.delayQueue(q);
      keys.push(k.queue(q), k.queue(dq), k.deadLetters(q));
      args.push(q, dq);
    }
    const [beats, ...reply] = await this.#eval(SNAPSHOT, keys, args);
    const ids = (list) => (list ?? []).map(text);
    return {
      heartbeats: pairs(beats).map(([id, score]) => ({ id: text(id), lastSeen: Number(text(score)) })),
      queues: queues.map((name, i) => {
        const [queued, q, delayed, dq, deadLettered, xq, acked, held] = reply[i];
        return {
          name,
          queued: Number(queued),
          queuedIds: ids(q),
          delayed: Number(delayed),
          delayedIds: ids(dq),
          deadLettered: Number(deadLettered),
          deadIds: ids(xq),
          ackedIds: [...new Set(ids(acked))],
          heldIds: [...new Set(ids(held))],
        };
      }),
    };
  }

  /** The message JSON texts of `ids` in the hash `hash` (a key: `keys.messages(q)`,
   * `keys.messages(keys.delayQueue(q))`, `keys.deadLetterMessages(q)`), null where gone; at
   * most 1000 ids per command. */
  async bodies(hash, ids) {
    const out = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const reply = await this.#send(["HMGET", hash, ...chunk]);
      out.push(...reply.map(text));
    }
    return out;
  }

  /**
   * A page of one queue's messages in one state. `cursor` is what the previous page
   * returned (undefined for the first); answers `{ items: [{ id, body }], cursor }` with
   * `cursor` null after the last page. Messages that stay put are never skipped or
   * repeated: lists page by the last id handed out (see LIST_PAGE), sets by id order,
   * dead letters by (time, id).
   */
  async page(queue, state, cursor, limit) {
    const bodies = (ids, msgs) => ids.map((id, i) => ({ id: text(id), body: text(msgs[i]) }));
    const k = this.keys;
    if (state === "queued" || (state === "delayed" && (cursor?.p ?? 0) === 0)) {
      const list = state === "queued" ? queue : k.delayQueue(queue);
      const [start, ids, msgs] = await this.#eval(LIST_PAGE, [k.queue(list), k.messages(list)],
        [limit, cursor?.id ?? "", cursor?.i ?? 0]);
      const items = bodies(ids, msgs);
      if (items.length === limit) {
        return { items, cursor: { p: 0, id: items.at(-1).id, i: Number(start) + items.length - 1 } };
      }
      if (state === "queued") return { items, cursor: null };
      // The delay list is done: go on with the delayed messages workers hold until their eta.
      const rest = await this.page(queue, state, { p: 1, id: "" }, limit - items.length);
      const all = [...items, ...rest.items];
      return { items: all, cursor: rest.cursor ?? null };
    }
    if (state === "delayed" || state === "in-progress") {
      const held = state === "delayed" ? k.delayQueue(queue) : queue;
      const [ids, msgs] = await this.#eval(SET_PAGE, [k.heartbeats()], [limit, cursor?.id ?? "", k.messages(held), k.acksPrefix(), held]);
      const items = bodies(ids, msgs);
      const next = items.length === limit ? { p: 1, id: items.at(-1).id } : null;
      return { items, cursor: next };
    }
    // dead-lettered
    const [ids, scores, msgs] = await this.#eval(ZSET_PAGE, [k.deadLetters(queue), k.deadLetterMessages(queue)],
      [limit, cursor?.s ?? "", cursor?.id ?? ""]);
    const items = bodies(ids, msgs);
    const next = items.length === limit ? { s: text(scores.at(-1)), id: items.at(-1).id } : null;
    return { items, cursor: next };
  }
}
