// The actors of tests/js/diff-fuzz-worker.test.mjs on our side, as tests/py/
// diff_fuzz_worker_app.py declares them on Python's: declared on a broker by the test's
// in-process `Worker` and by the `dramatiq-results worker` command's module
// (diff-fuzz-worker-tasks.mjs), whose threads import it too.
import {
  CurrentMessage, GroupCallbacks, RabbitmqBroker, RedisBackend, RedisBroker, RedisRateLimiterBackend, Results, Retry, actor, defaultMiddleware,
} from "dramatiq-results";

export const RECORDERS = ["fw_rec_a", "fw_rec_b", "fw_rec_c"];
export const quiet = { warn() {}, error() {}, info() {}, debug() {} };

export class ValueError extends Error {}
export class RuntimeError extends Error {}
export class AppError extends ValueError {}
export class Thrown extends Error {}
const EXCEPTIONS = { ValueError, RuntimeError, AppError, Thrown };

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const text = (bytes) => new TextDecoder().decode(bytes);

/** A RedisBroker over `client` with broker_app.py's middleware: Dramatiq's defaults, then
 * Results, CurrentMessage and GroupCallbacks, in Python's order. */
export function fuzzBroker(client) {
  return new RedisBroker(client, {
    logger: quiet, maintenanceChance: 0,
    middleware: [
      ...defaultMiddleware(), new Results({ backend: new RedisBackend(client) }), new CurrentMessage(),
      new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) }),
    ],
  });
}

/** The same over RabbitMQ (`url`, a vhost of its own): a RabbitmqBroker (queues with
 * `maxPriority` if given) whose results and group barriers are on the Redis of `client`. */
export function fuzzAmqpBroker(url, client, { maxPriority } = {}) {
  return RabbitmqBroker.connect(url, {
    logger: quiet, maxPriority,
    middleware: [
      ...defaultMiddleware(), new Results({ backend: new RedisBackend(client) }), new CurrentMessage(),
      new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) }),
    ],
  });
}

/**
 * Declares the recorders and `specs`' actors on `broker`; `rPush(key, value)` appends to a
 * list of the database the broker is on. `behave(script)` follows `script.s`, a step per
 * attempt (the `retries` option, truncated, below 0 the first, no number the first; the
 * last step repeats): `["ret", v]` returns v, `["retry", delay]` throws Retry, `["raise",
 * class, msg]` throws it.
 */
export function declareActors(broker, rPush, specs) {
  const behave = async (script) => {
    const m = CurrentMessage.getCurrentMessage();
    const attempt = m.options.retries ?? 0;
    await rPush("fw:att", m.messageId);
    const steps = script.s;
    const step = steps[typeof attempt === "number" ? Math.max(0, Math.min(Math.trunc(attempt), steps.length - 1)) : 0];
    if (step[0] === "ret") return step[1];
    if (step[0] === "retry") throw step[1] === null ? new Retry() : new Retry("", { delay: step[1] });
    throw new EXCEPTIONS[step[1]](step[2]);
  };
  for (const r of RECORDERS) {
    actor(async () => {
      await rPush("fw:cb", `${r} ${text(CurrentMessage.getCurrentMessage().message.encode())}`);
    }, { broker, actorName: r, queueName: "fwcb" });
  }
  for (const s of specs) {
    const options = {};
    for (const [k, v] of Object.entries(s.options)) options[camel(k)] = k === "throws" ? v.map((name) => (name === "Retry" ? Retry : EXCEPTIONS[name])) : v;
    actor(behave, { broker, actorName: s.name, queueName: "fw", ...(s.priority === undefined ? {} : { priority: s.priority }), ...options });
  }
}
