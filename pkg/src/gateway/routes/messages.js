// `GET /api/messages?queue=&state=&limit=&cursor=`: one queue's messages (every queue's,
// queue after queue in name order, when none is named), a page at a time, state after state
// (`BROKER_STATES`' order) unless one is named →
// `{ items: [{ state, queue, message, key }], cursor }` (`cursor` null after the last page).
import { Hono } from "hono";
import { BadRequest, json, only } from "../http.js";
import { BROKER_STATES } from "../protocol.js";
import { isQueueName } from "../redis/broker.js";
import { readMessage } from "../records.js";

/** The largest page `/api/messages` hands out. */
export const MAX_LIMIT = 1000;
/** A page stops once its messages pass this many bytes (a producer's messages can be huge). */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;
const ID = /^[A-Za-z0-9_.:-]{0,100}$/;
const encoder = new TextEncoder();

const base64url = {
  encode: (s) => btoa(String.fromCharCode(...encoder.encode(s))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  decode: (s) => new TextDecoder().decode(Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))),
};

/** Parses and checks a `/api/messages` cursor; anything unexpected is a 400. */
function readCursor(raw) {
  if (raw === undefined) return { st: null, q: undefined, inner: undefined };
  if (raw.length > 512 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw new BadRequest("cursor: not a cursor this gateway gave");
  let c;
  try {
    c = JSON.parse(base64url.decode(raw));
  } catch {
    throw new BadRequest("cursor: not a cursor this gateway gave");
  }
  const ok = c && typeof c === "object" && Number.isInteger(c.st) && c.st >= 0 && c.st < BROKER_STATES.length &&
    (c.p === undefined || c.p === 0 || c.p === 1) &&
    (c.id === undefined || (typeof c.id === "string" && ID.test(c.id))) &&
    (c.i === undefined || (Number.isInteger(c.i) && c.i >= 0 && c.i < 2 ** 32)) &&
    (c.s === undefined || (typeof c.s === "string" && /^-?\d{1,20}(\.\d{1,20})?(e[+-]?\d{1,3})?$/i.test(c.s))) &&
    (c.q === undefined || (typeof c.q === "string" && c.q.length <= 1024));
  if (!ok) throw new BadRequest("cursor: not a cursor this gateway gave");
  const { st, q, ...inner } = c;
  return { st, q, inner };
}

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js)
 */
export function messageRoutes(ctx) {
  const { reader, brokerKeys, backend, decodeMessage } = ctx;
  const STATES = BROKER_STATES;

  /** A listed message: `{ message, key }`; what the broker holds under an id that is not a
   * Dramatiq message, `{ message: null, key: null, malformed, id, bytes }` (listed, not
   * hidden: a producer could hide messages from the view otherwise); null when gone. */
  function parseMessage(body, queue, id) {
    if (body == null) return null; // gone since its id was read
    const { message, malformed } = readMessage(body, decodeMessage);
    if (malformed) return { message: null, key: null, malformed, id, bytes: body.length };
    let key = null;
    try {
      key = backend.buildMessageKey({ queueName: queue, actorName: message.actor_name, messageId: message.message_id });
    } catch {
      // A name the key derivation refuses: listed without a key.
    }
    return { message, key };
  }

  const app = new Hono();
  app.get("/messages", async (c) => {
    only(c, ["queue", "state", "limit", "cursor"]);
    const named = c.req.query("queue");
    if (named !== undefined && !isQueueName(brokerKeys, named)) throw new BadRequest("queue: not a queue name");
    const state = c.req.query("state");
    if (state !== undefined && !STATES.includes(state)) throw new BadRequest(`state: one of ${STATES.join(", ")}`);
    const rawLimit = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(rawLimit) || +rawLimit < 1 || +rawLimit > MAX_LIMIT) throw new BadRequest(`limit: 1 to ${MAX_LIMIT}`);
    const limit = Number(rawLimit);
    let { st, q, inner } = readCursor(c.req.query("cursor"));
    if (named !== undefined && q !== undefined) throw new BadRequest("cursor: from a listing of every queue");
    if (named === undefined && q !== undefined && !isQueueName(brokerKeys, q)) throw new BadRequest("cursor: not a cursor this gateway gave");
    if (st === null) st = state ? STATES.indexOf(state) : 0;
    else if (state && STATES[st] !== state) throw new BadRequest("cursor: from another state");
    // The queues to list, from the one the cursor names (every queue: in name order).
    let queues = [named];
    if (named === undefined) {
      // A first page asks for names at most a second old; later pages go with what it saw.
      const all = [...(await ctx.queues({ maxAgeMs: q === undefined ? 1000 : 5000 }))].sort();
      queues = q === undefined ? all : all.filter((name) => name >= q);
      if (q !== undefined && queues[0] !== q) {
        // The cursor's queue is gone (emptied since): go on from the next one.
        st = state ? STATES.indexOf(state) : 0;
        inner = undefined;
      }
    }
    const items = [];
    let bytes = 0; // a page ends early past MAX_PAGE_BYTES of messages (at least one)
    let next = null;
    const at = (queue, position) => (named === undefined ? { st, q: queue, ...position } : { st, ...position });
    // One queue after another; in each, one state (or, with none named, each in turn) until
    // the page is full.
    for (let qi = 0; qi < queues.length && next === null && items.length < limit; qi++) {
      const queue = queues[qi];
      if (qi > 0) {
        st = state ? STATES.indexOf(state) : 0;
        inner = undefined;
      }
      while (items.length < limit) {
        const want = limit - items.length;
        const page = await reader.page(queue, STATES[st], inner, want);
        let taken = 0;
        for (const { id, body } of page.items) {
          if (items.length && bytes >= MAX_PAGE_BYTES) break;
          taken++;
          bytes += body?.length ?? 0;
          const parsed = parseMessage(body, queue, id);
          if (parsed) items.push({ state: STATES[st], queue, ...parsed });
        }
        if (taken < page.items.length) {
          // Full in bytes: the next page starts after the last message taken.
          next = at(queue, page.items[taken - 1].next);
          break;
        }
        if (page.cursor) {
          next = at(queue, page.cursor);
          break;
        }
        if (state || st === STATES.length - 1) {
          // This queue is done: the next page (if this one is full) starts at the next queue.
          if (items.length === limit && qi + 1 < queues.length) next = at(queues[qi + 1], {});
          if (next) next.st = state ? STATES.indexOf(state) : 0;
          break;
        }
        st++;
        inner = undefined;
        if (items.length === limit) next = at(queue, {}); // the page is full: the next one starts there
      }
    }
    return json(c, { items, cursor: next ? base64url.encode(JSON.stringify(next)) : null });
  });
  return app;
}
