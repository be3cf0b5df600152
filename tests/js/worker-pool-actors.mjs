// Actors for the thread pool test in worker-command.test.mjs: each thread imports this
// module, as the worker command's threads import a user's tasks.mjs. Hostile on purpose.
import { appendFileSync } from "node:fs";
import { RateLimitExceeded, RedisBroker, Retry, actor } from "dramatiq-results";

actor((x) => x * 2, { actorName: "double" });
actor(async (ms) => new Promise((r) => setTimeout(() => r(ms), ms)), { actorName: "wait" });
// A rendezvous of `n` calls over a SharedArrayBuffer: each counts itself in, then waits
// (blocking its thread, 10 s at most) until all `n` have. "met" only if they ran at once.
actor((shared, n) => {
  const count = new Int32Array(shared);
  Atomics.add(count, 0, 1);
  Atomics.notify(count, 0);
  for (const end = Date.now() + 10_000; Date.now() < end; ) {
    const seen = Atomics.load(count, 0);
    if (seen >= n) return "met";
    Atomics.wait(count, 0, seen, end - Date.now());
  }
  return "alone";
}, { actorName: "meet" });
actor(() => {
  const p = Proxy.revocable({}, {});
  p.revoke();
  throw p.proxy;
}, { actorName: "revoked" });
actor(() => {
  throw Object.defineProperty(new Error("x"), "name", {
    get() {
      throw new Error("getter");
    },
  });
}, { actorName: "getter" });
actor(() => () => 1, { actorName: "functionResult" });
actor(() => process.exit(3), { actorName: "exits" });
actor(async () => {
  throw "a string";
}, { actorName: "string" });
actor(() => {
  for (;;);
}, { actorName: "forever" });
actor(() => {
  throw new Retry("later", { delay: 1234 });
}, { actorName: "retry" });
actor(() => {
  throw new RangeError("out of range");
}, { actorName: "range" });

// An app's own error class, as `class AppError extends Error {}` leaves it (named "Error").
class AppError extends Error {}
actor(() => {
  throw new AppError("known");
}, { actorName: "appError", throws: [RangeError, AppError] });
actor(() => {
  throw new AppError("unlisted");
}, { actorName: "appErrorUnlisted" });
actor(() => {
  throw new RateLimitExceeded("rate limit exceeded for key 'k'");
}, { actorName: "limited" });

// A class instance with a toJSON (a Decimal, a DateTime): stored as its JSON, as on the
// main thread, not as the private fields structured clone would copy.
class Money {
  constructor(cents) {
    this.internal = { cents, currency: "EUR" };
  }
  toJSON() {
    return `${this.internal.cents / 100} EUR`;
  }
}
actor(() => ({ price: new Money(1250), at: new Date(0), big: 2n ** 70n, nan: NaN, nested: [new Money(1)] }), { actorName: "jsonish" });
actor(() => ({ toJSON() {
  throw new Error("toJSON refused");
} }), { actorName: "toJSONThrows" });
// Work left behind that throws once the actor has returned (Node's default would end the
// thread, and fail whatever message it runs next).
actor(() => {
  setTimeout(() => {
    throw new Error("a stray timer");
  }, 20);
  Promise.reject(new Error("a stray rejection"));
  return "returned";
}, { actorName: "stray" });
actor(() => {
  throw Object.defineProperty(new TypeError("readable"), "name", {
    get() {
      throw new Error("getter");
    },
  });
}, { actorName: "nameGetterThrows" });
actor(() => {
  const e = new Error("cyclic");
  e.cause = e;
  throw e;
}, { actorName: "cyclicCause" });

// Sends over a broker whose client takes 300 ms to answer (then fails, which is logged),
// writing to `mark` when it does, and returns at once: the call must not be reported done
// before that write settled (Python's send() has written when it returns; a thread
// terminated later would drop the write).
let slowBroker;
function slowly(mark) {
  slowBroker ??= new RedisBroker({
    sendCommand: () =>
      new Promise((resolve, reject) =>
        setTimeout(() => {
          appendFileSync(mark, "settled\n");
          reject(new Error("a slow client"));
        }, 300),
      ),
  }, { logger: { debug() {}, info() {}, warn() {}, error() {} } });
  return slowBroker.actors.get("elsewhere") ?? actor("elsewhere", { broker: slowBroker, queueName: "elsewhere" });
}
actor((mark) => {
  slowly(mark).send(1);
  return "sent";
}, { actorName: "sendsSlowly" });
// Leaves work behind that sends every 20 ms, for ever: the calls its thread runs next wait
// for what they sent, not for that.
actor((mark) => {
  setInterval(() => slowly(mark).send(2), 20);
  return "started";
}, { actorName: "sendsOnATimer" });
