// `GET /api/events`: Server-Sent Events of the deployment (see ../protocol.js for the names,
// ../events.js for the poller that makes them). A new client (or one away longer than the
// event ring remembers) gets the status, the overview, then the snapshot of every record
// (built once per poll and shared by every client: see `EventPoller#snapshot`); one coming
// back with `Last-Event-ID` gets exactly the events it missed; then both get live events
// until they leave.
//
// A viewer holds no copy of anything: the snapshot's chunks and the event ring are the
// poller's, shared; a viewer is where it is in them. Every write, in every phase, has a
// deadline (`writeTimeoutMs`): a viewer that stops reading (or is gone without its
// connection closing) is dropped, its connection reset, within that time; one that falls
// out of the ring is dropped too (it reconnects, and gets a snapshot). At most `maxViewers`
// streams are open at once; more are answered 503.
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { BadRequest, json, only } from "../http.js";
import { EVENT } from "../protocol.js";

/** A write to a viewer that does not complete in this long ends its stream (ms). */
export const WRITE_TIMEOUT_MS = 30_000;
/** Live events go out in writes of about this many bytes. */
const BATCH = 64 * 1024;
/** A comment this often keeps proxies from closing an idle stream (ms). */
const PING_MS = 15_000;
const encoder = new TextEncoder();

/** Lets the event loop serve others (new requests, I/O) before this viewer's next chunk: a
 * write the socket takes at once resolves in microtasks, so without it a whole snapshot
 * (and a crowd's worth of them) would go out before any other request is read. */
const yieldToOthers = () => new Promise((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));

/** One SSE event as text (the fields in the order Hono's `writeSSE` writes them). */
const sse = ({ event, data, id }) => `event: ${event}\ndata: ${data}\n${id === undefined ? "" : `id: ${id}\n`}\n`;

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js)
 */
export function eventRoutes({ poller, maxStreamMs, writeTimeoutMs = WRITE_TIMEOUT_MS, maxViewers = 1000 }) {
  const app = new Hono();
  app.get("/events", (c) => {
    only(c, []);
    const header = c.req.header("last-event-id");
    if (header !== undefined && !/^\d{1,16}$/.test(header)) throw new BadRequest("Last-Event-ID: not an event id");
    if (poller.watchers >= maxViewers) return json(c, { error: "too many viewers: try again later" }, 503);
    poller.start();
    c.header("cache-control", "no-store");
    c.header("x-accel-buffering", "no");
    if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream" }); // no stream to hang on
    return streamSSE(c, async (stream) => {
      // Subscribe first, so nothing falls between the replay and the live events. The
      // viewer keeps only where it is: the events are the poller's ring, shared by all.
      let wake = null;
      let changed = false;
      const unsubscribe = poller.subscribe(() => {
        changed = true;
        wake?.();
      });
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      // A viewer that does not take a write in time: its stream ends and, on Node, its
      // connection is reset (a response that cannot be flushed would hold the socket, and
      // the kernel its unsent bytes, for as long as the viewer likes).
      const drop = () => {
        closed = true;
        stream.abort();
        try {
          const socket = c.env?.outgoing?.socket;
          if (typeof socket?.resetAndDestroy === "function") socket.resetAndDestroy();
          else c.env?.outgoing?.destroy?.();
        } catch {
          // Not Node's server, or already gone.
        }
      };
      const send = async (chunk) => {
        if (closed) return;
        let timer;
        const late = new Promise((resolve) => (timer = setTimeout(() => resolve(true), writeTimeoutMs)));
        const write = stream.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk).then(() => false);
        const timedOut = await Promise.race([write, late]).finally(() => clearTimeout(timer));
        if (timedOut) drop();
      };
      /** The events after `sentUpTo`, in writes of about BATCH bytes; false when the ring no
       * longer has them all (a viewer that far behind is dropped: it reconnects). */
      const sendSince = async (id) => {
        const events = poller.since(id);
        if (events === null) return false;
        for (let i = 0; i < events.length && !closed;) {
          let text = "";
          for (; i < events.length && text.length < BATCH; i++) {
            const e = events[i];
            text += sse({ id: String(e.id), event: e.type, data: e.json });
            sentUpTo = e.id;
          }
          await yieldToOthers();
          await send(text);
        }
        return true;
      };
      const seen = { ...poller.versions };
      const overviews = () => {
        let text = "";
        if (seen.status !== poller.versions.status) text += sse({ event: EVENT.status, data: poller.statusJson() });
        for (const type of [EVENT.queues, EVENT.workers]) {
          if (seen[type] !== poller.versions[type]) text += sse({ event: type, data: poller.overview[type] });
        }
        // The operator's notices (`audit`, `progress`; see ../routes/actions.js).
        for (const n of poller.noticesAfter(seen.notices)) text += sse({ event: n.type, data: n.json });
        Object.assign(seen, poller.versions);
        return text;
      };
      const endsAt = Date.now() + maxStreamMs;
      let sentUpTo;
      try {
        await send(sse({ event: EVENT.status, data: poller.statusJson() }) + sse({ event: EVENT.queues, data: poller.overview.queues }) +
          sse({ event: EVENT.workers, data: poller.overview.workers }));
        const lastId = header === undefined ? null : Number(header);
        if (lastId !== null && lastId <= poller.head && poller.since(lastId) !== null) {
          sentUpTo = lastId;
          await sendSince(lastId);
        } else {
          // New, or away longer than the ring remembers: everything still known, then live.
          const { head, chunks } = poller.snapshot();
          for (const chunk of chunks) {
            if (closed) break;
            await yieldToOthers();
            await send(chunk);
          }
          sentUpTo = head;
        }
        while (!closed) {
          if (changed) {
            changed = false;
            const text = overviews();
            if (text) await send(text);
            if (!(await sendSince(sentUpTo))) break; // fell out of the ring: reconnect
            continue;
          }
          const left = endsAt - Date.now();
          if (left <= 0) {
            await send(sse({ event: EVENT.reconnect, data: "{}" }));
            break;
          }
          let timer;
          await new Promise((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, Math.min(PING_MS, left));
          });
          clearTimeout(timer);
          wake = null;
          if (!changed && !closed && Date.now() < endsAt) await send(": ping\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return app;
}
