// The operator's role: the routes that change the deployment (requeue, delete) need
// `Authorization: Bearer <operator token>`, compared in constant time. The viewer's token
// there is 403 (known, not allowed), anything else 401. Only the header counts (no cookie,
// no query parameter), so a cross-site form or link cannot act: a browser sends that header
// only from script, which CORS keeps to the configured origin. Without an operator token
// the routes are not mounted at all (see ../app.js): the methods are then refused (405).
import { json } from "../http.js";
import { bearerOf, sameSecret } from "./auth.js";

/** The longest JSON body an action takes (bytes). */
export const MAX_ACTION_BODY = 16 * 1024;

/**
 * @param {{ operatorToken: string, viewerToken?: string }} o
 */
export function operatorOnly({ operatorToken, viewerToken }) {
  return async (c, next) => {
    c.header("cache-control", "no-store");
    const given = bearerOf(c.req.header("authorization"));
    // Both comparisons always run, so the time taken says nothing of which one matched.
    const [operator, viewer] = await Promise.all([sameSecret(given, operatorToken), sameSecret(given, viewerToken ?? "\0none")]);
    if (operator && given) {
      c.set("role", "operator");
      return next();
    }
    if (viewer && given && viewerToken) return json(c, { error: "forbidden: the viewer's token cannot act (use the operator token)" }, 403);
    c.header("www-authenticate", 'Bearer realm="dramatiq-results"');
    return json(c, { error: "unauthorized" }, 401);
  };
}

/** The request's JSON body: an object, at most MAX_ACTION_BODY bytes; "" or none is `{}`. */
export async function jsonBody(c, BadRequest) {
  const type = c.req.header("content-type") ?? "";
  const raw = await c.req.text();
  if (raw.length > MAX_ACTION_BODY) throw new BadRequest("body: too large");
  if (raw.trim() === "") return {};
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new BadRequest("body: JSON (content-type: application/json) expected");
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new BadRequest("body: not JSON");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new BadRequest("body: a JSON object expected");
  return body;
}
