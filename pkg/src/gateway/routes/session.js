// `GET /api/session`: what the caller's token may do here, for the page to show or hide
// the operator's buttons (the routes check again on every action): `{ role: "viewer" |
// "operator", actions, follow }` where `actions` says whether this gateway has an operator
// token at all and `follow` how it learns of new messages ("keyspace" notifications, or
// "polling").
import { Hono } from "hono";
import { json, only } from "../http.js";
import { bearerOf, sameSecret } from "../middleware/auth.js";

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js)
 */
export function sessionRoutes(ctx) {
  const app = new Hono();
  app.get("/session", async (c) => {
    only(c, []);
    const given = bearerOf(c.req.header("authorization"));
    const operator = Boolean(ctx.operatorToken) && given !== "" && (await sameSecret(given, ctx.operatorToken));
    return json(c, { role: operator ? "operator" : "viewer", actions: Boolean(ctx.operatorToken), follow: ctx.follow?.mode ?? "polling" });
  });
  return app;
}
