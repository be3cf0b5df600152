// The limits every request meets first, the dashboard's files included: the methods served
// (GET and HEAD, and OPTIONS preflights when CORS is on), the URL's length, and no body.
import { json } from "../http.js";

/** The longest URL served (bytes of the whole URL). */
export const MAX_URL = 4096;

/**
 * @param {{ cors?: string }} o with `cors`, OPTIONS (a preflight) is let through too
 */
export function limits({ cors } = {}) {
  const allow = cors ? "GET, HEAD, OPTIONS" : "GET, HEAD";
  return async (c, next) => {
    const method = c.req.method;
    const preflight = method === "OPTIONS" && cors;
    if (method !== "GET" && method !== "HEAD" && !preflight) return c.body(null, 405, { allow });
    if (c.req.url.length > MAX_URL) return json(c, { error: "URL too long" }, 414);
    const length = c.req.header("content-length");
    if ((length && length !== "0") || c.req.header("transfer-encoding")) return json(c, { error: "a request has no body here" }, 413);
    await next();
  };
}
