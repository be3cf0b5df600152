// `GET /api/messages?queue=&state=&limit=&cursor=`: one queue's messages, a page at a time,
// state after state (`BROKER_STATES`' order) unless one is named →
// `{ items: [{ state, message, key }], cursor }` (`cursor` null after the last page).
import { Hono } from "hono";
import { BadRequest, json, only } from "../http.js";
import { BROKER_STATES } from "../protocol.js";
import { isQueueName } from "../redis/broker.js";

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
  if (raw === undefined) return { st: null, inner: undefined };
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
    (c.s === undefined || (typeof c.s === "string" && /^-?\d{1,20}(\.\d{1,20})?(e[+-]?\d{1,3})?$/i.test(c.s)));
  if (!ok) throw new BadRequest("cursor: not a cursor this gateway gave");
  const { st, ...inner } = c;
  return { st, inner };
}

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js)
 */
export function messageRoutes({ reader, brokerKeys, backend, decodeMessage }) {
  const STATES = BROKER_STATES;

  /** A listed message: `{ message, key }`; what the broker holds under an id that is not a
   * Dramatiq message, `{ message: null, key: null, malformed, id, bytes }` (listed, not
   * hidden: a producer could hide messages from the view otherwise); null when gone. */
  function parseMessage(body, queue, id) {
    if (body == null) return null; // gone since its id was read
    let message;
    const malformed = (reason) => ({ message: null, key: null, malformed: reason, id, bytes: body.length });
    try {
      message = decodeMessage(body);
    } catch (error) {
      return malformed(/depth|nest|recursion/i.test(String(error?.message)) ? "nested too deeply" : "not JSON");
    }
    if (!message || typeof message !== "object" || typeof message.message_id !== "string" || typeof message.actor_name !== "string") {
      return malformed("not a Dramatiq message");
    }
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
    const queue = c.req.query("queue");
    if (queue === undefined || !isQueueName(brokerKeys, queue)) throw new BadRequest("queue: a queue name is required");
    const state = c.req.query("state");
    if (state !== undefined && !STATES.includes(state)) throw new BadRequest(`state: one of ${STATES.join(", ")}`);
    const rawLimit = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(rawLimit) || +rawLimit < 1 || +rawLimit > MAX_LIMIT) throw new BadRequest(`limit: 1 to ${MAX_LIMIT}`);
    const limit = Number(rawLimit);
    let { st, inner } = readCursor(c.req.query("cursor"));
    if (st === null) st = state ? STATES.indexOf(state) : 0;
    else if (state && STATES[st] !== state) throw new BadRequest("cursor: from another state");
    const items = [];
    let bytes = 0; // a page ends early past MAX_PAGE_BYTES of messages (at least one)
    let next = null;
    // One state (or, with none named, each in turn) until the page is full.
    while (items.length < limit) {
      const want = limit - items.length;
      const page = await reader.page(queue, STATES[st], inner, want);
      let taken = 0;
      for (const { id, body } of page.items) {
        if (items.length && bytes >= MAX_PAGE_BYTES) break;
        taken++;
        bytes += body?.length ?? 0;
        const parsed = parseMessage(body, queue, id);
        if (parsed) items.push({ state: STATES[st], ...parsed });
      }
      if (taken < page.items.length) {
        // Full in bytes: the next page starts after the last message taken.
        next = { st, ...page.items[taken - 1].next };
        break;
      }
      if (page.cursor) {
        next = { st, ...page.cursor };
        break;
      }
      if (state || st === STATES.length - 1) break;
      st++;
      inner = undefined;
      if (items.length === limit) next = { st }; // the page is full: the next one starts there
    }
    return json(c, { items, cursor: next ? base64url.encode(JSON.stringify(next)) : null });
  });
  return app;
}
