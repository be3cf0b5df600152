// The actors of tests/js/diff-fuzz-worker.test.mjs on our side, as tests/py/
// diff_fuzz_worker_app.py declares them on Python's: declared on a broker by the test's
// in-process `Worker` and by the `dramatiq-results worker` command's module
// (diff-fuzz-worker-tasks.mjs), whose threads import it too.
import { setTimeout as sleep } from "node:timers/promises";
import { isMainThread } from "node:worker_threads";
import {
  BucketRateLimiter, ConcurrentRateLimiter, CurrentMessage, GroupCallbacks, RabbitmqBroker, RateLimitExceeded, RedisBackend, RedisBroker,
  RedisRateLimiterBackend, Results, Retry, Shutdown, TimeLimit, TimeLimitExceeded, WindowRateLimiter, actor, currentSignal, defaultMiddleware,
} from "dramatiq-results";

export const RECORDERS = ["fw_rec_a", "fw_rec_b", "fw_rec_c"];
/** A recorder on queue `fwlate`, which diff-fuzz-worker-limits.test.mjs's workers leave
 * alone: the callbacks of an attempt a worker's stop interrupts, sent while it stops. */
export const LATE_RECORDER = "fw_rec_late";
export const quiet = { warn() {}, error() {}, info() {}, debug() {} };

export class ValueError extends Error {}
export class RuntimeError extends Error {}
export class AppError extends ValueError {}
export class Thrown extends Error {}
const EXCEPTIONS = { ValueError, RuntimeError, AppError, Thrown, TimeLimitExceeded, Shutdown, RateLimitExceeded };

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const text = (bytes) => new TextDecoder().decode(bytes);

/** Dramatiq's default middleware, TimeLimit checking every FW_TL_INTERVAL ms when set (as
 * diff_fuzz_worker_app.py sets Python's). */
function defaults() {
  const list = defaultMiddleware();
  const interval = process.env.FW_TL_INTERVAL;
  if (interval) for (const m of list) if (m instanceof TimeLimit) m.interval = Number(interval);
  return list;
}

/** A RedisBroker over `client` with broker_app.py's middleware: Dramatiq's defaults, then
 * Results, CurrentMessage and GroupCallbacks, in Python's order. */
export function fuzzBroker(client) {
  return new RedisBroker(client, {
    logger: quiet, maintenanceChance: 0,
    middleware: [
      ...defaults(), new Results({ backend: new RedisBackend(client) }), new CurrentMessage(),
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
      ...defaults(), new Results({ backend: new RedisBackend(client) }), new CurrentMessage(),
      new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) }),
    ],
  });
}

/** Blocks this thread for `ms`, in 10 ms steps as Python's `busy` sleeps. */
function block(ms) {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let k = 0; k < Math.floor(ms / 10); k++) Atomics.wait(cell, 0, 0, 10);
}

/**
 * Declares the recorders and `specs`' actors on `broker`; `rPush(key, value)` appends to a
 * list of the database the broker is on, `limiters` (a rate limiter backend on that
 * database) is what `["rl", …]` steps use. `behave(script)` follows `script.s`, a step per
 * attempt (the `retries` option, truncated, below 0 the first, no number the first; the
 * last step repeats), as diff_fuzz_worker_app.py's `behave` does: `["ret", v]` returns v,
 * `["retry", delay]` throws Retry, `["raise", class, msg]` throws it; `["sleep", ms,
 * then]`, `["hang", then]` and `["rl", kind, limit, (depth,) then]` as its module doc says.
 * A spec with `blocking: true` sleeps synchronously (`Atomics.wait`) on the `worker`
 * command's threads, where a time limit or a shutdown terminates the thread; in this
 * process (the in-process `Worker`) only with `blockingInProcess` too (it holds the other
 * attempts' clocks too: docs/python-users.md, "Time limits and shutdown notifications
 * stop an async actor's attempt, not its code"), and never in a hang, which only the
 * worker's stop ends (from this very process).
 */
export function declareActors(broker, rPush, specs, limiters = undefined) {
  const pause = (spec, ms, signal) => {
    if (spec.blocking && (!isMainThread || (spec.blockingInProcess && !signal))) return block(ms);
    return sleep(ms, undefined, signal ? { signal } : {}).catch(() => {});
  };
  const run = async (spec, step, m) => {
    if (step[0] === "ret") return step[1];
    if (step[0] === "retry") throw step[1] === null ? new Retry() : new Retry("", { delay: step[1] });
    if (step[0] === "raise") throw new EXCEPTIONS[step[1]](step[2]);
    if (step[0] === "sleep") {
      // Work that goes on past its time limit: its outcome is ignored.
      await pause(spec, step[1]);
      return run(spec, step[2], m);
    }
    if (step[0] === "hang") {
      await rPush("fw:hang", m.messageId);
      // Ends when the attempt is stopped (a worker stop's Shutdown), as Python's is.
      await pause(spec, 30_000, currentSignal());
      return run(spec, step[1], m);
    }
    const key = `fwrl:${m.messageId}:${step[1]}`;
    if (step[1] === "concurrent") {
      const limiter = new ConcurrentRateLimiter(limiters, key, { limit: step[2], ttl: 60_000 });
      const nest = (depth) => limiter.acquire(() => (depth > 1 ? nest(depth - 1) : run(spec, step[4], m)));
      return nest(step[3]);
    }
    const limiter = step[1] === "window"
      ? new WindowRateLimiter(limiters, key, { limit: step[2], window: 60 })
      : new BucketRateLimiter(limiters, key, { limit: step[2], bucket: 3_600_000 });
    return limiter.acquire(() => run(spec, step[3], m));
  };
  const behave = (spec) => async (script) => {
    const m = CurrentMessage.getCurrentMessage();
    const attempt = m.options.retries ?? 0;
    await rPush("fw:att", m.messageId);
    const steps = script.s;
    const step = steps[typeof attempt === "number" ? Math.max(0, Math.min(Math.trunc(attempt), steps.length - 1)) : 0];
    return run(spec, step, m);
  };
  for (const [r, queueName] of [...RECORDERS.map((r) => [r, "fwcb"]), [LATE_RECORDER, "fwlate"]]) {
    actor(async () => {
      await rPush("fw:cb", `${r} ${text(CurrentMessage.getCurrentMessage().message.encode())}`);
    }, { broker, actorName: r, queueName });
  }
  for (const s of specs) {
    const options = {};
    for (const [k, v] of Object.entries(s.options)) options[camel(k)] = k === "throws" ? v.map((name) => (name === "Retry" ? Retry : EXCEPTIONS[name])) : v;
    actor(behave(s), { broker, actorName: s.name, queueName: "fw", ...(s.priority === undefined ? {} : { priority: s.priority }), ...options });
  }
}
