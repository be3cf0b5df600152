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
// Every read below is bounded whatever the data (SCAN with COUNT, capped ranges, capped
// heartbeats, sampled sets, snapshot scripts that hand over once they spent their budget),
// a key of an unexpected type is skipped and reported, not an error, and the reads that must
// be consistent with each other are one Lua script (read-only), so no message is seen twice
// or missed because it moved between two commands.

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

/** Whether a failed command failed on a key of another type (Unavailable wraps the cause). */
const isWrongType = (error) => /WRONGTYPE/.test(String(error?.cause?.message ?? error?.message ?? ""));

/** A queue name the gateway accepts: Dramatiq's own names are identifiers with dots and
 * dashes; anything else (spaces, glob characters, control bytes) is refused. */
export const QUEUE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}$/;

/** Whether `name` names a queue under `keys` (a `RedisBrokerKeys`): a name of the allowed
 * characters whose key names it back (so not a delay or dead-letter queue, which are views
 * of one, nor the broker's own `__…` keys). */
export const isQueueName = (keys, name) => QUEUE_NAME.test(name) && keys.queueOf(keys.queue(name)) === name;

// Every script below reads through `read`, which answers nil (and notes the key as stray)
// for a key of another type than the layout's: other apps and people do create keys under
// the broker's namespace (`SET dramatiq:cache-flag 1`), and one such key must not make every
// read fail with WRONGTYPE. The scripts answer the stray keys they met; the reader reports
// each once.
// The stored sizes (bytes) of the fields ARGV of the hash KEYS[1], 0 where gone.
const SIZES = `
local out = {}
for i = 1, #ARGV do out[i] = redis.call("HSTRLEN", KEYS[1], ARGV[i]) end
return out`;

/** The most bytes of bodies one page of `page()` reads (at least one body): past it the
 * page ends early, with a cursor. The script copies each body it reads (about 5 ms a MB of
 * Redis time, every other client waiting): at 8 MiB a page of big messages held Redis
 * 30-50 ms; at 1 MiB, about 5. */
export const PAGE_BYTES = 1024 * 1024;

/** The most bytes of bodies one HMGET of `bodies()` asks for (at least one body). */
export const BODIES_BYTES = 16 * 1024 * 1024;

const READ = `
local stray = {}
local function read(command, key, ...)
  local reply = redis.pcall(command, key, ...)
  if type(reply) == "table" and reply.err then
    stray[#stray + 1] = key
    return nil
  end
  return reply
end
-- Keeps the first of ids (and of the parallel list more, when given) whose bodies in hash
-- add up to at most budget bytes (at least one): a page of big messages stays one
-- bounded reply instead of passing the client's reply cap (500 bodies of 600 KB). Answers
-- 1 when it cut the page short.
local function fit(hash, ids, more, budget)
  local bytes = 0
  for i = 1, #ids do
    local size = read("HSTRLEN", hash, ids[i]) or 0
    if i > 1 and bytes + size > budget then
      for j = #ids, i, -1 do ids[j] = nil; if more then more[j] = nil end end
      return 1
    end
    bytes = bytes + size
  end
  return 0
end`;

// The heartbeats the scripts name acks sets after: the `maxWorkers` newest entries no later
// than `maxScore` (now plus a clock skew). Dramatiq never expires an entry dated in the
// future, and anyone who can write to Redis can add 100 000 of them: so the entries read
// are capped, newest first, and those from the future are not read at all.
const BEATS = `
local function beats(key, maxScore, maxWorkers)
  return read("ZREVRANGEBYSCORE", key, maxScore, "-inf", "WITHSCORES", "LIMIT", 0, maxWorkers) or {}
end`;

// The members of a set, at most `cap` of them (a random sample of a bigger set, whose size
// the caller gets as the second answer): an acks set is as big as a worker's prefetch, but
// a hostile one need not be.
const MEMBERS = `
local function members(key, cap)
  local n = read("SCARD", key)
  if not n or n == 0 then return {}, 0 end
  if n > cap then return read("SRANDMEMBER", key, cap) or {}, n end
  return read("SMEMBERS", key) or {}, n
end`;

// Reads the union of the acks sets of queue ARGV[5] (ARGV[4] the acks sets' prefix) of the
// workers in the heartbeats (KEYS[1]; see BEATS: ARGV[6] and ARGV[7]), sorted, and the page
// after ARGV[2] (an id, or "" for the first page) of at most ARGV[1] ids, with their
// messages from the hash ARGV[3]. Answers {ids, messages, stray keys}.
const SET_PAGE = `${READ}${BEATS}${MEMBERS}
local seen, ids = {}, {}
local workers = beats(KEYS[1], ARGV[6], tonumber(ARGV[7]))
for i = 1, #workers, 2 do
  for _, id in ipairs((members(ARGV[4] .. workers[i] .. "." .. ARGV[5], tonumber(ARGV[8])))) do
    if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
  end
end
table.sort(ids)
local limit, after, out = tonumber(ARGV[1]), ARGV[2], {}
for _, id in ipairs(ids) do
  if #out >= limit then break end
  if after == "" or id > after then out[#out + 1] = id end
end
if #out == 0 then return {{}, {}, stray, 0} end
local cut = fit(ARGV[3], out, nil, tonumber(ARGV[9]))
return {out, read("HMGET", ARGV[3], unpack(out)) or {}, stray, cut}`;

// A page of a queue list (KEYS[1]) with the messages from its hash (KEYS[2]). The cursor is
// the last id handed out (ARGV[2]) and where it was (ARGV[3]). Dramatiq only pops from the
// left and pushes on the right, so an id still present is at or before where it was, and
// everything before it in the list was handed out already; an id gone (or found further
// right: popped and pushed back) means everything that stood before it was popped too.
// The one case this cannot tell: the last id popped, requeued (a worker shutting down) and
// found again no further right than it was, after many pops; the next page then starts
// after it and may skip messages that stood between. Answers {start, ids, messages, stray}.
const LIST_PAGE = `${READ}
local limit, last, at = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local start = 0
if last ~= "" then
  local p = read("LPOS", KEYS[1], last, "MAXLEN", at + 1)
  if p then start = p + 1 end
end
local ids = read("LRANGE", KEYS[1], start, start + limit - 1) or {}
if #ids == 0 then return {start, {}, {}, stray, 0} end
local cut = fit(KEYS[2], ids, nil, tonumber(ARGV[4]))
return {start, ids, read("HMGET", KEYS[2], unpack(ids)) or {}, stray, cut}`;

// A page of a dead-letter zset (KEYS[1]) in (score, id) order after the cursor (ARGV[2] a
// score, "" for the first page; ARGV[3] the id), with messages from KEYS[2]. Answers {ids,
// scores, messages, stray}.
const ZSET_PAGE = `${READ}
local limit, score, after = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ids, scores = {}, {}
local function take(rows)
  for i = 1, #rows, 2 do
    if #ids >= limit then return end
    ids[#ids + 1] = rows[i]; scores[#scores + 1] = rows[i + 1]
  end
end
if score == "" then
  take(read("ZRANGE", KEYS[1], 0, limit - 1, "WITHSCORES") or {})
else
  local ties = read("ZRANGEBYSCORE", KEYS[1], score, score, "WITHSCORES") or {}
  local later = {}
  for i = 1, #ties, 2 do
    if ties[i] > after then later[#later + 1] = ties[i]; later[#later + 1] = ties[i + 1] end
  end
  take(later)
  if #ids < limit then
    take(read("ZRANGEBYSCORE", KEYS[1], "(" .. score, "+inf", "WITHSCORES", "LIMIT", 0, limit - #ids) or {})
  end
end
if #ids == 0 then return {{}, {}, {}, stray, 0} end
local cut = fit(KEYS[2], ids, scores, tonumber(ARGV[4]))
return {ids, scores, read("HMGET", KEYS[2], unpack(ids)) or {}, stray, cut}`;

// A consistent snapshot of some queues' ids, for the event poller and the counts. KEYS[1] is
// the heartbeats zset, then per queue its list, delay list and dead-letter zset. The
// workers' acks sets are named after the heartbeats read in the same script (as
// dispatch.lua names them), so a worker that has just started cannot hold a message the
// snapshot misses; every move of a message stays within its queue's keys, so one script
// per few queues is as consistent as one for all. ARGV: [1] caps every range read, [2] the
// acks sets' prefix, [3] the newest heartbeat score read, [4] the most heartbeats read,
// [5] the most members read per acks set, [6] the work budget, then per queue its name and
// its delay queue's name. The script stops after the queue that spends its budget (one
// unit per command, one per 16 ids read), so no script blocks Redis for long whatever the
// data; the caller goes on with the next queues in another. Answers {heartbeats (flat id,
// ms pairs), stray keys, queues done, per queue {llen, ids, dq llen, dq ids, xq card,
// newest xq ids, acked ids, dq acked ids, acked beyond the sample, dq acked beyond it,
// 1 when every key of the queue met was stray}}.
const SNAPSHOT = `${READ}${BEATS}${MEMBERS}
local cap, acksPrefix, acksCap, budget = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local workers = beats(KEYS[1], ARGV[3], tonumber(ARGV[4]))
local out = {workers, stray, 0}
local spent = 0
for base = 2, #KEYS, 3 do
  if out[3] > 0 and spent >= budget then break end
  local q, dq, xq = KEYS[base], KEYS[base + 1], KEYS[base + 2]
  local i = (base - 2) / 3
  local name, dqname = ARGV[7 + 2 * i], ARGV[8 + 2 * i]
  local strayBefore = #stray
  local acked, dqacked, ackedMore, dqackedMore = {}, {}, 0, 0
  for w = 1, #workers, 2 do
    local acks = acksPrefix .. workers[w] .. "."
    local got, n = members(acks .. name, acksCap)
    for _, id in ipairs(got) do acked[#acked + 1] = id end
    ackedMore = ackedMore + n - #got
    got, n = members(acks .. dqname, acksCap)
    for _, id in ipairs(got) do dqacked[#dqacked + 1] = id end
    dqackedMore = dqackedMore + n - #got
  end
  local llen, dqlen, xcard = read("LLEN", q) or 0, read("LLEN", dq) or 0, read("ZCARD", xq) or 0
  local ids, dqids, xqids = {}, {}, {}
  if cap > 0 then
    if llen > 0 then ids = read("LRANGE", q, 0, cap - 1) or {} end
    if dqlen > 0 then dqids = read("LRANGE", dq, 0, cap - 1) or {} end
    if xcard > 0 then xqids = read("ZREVRANGE", xq, 0, cap - 1) or {} end
  end
  local strayOnly = 0
  if #stray > strayBefore and llen == 0 and dqlen == 0 and xcard == 0 and #acked == 0 and #dqacked == 0 then strayOnly = 1 end
  out[#out + 1] = {llen, ids, dqlen, dqids, xcard, xqids, acked, dqacked, ackedMore, dqackedMore, strayOnly}
  out[3] = out[3] + 1
  spent = spent + #workers + 6 + (#ids + #dqids + #xqids + #acked + #dqacked) / 16
end
return out`;

/** The broker's keys under one namespace, read through `redis.sendCommand`. */
export class BrokerReader {
  /**
   * @param {{ sendCommand(argv: Array<string|Uint8Array>): Promise<unknown> }} redis
   * @param {object} options
   * @param {import("../../index.js").RedisBrokerKeys} options.keys
   * @param {number} [options.heartbeatTimeoutMs] how old a heartbeat may be for its worker to count (60 000)
   * @param {number} [options.scanCount] SCAN's COUNT when looking for queues (1000)
   * @param {number} [options.maxScanCalls] SCAN calls per look for queues (1000)
   * @param {number} [options.maxWorkers] the most heartbeats read (the newest, 256)
   * @param {number} [options.clockSkewMs] how far in the future a heartbeat may be dated and still be read (60 000)
   * @param {number} [options.acksCap] the most members read of one acks set (10 000; a bigger one is sampled)
   * @param {number} [options.budget] the work one snapshot script may do before it hands over (500 units)
   * @param {(key: string) => void} [options.onStray] called once for each stray key met
   */
  constructor(redis, { keys, heartbeatTimeoutMs = 60_000, scanCount = 1000, maxScanCalls = 1000, maxWorkers = 256, clockSkewMs = 60_000, acksCap = 10_000, budget = 500, onStray = null }) {
    if (!keys || typeof keys.queueOf !== "function") throw new TypeError("BrokerReader: keys must be a RedisBrokerKeys");
    this.redis = redis;
    this.keys = keys;
    this.heartbeatTimeoutMs = heartbeatTimeoutMs;
    this.scanCount = scanCount;
    this.maxScanCalls = maxScanCalls;
    Object.assign(this, { maxWorkers, clockSkewMs, acksCap, budget, onStray });
  }

  /** Keys of another type than the broker's layout gives them, met so far (at most 1000):
   * skipped by every read, each reported once through `onStray`. */
  stray = new Set();

  #noteStray(keys) {
    for (const raw of keys ?? []) {
      const key = text(raw);
      if (this.stray.has(key) || this.stray.size >= 1000) continue;
      this.stray.add(key);
      try {
        this.onStray?.(key);
      } catch {
        // A reporting hook that throws changes nothing here.
      }
    }
  }

  #send(argv) {
    return this.redis.sendCommand(argv.map((a) => (typeof a === "number" ? String(a) : a)));
  }

  #eval(script, keys, args) {
    return this.#send(["EVAL", script, keys.length, ...keys, ...args]);
  }

  /** The newest heartbeat score the scripts read (now plus the clock skew allowed). */
  #maxScore() {
    return String(Date.now() + this.clockSkewMs);
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

  /** Workers with a heartbeat entry (fresh or not, none dated beyond the clock skew),
   * `{ id, lastSeen }`, newest first, at most `limit`. Dramatiq removes a dead worker's
   * entry once its acks are requeued. */
  async heartbeats(limit = 1000) {
    let reply;
    try {
      reply = await this.#send(["ZREVRANGEBYSCORE", this.keys.heartbeats(), this.#maxScore(), "-inf", "WITHSCORES", "LIMIT", 0, limit]);
    } catch (error) {
      if (!isWrongType(error)) throw error;
      this.#noteStray([this.keys.heartbeats()]);
      return [];
    }
    return pairs(reply).map(([id, score]) => ({ id: text(id), lastSeen: Number(text(score)) }));
  }

  /** The workers whose last heartbeat is within `heartbeatTimeoutMs` of `now`. */
  async workers(now = Date.now()) {
    return (await this.heartbeats()).filter((w) => w.lastSeen >= now - this.heartbeatTimeoutMs);
  }

  /** Counts for each queue: `{ name, queued, delayed, inProgress, deadLettered }` (a name
   * whose keys are all stray is not a queue). */
  async counts(queues) {
    if (!queues.length) return [];
    const { queues: snap } = await this.snapshot(queues, 0);
    return snap.filter((s) => !s.strayOnly).map((s) => ({
      name: s.name,
      queued: s.queued,
      delayed: s.delayed + s.held,
      inProgress: s.inProgress,
      deadLettered: s.deadLettered,
    }));
  }

  /**
   * A snapshot of `queues`, each queue's keys read atomically (Lua scripts of bounded work,
   * as many as the data needs): the newest heartbeats `{ id, lastSeen }` (at most
   * `maxWorkers`) and, for each queue, the totals and, capped at `cap` per range, the
   * waiting ids (oldest first), the delayed ids, the newest dead-letter ids, and the ids
   * workers hold (`ackedIds` being processed, `heldIds` delayed until their eta; `inProgress`
   * and `held` count them, a sampled set's unread members included). `strayOnly`: every key
   * of the name met was stray (not a queue).
   */
  async snapshot(queues, cap) {
    const k = this.keys;
    const ids = (list) => (Array.isArray(list) ? list : []).map(text);
    let heartbeats = null;
    const out = [];
    for (let at = 0; at < queues.length || heartbeats === null;) {
      const batch = queues.slice(at, at + 64);
      const keys = [k.heartbeats()];
      const args = [cap, k.acksPrefix(), this.#maxScore(), this.maxWorkers, this.acksCap, this.budget];
      for (const q of batch) {
        const dq = k.delayQueue(q);
        keys.push(k.queue(q), k.queue(dq), k.deadLetters(q));
        args.push(q, dq);
      }
      const [beats, stray, done, ...reply] = await this.#eval(SNAPSHOT, keys, args);
      this.#noteStray(stray);
      heartbeats ??= pairs(beats).map(([id, score]) => ({ id: text(id), lastSeen: Number(text(score)) }));
      for (let i = 0; i < Number(done); i++) {
        const [queued, q, delayed, dq, deadLettered, xq, acked, held, ackedMore, heldMore, strayOnly] = reply[i];
        const ackedIds = [...new Set(ids(acked))];
        const heldIds = [...new Set(ids(held))];
        out.push({
          name: batch[i],
          queued: Number(queued),
          queuedIds: ids(q),
          delayed: Number(delayed),
          delayedIds: ids(dq),
          deadLettered: Number(deadLettered),
          deadIds: ids(xq),
          ackedIds,
          heldIds,
          inProgress: ackedIds.length + Number(ackedMore),
          held: heldIds.length + Number(heldMore),
          strayOnly: Number(strayOnly) === 1,
        });
      }
      at += Math.max(1, Number(done));
    }
    return { heartbeats, queues: out };
  }

  /** The message JSON texts of `ids` in the hash `hash` (a key: `keys.messages(q)`,
   * `keys.messages(keys.delayQueue(q))`, `keys.deadLetterMessages(q)`), null where gone; at
   * most 1000 ids and (past the first body) BODIES_BYTES of bodies per command: their
   * sizes are asked first (HSTRLEN), so 300 messages of 600 KB are several bounded replies,
   * not one past the client's reply cap that fails the whole poll. */
  async bodies(hash, ids) {
    const out = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const ask = ids.slice(i, i + 1000);
      let sizes;
      try {
        sizes = (await this.#send(["EVAL", SIZES, "1", hash, ...ask])).map(Number);
      } catch (error) {
        if (!isWrongType(error)) throw error;
        sizes = ask.map(() => 0);
      }
      for (let j = 0; j < ask.length; ) {
        let end = j + 1;
        let bytes = sizes[j];
        while (end < ask.length && bytes + sizes[end] <= BODIES_BYTES) bytes += sizes[end++];
        const chunk = ask.slice(j, end);
        j = end;
        let reply;
        try {
          reply = await this.#send(["HMGET", hash, ...chunk]);
        } catch (error) {
          if (!isWrongType(error)) throw error;
          this.#noteStray([hash]);
          reply = chunk.map(() => null);
        }
        out.push(...reply.map(text));
      }
    }
    return out;
  }

  /**
   * A page of one queue's messages in one state. `cursor` is what the previous page
   * returned (undefined for the first); answers `{ items: [{ id, body }], cursor }` with
   * `cursor` null after the last page. Messages that stay put are never skipped or
   * repeated: lists page by the last id handed out (see LIST_PAGE), sets by id order,
   * dead letters by (time, id). Each item's `next` is the cursor of the page after it.
   */
  async page(queue, state, cursor, limit) {
    const bodies = (ids, msgs) => ids.map((id, i) => ({ id: text(id), body: text(msgs[i]) }));
    const k = this.keys;
    if (state === "queued" || (state === "delayed" && (cursor?.p ?? 0) === 0)) {
      const list = state === "queued" ? queue : k.delayQueue(queue);
      const [start, ids, msgs, stray, cut] = await this.#eval(LIST_PAGE, [k.queue(list), k.messages(list)],
        [limit, cursor?.id ?? "", cursor?.i ?? 0, PAGE_BYTES]);
      this.#noteStray(stray);
      const items = bodies(ids, msgs);
      items.forEach((item, i) => (item.next = { p: 0, id: item.id, i: Number(start) + i }));
      if (items.length === limit || Number(cut) === 1) return { items, cursor: items.at(-1).next };
      if (state === "queued") return { items, cursor: null };
      // The delay list is done: go on with the delayed messages workers hold until their eta.
      const rest = await this.page(queue, state, { p: 1, id: "" }, limit - items.length);
      const all = [...items, ...rest.items];
      return { items: all, cursor: rest.cursor ?? null };
    }
    if (state === "delayed" || state === "in-progress") {
      const held = state === "delayed" ? k.delayQueue(queue) : queue;
      const [ids, msgs, stray, cut] = await this.#eval(SET_PAGE, [k.heartbeats()],
        [limit, cursor?.id ?? "", k.messages(held), k.acksPrefix(), held, this.#maxScore(), this.maxWorkers, this.acksCap, PAGE_BYTES]);
      this.#noteStray(stray);
      const items = bodies(ids, msgs);
      for (const item of items) item.next = { p: 1, id: item.id };
      const next = items.length && (items.length === limit || Number(cut) === 1) ? { p: 1, id: items.at(-1).id } : null;
      return { items, cursor: next };
    }
    // dead-lettered
    const [ids, scores, msgs, stray, cut] = await this.#eval(ZSET_PAGE, [k.deadLetters(queue), k.deadLetterMessages(queue)],
      [limit, cursor?.s ?? "", cursor?.id ?? "", PAGE_BYTES]);
    this.#noteStray(stray);
    const items = bodies(ids, msgs);
    items.forEach((item, i) => (item.next = { s: text(scores[i]), id: item.id }));
    const next = items.length && (items.length === limit || Number(cut) === 1) ? { s: text(scores.at(-1)), id: items.at(-1).id } : null;
    return { items, cursor: next };
  }
}
