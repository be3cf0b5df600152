// `GET /api/messages?q=<text>` (with the listing's `queue`, `state`, `limit`, `cursor`):
// the messages whose id, actor, arguments or traceback hold `q` (case-insensitive), across
// the four broker states and, without `queue`, every queue → `{ items: [{ state, queue,
// message, key }], cursor }`. Without `q` the request goes on to the listing
// (./messages.js). Each request reads at most SCAN_BUDGET bodies (../redis/find.js) and
// answers with a cursor to go on from.
import { Hono } from "hono";
import { BadRequest, json, only } from "../http.js";
import { BROKER_STATES } from "../protocol.js";
import { isQueueName } from "../redis/broker.js";
import { MAX_LIMIT } from "./messages.js";

const encode = (cursor) => btoa(unescape(encodeURIComponent(JSON.stringify(cursor)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function decode(raw) {
  if (raw.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw new BadRequest("cursor: not a cursor this gateway gave");
  try {
    const c = JSON.parse(decodeURIComponent(escape(atob(raw.replace(/-/g, "+").replace(/_/g, "/")))));
    const inner = c?.inner;
    const innerOk = inner === undefined || (inner && typeof inner === "object" &&
      (inner.p === undefined || inner.p === 0 || inner.p === 1) &&
      (inner.id === undefined || (typeof inner.id === "string" && /^[A-Za-z0-9_.:-]{0,100}$/.test(inner.id))) &&
      (inner.i === undefined || (Number.isInteger(inner.i) && inner.i >= 0 && inner.i < 2 ** 32)) &&
      (inner.s === undefined || (typeof inner.s === "string" && /^-?\d{1,20}(\.\d{1,20})?(e[+-]?\d{1,3})?$/i.test(inner.s))));
    if (c && c.search === true && innerOk && Number.isInteger(c.qi) && c.qi >= 0 && Number.isInteger(c.st) && c.st >= 0 && c.st < 4 && typeof c.qn === "string") return c;
  } catch {
    // below
  }
  throw new BadRequest("cursor: not a cursor this gateway gave");
}

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js), with `finder`
 */
export function searchRoutes({ queues: knownQueues, finder, brokerKeys, backend }) {
  const app = new Hono();
  app.get("/messages", async (c, next) => {
    const q = c.req.query("q");
    if (q === undefined) return next();
    only(c, ["q", "queue", "state", "limit", "cursor"]);
    if (q.length < 1 || q.length > 1000) throw new BadRequest("q: 1 to 1000 characters");
    const queue = c.req.query("queue");
    if (queue !== undefined && !isQueueName(brokerKeys, queue)) throw new BadRequest("queue: a queue name");
    const state = c.req.query("state");
    if (state !== undefined && !BROKER_STATES.includes(state)) throw new BadRequest(`state: one of ${BROKER_STATES.join(", ")}`);
    const rawLimit = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(rawLimit) || +rawLimit < 1 || +rawLimit > MAX_LIMIT) throw new BadRequest(`limit: 1 to ${MAX_LIMIT}`);
    const states = state ? [state] : [...BROKER_STATES];
    // A new search looks for queues (a discovery started no earlier than itself: a queue
    // created since the last one was not searched; it costs less than the search's own
    // reads); its next pages go through the same names.
    const queues = queue ? [queue] : await knownQueues(c.req.query("cursor") === undefined ? { since: Date.now() } : {});
    let cursor;
    const raw = c.req.query("cursor");
    if (raw !== undefined) {
      const cur = decode(raw);
      // Queues come and go between pages: resume at the queue the cursor names.
      if (cur.st >= states.length) throw new BadRequest("cursor: from another state");
      const qi = queues.indexOf(cur.qn);
      cursor = qi < 0 ? { qi: queues.findIndex((n) => n > cur.qn), st: 0 } : { qi, st: cur.st, inner: cur.inner };
      if (cursor.qi < 0) return json(c, { items: [], cursor: null });
    }
    const page = await finder.search(q, { queues, states, limit: Number(rawLimit), cursor });
    const items = page.items.map(({ state: s, queue: qn, message }) => {
      let key = null;
      try {
        key = backend.buildMessageKey({ queueName: qn, actorName: message.actor_name, messageId: message.message_id });
      } catch {
        // A name the key derivation refuses: listed without a key.
      }
      return { state: s, queue: qn, message, key };
    });
    const nextCursor = page.cursor ? encode({ search: true, qn: queues[page.cursor.qi], qi: page.cursor.qi, st: page.cursor.st, inner: page.cursor.inner }) : null;
    return json(c, { items, cursor: nextCursor });
  });
  return app;
}
