// The dashboard's files: whatever the host's `assets` handler serves (Node: `www/` and the
// package's browser entry, see ../node.js), for any GET no API route took. Registered last.
import { Hono } from "hono";

/** @param {(c: import("hono").Context) => Response | Promise<Response>} assets */
export function assetRoutes(assets) {
  const app = new Hono();
  app.get("*", (c) => assets(c));
  return app;
}
