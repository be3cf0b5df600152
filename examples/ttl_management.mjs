// TTLs: the middleware default, an actor's own, and one message's, and what expiry means.
import { StubBroker, StubBackend, Results, Worker, actor, setBroker, ResultMissing } from "dramatiq-results";

const backend = new StubBackend();
const broker = new StubBroker();
broker.addMiddleware(new Results({ backend, storeResults: true, resultTtl: 60000 }));
setBroker(broker);
const shortLived = actor(() => "brief", { actorName: "short_lived", resultTtl: 100 });
const worker = new Worker(broker).start();

const a = shortLived.send();
console.log(await a.getResult({ block: true }));
await new Promise((r) => setTimeout(r, 150));
try { await a.getResult(); } catch (e) { console.log("after 150 ms:", e instanceof ResultMissing ? "expired" : e); }

// A message option wins over the actor's.
const b = shortLived.sendWithOptions({ resultTtl: 10000 });
await b.getResult({ block: true });
await new Promise((r) => setTimeout(r, 150));
console.log("with resultTtl 10000:", await b.getResult());
await worker.stop();

// Output:
// brief
// after 150 ms: expired
// with resultTtl 10000: brief
