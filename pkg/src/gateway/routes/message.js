// One message, by its Dramatiq id, and waiting for one result over HTTP:
//
//   GET /api/messages/<id>               where it is now and its record: { messageId, state,
//                                        queue, actor, message, options, result, key,
//                                        history: [{ at, state, event, by? }] }; 404 unknown.
//                                        A message the gateway never saw is found by its
//                                        result under a queue and actor it has seen (then
//                                        `message` is null and `knownBy` is "result")
//   GET /api/messages/<id>/result?timeout=<ms>
//   GET /api/results/<queue>/<actor>/<id>?timeout=<ms>
//                                        200 { state: "done", result: { json } } or
//                                        200 { state: "failed", result: { exception } } the
//                                        moment the result is stored, else 202 { state } at
//                                        the timeout (≤ 60 000 ms; 0 reads once). The second
//                                        form is for a message the gateway never saw: its
//                                        result key is the backend's (`buildMessageKey`).
import { Hono } from "hono";
import { BadRequest, json, only } from "../http.js";
import { BROKER_STATES } from "../protocol.js";
import { isQueueName } from "../redis/broker.js";
import { hintOf, notAmong } from "../redis/find.js";
import { idOf } from "./actions.js";

/** The longest a result request waits (ms). */
export const MAX_WAIT_MS = 60_000;
/** How many queue and actor pairs a lookup of a message never seen tries (one batch read). */
const MAX_GUESSES = 256;
/** How often a wait on a requeued message looks its body up again (ms). */
const RELOOK_MS = 250;
const ACTOR = /^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$/;

function readTimeout(c) {
  const raw = c.req.query("timeout") ?? "0";
  if (!/^\d{1,5}$/.test(raw) || +raw > MAX_WAIT_MS) throw new BadRequest(`timeout: 0 to ${MAX_WAIT_MS} ms`);
  return Number(raw);
}

/** How a stored outcome ended: "failed" (an exception) or "done". */
const endOf = (outcome) => (outcome.exception || outcome.error ? "failed" : "done");

/** The answer of a result request for `outcome` (null: none yet, `state` then says where). */
function answer(c, outcome, state) {
  if (outcome) return json(c, { state: endOf(outcome), result: outcome });
  return json(c, { state: state ?? "unknown" }, 202);
}

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js), with `finder`, `history`
 *   and `waiter`
 */
export function messageDetailRoutes({ poller, finder, history, waiter, backend, brokerKeys }) {
  const app = new Hono();

  const keyOf = (identity) => {
    try {
      return backend.buildMessageKey(identity);
    } catch {
      return null;
    }
  };

  /** A message the gateway never saw (sent and done between two polls), found by its
   * result: its key is derived from its queue and actor, so the pairs of the messages seen
   * are tried, in one batch read. Null when none holds a result. */
  async function byResult(id) {
    const guesses = history.pairs().slice(0, MAX_GUESSES).map((p) => ({ queueName: p.queue, actorName: p.actor, messageId: id })).filter((g) => keyOf(g) !== null);
    const hit = guesses.length ? await waiter.readFirst(guesses) : null;
    if (!hit) return null;
    const { identity, outcome } = hit;
    return {
      messageId: id,
      state: endOf(outcome),
      queue: identity.queueName,
      actor: identity.actorName,
      message: null,
      options: null,
      result: outcome,
      key: keyOf(identity),
      history: [],
      knownBy: "result",
      identity,
    };
  }

  /** Everything known of `id`: the broker's answer first, then the poller's record. */
  async function describe(id, first = "dead") {
    const record = poller.records.get(id);
    const lookup = await finder.find(id, hintOf(record), { first });
    const found = lookup?.incomplete ? null : lookup;
    const message = found?.message ?? record?.message ?? null;
    const seen = history.where(id);
    const queue = found?.queue ?? record?.queue ?? seen?.queue ?? null;
    const actor = message?.actor_name ?? record?.actor ?? seen?.actor ?? null;
    let state = found?.state ?? (record && !BROKER_STATES.includes(record.state) ? record.state : null);
    let result = record?.result ?? null;
    const identity = queue && actor ? { queueName: queue, actorName: actor, messageId: id } : null;
    if (!identity && !found && !record) {
      const guessed = await byResult(id);
      if (guessed) return guessed;
    }
    // Gone from the broker: its result, if its actor stored one, says how it ended.
    if (identity && (!found || found.state === "dead-lettered")) {
      const stored = await waiter.read(identity);
      if (stored) result = stored;
      if (!found && stored) state = endOf(stored);
    }
    if (!state && !record && !history.of(id).length) return lookup?.incomplete ? { incomplete: lookup } : null;
    return {
      messageId: id,
      state: state ?? "unknown",
      queue,
      actor,
      message,
      options: message?.options ?? null,
      result,
      key: identity ? keyOf(identity) : record?.key ?? null,
      history: history.of(id),
      identity,
    };
  }

  app.get("/messages/:id", async (c) => {
    only(c, []);
    const d = await describe(idOf(c));
    if (!d) return json(c, { error: "not found: the gateway knows no message with this id" }, 404);
    if (d.incomplete) return json(c, notAmong(d.incomplete), 404);
    const { identity, ...shown } = d;
    return json(c, shown);
  });

  /** Waits for `identity`'s result, up to `timeout` ms. While a message an operator
   * requeued is back in the broker, a result already stored is its previous run's (results
   * in Memcached: with results in Redis the requeue drops it): only a different one, or
   * any once the message has left the broker, answers before the timeout. Any other
   * message's stored result is its answer, in progress too: Dramatiq stores a result
   * before it acks the message. */
  async function awaitResult(c, identity, timeout, state, hint = null) {
    const id = identity.messageId;
    const now = await waiter.read(identity);
    const inBroker = (s) => BROKER_STATES.includes(s) && s !== "dead-lettered";
    const rerun = inBroker(state) && history.of(id).some((h) => h.event === "requeued");
    if ((now && !rerun) || timeout === 0) return answer(c, now, state);
    if (waiter.full) return json(c, { error: "too many requests are waiting for results: try again shortly" }, 429);
    const previous = rerun && now ? JSON.stringify(now) : null;
    // Whether the message is still back in the broker: the poller's record of it, or else
    // where it was last looked up. Without a record (the poller follows messages only while
    // event streams are open) the state this request found went stale: a requeued message
    // that ran, stored its new result and was acked kept its request waiting to its timeout.
    // So while the wait lasts, the message's body is looked up again under its hint (one
    // HGET-sized read a round), and a message that left the broker is no longer waited on.
    let where = state;
    const stillThere = () => {
      const record = poller.records.get(id);
      return inBroker(record ? record.state : where);
    };
    const stale = previous === null ? null : (outcome) => JSON.stringify(outcome) === previous && stillThere();
    let waiting = true;
    if (stale && hint && typeof finder.at === "function") {
      (async () => {
        while (waiting) {
          await new Promise((resolve) => setTimeout(resolve, RELOOK_MS));
          if (!waiting) break;
          const found = await finder.at(hint.queue, hint.rid).catch(() => undefined);
          if (found !== undefined) where = found && found.message?.message_id === id ? found.state : null;
        }
      })();
    }
    let outcome;
    try {
      outcome = await waiter.wait(identity, timeout, c.req.raw.signal, stale);
    } finally {
      waiting = false;
    }
    if (!outcome && !c.req.raw.signal?.aborted) {
      // The deadline fell between two rounds (up to 250 ms apart without keyspace
      // notifications): one last read, so a result stored before the deadline answers 200,
      // not 202 (it did, for one stored 150 ms before it).
      const last = await waiter.read(identity).catch(() => null);
      if (last && !stale?.(last)) outcome = last;
    }
    return answer(c, outcome, outcome ? undefined : poller.records.get(id)?.state ?? state);
  }

  app.get("/messages/:id/result", async (c) => {
    only(c, ["timeout"]);
    const id = idOf(c);
    const timeout = readTimeout(c);
    // A result is mostly awaited for a message just sent: waiting, before the dead letters.
    const d = await describe(id, "waiting");
    if (d?.incomplete) return json(c, notAmong(d.incomplete), 404);
    if (!d?.identity) return json(c, { error: "not found: the gateway knows no message with this id (GET /api/results/<queue>/<actor>/<id> waits for any)" }, 404);
    return awaitResult(c, d.identity, timeout, d.state, hintOf(d));
  });

  app.get("/results/:queue/:actor/:id", async (c) => {
    only(c, ["timeout"]);
    const queue = c.req.param("queue");
    const actor = c.req.param("actor");
    if (!isQueueName(brokerKeys, queue)) throw new BadRequest("queue: a queue name");
    if (!ACTOR.test(actor)) throw new BadRequest("actor: an actor name");
    const id = idOf(c);
    const identity = { queueName: queue, actorName: actor, messageId: id };
    if (keyOf(identity) === null) throw new BadRequest("the result backend derives no key for this message");
    return awaitResult(c, identity, readTimeout(c), poller.records.get(id)?.state ?? "unknown");
  });

  return app;
}
