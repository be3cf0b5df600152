// The operator's actions on the Redis broker (mounted only with an operator token; see
// ../middleware/operator.js for who may call them). JSON bodies and answers:
//
//   POST   /api/messages/<id>/requeue   a dead letter back on its queue as Dramatiq would
//                                       enqueue it (the core's `reviveDeadLetter`: fresh
//                                       redis_message_id, `retries` back at 0)
//   DELETE /api/messages/<id>           a dead-lettered, queued or delayed message removed
//                                       (one a worker holds is 409: it is running, or held
//                                       until its eta by a worker that will run it)
//   DELETE /api/queues/<q>/malformed/<redis id>
//                                       what the queue holds under that id that is not a
//                                       Dramatiq message (listed as `malformed`), wherever
//                                       it is, in progress too: no worker can run it
//   POST   /api/dead-letters/requeue    every dead letter matching a filter
//   POST   /api/dead-letters/delete       { queue?, actor?, exception?, since?, until?, dryRun? }
//                                       → { matched, done, complete }
//
// Each message is moved by one script that first checks it is still where it was read, so
// it is requeued (or deleted) once or not at all, with two operators at once too. Bulk
// actions go in pages of 500 and scripts of 100 messages (each well under a millisecond of
// Redis time), send `progress` events, and stop after BULK_MS with `complete: false` (the
// page calls again: what is done stays done). Every action, dry runs too, is appended to
// the audit log (../redis/actions.js) and sent as an `audit` event.
import { Hono } from "hono";
import { BadRequest, Busy, json } from "../http.js";
import { jsonBody, operatorOnly } from "../middleware/operator.js";
import { EVENT } from "../protocol.js";
import { BATCH } from "../redis/actions.js";
import { isQueueName } from "../redis/broker.js";
import { hintOf, notAmong } from "../redis/find.js";

/** How long one bulk request works before it answers `complete: false` (ms). */
export const BULK_MS = 10_000;
/** A Dramatiq message id as the routes accept it (percent-decoded from the path): any
 * string Python's `Message` takes (Dramatiq checks nothing: a producer may name its
 * messages "job 42", "ünïcødé" or "a/b"), of 1 to 1000 characters. A stricter pattern
 * made such messages, sent and run by Python, impossible to follow or act on (400). */
const isMessageId = (id) => typeof id === "string" && id.length >= 1 && id.length <= 1000;
/** The route's `:id`, checked: a BadRequest when it is no message id. */
export function idOf(c) {
  const id = c.req.param("id");
  if (!isMessageId(id)) throw new BadRequest("message id: not a Dramatiq message id");
  return id;
}
/** Notes in the history that the operator requeued (`kind` "requeue") or deleted a message. */
export function noteAction(history, kind, id, queue, actor) {
  const [state, event] = kind === "requeue" ? ["queued", "requeued"] : ["deleted", "deleted"];
  history.add(id, { at: Date.now(), state, event, by: "operator" }, { queue, actor });
}

/**
 * Mounts `POST /dead-letters/{requeue,delete}` on `app`: the filter read, `bulk(kind, filter,
 * dryRun)` (the broker's walk, answering `{ matched, done, complete }`) and the audit entry.
 */
export function bulkRoutes(app, { auth, brokerKeys, bulk, audit }) {
  for (const kind of ["requeue", "delete"]) {
    app.post(`/dead-letters/${kind}`, auth, async (c) => {
      const { filter, dryRun } = readFilter(await jsonBody(c, BadRequest), brokerKeys);
      const result = await bulk(kind, filter, dryRun);
      await audit({ action: `dead-letters/${kind}`, filter, dryRun, ...result });
      return json(c, { ...result, dryRun });
    });
  }
}

/** A `redis_message_id` (Dramatiq's are UUIDs; the malformed entry's delete names one). */
export const REDIS_ID = /^[A-Za-z0-9_.:-]{1,200}$/;
const FILTER_KEYS = ["queue", "actor", "exception", "since", "until", "dryRun"];

/** The dead-letter filter of a bulk action, checked. */
export function readFilter(body, keys) {
  for (const name of Object.keys(body)) if (!FILTER_KEYS.includes(name)) throw new BadRequest(`unknown field: ${name}`);
  const f = {};
  if (body.queue !== undefined) {
    if (typeof body.queue !== "string" || !isQueueName(keys, body.queue)) throw new BadRequest("queue: a queue name");
    f.queue = body.queue;
  }
  for (const name of ["actor", "exception"]) {
    if (body[name] === undefined) continue;
    if (typeof body[name] !== "string" || body[name].length === 0 || body[name].length > 1000) throw new BadRequest(`${name}: a string of 1 to 1000 characters`);
    f[name] = body[name];
  }
  for (const name of ["since", "until"]) {
    if (body[name] === undefined) continue;
    if (!Number.isSafeInteger(body[name]) || body[name] < 0) throw new BadRequest(`${name}: a time in ms since the epoch`);
    f[name] = body[name];
  }
  if (body.dryRun !== undefined && typeof body.dryRun !== "boolean") throw new BadRequest("dryRun: true or false");
  return { filter: f, dryRun: body.dryRun === true };
}

/** The text a dead letter's `exception` filter looks in: its traceback (Retries stores
 * it) and the exception of its result when the poller has read one. */
export function errorText(message, record) {
  const traceback = typeof message?.options?.traceback === "string" ? message.options.traceback : "";
  const e = record?.result?.exception ?? record?.result?.error;
  return e ? `${traceback}\n${e.type}: ${e.message}` : traceback;
}

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js), with `writer`, `finder`,
 *   `history`, `operatorToken` and `token`
 */
export function actionRoutes({ queues: knownQueues, poller, writer, finder, history, brokerKeys, operatorToken, token }) {
  const app = new Hono();
  const auth = operatorOnly({ operatorToken, viewerToken: token });

  /** Appends to the audit log and tells every open event stream. */
  async function audit(entry) {
    const full = { at: Date.now(), role: "operator", ...entry };
    await writer.audit(full);
    poller.notify(EVENT.audit, JSON.stringify(full));
    return full;
  }


  /** Looks a message up for `action`; a lookup refused because the gateway is busy (429)
   * is a refusal of the action, recorded as the others are. */
  async function findFor(action, id) {
    try {
      return await finder.find(id, hintOf(poller.records.get(id)));
    } catch (error) {
      if (error instanceof Busy) await audit({ action, messageId: id, matched: 0, done: 0 });
      throw error;
    }
  }

  app.post("/messages/:id/requeue", auth, async (c) => {
    const id = idOf(c);
    await jsonBody(c, BadRequest);
    // Read, then move with a check of what was read; a body changed meanwhile is read again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await findFor("requeue", id);
      if (!found || found.incomplete) {
        await audit({ action: "requeue", messageId: id, matched: 0, done: 0 });
        return json(c, found ? { ...notAmong(found), messageId: id } : { error: "not found: no message with this id is in the broker", messageId: id }, 404);
      }
      if (found.state !== "dead-lettered") {
        await audit({ action: "requeue", messageId: id, matched: 0, done: 0 });
        return json(c, { error: `not dead-lettered: it is ${found.state}`, messageId: id, state: found.state }, 409);
      }
      const [outcome] = await writer.requeue(found.queue, [{ id: found.rid, body: found.body }]);
      // -1 (its body changed) or 0 (no longer a dead letter: another request, a second
      // operator, or Dramatiq's expiry acted between the read and the move): look again, so
      // the answer says where it is now (409 queued, 404 gone) and only the request that
      // moved it is recorded as having requeued it.
      if (outcome === -1 || outcome === 0) continue;
      if (outcome === -2) {
        await audit({ action: "requeue", messageId: id, queue: found.queue, matched: 1, done: 0 });
        return json(c, { error: "not requeued: its stored body is not a message of this queue (left as it is)", messageId: id }, 422);
      }
      noteAction(history, "requeue", id, found.queue, found.message?.actor_name);
      await audit({ action: "requeue", messageId: id, queue: found.queue, matched: 1, done: 1 });
      return json(c, { messageId: id, matched: 1, done: 1, state: "queued" });
    }
    await audit({ action: "requeue", messageId: id, matched: 0, done: 0 });
    return json(c, { error: "the message kept changing: try again", messageId: id }, 409);
  });

  app.delete("/messages/:id", auth, async (c) => {
    const id = idOf(c);
    await jsonBody(c, BadRequest);
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await findFor("delete", id);
      if (!found || found.incomplete) {
        await audit({ action: "delete", messageId: id, matched: 0, done: 0 });
        return json(c, found ? { ...notAmong(found), messageId: id } : { error: "not found: no message with this id is in the broker", messageId: id }, 404);
      }
      let outcome;
      if (found.where === "xq") [outcome] = await writer.deleteDead(found.queue, [{ id: found.rid, body: found.body }]);
      else if (found.where === "q" && found.state === "queued") outcome = await writer.deleteWaiting(found.queue, found.rid);
      else if (found.where === "dq") outcome = await writer.deleteWaiting(brokerKeys.delayQueue(found.queue), found.rid);
      else {
        await audit({ action: "delete", messageId: id, queue: found.queue, matched: 0, done: 0 });
        return json(c, { error: "a worker holds it (running, or delayed until its eta): it cannot be deleted now", messageId: id, state: found.state }, 409);
      }
      // Moved meanwhile (another request acted, a worker took it): look again. Only a
      // delete that removed it answers 200 and enters the message's history.
      if (outcome !== 1) continue;
      noteAction(history, "delete", id, found.queue, found.message?.actor_name);
      await audit({ action: "delete", messageId: id, queue: found.queue, state: found.state, matched: 1, done: 1 });
      return json(c, { messageId: id, matched: 1, done: 1, state: found.state });
    }
    await audit({ action: "delete", messageId: id, matched: 0, done: 0 });
    return json(c, { error: "the message kept moving: try again", messageId: id }, 409);
  });

  // A body no worker can decode has no Dramatiq id to be found by: the listing names it by
  // its queue and redis_message_id, and so does its delete. Only such a body is deleted
  // here (a message is 409: its own route knows whether a worker is running it); in
  // progress too, since a worker holding it can never run it (Python's leaves it in its
  // acks set until it dies, then fails on it again).
  app.delete("/queues/:queue/malformed/:rid", auth, async (c) => {
    const queue = c.req.param("queue");
    const rid = c.req.param("rid");
    if (!isQueueName(brokerKeys, queue)) throw new BadRequest("queue: not a queue name");
    if (!REDIS_ID.test(rid)) throw new BadRequest("id: not a redis_message_id");
    await jsonBody(c, BadRequest);
    const messageId = `malformed:${rid}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await finder.at(queue, rid);
      if (!found || found.body == null) {
        await audit({ action: "delete", messageId, queue, matched: 0, done: 0 });
        return json(c, { error: "not found: the queue holds nothing under this id", messageId }, 404);
      }
      const { message, malformed } = found;
      if (!malformed) {
        await audit({ action: "delete", messageId, queue, matched: 0, done: 0 });
        return json(c, { error: `a Dramatiq message (${message.message_id}): delete it by its message id`, messageId: message.message_id, state: found.state }, 409);
      }
      const outcome = await writer.deleteMalformed(queue, rid, found.body);
      if (outcome !== 1) continue; // changed or gone meanwhile: look again
      noteAction(history, "delete", messageId, queue, null);
      await audit({ action: "delete", messageId, queue, state: found.state, malformed, matched: 1, done: 1 });
      return json(c, { messageId, matched: 1, done: 1, state: found.state, malformed });
    }
    await audit({ action: "delete", messageId, queue, matched: 0, done: 0 });
    return json(c, { error: "it kept changing: try again", messageId }, 409);
  });

  /** A bulk action over the dead letters matching `filter`. */
  async function bulk(kind, filter, dryRun) {
    const started = Date.now();
    // Dead letters from after the start are not this run's (a requeued message that fails
    // again comes back with a later time, and is not taken twice).
    const until = Math.min(filter.until ?? started, started);
    // The redis_message_ids this run requeued: one that comes back as a dead letter within
    // the time range (Dramatiq scores it with the worker's clock, which may be behind the
    // gateway's) is not this run's to take again.
    const created = new Set();
    // Every queue there is now (one discovery): the gateway's cached names lag up to 5 s
    // behind, and a queue whose dead letters came meanwhile was skipped while the answer
    // said `complete: true`.
    const queues = filter.queue ? [filter.queue] : await knownQueues({ since: started });
    let matched = 0;
    let done = 0;
    let complete = true;
    const progress = () =>
      poller.notify(EVENT.progress, JSON.stringify({ action: `dead-letters/${kind}`, filter, dryRun, matched, done, complete: false }));
    outer: for (const queue of queues) {
      let after = null;
      do {
        if (Date.now() - started > BULK_MS) {
          complete = false;
          break outer;
        }
        const page = await finder.deadLetters(queue, { since: filter.since ?? 0, until, after });
        after = page.after;
        const picked = page.items.filter(({ id, message }) => {
          if (!message || created.has(id)) return false;
          if (filter.actor !== undefined && message.actor_name !== filter.actor) return false;
          if (filter.exception !== undefined && !errorText(message, poller.records.get(message.message_id)).includes(filter.exception)) return false;
          return true;
        });
        matched += picked.length;
        if (!dryRun) {
          for (let i = 0; i < picked.length; i += BATCH) {
            const chunk = picked.slice(i, i + BATCH);
            const outcomes = kind === "requeue" ? await writer.requeue(queue, chunk, created) : await writer.deleteDead(queue, chunk);
            outcomes.forEach((o, j) => {
              if (o !== 1) return;
              done++;
              const m = chunk[j].message;
              noteAction(history, kind, m.message_id, queue, m.actor_name);
            });
          }
        }
        if (page.items.length) progress();
      } while (after);
    }
    return { matched, done, complete };
  }

  bulkRoutes(app, { auth, brokerKeys, bulk, audit });

  // Any other write to the API: not a method it serves.
  app.on(["POST", "DELETE", "PUT", "PATCH"], "*", (c) => c.body(null, 405, { allow: "GET, HEAD" }));
  return app;
}
