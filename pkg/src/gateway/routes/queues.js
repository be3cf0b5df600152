// The deployment's overview: `GET /api/queues` (counts per queue), `GET /api/workers` (the
// workers with fresh heartbeats) and `GET /api/status` (Redis and the poller).
import { Hono } from "hono";
import { json, only, publicError } from "../http.js";

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js)
 */
export function queueRoutes({ reader, poller, redis }) {
  const app = new Hono();

  app.get("/queues", async (c) => {
    only(c, []);
    return json(c, await reader.counts(await reader.queues()));
  });

  app.get("/workers", async (c) => {
    only(c, []);
    const now = Date.now();
    return json(c, (await reader.workers(now)).map((w) => ({ ...w, ageMs: Math.max(0, now - w.lastSeen) })));
  });

  app.get("/status", async (c) => {
    only(c, []);
    let redisStatus = { ok: true, error: null };
    try {
      await redis.sendCommand(["PING"]);
    } catch (error) {
      redisStatus = { ok: false, error: publicError(error) };
    }
    const events = { head: poller.head, polling: poller.running, watchers: poller.watchers, ...poller.status };
    return json(c, { redis: redisStatus, events }, redisStatus.ok ? 200 : 503);
  });

  return app;
}
