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

const routes = {
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
      return Response.json(await route(await request.json()));
    } catch (e) {
      return Response.json({ threw: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
