// The demo: a Dramatiq set-up running inside the page (the package's in-memory StubBroker,
// JS actors, a Worker and the Results middleware) storing into the same backend the
// dashboard reads, so a new user sees every state without a Python worker or a server.
import { Results, StubBroker, Worker, actor } from "dramatiq-results";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quiet = { warn() {}, error() {}, info() {} };

/** How long the dashboard waits for the demo's unconsumed message before calling it timed out. */
export const DEMO_UNROUTED_TIMEOUT_MS = 6000;
/** The short-lived actor's `result_ttl`: its results expire while you watch. */
export const DEMO_SHORT_TTL_MS = 2500;

/**
 * Starts a broker and a worker that store results in `backend`. `send()` yields one round
 * of examples as `{ messages, timeoutMs? }`, each as soon as it is sent; `sendMany(n)`
 * sends `n` quick jobs at once (the 1 000-message load) and returns their messages.
 */
export function startDemo(backend) {
  const broker = new StubBroker({ logger: quiet });
  broker.addMiddleware(new Results({ backend, storeResults: true }));
  const options = (actorName, more) => ({ actorName, broker, maxRetries: 0, ...more });

  const compute = actor((x, y) => ({ computation: x * y + 42, inputs: [x, y] }), options("compute_task"));
  const add = actor((x, y = 0) => x + y, options("add"));
  const resize = actor(async (name, ms) => {
    await sleep(ms);
    return { image: name, sizes: [{ width: 320, height: 240 }, { width: 1280, height: 960 }], format: "webp" };
  }, options("resize_image"));
  const divide = actor((a, b) => {
    if (b === 0) throw new RangeError("division by zero");
    return a / b;
  }, options("divide"));
  const charge = actor(async (order) => {
    await sleep(300);
    throw new TypeError(`card declined for order ${order}`);
  }, options("charge_card"));
  const token = actor(() => ({ token: crypto.randomUUID(), scope: ["read"] }), options("issue_token", { resultTtl: DEMO_SHORT_TTL_MS }));
  // On a queue no worker consumes: its result never comes, so the wait times out.
  const report = actor(() => "never runs", options("nightly_report", { queueName: "reports" }));
  const tick = actor(async (i) => {
    await sleep(Math.random() * 40);
    return i * i;
  }, options("tick"));

  const worker = new Worker(broker, { concurrency: 16, queues: ["default"] }).start();

  return {
    broker,
    /** One round of examples, staggered so the plot fills in live. */
    async *send() {
      const steps = [
        () => compute.send(10, 20),
        () => add.send(1, 2),
        () => resize.send("cat.jpg", 2500 + Math.random() * 1500),
        () => divide.send(1, 0),
        () => compute.send(6, 7),
        () => token.send(),
        () => add.send(40, 2),
        () => charge.send("A-1042"),
        () => resize.send("dog.png", 1200 + Math.random() * 800),
        () => divide.send(22, 7),
        () => compute.send(3, 3),
        () => add.send(5),
      ];
      yield { messages: [report.send()], timeoutMs: DEMO_UNROUTED_TIMEOUT_MS };
      for (const step of steps) {
        yield { messages: [step()] };
        await sleep(120 + Math.random() * 160);
      }
    },
    /** `n` quick jobs at once. */
    sendMany(n) {
      return Array.from({ length: n }, (_, i) => tick.send(i));
    },
    stop: () => worker.stop(),
  };
}
