// `GET /kv/<key>`: a result's stored bytes exactly (the KvBackend HTTP protocol the
// dashboard's HTTP source reads), 404 when absent. Only keys of the results namespace (or
// Dramatiq's 32-hex MD5 keys) are read, and only results are answered (in Redis, a list of
// exactly one element: see ../redis/redis.js); the bytes as stored, whatever they are.
import { Hono } from "hono";
import { BadRequest, Unavailable } from "../http.js";

/** The longest result key read. */
export const MAX_KEY = 1024;

/**
 * @param {object} ctx the gateway's shared parts (see ../app.js)
 */
export function resultRoutes({ readKey, resultsNamespace }) {
  const namespace = resultsNamespace.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const keyPattern = new RegExp(`^(?:[0-9a-f]{32}|${namespace}:[^\\s\\u0000-\\u001f\\u007f]+)$`);
  const refused = () => new BadRequest(`key: not a result key of namespace ${resultsNamespace}`);
  const app = new Hono();

  app.get("/:key{.+}", async (c) => {
    const key = c.req.param("key");
    if (key.length > MAX_KEY || !keyPattern.test(key)) throw refused();
    let bytes;
    try {
      bytes = await readKey(key);
    } catch (error) {
      throw new Unavailable(error);
    }
    if (bytes == null) return c.body(null, 404);
    return c.body(bytes, 200, { "content-type": "application/octet-stream" });
  });

  // What the key route cannot match (a key with a line break) or no key at all.
  app.get("/*", () => {
    throw refused();
  });
  app.get("/", () => {
    throw new BadRequest("key: missing");
  });
  return app;
}
