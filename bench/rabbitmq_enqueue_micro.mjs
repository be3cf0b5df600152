// Our CPU per confirmed RabbitmqBroker publish, without amqplib or a server: a fake confirm
// channel that confirms on the next setImmediate, so what is timed is `actor.message()`,
// the broker's `_prepare` (rabbitmqPublish) and its promise plumbing, hot (a tight loop;
// the real loop idles ≈ 0.5 ms between publishes and runs ≈ 2× slower on cold caches).
// Usage: node bench/rabbitmq_enqueue_micro.mjs
import { RabbitmqBroker, actor } from "dramatiq-results";

const ch = {
  on() {},
  off() {},
  assertQueue: async () => ({ messageCount: 0 }),
  publish(exchange, key, body, options, callback) {
    setImmediate(() => callback(null));
    return true;
  },
  close: async () => {},
};
const conn = { createChannel: async () => ch, createConfirmChannel: async () => ch, close: async () => {}, on() {} };
const broker = new RabbitmqBroker(conn, { middleware: [], confirmDelivery: true });
const noop = actor("noop", { broker, queueName: "q" });
const N = 20_000;

async function time(label, f) {
  for (let i = 0; i < 2000; i++) await f();
  const t = performance.now();
  for (let i = 0; i < N; i++) await f();
  console.log(label.padEnd(42), `${(((performance.now() - t) / N) * 1000).toFixed(1)} µs`);
}

await time("a setImmediate round (the fake confirm)", () => new Promise((r) => setImmediate(r)));
await time("actor.message()", () => noop.message());
const m = noop.message();
await time("message.encode()", () => m.encode());
// The broker's internal prepare step (a Symbol-keyed method: pkg/src/internal/symbols.js).
const prepare = Object.getOwnPropertySymbols(Object.getPrototypeOf(broker)).find((s) => s.description === "dramatiq.prepare");
await time("broker[prepare](m) (rabbitmqPublish)", () => broker[prepare](m));
await time("broker.enqueue(m)", () => broker.enqueue(m));
await time("broker.enqueue(noop.message())", () => broker.enqueue(noop.message()));
