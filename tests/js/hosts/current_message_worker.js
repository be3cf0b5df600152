// A Cloudflare Worker running actors on a StubBroker with CurrentMessage: what
// getCurrentMessage() and currentSignal() see inside concurrent async actors in workerd.
import { CurrentMessage, Results, StubBackend, StubBroker, Worker, actor, currentSignal, defaultMiddleware } from "../../../pkg/src/workerd.js";

export default {
  async fetch() {
    try {
      const backend = new StubBackend();
      const broker = new StubBroker({ middleware: [...defaultMiddleware(), new Results({ backend }), new CurrentMessage()] });
      const look = actor(async (x) => {
        await new Promise((resolve) => setTimeout(resolve, 5 * (3 - x)));
        const current = CurrentMessage.getCurrentMessage();
        return { x, id: current?.messageId ?? null, sameSignal: currentSignal() === current?.signal };
      }, { broker, actorName: "look", storeResults: true, maxRetries: 0 });
      const sent = [1, 2].map((x) => look.send(x));
      const worker = new Worker(broker, { concurrency: 2 }).start();
      await worker.join();
      await worker.stop();
      const results = [];
      for (const m of sent) {
        try {
          results.push({ sent: m.messageId, got: await backend.getResult(m) });
        } catch (e) {
          results.push({ sent: m.messageId, error: `${e.exceptionType ?? e.name}: ${e.exceptionValue ?? e.message}` });
        }
      }
      return Response.json({ results, outside: (() => { try { return CurrentMessage.getCurrentMessage(); } catch (e) { return `throws: ${e.message}`; } })() });
    } catch (e) {
      return Response.json({ failure: String(e && e.stack) });
    }
  },
};
