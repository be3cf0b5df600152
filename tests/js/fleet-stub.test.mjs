// The fleet middleware on the in-memory broker, fast: Callbacks, on_retry_exhausted,
// CurrentMessage, the attempt's AbortSignal (TimeLimit, ShutdownNotifications) and the
// parity details (a taken actor name, StubBroker.join failing fast, every middleware's
// actor options). What Python's Dramatiq 2.2.1 does is the expectation; the same scenarios
// against a real Python worker are in fleet.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Actor,
  Callbacks,
  CurrentMessage,
  Message,
  Results,
  Shutdown,
  ShutdownNotifications,
  StubBackend,
  StubBroker,
  TimeLimit,
  TimeLimitExceeded,
  Worker,
  WorkerMessage,
  actor,
  currentSignal,
  defaultMiddleware,
} from "dramatiq-results";
import { recordingLogger } from "./broker-helpers.mjs";
import { sleep } from "./helpers.mjs";

/** A broker with Dramatiq's defaults (+ Results, CurrentMessage), a recording logger and a started worker. */
function setup({ extra = [], middleware } = {}) {
  const logger = recordingLogger();
  const backend = new StubBackend();
  const broker = new StubBroker({ logger, middleware: middleware ?? [...defaultMiddleware(), new Results({ backend }), ...extra] });
  const calls = [];
  const record = actor((dict, payload) => void calls.push(["record", dict, payload]), { broker, actorName: "record" });
  const other = actor((dict, payload) => void calls.push(["other", dict, payload]), { broker, actorName: "other" });
  const worker = new Worker(broker, { concurrency: 2 }).start();
  return { broker, backend, logger, calls, record, other, worker };
}

test("the default middleware is Dramatiq 2.2.1's list, in its order", () => {
  assert.deepEqual(defaultMiddleware().map((m) => m.constructor.name), [
    "AgeLimit",
    "TimeLimit",
    "ShutdownNotifications",
    "Callbacks",
    "Pipelines",
    "Retries",
  ]);
  // Every actor option of Python's default middleware and Results.
  const names = new StubBroker({ middleware: [...defaultMiddleware(), new Results({ backend: new StubBackend() })] }).actorOptions;
  for (const option of ["on_success", "on_failure", "on_retry_exhausted", "notify_shutdown", "time_limit", "max_age", "max_retries", "min_backoff", "max_backoff", "retry_when", "throws", "pipe_ignore", "pipe_target", "store_results", "result_ttl"]) {
    assert.ok(names.has(option), option);
  }
});

test("onSuccess: the actor option, the message option over it, an Actor taken as its name", async () => {
  const { broker, calls, other, worker } = setup();
  const double = actor((x) => x * 2, { broker, actorName: "double", onSuccess: "record" });
  const a = double.send(1);
  const b = double.sendWithOptions({ args: [2], onSuccess: other });
  assert.equal(b.options.on_success, "other", "sent as the name, as Python's message_with_options does");
  const c = double.messageWithOptions({ args: [3], on_success: "other" });
  broker.enqueue(c);
  await worker.join();
  await worker.stop();
  const byId = new Map(calls.map(([to, dict, payload]) => [dict.message_id, [to, dict, payload]]));
  assert.deepEqual(byId.get(a.messageId), ["record", a.asDict(), 2]);
  assert.deepEqual(byId.get(b.messageId), ["other", b.asDict(), 4]);
  assert.deepEqual(byId.get(c.messageId), ["other", c.asDict(), 6]);
  assert.equal(calls.length, 3);
  assert.throws(() => double.messageWithOptions({ onSuccess: 1 }), TypeError);
  assert.throws(() => double.messageWithOptions({ on_failure: {} }), TypeError);
  // An actor option given as an Actor is its name too.
  const named = actor((x) => x, { broker, actorName: "named", onFailure: other });
  assert.equal(named.options.on_failure, "other");
});

test("onFailure after every failed attempt, onRetryExhausted once with Python's values", async () => {
  const { broker, calls, worker } = setup();
  class AppError extends Error {}
  AppError.prototype.name = "AppError";
  const flaky = actor((x) => {
    throw new AppError(`no ${x}`);
  }, { broker, actorName: "flaky", onFailure: "record", onRetryExhausted: "other", maxRetries: 2, minBackoff: 5, maxBackoff: 10 });
  const m = flaky.send(7);
  await worker.join();
  await worker.stop();
  const failures = calls.filter(([to]) => to === "record");
  assert.deepEqual(failures.map(([, d, p]) => [d.options.retries, p]), [1, 2, 3].map((n) => [n, { type: "AppError", message: "no 7" }]));
  const exhausted = calls.filter(([to]) => to === "other");
  assert.equal(exhausted.length, 1);
  const [, dict, payload] = exhausted[0];
  // Python: the count before this failure's bump, the looked-up max_retries; the dict as
  // Retries left the message (bumped, with traceback and requeue_timestamp).
  assert.deepEqual(payload, { retries: 2, max_retries: 2 });
  assert.equal(dict.message_id, m.messageId);
  assert.equal(dict.options.retries, 3);
  assert.equal(typeof dict.options.traceback, "string");
  assert.equal(typeof dict.options.requeue_timestamp, "number");
  // Python's order: the exhausted callback (Retries' after hook) before the failure one (Callbacks').
  const lastTwo = calls.slice(-2).map(([to]) => to);
  assert.deepEqual(lastTwo, ["other", "record"]);
  assert.equal(broker.deadLetters.length, 1);
});

test("message options: on_retry_exhausted with max_retries 0, and no limit (null) reported as null", async () => {
  const { broker, calls, worker } = setup();
  const boom = actor(() => {
    throw new Error("boom");
  }, { broker, actorName: "boom" });
  const m = boom.sendWithOptions({ maxRetries: 0, onRetryExhausted: "record" });
  await worker.join();
  await worker.stop();
  assert.deepEqual(calls.map(([to, d, p]) => [to, d.message_id, p]), [["record", m.messageId, { retries: 0, max_retries: 0 }]]);
});

test("an unknown callback target is logged, never thrown; the message is still acked", async () => {
  const { broker, calls, logger, worker } = setup();
  const ok = actor((x) => x, { broker, actorName: "ok", onSuccess: "nobody" });
  ok.send(1);
  await worker.join();
  await worker.stop();
  assert.deepEqual(calls, []);
  assert.equal(broker.deadLetters.length, 0);
  assert.ok(logger.lines.some((l) => l.includes("afterProcessMessage of Callbacks") && l.includes("nobody")), logger.lines.join("\n"));
});

test("without the Callbacks middleware, callback options are still accepted but nothing is sent (as in Python)", async () => {
  const { broker, calls, worker } = setup({ middleware: defaultMiddleware().filter((m) => !(m instanceof Callbacks)) });
  assert.throws(() => actor((x) => x, { broker, actorName: "ok", onSuccess: "record" }), /undefined|unknown|on_success|onSuccess/i);
  const ok = actor((x) => x, { broker, actorName: "ok2" });
  ok.sendWithOptions({ args: [1], onSuccess: "record" });
  await worker.join();
  await worker.stop();
  assert.deepEqual(calls, []);
});

test("a second actor under a taken name throws, as Python's ValueError; unknown options still throw", () => {
  const broker = new StubBroker();
  actor((x) => x, { broker, actorName: "dup" });
  assert.throws(() => actor((x) => x, { broker, actorName: "dup" }), { name: "TypeError", message: "An actor named 'dup' is already registered." });
  assert.throws(() => actor("dup", { broker }), TypeError);
  assert.throws(() => new Actor("dup", { broker }), TypeError);
  assert.equal(broker.actors.size, 1);
  // Every option Python's default middleware declares is accepted; a made-up one is not.
  actor((x) => x, {
    broker, actorName: "all", onSuccess: "dup", onFailure: "dup", onRetryExhausted: "dup", notifyShutdown: true,
    timeLimit: 10, maxAge: 10, maxRetries: 1, minBackoff: 1, maxBackoff: 2, retryWhen: () => true, throws: [TypeError], pipeIgnore: true,
  });
  assert.throws(() => actor((x) => x, { broker, actorName: "bad", onSucess: "dup" }), TypeError);
});

test("StubBroker.join fails fast by default with the dead letter's exception, as Dramatiq 2.2.1's", async () => {
  const broker = new StubBroker({ logger: recordingLogger() });
  const boom = actor(() => {
    throw new RangeError("bad");
  }, { broker, actorName: "boom", maxRetries: 0 });
  const worker = new Worker(broker).start();
  boom.send();
  await assert.rejects(broker.join("default"), (e) => e instanceof RangeError && e.message === "bad");
  // Dead letters from before the join count too (Dramatiq keeps them until flushAll).
  await assert.rejects(broker.join("default"), RangeError);
  await broker.join("default", { failFast: false });
  await worker.join();
  broker.flushAll();
  await broker.join("default");
  const lenient = new StubBroker({ logger: recordingLogger(), failFastDefault: false });
  assert.equal(lenient.failFastDefault, false);
  actor(() => {
    throw new Error("x");
  }, { broker: lenient, actorName: "boom", maxRetries: 0 }).send();
  const w2 = new Worker(lenient).start();
  await lenient.join("default");
  assert.equal(lenient.deadLetters.length, 1);
  await assert.rejects(lenient.join("default", { failFast: true }), /x/);
  await worker.stop();
  await w2.stop();
  assert.throws(() => new StubBroker({ failFastDefault: "yes" }), TypeError);
});

test("CurrentMessage.getCurrentMessage() inside sync and async actors; null outside or without the middleware", async () => {
  const { broker, worker } = setup({ extra: [new CurrentMessage()] });
  const seen = [];
  const sync = actor((x) => void seen.push(["sync", x, CurrentMessage.getCurrentMessage()]), { broker, actorName: "sync" });
  const late = actor(async (x) => {
    await sleep(5);
    await Promise.resolve();
    const current = CurrentMessage.getCurrentMessage();
    seen.push(["async", x, current, currentSignal() === current.signal]);
  }, { broker, actorName: "late" });
  const a = sync.send(1);
  const b = late.send(2);
  const c = late.send(3);
  await worker.join();
  await worker.stop();
  const byArg = new Map(seen.map((s) => [s[1], s]));
  assert.ok(byArg.get(1)[2] instanceof WorkerMessage);
  assert.equal(byArg.get(1)[2].messageId, a.messageId);
  assert.equal(byArg.get(2)[2].messageId, b.messageId, "no mix-up between concurrent attempts");
  assert.equal(byArg.get(3)[2].messageId, c.messageId);
  assert.equal(byArg.get(2)[3], true, "currentSignal() is the message's signal");
  assert.ok(byArg.get(1)[2].message instanceof Message);
  assert.equal(CurrentMessage.getCurrentMessage(), null, "outside an actor");
  assert.equal(currentSignal(), undefined, "outside an actor");

  const plain = setup();
  let got = "unset";
  let signal = "unset";
  actor(() => void ((got = CurrentMessage.getCurrentMessage()), (signal = currentSignal())), { broker: plain.broker, actorName: "peek" }).send();
  await plain.worker.join();
  await plain.worker.stop();
  assert.equal(got, null, "without the CurrentMessage middleware, as Python's returns None");
  assert.equal(signal, undefined, "nor the signal: both lookups come with CurrentMessage");
});

test("TimeLimit aborts the attempt's signal with TimeLimitExceeded; the attempt fails and is retried as in Python", async () => {
  const { broker, backend, calls, worker } = setup({ extra: [new CurrentMessage()] });
  const reasons = [];
  const waits = actor(async () => {
    const signal = currentSignal();
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    reasons.push(signal.reason);
    return "too late";
  }, { broker, actorName: "waits", timeLimit: 30, maxRetries: 1, minBackoff: 5, maxBackoff: 10, storeResults: true, onFailure: "record" });
  const m = waits.send();
  await worker.join();
  await worker.stop();
  assert.equal(reasons.length, 2, "both attempts saw their signal abort");
  assert.ok(reasons.every((r) => r instanceof TimeLimitExceeded && r.code === "TIME_LIMIT_EXCEEDED"));
  // Python's TimeLimitExceeded() carries no message: the same is stored and sent.
  const error = await backend.getResult(m).catch((e) => e);
  assert.equal(error.exceptionType, "TimeLimitExceeded");
  assert.equal(error.exceptionValue, "");
  assert.deepEqual(calls.map(([, , p]) => p), [1, 2].map(() => ({ type: "TimeLimitExceeded", message: "" })));
  // A message option wins over the actor's limit.
  const again = setup();
  const quick = actor(async () => {
    await sleep(80);
    return 1;
  }, { broker: again.broker, actorName: "quick", timeLimit: 10, maxRetries: 0, storeResults: true });
  const ok = quick.sendWithOptions({ timeLimit: 5000 });
  assert.equal(await ok.getResult({ block: true, timeout: 5000, backend: again.backend }), 1);
  await again.worker.stop();
  assert.ok(new TimeLimit().actorOptions.has("time_limit"));
});

test("code an attempt runs on with, once its time limit failed it, still finds its message and the aborted signal (as Python's actor code does until it returns)", async () => {
  // A CI run under load: the limit passed while the actor awaited a slow write, before it
  // asked for its signal; currentSignal() then answered undefined (the attempt had ended),
  // so a sleep given that signal ran to its end and recorded work Python never does.
  const { broker, worker } = setup({ extra: [new CurrentMessage()] });
  let open;
  const gate = new Promise((resolve) => (open = resolve));
  const seen = [];
  const slow = actor(async () => {
    await gate;
    const signal = currentSignal();
    seen.push([signal?.aborted, signal?.reason instanceof TimeLimitExceeded, CurrentMessage.getCurrentMessage()?.messageId]);
  }, { broker, actorName: "slow_write", timeLimit: 10, maxRetries: 0 });
  const m = slow.send();
  await worker.join();
  open();
  await sleep(20);
  await worker.stop();
  assert.deepEqual(seen, [[true, true, m.messageId]]);
  assert.equal(broker.deadLetters.length, 1, "the attempt failed at its limit");
});

test("ShutdownNotifications: a stopping worker aborts the signal of attempts that asked, with Shutdown; the others finish", async () => {
  const { broker, backend, calls, worker } = setup({ extra: [new CurrentMessage()] });
  const started = [];
  const body = (name) => async () => {
    const signal = currentSignal();
    started.push(name);
    await Promise.race([sleep(300), new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
    return signal.aborted ? `aborted: ${signal.reason?.name}` : "finished";
  };
  const notified = actor(body("notified"), {
    broker, actorName: "notified", notifyShutdown: true, storeResults: true, maxRetries: 3, minBackoff: 5, maxBackoff: 10, onFailure: "record",
  });
  const patient = actor(body("patient"), { broker, actorName: "patient", storeResults: true, onFailure: "record" });
  const n = notified.send();
  const p = patient.send();
  while (started.length < 2) await sleep(5);
  await worker.stop();
  // The notified attempt failed with Shutdown (Python's: no message); the other finished.
  assert.equal(await backend.getResult(p), "finished");
  // As in Python, Retries re-enqueued it: the next worker runs it to the end (and the
  // failure callback the stopped worker enqueued).
  const next = new Worker(broker).start();
  assert.equal(await n.getResult({ block: true, timeout: 5000, backend }), "finished");
  await next.join();
  await next.stop();
  assert.deepEqual(calls.map(([to, d, payload]) => [to, d.message_id, d.options.retries, payload]), [
    ["record", n.messageId, 1, { type: "Shutdown", message: "" }],
  ]);
  assert.equal(broker.deadLetters.length, 0);
  // The middleware's own decision, by option precedence (message, actor, default).
  const sn = new ShutdownNotifications({ notifyShutdown: true });
  const proxy = (options) => new WorkerMessage(new Message({ actorName: "patient", options }));
  assert.equal(sn.shouldNotify(broker, proxy({})), true);
  assert.equal(sn.shouldNotify(broker, proxy({ notify_shutdown: false })), false);
  assert.equal(new ShutdownNotifications().shouldNotify(broker, proxy({})), false);
  assert.equal(new ShutdownNotifications().shouldNotify(broker, new WorkerMessage(new Message({ actorName: "notified" }))), true);
  assert.equal(new Shutdown().code, "SHUTDOWN");
  assert.equal(new Shutdown().message, "");
});

test("workerd: CurrentMessage through AsyncLocalStorage with nodejs_compat; a clear error without it", { timeout: 120_000 }, async () => {
  const { startWorkerd } = await import("./workerd.mjs");
  for (const flags of [["nodejs_compat"], []]) {
    const mf = await startWorkerd("tests/js/hosts/current_message_worker.js", { compatibilityFlags: flags });
    try {
      const body = await (await mf.dispatchFetch("http://localhost/")).json();
      assert.equal(body.failure, undefined, body.failure);
      if (flags.length > 0) {
        assert.equal(body.outside, null);
        for (const [i, r] of body.results.entries()) assert.deepEqual(r.got, { x: i + 1, id: r.sent, sameSignal: true });
      } else {
        // No AsyncLocalStorage in this Worker: the actor's call fails, saying what is missing.
        assert.match(body.outside, /AsyncLocalStorage.*nodejs_compat/);
        for (const r of body.results) assert.match(r.error, /AsyncLocalStorage/);
      }
    } finally {
      await mf.dispose();
    }
  }
});

test("hostile throws and results: the failure callback still goes out, an unencodable result's is logged, the worker lives", async () => {
  const { broker, calls, logger, worker } = setup();
  const hostile = new Proxy({}, { get() { throw new Error("gotcha"); }, getPrototypeOf() { throw new Error("gotcha"); } });
  const throwsHostile = actor(() => {
    throw hostile;
  }, { broker, actorName: "throws_hostile", onFailure: "record", maxRetries: 0 });
  const returnsFunction = actor(() => () => 1, { broker, actorName: "returns_function", onSuccess: "record" });
  const badTarget = actor(() => 1, { broker, actorName: "bad_target" });
  const a = throwsHostile.send();
  const b = returnsFunction.send();
  badTarget.sendWithOptions({ onRetryExhausted: { not: "a name" } });
  const c = badTarget.sendWithOptions({ onSuccess: "record" });
  await worker.join();
  await worker.stop();
  const byId = new Map(calls.map(([, d, p]) => [d.message_id, p]));
  assert.equal(typeof byId.get(a.messageId)?.type, "string", "a failure callback for the hostile throw");
  assert.equal(byId.has(b.messageId), false, "no callback for a result JSON cannot hold");
  assert.ok(logger.lines.some((l) => l.includes("afterProcessMessage of Callbacks")), logger.lines.join("\n"));
  assert.equal(byId.get(c.messageId), 1, "the worker goes on");
});
