// The operator's writes to Dramatiq's Redis broker keys, one Lua script per atomic
// operation (as BullMQ keeps its `commands/`): each script checks that the message is still
// where the gateway read it, byte for byte, and moves or removes it in the same step, so a
// message is requeued or deleted once or not at all, whoever else (a second operator, a
// worker, Dramatiq's dead-letter expiry) acts on it at the same time. Every key name comes
// from the package's `RedisBrokerKeys` (the core's layout) and every new body from the
// core's `reviveDeadLetter`; the scripts only check and move. Host-neutral.
//
// Also here: the audit log, a capped Redis list (LPUSH + LTRIM in one script), so it
// survives gateway restarts and is shared by every gateway over the same Redis.
import { text } from "./broker.js";

// Requeues dead letters: for each i, KEYS[5i-4..5i] = the dead-letter zset, its bodies'
// hash, the queue's list, the queue's hash and the message's result key; ARGV[5i-4..5i] =
// the dead letter's redis_message_id, the body the gateway read, the new redis_message_id,
// the new body, and "1" when the result key is to be dropped (results in this Redis: the
// previous run's outcome goes with the move, so whoever waits for the result, Python's
// get_result included, gets the new run's). Answers, per message, 1 (requeued), 0 (no
// longer a dead letter: someone else acted) or -1 (its body changed since it was read:
// the caller reads it again).
const REQUEUE = `
local out = {}
for i = 0, #KEYS / 5 - 1 do
  local xq, xqmsgs, list, msgs, result = KEYS[5 * i + 1], KEYS[5 * i + 2], KEYS[5 * i + 3], KEYS[5 * i + 4], KEYS[5 * i + 5]
  local old, seen, new, body, drop = ARGV[5 * i + 1], ARGV[5 * i + 2], ARGV[5 * i + 3], ARGV[5 * i + 4], ARGV[5 * i + 5]
  if not redis.call("ZSCORE", xq, old) then
    out[#out + 1] = 0
  elseif redis.call("HGET", xqmsgs, old) ~= seen then
    out[#out + 1] = -1
  else
    redis.call("ZREM", xq, old)
    redis.call("HDEL", xqmsgs, old)
    if drop == "1" and redis.call("TYPE", result).ok == "list" then redis.call("DEL", result) end
    redis.call("HSET", msgs, new, body)
    redis.call("RPUSH", list, new)
    out[#out + 1] = 1
  end
end
return out`;

// Deletes dead letters: KEYS[2i-1..2i] = the zset and its hash, ARGV[2i-1..2i] = the id and
// the body read (nil-safe: "" matches a missing body). Answers per message 1, 0 or -1 as above.
const DELETE_DEAD = `
local out = {}
for i = 0, #KEYS / 2 - 1 do
  local xq, xqmsgs, id, seen = KEYS[2 * i + 1], KEYS[2 * i + 2], ARGV[2 * i + 1], ARGV[2 * i + 2]
  if not redis.call("ZSCORE", xq, id) then
    out[#out + 1] = 0
  elseif (redis.call("HGET", xqmsgs, id) or "") ~= seen then
    out[#out + 1] = -1
  else
    redis.call("ZREM", xq, id)
    redis.call("HDEL", xqmsgs, id)
    out[#out + 1] = 1
  end
end
return out`;

// Deletes a waiting message (queued, or delayed on the delay list): KEYS = its list and
// hash, ARGV = its id. LREM is what decides: an id a worker has popped meanwhile is no
// longer waiting (it is in progress, or held until its eta) and is left alone (0).
const DELETE_WAITING = `
if redis.call("LREM", KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call("HDEL", KEYS[2], ARGV[1])
return 1`;

// Deletes what a queue holds under one redis_message_id that is not a Dramatiq message (a
// body no worker can decode), wherever it is: waiting, delayed, dead-lettered or in
// progress. A body Python's worker cannot decode stays in that worker's acks set until the
// worker dies (its consumer fails and restarts, and then requeues it to fail again), so the
// id also goes from the acks sets of the workers in the heartbeats (the newest ARGV[4]),
// for the queue and its delay queue: left there, it would come back when the worker dies.
// KEYS = the queue's list and hash, the delay queue's list and hash, the dead-letter zset
// and hash, the heartbeats zset; ARGV = the id, the body read, the acks sets' prefix, the
// most heartbeats to read, the queue's and the delay queue's names. Answers 1 (deleted),
// 0 (nothing under that id any more) or -1 (the body is not the one read: read it again).
const DELETE_MALFORMED = `
local id, seen = ARGV[1], ARGV[2]
local body = redis.call("HGET", KEYS[2], id) or redis.call("HGET", KEYS[4], id) or redis.call("HGET", KEYS[6], id)
if not body then return 0 end
if body ~= seen then return -1 end
redis.call("LREM", KEYS[1], 0, id)
redis.call("HDEL", KEYS[2], id)
redis.call("LREM", KEYS[3], 0, id)
redis.call("HDEL", KEYS[4], id)
redis.call("ZREM", KEYS[5], id)
redis.call("HDEL", KEYS[6], id)
for _, w in ipairs(redis.call("ZREVRANGE", KEYS[7], 0, tonumber(ARGV[4]) - 1)) do
  redis.call("SREM", ARGV[3] .. w .. "." .. ARGV[5], id)
  redis.call("SREM", ARGV[3] .. w .. "." .. ARGV[6], id)
end
return 1`;

/** How many of the newest heartbeats a malformed entry's delete looks through for acks
 * sets holding it: a worker that stopped beating has had its acks requeued by Dramatiq's
 * maintenance (or will: the id is then waiting, where the delete finds it). */
export const MALFORMED_MAX_WORKERS = 1000;

// Appends ARGV[1] to the audit list KEYS[1], keeping the newest ARGV[2] entries.
const AUDIT = `
redis.call("LPUSH", KEYS[1], ARGV[1])
redis.call("LTRIM", KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1`;

/** How many messages one script call moves: small enough that one call stays well under a
 * millisecond of Redis time, so workers never wait on the gateway. */
export const BATCH = 100;

/** The audit log's length cap (entries). */
export const AUDIT_CAP = 10_000;

/** The broker's Redis as the operator writes it. */
export class BrokerWriter {
  /**
   * @param {{ sendCommand(argv: Array<string|Uint8Array>): Promise<unknown> }} redis
   * @param {{ keys: import("../../index.js").RedisBrokerKeys, auditKey: string, auditCap?: number, decodeMessage?: (text: string) => object, resultKey?: (identity: object) => string }} o
   */
  constructor(redis, { keys, auditKey, auditCap = AUDIT_CAP, decodeMessage = JSON.parse, resultKey = null }) {
    this.redis = redis;
    /** `(identity) => key` of results kept in this Redis (dropped on requeue), or null. */
    this.resultKey = resultKey;
    this.decodeMessage = decodeMessage;
    this.keys = keys;
    this.auditKey = auditKey;
    this.auditCap = auditCap;
  }

  #eval(script, keys, args) {
    return this.redis.sendCommand(["EVAL", script, String(keys.length), ...keys, ...args.map(String)]);
  }

  /**
   * Requeues dead letters of `queue`: `items` are `{ id, body }` (redis_message_id and the
   * body read) → per item 1 / 0 / -1 (see REQUEUE), or -2 for a body the core cannot read
   * or that names another queue (left alone). The new body is the core's
   * (`reviveDeadLetter`). `created`, when given, collects the new redis_message_ids of
   * those requeued (a bulk run skips them if they come back as dead letters).
   */
  async requeue(queue, items, created = null) {
    const k = this.keys;
    const keys = [];
    const args = [];
    const slots = [];
    const fresh = [];
    for (const { id, body } of items) {
      let revived;
      try {
        revived = reviveOf(k, body, this.decodeMessage);
      } catch {
        revived = null;
      }
      // Not a message the core reads, or one whose body names another queue than the one
      // whose dead letter it is (a producer's doing, not Dramatiq's): left where it is.
      if (!revived || revived.queue !== queue) {
        slots.push(null);
        continue;
      }
      let result = null;
      try {
        result = this.resultKey?.({ queueName: revived.queue, actorName: revived.actor, messageId: revived.messageId }) ?? null;
      } catch {
        // A name the key derivation refuses: no result to drop.
      }
      slots.push(keys.length / 5);
      fresh.push(revived.id);
      keys.push(k.deadLetters(queue), k.deadLetterMessages(queue), k.queue(revived.queue), k.messages(revived.queue), result ?? k.queue(revived.queue));
      args.push(id, body, revived.id, revived.body, result ? "1" : "0");
    }
    const reply = keys.length ? await this.#eval(REQUEUE, keys, args) : [];
    if (created) fresh.forEach((rid, slot) => Number(reply[slot]) === 1 && created.add(rid));
    return slots.map((slot) => (slot === null ? -2 : Number(reply[slot])));
  }

  /** Deletes dead letters of `queue` (`items` as for `requeue`) → per item 1 / 0 / -1. */
  async deleteDead(queue, items) {
    if (!items.length) return [];
    const keys = [];
    const args = [];
    for (const { id, body } of items) {
      keys.push(this.keys.deadLetters(queue), this.keys.deadLetterMessages(queue));
      args.push(id, body ?? "");
    }
    return (await this.#eval(DELETE_DEAD, keys, args)).map(Number);
  }

  /** Deletes a waiting message of `list` (a queue or its delay queue's name) → 1 or 0. */
  async deleteWaiting(list, id) {
    return Number(await this.#eval(DELETE_WAITING, [this.keys.queue(list), this.keys.messages(list)], [id]));
  }

  /**
   * Deletes the entry `id` of `queue` whose body is `seen` (not a Dramatiq message: the
   * caller checked), wherever in the queue it is, in progress included → 1, 0 or -1 (see
   * DELETE_MALFORMED).
   */
  async deleteMalformed(queue, id, seen) {
    const k = this.keys;
    const dq = k.delayQueue(queue);
    const keys = [k.queue(queue), k.messages(queue), k.queue(dq), k.messages(dq), k.deadLetters(queue), k.deadLetterMessages(queue), k.heartbeats()];
    return Number(await this.#eval(DELETE_MALFORMED, keys, [id, seen, k.acksPrefix(), MALFORMED_MAX_WORKERS, queue, dq]));
  }

  /** Appends an entry to the audit log. */
  async audit(entry) {
    await this.#eval(AUDIT, [this.auditKey], [JSON.stringify(entry), this.auditCap]);
  }

  /** The newest `limit` audit entries, newest first (entries that are not JSON skipped). */
  async auditLog(limit) {
    const rows = await this.redis.sendCommand(["LRANGE", this.auditKey, "0", String(limit - 1)]);
    const out = [];
    for (const row of rows ?? []) {
      try {
        out.push(JSON.parse(text(row)));
      } catch {
        // Not ours: skipped.
      }
    }
    return out;
  }
}

/** The core's revived copy of a dead letter's body: `{ queue, id, body }`. */
function reviveOf(keys, body, decodeMessage) {
  const revived = new TextDecoder().decode(keys.reviveDeadLetter(new TextEncoder().encode(body)));
  const parsed = decodeMessage(revived);
  return { queue: parsed.queue_name, id: parsed.options.redis_message_id, body: revived, actor: parsed.actor_name, messageId: parsed.message_id };
}
