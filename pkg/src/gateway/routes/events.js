// `GET /api/events`: Server-Sent Events of the deployment (see ../protocol.js for the names,
// ../events.js for the poller that makes them). A new client (or one away longer than the
// event ring remembers) gets the status, the overview, then a snapshot of every record; one
// coming back with `Last-Event-ID` gets exactly the events it missed; then both get live
// events until they leave.
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { toJson } from "../events.js";
import { BadRequest, only } from "../http.js";
import { EVENT } from "../protocol.js";

/** A write to a viewer that does not complete in this long ends its stream (ms). */
export const WRITE_TIMEOUT_MS = 30_000;
/** Events one viewer may have waiting; a client this far behind is dropped (it reconnects). */
const MAX_QUEUED = 50_000;
/** A comment this often keeps proxies from closing an idle stream (ms). */
const PING_MS = 15_000;

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js)
 */
export function eventRoutes({ poller, maxStreamMs }) {
  const app = new Hono();
  app.get("/events", (c) => {
    only(c, []);
    poller.start();
    const header = c.req.header("last-event-id");
    if (header !== undefined && !/^\d{1,16}$/.test(header)) throw new BadRequest("Last-Event-ID: not an event id");
    c.header("cache-control", "no-store");
    c.header("x-accel-buffering", "no");
    if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream" }); // no stream to hang on
    return streamSSE(c, async (stream) => {
      // Subscribe first, so nothing falls between the replay and the live events.
      const queue = [];
      let wake = null;
      let overflow = false;
      const unsubscribe = poller.subscribe((event) => {
        if (queue.length > MAX_QUEUED) overflow = true; // a client this far behind reconnects
        else queue.push(event);
        wake?.();
      });
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      const endsAt = Date.now() + maxStreamMs;
      // A write that does not complete in WRITE_TIMEOUT_MS (a viewer gone without its
      // connection closing, or one that stopped reading) ends the stream.
      const send = async (write) => {
        let timer;
        const late = new Promise((resolve) => (timer = setTimeout(() => resolve(true), WRITE_TIMEOUT_MS)));
        const timedOut = await Promise.race([write.then(() => false), late]).finally(() => clearTimeout(timer));
        if (timedOut) closed = true;
      };
      try {
        await stream.writeSSE({ event: EVENT.status, data: poller.statusJson() });
        await stream.writeSSE({ event: EVENT.queues, data: poller.overview.queues });
        await stream.writeSSE({ event: EVENT.workers, data: poller.overview.workers });
        const lastId = header === undefined ? null : Number(header);
        const missed = lastId === null ? null : poller.since(lastId);
        if (missed) {
          for (const e of missed) await stream.writeSSE({ id: String(e.id), event: e.type, data: e.json });
        } else {
          // New, or away longer than the ring remembers: everything still known, then live.
          const records = [...poller.records.values()];
          await stream.writeSSE({ event: EVENT.reset, data: toJson({ head: poller.head, records: records.length }) });
          for (let i = 0; i < records.length; i++) {
            const last = i === records.length - 1;
            await stream.writeSSE({ event: EVENT.snapshot, data: toJson(records[i]), ...(last ? { id: String(poller.head) } : {}) });
          }
          if (!records.length) await stream.writeSSE({ event: EVENT.ready, data: "{}", id: String(poller.head) });
        }
        let sentUpTo = missed ? Math.max(lastId, missed.at(-1)?.id ?? lastId) : poller.head;
        while (!closed && !overflow) {
          while (queue.length && !closed) {
            const e = queue.shift();
            if (e.id === undefined) await send(stream.writeSSE({ event: e.type, data: e.json })); // status, queues, workers
            else if (e.id > sentUpTo) {
              await send(stream.writeSSE({ id: String(e.id), event: e.type, data: e.json }));
              sentUpTo = e.id;
            }
          }
          if (closed || overflow) break;
          const left = endsAt - Date.now();
          if (left <= 0) {
            await send(stream.writeSSE({ event: EVENT.reconnect, data: "{}" }));
            break;
          }
          await new Promise((resolve) => {
            wake = resolve;
            setTimeout(resolve, Math.min(PING_MS, left));
          });
          wake = null;
          if (!queue.length && !closed && Date.now() < endsAt) await send(stream.write(": ping\n\n"));
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return app;
}
