// A Worker with @cloudflare/workers-types: a real KVNamespace binding, no cast.
import { CloudflareKvBackend, Message } from "dramatiq-results";

interface Env {
  RESULTS: KVNamespace;
}

export default {
  async fetch(_request: Request, env: Env): Promise<Response> {
    const backend = new CloudflareKvBackend(env.RESULTS, { cacheTtl: 60 });
    const message = new Message({ actorName: "add", messageId: "consumer-kv" });
    await backend.storeResult(message, 3);
    return new Response(String(await backend.getResult(message)));
  },
} satisfies ExportedHandler<Env>;
