// Conditional execution: the next task depends on the result of the first.
import { StubBroker, Results, Worker, actor, setBroker } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const broker = new StubBroker();
broker.addMiddleware(new Results({ backend: makeBackend(), storeResults: true }));
setBroker(broker);
const check = actor((order) => ({ order, inStock: order % 2 === 0 }), { actorName: "check_stock" });
const ship = actor((order) => `shipped order ${order}`, { actorName: "ship" });
const backorder = actor((order) => `backordered order ${order}`, { actorName: "backorder" });
const worker = new Worker(broker).start();

for (const order of [41, 42]) {
  const { inStock } = await check.send(order).getResult({ block: true });
  const next = inStock ? ship : backorder;
  console.log(await next.send(order).getResult({ block: true }));
}
await worker.stop();

// Output:
// backordered order 41
// shipped order 42
