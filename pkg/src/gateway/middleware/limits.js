// The limits every request meets first, the dashboard's files included: the methods served
// (GET and HEAD, and OPTIONS preflights when CORS is on), the URL's length, and no body.
import { json } from "../http.js";
import { MAX_ACTION_BODY } from "./operator.js";

/** The longest URL served (bytes of the whole URL). */
export const MAX_URL = 4096;

/**
 * @param {{ cors?: string }} o with `cors`, OPTIONS (a preflight) is let through too
 */
export function limits({ cors, actions = false } = {}) {
  const allow = cors ? "GET, HEAD, OPTIONS" : "GET, HEAD";
  return async (c, next) => {
    const method = c.req.method;
    const preflight = method === "OPTIONS" && cors;
    // With an operator token, the API's actions (routes/actions.js: POST and DELETE, small
    // JSON bodies); without one they do not exist.
    const write = actions && (method === "POST" || method === "DELETE") && c.req.path.startsWith("/api/");
    if (method !== "GET" && method !== "HEAD" && !preflight && !write) return c.body(null, 405, { allow });
    if (c.req.url.length > MAX_URL) return json(c, { error: "URL too long" }, 414);
    const length = c.req.header("content-length");
    if (write) {
      if (c.req.header("transfer-encoding") || Number(length ?? 0) > MAX_ACTION_BODY) return json(c, { error: "body too large" }, 413);
    } else if ((length && length !== "0") || c.req.header("transfer-encoding")) return json(c, { error: "a request has no body here" }, 413);
    await next();
  };
}
