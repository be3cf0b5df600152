// Serves the results dashboard on loopback: the page (`www/`) and the package it imports
// (`pkg/`), read-only, plus a demo result endpoint under `/kv/` backed by an in-memory map,
// so the dashboard's HTTP source can be tried without an edge function.
//
//   node www/serve.mjs            # port from $PORT, else a free one; prints the URL
//
// Nothing outside `www/` and `pkg/` is served, and the server listens on 127.0.0.1 only.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const served = ["www", "pkg"].map((dir) => join(root, dir) + sep);
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
};
/** The demo endpoint's prefix: `GET|PUT|DELETE /kv/<encodeURIComponent(key)>`. */
export const KV_PREFIX = "/kv/";

/**
 * The demo result store: key → `{ body, expiresAt }`. A PUT stores the request body as it
 * is (`?ttl=<ms>`, default 600 000, as Dramatiq's `result_ttl`); a GET answers 200 with
 * those bytes or 404 once absent or expired, which is all the dashboard's adapter expects
 * of a real endpoint.
 */
function kvHandler() {
  const entries = new Map();
  return (req, res, key) => {
    const now = Date.now();
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now) entries.delete(key);
    const headers = { "cache-control": "no-store" };
    if (req.method === "GET" || req.method === "HEAD") {
      const live = entries.get(key);
      if (!live) return res.writeHead(404, headers).end();
      return res.writeHead(200, { ...headers, "content-type": "application/octet-stream" }).end(live.body);
    }
    if (req.method === "DELETE") {
      entries.delete(key);
      return res.writeHead(204, headers).end();
    }
    if (req.method === "PUT") {
      const ttl = Number(new URL(req.url, "http://x").searchParams.get("ttl") ?? 600_000);
      if (!(ttl > 0)) return res.writeHead(400, headers).end("ttl must be a positive number of ms");
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        entries.set(key, { body: Buffer.concat(chunks), expiresAt: Date.now() + ttl });
        res.writeHead(204, headers).end();
      });
      return;
    }
    res.writeHead(405, { ...headers, allow: "GET, HEAD, PUT, DELETE" }).end();
  };
}

/** Starts the server; resolves with `{ server, url, close() }` once it listens. */
export async function startServer({ port = 0, host = "127.0.0.1" } = {}) {
  const kv = kvHandler();
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url, "http://x");
    if (pathname.startsWith(KV_PREFIX)) {
      let key;
      try {
        key = decodeURIComponent(pathname.slice(KV_PREFIX.length));
      } catch {
        return res.writeHead(400).end();
      }
      return kv(req, res, key);
    }
    if (pathname === "/" || pathname === "/www") return res.writeHead(302, { location: "/www/" }).end();
    if (req.method !== "GET" && req.method !== "HEAD") return res.writeHead(405).end();
    let path;
    try {
      path = normalize(join(root, decodeURIComponent(pathname)));
    } catch {
      return res.writeHead(400).end();
    }
    if (existsSync(path) && statSync(path).isDirectory()) path = join(path, "index.html");
    if (!served.some((dir) => path.startsWith(dir)) || !existsSync(path)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream", "cache-control": "no-cache" });
    res.end(req.method === "HEAD" ? undefined : readFileSync(path));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const url = `http://${host}:${server.address().port}`;
  return { server, url, close: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  if (!existsSync(join(root, "pkg/dist/dramatiq_results_bg.wasm"))) {
    console.error("pkg/dist is missing: run scripts/build first");
    process.exit(1);
  }
  const { url } = await startServer({ port: Number(process.env.PORT ?? 0) });
  console.log(`dramatiq-results dashboard: ${url}/www/`);
  console.log(`demo result endpoint:       ${url}${KV_PREFIX}<key>`);
}
