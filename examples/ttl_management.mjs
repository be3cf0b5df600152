// TTLs: the middleware default, an actor's own, and one message's, and what expiry means.
import { StubBroker, Results, Worker, actor, setBroker, ResultMissing } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const backend = makeBackend();
const broker = new StubBroker();
broker.addMiddleware(new Results({ backend, storeResults: true, resultTtl: 60000 }));
setBroker(broker);
const shortLived = actor(() => "brief", { actorName: "short_lived", resultTtl: 500 });
const worker = new Worker(broker).start();

const a = shortLived.send();
console.log(await a.getResult({ block: true }));
await new Promise((r) => setTimeout(r, 600));
try { await a.getResult(); } catch (e) { console.log("after 600 ms:", e instanceof ResultMissing ? "expired" : e); }

// A message option wins over the actor's.
const b = shortLived.sendWithOptions({ resultTtl: 10000 });
await b.getResult({ block: true });
await new Promise((r) => setTimeout(r, 150));
console.log("with resultTtl 10000:", await b.getResult());
await worker.stop();

// Output:
// brief
// after 600 ms: expired
// with resultTtl 10000: brief
