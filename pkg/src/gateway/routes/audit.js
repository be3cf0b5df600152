// `GET /api/audit?limit=`: the operator's actions, newest first, from the audit log kept in
// Redis (capped; see ../redis/actions.js): `[{ at, role, action, messageId | filter, matched,
// done, … }]`. The viewer may read it: it says what was done, never a token.
import { Hono } from "hono";
import { BadRequest, json, only } from "../http.js";

/** The most entries one request returns. */
export const MAX_AUDIT = 1000;

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js), with `writer`
 */
export function auditRoutes({ writer }) {
  const app = new Hono();
  app.get("/audit", async (c) => {
    only(c, ["limit"]);
    const raw = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(raw) || +raw < 1 || +raw > MAX_AUDIT) throw new BadRequest(`limit: 1 to ${MAX_AUDIT}`);
    return json(c, await writer.auditLog(Number(raw)));
  });
  return app;
}
