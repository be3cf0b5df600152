// Who may call a group of routes: a bearer token per role, compared in constant time.
// Today there is one role, the viewer (`token`: every API route; none configured means an
// open gateway, which the hosts allow on loopback only). A role whose routes must never be
// open (an operator's, which changes the deployment) is mounted only when its token is
// configured: `guard(routes, { token, required: true })` answers null without one, and the
// app then has no such routes at all (404), rather than routes that check nothing.
import { Hono } from "hono";
import { json } from "../http.js";

const encoder = new TextEncoder();

/** The token of an `Authorization: Bearer <token>` header, "" when there is none. The
 * scheme's name is case-insensitive (RFC 9110 §11.1): `bearer <token>` counts too. */
export function bearerOf(header) {
  return /^Bearer (.+)$/i.exec(header ?? "")?.[1] ?? "";
}

/** Whether two secrets are equal, in time independent of where they differ (and of their
 * lengths: both are hashed first). */
export async function sameSecret(given, expected) {
  const digest = (s) => crypto.subtle.digest("SHA-256", encoder.encode(s));
  const [a, b] = (await Promise.all([digest(given), digest(expected)])).map((d) => new Uint8Array(d));
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The middleware of a role: answers 401 unless the request carries `Authorization: Bearer
 * <token>` (with no token, lets everything through); API answers are never cached.
 * Preflights carry no credentials and pass.
 */
export function bearer(token, also) {
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return next();
    c.header("cache-control", "no-store");
    if (token) {
      const header = c.req.header("authorization") ?? "";
      const given = bearerOf(header);
      // `also`: a token that may read these routes too (the operator's); both compared.
      const [one, other] = await Promise.all([sameSecret(given, token), sameSecret(given, also ?? "\0none")]);
      if (!(one || (also && other))) {
        c.header("www-authenticate", 'Bearer realm="dramatiq-results"');
        return json(c, { error: "unauthorized" }, 401);
      }
    }
    return next();
  };
}

/**
 * `routes` (Hono apps, joined in order) behind one role's token, as one app to mount with
 * `app.route(path, …)`; null when the role is `required` and has no token.
 */
export function guard(routes, { token, also, required = false }) {
  if (required && !token) return null;
  const app = new Hono();
  app.use("*", bearer(token, also));
  for (const r of routes) app.route("/", r);
  return app;
}
