// CORS for one origin (the `cors` option): the read-only methods, and the request headers
// the API reads (the token, and `Last-Event-ID` for the event stream).
import { cors as honoCors } from "hono/cors";

/** The CORS middleware of the API routes under `/api` (`Last-Event-ID` allowed) or `/kv`. */
export function corsFor(origin, { events = false, actions = false } = {}) {
  const allowHeaders = events ? ["Authorization", "Last-Event-ID"] : ["Authorization"];
  // With an operator token the actions take JSON bodies: POST, DELETE and Content-Type too.
  if (actions) allowHeaders.push("Content-Type");
  const allowMethods = actions ? ["GET", "HEAD", "POST", "DELETE"] : ["GET", "HEAD"];
  return honoCors({ origin, allowMethods, allowHeaders, maxAge: 600 });
}
