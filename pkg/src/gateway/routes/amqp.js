// The routes that read and change a RabbitMQ deployment (`serve --amqp`), in place of the
// Redis broker's: the same paths and answers as routes/queues.js, routes/messages.js and
// routes/actions.js, through ../amqp/broker.js. What AMQP 0-9-1 cannot show is answered as
// such, never guessed:
//
//   GET /api/queues     the declared queues (`--queues`), counts of *ready* messages only;
//                       `inProgress` is null (RabbitMQ tells unacked counts only through its
//                       management plugin), `delayed` misses the delayed messages workers hold
//   GET /api/messages   ?queue=&state=dead-lettered&limit=: the dead letters of `q.XQ`, read
//                       without consuming them (they come back marked redelivered, maybe in
//                       another order); queued, delayed and in-progress messages are 400:
//                       RabbitMQ would have to hand them out to show them; with `q=`, the
//                       dead letters whose id, actor, arguments or traceback hold the text
//   GET /api/status     RabbitMQ and Redis
//   GET /api/messages/<id>
//                       (routes/message.js, through `amqpFinder` below) a dead letter by its
//                       id, read from each declared queue's `q.XQ` as the listing reads them, up
//                       to the first dead letter with the id;
//                       any other message only by its result
//   DELETE /api/queues/<q>/malformed/<id>
//                       a dead letter that is no Dramatiq message, by its listed id
//   POST /api/messages/<id>/requeue, DELETE /api/messages/<id>, POST /api/dead-letters/{requeue,delete}
//                       on dead letters only (a queued message cannot be reached without
//                       taking every message before it), with the filters and `dryRun` of
//                       routes/actions.js, audited in Redis as there
import { Hono } from "hono";
import { BadRequest, json, only, publicError } from "../http.js";
import { jsonBody, operatorOnly } from "../middleware/operator.js";
import { EVENT } from "../protocol.js";
import { isQueueName } from "../redis/broker.js";
import { SEARCHES, SEARCHES_WAITING, haystack } from "../redis/find.js";
import { Slots } from "../slots.js";
import { idOf, bulkRoutes, noteAction, errorText, BULK_MS } from "./actions.js";
import { MAX_LIMIT } from "./messages.js";

const DEAD = "dead-lettered";
// Deletes each of KEYS that is a result (a list, as the Redis backend stores them).
const DROP_RESULTS = `
for _, key in ipairs(KEYS) do
  if redis.call("TYPE", key).ok == "list" then redis.call("DEL", key) end
end
return 1`;
const NOT_LISTED = "RabbitMQ cannot show queued, delayed or in-progress messages without handing them out: only dead letters are listed";

/** A dead letter as `/api/messages` lists it (the Redis gateway's item shape). */
function listed(item, queue, backend) {
  if (!item.message) return { state: DEAD, message: null, key: null, malformed: item.malformed, id: item.id, bytes: item.body.length, deadAt: item.deadAt };
  let key = null;
  try {
    key = backend.buildMessageKey({ queueName: queue, actorName: item.message.actor_name, messageId: item.message.message_id });
  } catch {
    // A name the key derivation refuses: listed without a key.
  }
  return { state: DEAD, message: item.message, key, deadAt: item.deadAt, redelivered: item.redelivered };
}

/**
 * Finds a message by its id among the dead letters of the declared queues, for
 * routes/message.js (in place of the Redis broker's `MessageFinder`): RabbitMQ shows no other
 * message without handing it out. Answers as `MessageFinder.find` does: `{ state:
 * "dead-lettered", queue, rid: null, body, message, malformed: null, where: "xq" }`, null
 * when no dead letter has the id, or `{ incomplete: true, looked }` when a queue held more
 * dead letters than one request takes (the id may be among those not read). The pairs of the
 * dead letters read are noted, as the listing notes them.
 * @param {{ amqp: import("../amqp/broker.js").AmqpBroker, history?: import("../history.js").MessageHistory }} ctx
 */
export function amqpFinder({ amqp, history }) {
  return {
    async find(messageId) {
      let looked = 0;
      let cut = false;
      for (const queue of amqp.queueNames) {
        const { items, more } = await amqp.act(queue, () => null, { stopAt: (i) => i.message?.message_id === messageId });
        looked += items.length;
        cut ||= more;
        let hit = null;
        for (const i of items) {
          if (!i.message) continue;
          history?.notePair(queue, i.message.actor_name);
          if (!hit && i.message.message_id === messageId) hit = i;
        }
        if (hit) return { state: DEAD, queue, rid: null, body: hit.body, message: hit.message, malformed: null, where: "xq", deadAt: hit.deadAt };
      }
      return cut ? { incomplete: true, looked } : null;
    },
  };
}

/**
 * The viewer's routes over RabbitMQ.
 * @param {object} ctx the gateway's shared parts (see ../app.js), with `amqp`
 */
export function amqpViewerRoutes({ amqp, brokerKeys, backend, redis, poller, history }) {
  const app = new Hono();
  // The dead letters read say where their actors' messages go: a message of theirs the
  // gateway never sees (RabbitMQ shows no queued message) is then found by its result.
  const note = (queue, items) => {
    for (const i of items) if (i.message) history?.notePair(queue, i.message.actor_name);
  };
  app.get("/queues", async (c) => {
    only(c, []);
    return json(c, await amqp.counts());
  });
  // Both stores: RabbitMQ (the broker) and Redis (results, the audit log).
  app.get("/status", async (c) => {
    only(c, []);
    const check = async (fn) => {
      try {
        await fn();
        return { ok: true, error: null };
      } catch (error) {
        return { ok: false, error: publicError(error) };
      }
    };
    const [amqpStatus, redisStatus] = await Promise.all([check(() => amqp.ping()), check(() => redis.sendCommand(["PING"]))]);
    const events = { head: poller.head, polling: poller.running, watchers: poller.watchers, ...poller.status };
    return json(c, { amqp: amqpStatus, redis: redisStatus, events }, amqpStatus.ok && redisStatus.ok ? 200 : 503);
  });
  // As over Redis (redis/find.js): a crowd of searches must not queue without bound on the
  // queues' turns, where an operator's action on the same queue would wait behind them all.
  const searches = new Slots(SEARCHES, SEARCHES_WAITING, "too many searches are reading the dead letters: try again shortly");

  /** `?q=`: the dead letters (of `queue`, or of every declared queue) whose id, actor,
   * arguments or traceback hold the text, from at most MAX_HELD per queue; no further pages. */
  async function search(c) {
    only(c, ["q", "queue", "state", "limit"]);
    const q = c.req.query("q");
    // As over Redis (routes/search.js): a message id is up to 1 000 characters.
    if (q.length < 1 || q.length > 1000) throw new BadRequest("q: 1 to 1000 characters");
    const queue = c.req.query("queue");
    if (queue !== undefined && !isQueueName(brokerKeys, queue)) throw new BadRequest("queue: a queue name");
    if ((c.req.query("state") ?? DEAD) !== DEAD) throw new BadRequest(NOT_LISTED);
    const raw = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(raw) || +raw < 1 || +raw > MAX_LIMIT) throw new BadRequest(`limit: 1 to ${MAX_LIMIT}`);
    const needle = q.toLowerCase();
    const items = [];
    const release = await searches.take();
    try {
      for (const name of queue ? [queue] : amqp.queueNames) {
        if (items.length >= Number(raw)) break;
        const page = await amqp.act(name, () => null);
        note(name, page.items);
        for (const item of page.items) {
          if (items.length >= Number(raw)) break;
          if (item.message && haystack(item.message).includes(needle)) items.push({ ...listed(item, name, backend), queue: name });
        }
      }
    } finally {
      release();
    }
    return json(c, { items, cursor: null });
  }

  app.get("/messages", async (c) => {
    if (c.req.query("q") !== undefined) return search(c);
    only(c, ["queue", "state", "limit"]);
    const queue = c.req.query("queue");
    if (queue === undefined || !isQueueName(brokerKeys, queue)) throw new BadRequest("queue: a queue name is required");
    const state = c.req.query("state") ?? DEAD;
    if (state !== DEAD) throw new BadRequest(NOT_LISTED);
    const raw = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(raw) || +raw < 1 || +raw > MAX_LIMIT) throw new BadRequest(`limit: 1 to ${MAX_LIMIT}`);
    const { items } = await amqp.act(queue, () => null, { max: Number(raw) });
    note(queue, items);
    return json(c, { items: items.map((i) => listed(i, queue, backend)), cursor: null });
  });
  return app;
}

/**
 * The operator's actions over RabbitMQ (mounted only with an operator token).
 * @param {object} ctx the gateway's shared parts (see ../app.js), with `amqp`, `writer` (the audit log)
 */
export function amqpActionRoutes({ amqp, poller, writer, history, brokerKeys, operatorToken, token, redis, backend, resultsInRedis, waiter }) {
  const app = new Hono();
  const auth = operatorOnly({ operatorToken, viewerToken: token });

  // Results in Redis: a requeue drops the failed run's result first (as the Redis broker's
  // requeue does in its script), so Python's get_result waits for the new run's. Dropped
  // before the publish: once published, the new run may store its result at once.
  const beforeRevive = resultsInRedis
    ? async (messages) => {
        const keys = [];
        for (const m of messages) {
          try {
            keys.push(backend.buildMessageKey({ queueName: m.queue_name, actorName: m.actor_name, messageId: m.message_id }));
          } catch {
            // A name the key derivation refuses: no result to drop.
          }
        }
        if (keys.length) await redis.sendCommand(["EVAL", DROP_RESULTS, String(keys.length), ...keys]);
      }
    : undefined;

  async function audit(entry) {
    const full = { at: Date.now(), role: "operator", broker: "rabbitmq", ...entry };
    await writer.audit(full);
    poller.notify(EVENT.audit, JSON.stringify(full));
    return full;
  }


  /** One message by id, looked for in each declared queue's `q.XQ`. */
  async function one(c, kind) {
    const id = idOf(c);
    await jsonBody(c, BadRequest);
    for (const queue of amqp.queueNames) {
      // The first dead letter with the id, as over Redis: a second copy (a producer's
      // duplicate) stays for an action of its own.
      const isHit = (i) => i.message?.message_id === id;
      const { items } = await amqp.act(queue, (i) => (isHit(i) ? kind : null), { beforeRevive, stopAt: isHit });
      const hit = items.find(isHit);
      if (!hit) continue;
      const done = hit.outcome === (kind === "requeue" ? "requeued" : "deleted") ? 1 : 0;
      if (done) noteAction(history, kind, id, queue, hit.message.actor_name);
      await audit({ action: kind, messageId: id, queue, matched: 1, done });
      if (hit.outcome === "refused") return json(c, { error: "not requeued: its stored body is not a message of this queue (left as it is)", messageId: id }, 422);
      if (!done) return json(c, { error: "not requeued: RabbitMQ did not take the revived copy (the dead letter stays)", messageId: id }, 503);
      return json(c, { messageId: id, matched: 1, done, state: kind === "requeue" ? "queued" : DEAD });
    }
    await audit({ action: kind, messageId: id, matched: 0, done: 0 });
    return json(c, { error: "not found: no dead letter with this id (RabbitMQ cannot reach queued messages)", messageId: id }, 404);
  }

  app.post("/messages/:id/requeue", auth, (c) => one(c, "requeue"));
  app.delete("/messages/:id", auth, (c) => one(c, "delete"));

  // A dead letter that is no Dramatiq message, by the id its listing gives it (the digest
  // of its body: AMQP names no message); one of two identical bodies at a time.
  app.delete("/queues/:queue/malformed/:id", auth, async (c) => {
    const queue = c.req.param("queue");
    const id = c.req.param("id");
    if (!isQueueName(brokerKeys, queue) || !amqp.queueNames.includes(queue)) throw new BadRequest("queue: one of --queues");
    if (!/^sha256-[0-9a-f]{32}$/.test(id)) throw new BadRequest("id: the id a malformed dead letter is listed with");
    await jsonBody(c, BadRequest);
    let taken = false;
    const { items } = await amqp.act(queue, (i) => (!taken && !i.message && i.id === id ? ((taken = true), "delete") : null), { decideMalformed: true, stopAt: (i) => !i.message && i.id === id });
    const hit = items.find((i) => i.outcome === "deleted");
    const messageId = `malformed:${id}`;
    await audit({ action: "delete", messageId, queue, matched: hit ? 1 : 0, done: hit ? 1 : 0 });
    if (!hit) return json(c, { error: "not found: no dead letter of this queue is a malformed body with this id", messageId }, 404);
    return json(c, { messageId, matched: 1, done: 1, state: DEAD, malformed: hit.malformed });
  });

  /** For the `exception` filter: the outcome each dead letter's run stored (read in one batch
   * per queue before deciding), as `errorText` takes it. The Redis gateway's poller has read
   * it; here nothing has: a message that failed on its first try has no traceback in its
   * body, only its stored exception, and the filter missed it. */
  const storedOf = new WeakMap();
  const readStored = (queue) => async (items) => {
    const identities = [];
    for (const item of items) {
      if (!item.message) continue;
      const identity = { queueName: queue, actorName: item.message.actor_name, messageId: item.message.message_id };
      try {
        backend.buildMessageKey(identity);
      } catch {
        continue; // a name the key derivation refuses: no result to read
      }
      identities.push(identity);
      storedOf.set(item, identity);
    }
    const found = await waiter.readAll(identities);
    for (const item of items) {
      const identity = storedOf.get(item);
      storedOf.set(item, identity && found.has(identity) ? { result: found.get(identity) } : null);
    }
  };

  async function bulk(kind, filter, dryRun) {
    const started = Date.now();
    const until = Math.min(filter.until ?? started, started);
    const queues = filter.queue ? [filter.queue] : amqp.queueNames;
    let matched = 0;
    let done = 0;
    let complete = true;
    for (const queue of queues) {
      if (Date.now() - started > BULK_MS) {
        complete = false;
        break;
      }
      const { items, more } = await amqp.act(queue, (item) => {
        const { message } = item;
        const at = item.deadAt ?? message.message_timestamp;
        if (filter.since !== undefined && !(at >= filter.since)) return null;
        if (!(at <= until)) return null;
        if (filter.actor !== undefined && message.actor_name !== filter.actor) return null;
        if (filter.exception !== undefined && !errorText(message, storedOf.get(item) ?? poller.records.get(message.message_id)).includes(filter.exception)) return null;
        matched++;
        return dryRun ? null : kind;
      }, { beforeRevive, ...(filter.exception !== undefined ? { prepare: readStored(queue) } : {}) });
      if (more) complete = false;
      for (const i of items) {
        if (i.outcome !== "requeued" && i.outcome !== "deleted") continue;
        done++;
        noteAction(history, kind, i.message.message_id, queue, i.message.actor_name);
      }
      poller.notify(EVENT.progress, JSON.stringify({ action: `dead-letters/${kind}`, filter, dryRun, matched, done, complete: false }));
    }
    return { matched, done, complete };
  }

  bulkRoutes(app, { auth, brokerKeys, bulk, audit });
  return app;
}
