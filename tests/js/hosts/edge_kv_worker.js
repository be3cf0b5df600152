// A Cloudflare Worker holding one CloudflareKvBackend (or, with `?stub`, one StubBackend)
// for the whole isolate (made on the first request, as Workers often keep clients in module
// scope), for the edge audit (tests/js/edge-workerd.test.mjs): one request waits while
// another stores.
import { CloudflareKvBackend, StubBackend, Message, JSONEncoder } from "../../../pkg/src/workerd.js";

const encoder = new JSONEncoder();
let kvBackend;
let stubBackend;
let backend;
const message = (id) => new Message({ queueName: "edge", actorName: "kv", messageId: id });

// Eventual consistency, as another location sees KV: a key written "elsewhere" (`remotePut`)
// reads as absent here until `lagMs` later.
const visibleAt = new Map();
const lagging = (kv) => ({
  async getWithMetadata(key, options) {
    if ((visibleAt.get(key) ?? 0) > Date.now()) return { value: null, metadata: null };
    return kv.getWithMetadata(key, options);
  },
  put: (...args) => kv.put(...args),
  delete: (key) => kv.delete(key),
});

const routes = {
  /** A Python-like producer elsewhere: the value's bytes put straight into KV, visible here
   * after `lagMs`. */
  async remotePut({ id, bytes, lagMs }, env) {
    const key = backend.buildMessageKey(message(id));
    visibleAt.set(key, Date.now() + lagMs);
    await env.RESULTS.put(key, bytes);
    return { key };
  },
  /** A read through a backend over the lagging view: { id, block, timeout }. */
  async lagged({ id, block, timeout }, env) {
    const started = performance.now();
    try {
      const value = await new CloudflareKvBackend(lagging(env.RESULTS)).getResult(message(id), { block, timeout });
      return { valueJson: new TextDecoder().decode(encoder.encode(value)), ms: performance.now() - started };
    } catch (e) {
      return { error: { name: e?.name, message: String(e?.message) }, ms: performance.now() - started };
    }
  },
  async wait({ id, timeout }) {
    const started = performance.now();
    try {
      const value = await backend.getResult(message(id), { block: true, timeout });
      return { valueJson: new TextDecoder().decode(encoder.encode(value)), ms: performance.now() - started };
    } catch (e) {
      return { error: { name: e?.name, message: String(e?.message), cause: e?.cause ? String(e.cause.message ?? e.cause) : undefined }, ms: performance.now() - started };
    }
  },
  async store({ id, value, ttl }) {
    await backend.storeResult(message(id), value, ttl);
    return { stored: true };
  },
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    backend = url.searchParams.has("stub") ? (stubBackend ??= new StubBackend()) : (kvBackend ??= new CloudflareKvBackend(env.RESULTS));
    const route = routes[url.pathname.slice(1)];
    try {
      return Response.json(await route(await request.json(), env));
    } catch (e) {
      return Response.json({ threw: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
