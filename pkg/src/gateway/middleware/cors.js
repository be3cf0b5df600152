// CORS for one origin (the `cors` option): the read-only methods, and the request headers
// the API reads (the token, and `Last-Event-ID` for the event stream).
import { cors as honoCors } from "hono/cors";

/** The CORS middleware of the API routes under `/api` (`Last-Event-ID` allowed) or `/kv`. */
export function corsFor(origin, { events = false } = {}) {
  const allowHeaders = events ? ["Authorization", "Last-Event-ID"] : ["Authorization"];
  return honoCors({ origin, allowMethods: ["GET", "HEAD"], allowHeaders, maxAge: 600 });
}
