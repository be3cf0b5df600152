// Dramatiq 2.2.1's own tests of actors, the worker, callbacks, the broker, the stub broker
// and the Retries / TimeLimit / ShutdownNotifications middleware, as scenarios against our
// package on the in-memory broker. Each test names the Dramatiq test it translates; what
// Dramatiq's test asserts is the expectation. The same options crossing the wire (set by a
// Python producer, run by our worker, and the other way) are at the end of this file, over
// a real Redis and Python Dramatiq.
import { after, before, describe, test } from "node:test";
import { setTimeout as sleepFor } from "node:timers/promises";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { createClient } from "redis";
import assert from "node:assert/strict";
import {
  Actor,
  ActorNotFound,
  AgeLimit,
  CurrentMessage,
  Message,
  Middleware,
  QueueJoinTimeout,
  QueueNotFound,
  RateLimitExceeded,
  RedisBroker,
  Retry,
  Shutdown,
  ShutdownNotifications,
  SkipMessage,
  StubBroker,
  TimeLimit,
  TimeLimitExceeded,
  Worker,
  WorkerMessage,
  actor,
  currentSignal,
  defaultMiddleware,
  pipeline,
} from "dramatiq-results";
import { sleep } from "./helpers.mjs";
import { eventually } from "./broker-helpers.mjs";
import { haveRedis, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";

/** A logger keeping every line with its level (debug included). */
function logger() {
  const lines = [];
  const keep = (level) => (msg, error) => lines.push(`${level} ${msg}${error ? ` | ${error?.message ?? error}` : ""}`);
  return { lines, debug: keep("debug"), info: keep("info"), warn: keep("warn"), error: keep("error"), at: (level) => lines.filter((l) => l.startsWith(`${level} `)) };
}

/** A stub broker with Dramatiq's default middleware (+ `extra`) and a started worker. */
function setup({ extra = [], concurrency = 2, start = true, queues } = {}) {
  const log = logger();
  const broker = new StubBroker({ logger: log, middleware: [...defaultMiddleware(), ...extra] });
  const worker = new Worker(broker, { concurrency, queues });
  if (start) worker.start();
  return { broker, worker, log };
}

/** A promise's rejection (or a failure when it resolves). */
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

// Not translated, on purpose (each named, so a search for it lands here):
// - test_stub_broker_respects_prefetch: asserts the Python worker's work queue (5 held, 10
//   left on the broker). Our in-memory worker has no work queue: a runner takes a message
//   when it is free, and the prefetch only bounds the messages whose priorities are
//   compared (test_actors_can_prioritize_work, test_queue_item_order below).
// - test_can_call_repr_on_actors: Python's repr of a function object has no JS counterpart
//   (`toString()` is Python's `str`, test_can_call_str_on_actors below).
// - test_set_encoder_sets_the_global_encoder, test_pickle_encoder: JSON only, no global
//   encoder (docs/python-users.md).
// - test_generic_actors_*: no GenericActor class here; a JS class's method is an actor's
//   function like any other.
// - test_actors_get_valid_logger, test_actors_without_module_get_valid_logger: Python's
//   logger names; brokers log through one `logger` here.
// - test_shutdown_notifications_platform_not_supported, test_time_limit_platform_not_supported,
//   the gevent variants of the worker-message tests: CPython platform and gevent only.
// - test_broker_uses_rabbitmq_if_not_set: our global broker defaults to a StubBroker
//   (docs/python-users.md, `getBroker`).

describe("test_actors.py", { concurrency: true }, () => {
  // test_actors_can_be_defined, test_actors_can_be_assigned_predefined_options,
  // test_actors_can_be_named, test_actors_can_be_assigned_custom_queues, test_actors_can_be_called
  test("test_actors_can_be_defined / _assigned_predefined_options / _named / _assigned_custom_queues / _can_be_called", () => {
    const { broker } = setup({ start: false });
    const add = actor((x, y) => x + y, { broker, actorName: "add", maxRetries: 32 });
    assert.ok(add instanceof Actor);
    assert.equal(add.options.max_retries, 32);
    assert.equal(add.actorName, "add");
    assert.equal(add.queueName, "default");
    const foo = actor(() => {}, { broker, actorName: "foo", queueName: "foo" });
    assert.equal(foo.queueName, "foo");
    assert.equal(add.call(1, 2), 3, "a direct call runs synchronously");
  });

  // test_actors_cannot_be_assigned_arbitrary_options, test_actors_fail_given_invalid_queue_names
  test("test_actors_cannot_be_assigned_arbitrary_options / _fail_given_invalid_queue_names", () => {
    const { broker } = setup({ start: false });
    assert.throws(() => actor(() => {}, { broker, actorName: "a", invalidOption: 32 }));
    assert.throws(() => actor(() => {}, { broker, actorName: "b", queueName: "$2@!@#" }));
    // Python's rule, `[a-zA-Z_][a-zA-Z0-9._-]*` matched whole.
    const table = { "1abc": false, _a: true, "a.b-c_d": true, "a b": false, "": false, "a.DQ": true, "ü": false, "a\n": false, "A9.": true, "-a": false, ".a": false };
    for (const [queueName, valid] of Object.entries(table)) {
      const declare = () => actor(() => {}, { broker, actorName: `q${JSON.stringify(queueName)}`, queueName });
      if (valid) declare();
      else assert.throws(declare, undefined, JSON.stringify(queueName));
    }
    // Neither failed declaration took the name.
    assert.equal(broker.actors.has("a"), false);
    assert.equal(broker.actors.has("b"), false);
  });

  test("test_decorator_raises_error_on_duplicate_name", () => {
    const { broker } = setup({ start: false });
    actor(() => {}, { broker, actorName: "foo" });
    // Python's `str(exc_info.value) == "An actor named 'foo' is already registered."` (its `!r`).
    assert.throws(() => actor(() => {}, { broker, actorName: "foo" }), (e) => e.message === "An actor named 'foo' is already registered.");
  });

  test("test_can_call_str_on_actors: Python's str(actor) is Actor(<actor name>)", () => {
    // (test_can_call_repr_on_actors asserts Python's repr, `Actor(<function test at 0x…>,
    // queue_name='default', actor_name='test')`: a function's repr has no JS counterpart.)
    const { broker } = setup({ start: false });
    const named = actor(() => {}, { broker, actorName: "test" });
    assert.equal(String(named), "Actor(test)");
    assert.equal(`${actor(() => {}, { broker, actorName: "other", queueName: "q" })}`, "Actor(other)");
    assert.equal(String(actor("remote_one", { broker })), "Actor(remote_one)");
  });

  test("test_actors_can_be_sent_messages: what is enqueued decodes to the message sent", async () => {
    const { broker, worker } = setup({ start: false });
    const add = actor((x, y) => x + y, { broker, actorName: "add" });
    const sent = add.send(1, 2);
    assert.ok(sent instanceof Message);
    const taken = [];
    actor((...a) => taken.push(a), { broker, actorName: "spy", queueName: "spy" });
    // The message as the worker gets it is the one sent.
    const seen = [];
    broker.addMiddleware(Object.assign(new Middleware(), { beforeProcessMessage: (_b, m) => void seen.push(m.asDict()) }));
    worker.start();
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(seen, [sent.asDict()]);
  });

  // test_actors_can_perform_work, test_actors_can_perform_work_with_kwargs
  test("test_actors_can_perform_work (100 messages) / _with_kwargs", async () => {
    const { broker, worker } = setup();
    const db = new Map();
    const put = actor((k, v) => void db.set(k, v), { broker, actorName: "put" });
    for (let i = 0; i < 100; i++) put.send(`key-${i}`, i);
    const sums = [];
    const add = actor(({ x, y }) => void sums.push(x + y), { broker, actorName: "add" });
    add.sendWithOptions({ kwargs: { x: 1, y: 2 } });
    await broker.join(put.queueName);
    await worker.join();
    await worker.stop();
    assert.equal(db.size, 100);
    assert.deepEqual(sums, [3]);
  });

  test("test_actors_can_be_assigned_time_limits / test_actor_messages_can_be_assigned_time_limits", async () => {
    const { broker, worker } = setup();
    const attempts = [];
    const successes = [];
    const work = async () => {
      attempts.push(1);
      await sleep(1500);
      successes.push(1);
    };
    const limited = actor(work, { broker, actorName: "limited", queueName: "a", maxRetries: 0, timeLimit: 100 });
    const plain = actor(work, { broker, actorName: "plain", queueName: "b", maxRetries: 0 });
    limited.send();
    plain.sendWithOptions({ time_limit: 100 });
    assert.ok((await rejection(broker.join("a"))) instanceof TimeLimitExceeded);
    assert.ok((await rejection(broker.join("b"))) instanceof TimeLimitExceeded);
    await worker.stop({ timeout: 10 });
    assert.equal(attempts.length, 2);
    assert.equal(successes.length, 0);
  });

  // test_actors_can_be_assigned_message_age_limits, test_actor_messages_can_be_assigned_message_age_limits
  test("test_actors_can_be_assigned_message_age_limits / test_actor_messages_…: skipped, dead-lettered, join raises SkipMessage", async () => {
    const { broker, worker, log } = setup({ start: false });
    const runs = [];
    const old = actor(() => runs.push(1), { broker, actorName: "old", queueName: "a", maxAge: 50 });
    const plain = actor(() => runs.push(1), { broker, actorName: "plain", queueName: "b" });
    old.send();
    plain.sendWithOptions({ maxAge: 50 });
    await sleep(80);
    worker.start();
    assert.ok((await rejection(broker.join("a"))) instanceof SkipMessage);
    assert.ok((await rejection(broker.join("b"))) instanceof SkipMessage);
    await worker.stop();
    assert.equal(runs.length, 0);
    assert.equal(broker.deadLetters.length, 2);
    // AgeLimit's warning, `Message %r has exceeded its age limit.`, once each.
    const warned = log.at("warn").filter((l) => l.includes("age limit")).sort();
    assert.deepEqual(warned, broker.deadLetters.map((m) => `warn Message '${m.messageId}' has exceeded its age limit.`).sort());
  });

  test("test_actors_can_delay_messages_independent_of_each_other", async () => {
    const { broker, worker } = setup();
    const results = [];
    const append = actor((x) => results.push(x), { broker, actorName: "append" });
    append.sendWithOptions({ args: [1], delay: 300 });
    append.sendWithOptions({ args: [2], delay: 150 });
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(results, [2, 1]);
  });

  test("test_messages_belonging_to_missing_actors_are_rejected: ActorNotFound, dead-lettered", async () => {
    const { broker, worker, log } = setup();
    const message = new Message({ queueName: "some-queue", actorName: "some-actor", args: [], kwargs: {}, options: {} });
    broker.declareQueue("some-queue");
    broker.enqueue(message);
    const error = await rejection(broker.join("some-queue", { failFast: true }));
    await worker.stop();
    assert.ok(error instanceof ActorNotFound, String(error));
    // Python's `match=r"^some-actor$"`: `ActorNotFound(actor_name)`, as `get_actor` raises it.
    assert.equal(error.message, "some-actor");
    assert.throws(() => broker.getActor("some-actor"), (e) => e instanceof ActorNotFound && e.message === "some-actor");
    assert.deepEqual(broker.deadLetters.map((m) => m.asDict()), [message.asDict()]);
    // The consumer's line, word for word (dramatiq/worker.py).
    assert.deepEqual(log.at("error"), ["error Received message for undefined actor 'some-actor'. Moving it to the DLQ."]);
  });

  test("test_before_and_after_signal_failures_are_ignored", async () => {
    const { broker, worker, log } = setup();
    broker.addMiddleware(
      Object.assign(new Middleware(), {
        beforeProcessMessage() {
          throw new Error("before process message error");
        },
        afterProcessMessage() {
          throw new Error("after process message error");
        },
      }),
    );
    const db = [];
    const append = actor((x) => void db.push(x), { broker, actorName: "append" });
    append.send(1);
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(db, [1]);
    assert.equal(broker.deadLetters.length, 0);
    assert.ok(log.at("error").some((l) => l.includes("before process message error")));
    assert.ok(log.at("error").some((l) => l.includes("after process message error")));
  });

  test("test_middleware_can_decide_to_skip_messages: the actor never runs, afterSkipMessage once", async () => {
    const { broker, worker } = setup();
    const skipped = [];
    broker.addMiddleware(
      Object.assign(new Middleware(), {
        beforeProcessMessage() {
          throw new SkipMessage();
        },
        afterSkipMessage() {
          skipped.push(1);
        },
      }),
    );
    const calls = [];
    const track = actor(() => void calls.push(1), { broker, actorName: "track" });
    track.send();
    // A skip that no middleware failed is acked: join resolves.
    await broker.join("default");
    await worker.stop();
    assert.equal(calls.length, 0);
    assert.equal(skipped.length, 1);
    assert.equal(broker.deadLetters.length, 0);
  });

  test("test_workers_can_be_paused: nothing runs while paused; resume runs it", async () => {
    const { broker, worker } = setup();
    worker.pause();
    const calls = [];
    const track = actor(() => void calls.push(1), { broker, actorName: "track" });
    track.send();
    await sleep(100);
    assert.deepEqual(calls, []);
    worker.resume();
    await broker.join("default");
    await worker.join();
    await worker.stop();
    assert.deepEqual(calls, [1]);
    // A paused worker stops (its runners wake to see it), leaving what it did not start.
    const paused = new Worker(broker, { concurrency: 2 }).start();
    paused.pause();
    track.send();
    await paused.stop({ timeout: 5000 });
    assert.deepEqual(calls, [1]);
    assert.equal(paused.paused, true);
    broker.flushAll();
  });

  test("test_actors_can_prioritize_work: a resumed worker holding 20 runs priority 0 before 10", async () => {
    // Dramatiq's test holds 20 messages (prefetch 20, one thread); a worker of 10 runners
    // holds 20 too (Python's prefetch is twice the threads), and its synchronous actors
    // start, and so record, in the order taken.
    const { broker, worker } = setup({ concurrency: 10 });
    worker.pause();
    const calls = [];
    const hi = actor(() => void calls.push("hi"), { broker, actorName: "hi", priority: 0 });
    const lo = actor(() => void calls.push("lo"), { broker, actorName: "lo", priority: 10 });
    for (let i = 0; i < 10; i++) {
      lo.send();
      hi.send();
    }
    worker.resume();
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(calls, [...Array(10).fill("hi"), ...Array(10).fill("lo")]);
  });

  test("test_workers_log_rate_limit_exceeded_errors_differently: at debug, no error", async () => {
    const { broker, worker, log } = setup();
    const limited = actor(
      () => {
        throw new RateLimitExceeded("exceeded");
      },
      { broker, actorName: "limited", maxRetries: 0 },
    );
    const sent = limited.send();
    assert.ok((await rejection(broker.join("default"))) instanceof RateLimitExceeded);
    await worker.stop();
    assert.ok(log.at("debug").includes(`debug Rate limit exceeded in message ${sent}: exceeded.`), log.lines.join("\n"));
    assert.ok(!log.at("error").some((l) => l.includes("unhandled exception")), log.lines.join("\n"));
  });

  test("test_currrent_message_middleware_exposes_the_current_message", async () => {
    const { broker, worker } = setup({ extra: [new CurrentMessage()] });
    const received = [];
    const accessor = actor(() => void received.push(CurrentMessage.getCurrentMessage().messageId), { broker, actorName: "accessor" });
    const sent = [accessor.send(1).messageId, accessor.send(2).messageId];
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(received.sort(), sent.sort());
    assert.equal(CurrentMessage.getCurrentMessage(), null);
  });

  test("the current message delegates encode() and copy() to its message, as Python's MessageProxy does", async () => {
    const { broker, worker } = setup({ extra: [new CurrentMessage()] });
    const seen = [];
    const accessor = actor(
      () => {
        const current = CurrentMessage.getCurrentMessage();
        seen.push([new TextDecoder().decode(current.encode()), current.copy({ args: [9] }).args]);
      },
      { broker, actorName: "proxied" },
    );
    const sent = accessor.send(1, { k: 1.5 });
    await broker.join("default");
    await worker.stop();
    assert.equal(seen.length, 1);
    const [bytes, copiedArgs] = seen[0];
    const dict = JSON.parse(bytes);
    assert.deepEqual([dict.message_id, dict.actor_name, dict.args], [sent.messageId, "proxied", [1, { k: 1.5 }]]);
    assert.deepEqual(copiedArgs, [9]);
  });

  test("test_worker_handles_non_numeric_eta_and_logs_warning / test_worker_handles_none_eta", async () => {
    const { broker, worker, log } = setup();
    const run = [];
    const record = actor((x) => void run.push(x), { broker, actorName: "record" });
    // Enqueued straight on the work queue, as another project or RabbitMQ's UI would.
    broker.enqueue(record.messageWithOptions({ args: ["nan"], eta: "not-a-number" }));
    broker.enqueue(record.messageWithOptions({ args: ["none"], eta: null }));
    // A number in the future: held until then, as Python's worker holds it.
    const due = Date.now() + 200;
    const later = record.messageWithOptions({ args: ["later"], eta: due });
    broker.enqueue(later);
    await broker.join("default");
    const ranAt = Date.now();
    await worker.stop();
    assert.deepEqual(run.sort(), ["later", "nan", "none"]);
    assert.ok(ranAt >= due, `ran ${due - ranAt} ms early`);
    const warned = log.at("warn").filter((l) => l.includes("eta"));
    assert.equal(warned.length, 1, log.lines.join("\n"));
    assert.match(warned[0], /^warn Invalid eta value for message '[0-9a-f-]{36}': 'not-a-number'\. Setting eta to current_millis\(\)\.$/);
  });
});

describe("test_worker.py", { concurrency: true }, () => {
  test("test_workers_dont_register_queues_that_arent_whitelisted", async () => {
    const { broker, worker } = setup({ queues: ["a", "b"] });
    const ran = [];
    const inA = actor(() => void ran.push("a"), { broker, actorName: "inA", queueName: "a" });
    const inC = actor(() => void ran.push("c"), { broker, actorName: "inC", queueName: "c" });
    inC.send();
    inA.send();
    await broker.join("a");
    await sleep(50);
    await worker.stop();
    assert.deepEqual(ran, ["a"]);
    // The message of c is still there for a worker that consumes c.
    const other = new Worker(broker, { queues: ["c"] }).start();
    await broker.join("c");
    await other.stop();
    assert.deepEqual(ran, ["a", "c"]);
  });

  test("test_workers_process_messages_in_order: one runner, FIFO", async () => {
    const { broker, worker } = setup({ concurrency: 1 });
    worker.pause();
    const results = [];
    const work = actor((v) => void results.push(v), { broker, actorName: "work" });
    for (let i = 0; i < 5; i++) work.send(i);
    worker.resume();
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(results, [0, 1, 2, 3, 4]);
  });

  test("test_queue_item_order: what a worker holds runs by priority (lower first), then in the order it was enqueued", async () => {
    // Dramatiq's `_WorkQueueItem` orders by (priority, queued time). A worker of 5 holds
    // 10 (Python's prefetch, twice its threads): all of these.
    const { broker, worker } = setup({ concurrency: 5 });
    worker.pause();
    const calls = [];
    const hi = actor((i) => void calls.push(`hi${i}`), { broker, actorName: "hi", priority: 0 });
    const lo = actor((i) => void calls.push(`lo${i}`), { broker, actorName: "lo", priority: 1 });
    for (let i = 0; i < 5; i++) {
      lo.send(i);
      hi.send(i);
    }
    worker.resume();
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(calls, ["hi0", "hi1", "hi2", "hi3", "hi4", "lo0", "lo1", "lo2", "lo3", "lo4"]);
  });

  test("test_exception_from_actor_doesnt_leak / test_exception_from_async_actor_doesnt_leak: nothing the worker keeps holds a finished attempt's error", async () => {
    // Python's test disables the cycle collector and asserts each CustomError is freed by
    // reference counting. Here: after a full collection, a retried attempt's error is gone;
    // the last one stays with its dead letter (the stub broker's `join` raises it, as
    // Python's `_StubMessageProxy` keeps it) until `flushAll()` drops the dead letters.
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc");
    const collect = async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(5);
        gc();
      }
    };
    const { broker, worker } = setup({ concurrency: 1 });
    const refs = { sync: [], async: [] };
    class CustomError extends Error {
      constructor(kind) {
        super(kind);
        refs[kind].push(new WeakRef(this));
      }
    }
    actor(
      () => {
        throw new CustomError("sync");
      },
      { broker, actorName: "failing_actor", maxRetries: 1, maxBackoff: 1 },
    ).send();
    actor(
      async () => {
        await sleep(1);
        throw new CustomError("async");
      },
      { broker, actorName: "failing_async_actor", maxRetries: 1, maxBackoff: 1 },
    ).send();
    await broker.join("default", { failFast: false });
    await worker.join();
    await worker.stop();
    await collect();
    const alive = () => Object.fromEntries(Object.entries(refs).map(([k, v]) => [k, v.map((r) => r.deref() !== undefined)]));
    // First run + 1 retry each; the retried attempt's error is freed, the dead letter's kept.
    assert.deepEqual(alive(), { sync: [false, true], async: [false, true] });
    assert.equal(broker.deadLetters.length, 2);
    broker.flushAll();
    await collect();
    assert.deepEqual(alive(), { sync: [false, false], async: [false, false] });
  });
});

describe("test_callbacks.py", { concurrency: true }, () => {
  test("test_actors_can_define_success_callbacks (an Actor as on_success)", async () => {
    const { broker, worker } = setup();
    const add = actor((x, y) => x + y, { broker, actorName: "add" });
    const db = [];
    const save = actor((_data, result) => void db.push(result), { broker, actorName: "save" });
    add.sendWithOptions({ args: [1, 2], onSuccess: save });
    await broker.join("default");
    await worker.join();
    await worker.stop();
    assert.deepEqual(db, [3]);
  });

  test("test_actors_can_define_failure_callbacks (a name as on_failure)", async () => {
    const { broker, worker } = setup();
    const work = actor(
      () => {
        throw new Error();
      },
      { broker, actorName: "do_work", maxRetries: 0 },
    );
    const counts = new Map();
    actor((data) => void counts.set(data.actor_name, (counts.get(data.actor_name) ?? 0) + 1), { broker, actorName: "report_exceptions" });
    work.sendWithOptions({ onFailure: "report_exceptions" });
    await broker.join("default", { failFast: false });
    await worker.join();
    await worker.stop();
    assert.equal(counts.get("do_work"), 1);
  });

  test("test_actor_callbacks_raise_type_error_when_given_a_normal_callable", () => {
    const { broker } = setup({ start: false });
    const work = actor(() => {}, { broker, actorName: "do_work" });
    assert.throws(() => work.sendWithOptions({ onSuccess: (_m, _r) => {} }), TypeError);
    assert.throws(() => work.sendWithOptions({ onFailure: (_m, _r) => {} }), TypeError);
  });

  test("test_actor_callback_knows_correct_number_of_retries: retries 1, 2, 3, 4 in on_failure's message data", async () => {
    const { broker, worker } = setup();
    const retries = [];
    const callback = actor((data) => void retries.push(data.options.retries), { broker, actorName: "my_callback" });
    const attempts = [];
    const work = actor(
      () => {
        attempts.push(1);
        throw new Error("failure");
      },
      { broker, actorName: "do_work", maxRetries: 3, minBackoff: 1, maxBackoff: 20, onFailure: callback.actorName },
    );
    work.send();
    await broker.join("default", { failFast: false });
    await worker.join();
    await worker.stop();
    assert.equal(attempts.length, 4);
    assert.deepEqual(retries, [1, 2, 3, 4]);
  });
  // Found by tests/js/diff-fuzz-worker.test.mjs: what Python's Callbacks and Pipelines send
  // holds the result or the exception's str as Python writes them, a lone surrogate as its
  // `\udXXX` escape; ours wrote U+FFFD for one the actor returned or threw.
  test("a lone surrogate in a result or an error's message reaches on_success, on_failure and the next pipeline step as Python writes it", async () => {
    const { broker, worker } = setup({ extra: [new CurrentMessage()] });
    const seen = [];
    const record = actor(() => void seen.push(new TextDecoder().decode(CurrentMessage.getCurrentMessage().message.encode())), { broker, actorName: "record", queueName: "cb" });
    // Returns its argument and a lone surrogate of its own: the finished message holds one
    // (marked) or none (plain), the payload always one.
    const ok = actor((s) => `${s}\udc00`, { broker, actorName: "ok", onSuccess: "record" });
    const bad = actor((s) => {
      throw new Error(`${s}\ud83d\u0013`);
    }, { broker, actorName: "bad", maxRetries: 0, onFailure: "record" });
    ok.send("plain");
    ok.send("lone\ud800");
    bad.send("plain");
    bad.send("lone\udbfd");
    pipeline([ok.messageWithOptions({ args: ["p"], onSuccess: null }), record.message()], { broker }).run();
    await broker.join("default", { failFast: false });
    await broker.join("cb");
    await worker.join();
    await worker.stop();
    const payloads = seen.filter((t) => t.includes('"args":[{')).map((t) => t.match(/,("[^"]*"|\{"type"[^}]*\})\],"kwargs":\{\},"options":\{\},"message_id"/)?.[1] ?? t).sort();
    // (`onSuccess: null` on the message falls back to the actor's, Python's `or`.)
    assert.deepEqual(payloads, [
      '"lone\\ud800\\udc00"',
      '"p\\udc00"',
      '"plain\\udc00"',
      '{"type":"Error","message":"lone\\udbfd\\ud83d\\u0013"}',
      '{"type":"Error","message":"plain\\ud83d\\u0013"}',
    ].sort(), seen.join("\n"));
    // The next step's arguments: the result piped on, as Python writes it.
    assert.ok(seen.some((t) => t.includes('"actor_name":"record","args":["p\\udc00"]')), seen.join("\n"));
  });
});

describe("middleware/test_retries.py", { concurrency: true }, () => {
  test("test_actors_retry_on_failure", async () => {
    const { broker, worker } = setup();
    let failures = 0;
    let successes = 0;
    const work = actor(
      () => {
        if (failures++ === 0) throw new Error("First failure.");
        successes += 1;
      },
      { broker, actorName: "do_work", minBackoff: 10, maxBackoff: 50 },
    );
    work.send();
    await broker.join("default", { failFast: false });
    await worker.stop();
    assert.equal(successes, 1);
  });

  test("test_actors_retry_a_max_number_of_times_on_failure", async () => {
    const { broker, worker, log } = setup();
    let attempts = 0;
    const work = actor(
      () => {
        attempts += 1;
        throw new Error("failure");
      },
      { broker, actorName: "do_work", maxRetries: 3, minBackoff: 10, maxBackoff: 50 },
    );
    const sent = work.send();
    await broker.join("default", { failFast: false });
    await worker.stop();
    assert.equal(attempts, 4);
    assert.equal(broker.deadLetters.length, 1);
    // Python's `%r` of the id: quoted.
    assert.ok(log.at("warn").includes(`warn Retries exceeded for message '${sent.messageId}'.`), log.lines.join("\n"));
  });

  test("test_actors_retry_for_a_max_time: max_age ends the retries", async () => {
    const { broker, worker } = setup();
    let attempts = 0;
    const work = actor(
      () => {
        attempts += 1;
        throw new Error("failure");
      },
      { broker, actorName: "do_work", maxAge: 100, minBackoff: 50, maxBackoff: 500 },
    );
    work.send();
    await broker.join("default", { failFast: false, timeout: 10_000 });
    await worker.stop();
    assert.ok(attempts >= 1);
    assert.equal(broker.deadLetters.length, 1);
  });

  test("test_retry_exceptions_are_not_logged", async () => {
    const { broker, worker, log } = setup();
    const work = actor(
      () => {
        throw new Retry();
      },
      { broker, actorName: "do_work", maxRetries: 0 },
    );
    work.send();
    await broker.join("default", { failFast: false });
    await worker.stop();
    assert.deepEqual(log.at("error"), []);
  });

  test("test_retry_exceptions_can_specify_a_delay (and Retries' `Retrying message %r in %d milliseconds.`)", async () => {
    const { broker, worker, log } = setup();
    const stamps = [];
    const work = actor(
      () => {
        stamps.push(performance.now());
        if (stamps.length === 1) throw new Retry("", { delay: 100 });
      },
      { broker, actorName: "do_work", maxRetries: 1 },
    );
    const sent = work.send();
    await broker.join("default", { failFast: false });
    await worker.stop();
    assert.equal(stamps.length, 2);
    // Never early (the upper bound is Dramatiq's 150 ms, generous here: timing is bench's).
    assert.ok(stamps[1] - stamps[0] >= 99, `${stamps[1] - stamps[0]} ms`);
    assert.ok(stamps[1] - stamps[0] < 5000, `${stamps[1] - stamps[0]} ms`);
    const retrying = log.at("info").filter((l) => l.includes("Retrying"));
    assert.deepEqual(retrying, [`info Retrying message '${sent.messageId}' in 100 milliseconds.`]);
  });

  test("a Retry's fractional or negative delay: the eta Python's `now + delay` makes, the delay logged as Python's `%d` (truncated)", async () => {
    const { broker, worker, log } = setup();
    const late = [];
    broker.addMiddleware(
      Object.assign(new Middleware(), {
        // Right after the broker wrote the retry's eta (`Date.now() + delay`).
        afterEnqueue: (_b, m) => void (m.options.retries === 1 && "eta" in m.options && late.push([m.messageId, Date.now() - m.options.eta])),
      }),
    );
    let runs = 0;
    const work = actor(
      (delay) => {
        if (runs++ < 2) throw new Retry("", { delay });
      },
      { broker, actorName: "do_work", maxRetries: 1 },
    );
    const negative = work.send(-5);
    const fractional = work.send(2.7);
    await broker.join("default", { failFast: false });
    await worker.stop();
    const retrying = log.at("info").filter((l) => l.includes("Retrying")).sort();
    assert.deepEqual(
      retrying,
      [`info Retrying message '${negative.messageId}' in -5 milliseconds.`, `info Retrying message '${fractional.messageId}' in 2 milliseconds.`].sort(),
    );
    // The negative one's eta is in the past by 5 ms at least (Python's), not now.
    const pastBy = Object.fromEntries(late);
    assert.ok(pastBy[negative.messageId] >= 5, `${pastBy[negative.messageId]} ms`);
  });

  for (const [name, actorOptions, messageOptions] of [
    ["test_actors_can_be_assigned_zero_min_backoff", { minBackoff: 0 }, {}],
    ["test_actors_can_be_assigned_zero_max_backoff", { maxBackoff: 0 }, {}],
    ["test_actor_messages_can_be_assigned_zero_min_backoff", { minBackoff: 10_000 }, { min_backoff: 0 }],
    ["test_actor_messages_can_be_assigned_zero_max_backoff", { minBackoff: 10_000 }, { max_backoff: 0 }],
  ]) {
    test(`${name}: ten retries without delay`, async () => {
      const { broker, worker } = setup();
      const start = performance.now();
      const stamps = [];
      const work = actor(
        () => {
          stamps.push(performance.now());
          throw new Error("failure");
        },
        { broker, actorName: "do_work", maxRetries: 10, ...actorOptions },
      );
      work.sendWithOptions(messageOptions);
      await broker.join("default", { failFast: false, timeout: 5000 });
      await worker.stop();
      assert.equal(stamps.length, 11);
      assert.ok(stamps.at(-1) - start < 2000, `${stamps.at(-1) - start} ms`);
    });
  }

  for (const max of [0, 4]) {
    test(`test_actors_can_be_assigned_message_max_retries[${max}]`, async () => {
      const { broker, worker } = setup();
      let attempts = 0;
      const work = actor(
        () => {
          attempts += 1;
          throw new Error("failure");
        },
        { broker, actorName: "do_work", maxRetries: 99, minBackoff: 5000, maxBackoff: 50_000 },
      );
      work.sendWithOptions({ max_retries: max, min_backoff: 5, max_backoff: 50 });
      await broker.join("default", { failFast: false, timeout: 5000 });
      await worker.stop();
      assert.equal(attempts, 1 + max);
    });
  }

  test("test_actors_can_conditionally_retry: retry_when over max_retries", async () => {
    const { broker, worker } = setup();
    let attempts = 0;
    const seen = [];
    const work = actor(
      (runtime) => {
        attempts += 1;
        if (runtime) throw new RangeError("Runtime error");
        throw new TypeError("Value error");
      },
      {
        broker,
        actorName: "raises_errors",
        maxRetries: 0,
        minBackoff: 5,
        maxBackoff: 5,
        retryWhen: (count, error) => {
          seen.push(count);
          return count < 3 && error instanceof RangeError;
        },
      },
    );
    work.send(false);
    await broker.join("default", { failFast: false });
    assert.equal(attempts, 1);
    attempts = 0;
    seen.length = 0;
    work.send(true);
    await broker.join("default", { failFast: false });
    await worker.stop();
    assert.equal(attempts, 4);
    assert.deepEqual(seen, [0, 1, 2, 3], "retry_when sees the retries before this one");
  });

  class CustomError1 extends Error {}
  class CustomError2 extends Error {}
  for (const [label, Thrown, throws] of [
    ["class", CustomError1, CustomError1],
    ["[class]", CustomError1, [CustomError1]],
    ["[class1, class2]", CustomError2, [CustomError1, CustomError2]],
  ]) {
    test(`test_actor_with_throws_logs_info_and_does_not_retry[${label}]`, async () => {
      const { broker, worker, log } = setup();
      let attempts = 0;
      const exhausted = [];
      actor((...a) => void exhausted.push(a), { broker, actorName: "exhausted" });
      const work = actor(
        () => {
          attempts += 1;
          if (attempts === 1) throw new Thrown("Expected Failure");
        },
        // Python's Retries returns before its retry count and on_retry_exhausted for these.
        { broker, actorName: "do_work", throws, onRetryExhausted: "exhausted" },
      );
      const sent = work.send();
      await broker.join("default", { failFast: false });
      await worker.stop();
      assert.deepEqual(exhausted, []);
      assert.equal(broker.deadLetters.length, 1);
      assert.equal(broker.deadLetters[0].options.retries, undefined);
      assert.deepEqual([...log.at("error"), ...log.at("warn")], []);
      const info = log.at("info");
      assert.ok(info.some((l) => l.startsWith(`info Failed to process message `) && l.includes("with expected exception")), info.join("\n"));
      assert.ok(info.includes(`info Aborting message '${sent.messageId}'.`), info.join("\n"));
      assert.equal(attempts, 1);
    });
  }

  test("test_message_contains_requeue_time_after_retry", async () => {
    const { broker, worker } = setup({ extra: [new CurrentMessage()] });
    const stamps = [];
    const work = actor(
      () => {
        const options = CurrentMessage.getCurrentMessage().options;
        if ("requeue_timestamp" in options) stamps.push(options.requeue_timestamp);
        throw new Error();
      },
      { broker, actorName: "do_work", maxRetries: 2, minBackoff: 20, maxBackoff: 20 },
    );
    const sent = work.sendWithOptions({ delay: 20 });
    await broker.join("default", { failFast: false });
    await worker.stop();
    assert.equal(stamps.length, 2);
    assert.ok(stamps[0] < stamps[1]);
    assert.ok(stamps.every((s) => s > sent.messageTimestamp));
  });

  // test_on_retry_exhausted_is_sent, test_on_retry_exhausted_is_not_sent_for_success,
  // test_on_retry_exhausted_is_not_sent_for_eventual_success
  test("test_on_retry_exhausted_is_sent / _is_not_sent_for_success / _is_not_sent_for_eventual_success", async () => {
    const { broker, worker } = setup();
    const called = [];
    const handler = actor((data, info) => void called.push([data.actor_name, info]), { broker, actorName: "handle_retries_exhausted", queueName: "h" });
    const runs = { always: 0, never: 0, once: 0 };
    const make = (name, fails) =>
      actor(
        () => {
          runs[name] += 1;
          if (fails(runs[name])) throw new Retry("", { delay: 1 });
        },
        { broker, actorName: name, queueName: name, maxRetries: 2, onRetryExhausted: handler.actorName },
      );
    make("always", () => true).send();
    make("never", () => false).send();
    make("once", (n) => n < 2).send();
    for (const q of ["always", "never", "once", "h"]) await broker.join(q, { failFast: false });
    await worker.stop();
    assert.deepEqual(runs, { always: 3, never: 1, once: 2 });
    assert.deepEqual(called, [["always", { retries: 2, max_retries: 2 }]]);
  });
});

describe("middleware/test_time_limit.py and test_shutdown.py", { concurrency: true }, () => {
  test("test_time_limits_are_handled: the actor sees TimeLimitExceeded; join raises it", async () => {
    const { broker, worker } = setup({ extra: [new CurrentMessage()] });
    const exceeded = [];
    const successes = [];
    const work = actor(
      async () => {
        const signal = currentSignal();
        try {
          // Python's actor sleeps 20 × 1 s past a 10 ms limit its 1 s checks catch at the
          // first; here 150 × 20 ms against TimeLimit's same 1 s interval.
          for (let i = 0; i < 150; i++) {
            if (signal.aborted) throw signal.reason;
            await sleep(20);
          }
        } catch (error) {
          if (error instanceof TimeLimitExceeded) exceeded.push(1);
          throw error;
        }
        successes.push(1);
      },
      { broker, actorName: "do_work", timeLimit: 10, maxRetries: 0 },
    );
    work.send();
    assert.ok((await rejection(broker.join("default"))) instanceof TimeLimitExceeded);
    await sleep(60);
    await worker.stop();
    assert.equal(exceeded.length, 1);
    assert.equal(successes.length, 0);
  });

  // Dramatiq's checker thread looks every `interval` (1 s): an attempt is stopped at the
  // first look at or past its deadline, and one that returns before it succeeds (so a
  // 1.5 ms or negative `time_limit` stops only an attempt still running at that look).
  // The middleware's first check is at its first message, so in a fresh broker the next
  // one is a full interval away.
  /** A broker whose TimeLimit checks every `interval` ms, and its running worker. */
  function withChecks(interval) {
    const log = logger();
    const middleware = defaultMiddleware().map((m) => (m instanceof TimeLimit ? new TimeLimit({ interval }) : m));
    const broker = new StubBroker({ logger: log, middleware: [...middleware, new CurrentMessage()] });
    return { broker, log, worker: new Worker(broker, { concurrency: 2 }).start() };
  }
  const busyFor = (ms) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };

  test("a quick attempt past a tiny or negative limit returns before the first check and succeeds, as on a Python worker", async () => {
    const { broker, worker } = withChecks(1000);
    const done = [];
    const quickSync = actor((tag) => (busyFor(20), done.push(tag), tag), { broker, actorName: "quick_sync", maxRetries: 0 });
    const quickAsync = actor(async (tag) => (await sleep(20), done.push(tag), tag), { broker, actorName: "quick_async", maxRetries: 0 });
    quickSync.sendWithOptions({ args: ["sync 1.5"], time_limit: 1.5 });
    quickAsync.sendWithOptions({ args: ["async 1.5"], time_limit: 1.5 });
    quickSync.sendWithOptions({ args: ["sync -5"], time_limit: -5 });
    await broker.join("default");
    await worker.stop();
    assert.deepEqual(done.sort(), ["async 1.5", "sync -5", "sync 1.5"]);
    assert.equal(broker.deadLetters.length, 0);
  });

  test("an actor that throws after running past its limit fails with TimeLimitExceeded: Python's would have been stopped before the throw", async () => {
    // Found by tests/js/diff-fuzz-worker-limits.test.mjs: Python's TimeLimit raises in the
    // actor's thread at the check, so the error (or Retry, or SkipMessage) thrown later is
    // never raised; ours stored it, retried it, or skipped the message.
    const { broker, log, worker } = withChecks(0);
    const seen = [];
    const raising = (error) => () => (busyFor(150), seen.push(error.constructor.name), (() => { throw error; })());
    actor(raising(new RangeError("after the limit")), { broker, actorName: "sync_raise", queueName: "q1", maxRetries: 0, timeLimit: 20 }).send();
    actor(async () => raising(new RangeError("after the limit"))(), { broker, actorName: "async_raise", queueName: "q2", maxRetries: 0, timeLimit: 20 }).send();
    actor(raising(new Retry("again", { delay: 600_000 })), { broker, actorName: "sync_retry", queueName: "q3", maxRetries: 0, timeLimit: 20 }).send();
    actor(raising(new SkipMessage("skip")), { broker, actorName: "sync_skip", queueName: "q4", maxRetries: 0, timeLimit: 20 }).send();
    for (const q of ["q1", "q2", "q3", "q4"]) assert.ok((await rejection(broker.join(q))) instanceof TimeLimitExceeded, q);
    await worker.stop();
    assert.deepEqual(seen.sort(), ["RangeError", "RangeError", "Retry", "SkipMessage"]);
    assert.equal(broker.deadLetters.length, 4);
    assert.ok(!log.lines.some((l) => l.includes("was skipped")));
  });

  test("a message's time_limit true is Python's 1 ms (a bool is an int there), not no limit", async () => {
    // Python: `monotonic() + True / 1000`; found by tests/js/diff-fuzz-worker-limits.test.mjs.
    const { broker, worker } = withChecks(0);
    const waits = actor(async () => sleep(300), { broker, actorName: "waits", maxRetries: 0 });
    waits.sendWithOptions({ time_limit: true });
    assert.ok((await rejection(broker.join("default"))) instanceof TimeLimitExceeded);
    await worker.stop();
  });

  test("interval 0 stops an attempt at its limit itself; a limit is never seen before the check at or past it", async () => {
    const exact = withChecks(0);
    const done = [];
    const quickSync = actor((tag) => (busyFor(20), done.push(tag)), { broker: exact.broker, actorName: "quick_sync", maxRetries: 0 });
    quickSync.sendWithOptions({ args: ["exact"], time_limit: 1.5 });
    assert.ok((await rejection(exact.broker.join("default"))) instanceof TimeLimitExceeded);
    await exact.worker.stop();
    assert.deepEqual(done, ["exact"]);

    // Every 1.5 s: a 10 ms limit is not seen at 100 ms (nor until 1.5 s), and is by 1.7 s.
    const ticks = withChecks(1500);
    const seen = [];
    const watcher = actor(
      async () => {
        const signal = currentSignal();
        await sleep(100);
        seen.push(signal.aborted);
        await sleep(1600);
        seen.push(signal.aborted, signal.reason instanceof TimeLimitExceeded);
      },
      { broker: ticks.broker, actorName: "watcher", maxRetries: 0, timeLimit: 10 },
    );
    watcher.send();
    assert.ok((await rejection(ticks.broker.join("default"))) instanceof TimeLimitExceeded);
    await ticks.worker.stop();
    await eventually(() => seen.length === 3, "the watcher looked twice");
    assert.deepEqual(seen, [false, true, true]);
  });

  test("test_time_limit_exceeded_worker_messages: one warning per attempt past its limit, none for one within it", async () => {
    // Python's checker logs `Time limit exceeded. Raising exception in worker thread <id>.`
    // at WARNING for each thread past its deadline; here an attempt is no thread, and the
    // line names its message.
    const { broker, log, worker } = withChecks(50);
    const waits = async (ms) => {
      const signal = currentSignal();
      await sleepFor(ms, undefined, { signal }).catch(() => {});
    };
    const over = actor(waits, { broker, actorName: "over", queueName: "over", maxRetries: 0, timeLimit: 10 });
    const within = actor(waits, { broker, actorName: "within", queueName: "within", maxRetries: 0, timeLimit: 50_000 });
    const first = over.send(3000);
    const second = over.send(3000);
    const third = within.send(200);
    assert.ok((await rejection(broker.join("over"))) instanceof TimeLimitExceeded);
    await broker.join("within");
    await worker.stop();
    const exceeded = log.lines.filter((l) => l.includes("Time limit exceeded"));
    assert.deepEqual(
      exceeded.sort(),
      [first, second].map((m) => `warn Time limit exceeded. Aborting message ${m.messageId} after 10 ms.`).sort(),
      log.lines.join("\n"),
    );
    assert.ok(!log.lines.some((l) => l.includes(third.messageId)), log.lines.join("\n"));
  });

  test("new TimeLimit() takes Dramatiq's interval, a number of ms", () => {
    assert.equal(new TimeLimit().interval, 1000);
    assert.equal(new TimeLimit({ interval: 250 }).interval, 250);
    assert.throws(() => new TimeLimit({ interval: -1 }), TypeError);
    assert.throws(() => new TimeLimit({ interval: "1s" }), TypeError);
  });

  test("test_shutdown_notifications_options: message option over actor option over the default (false)", () => {
    const broker = new StubBroker({ logger: logger() });
    const middleware = new ShutdownNotifications();
    const values = [true, false, null];
    let n = 0;
    for (const actorOpt of values) {
      for (const messageOpt of values) {
        const expected = messageOpt ?? actorOpt ?? false;
        const a = actor(() => {}, { broker, actorName: `a${n++}`, notifyShutdown: actorOpt });
        const message = new WorkerMessage(a.messageWithOptions({ notifyShutdown: messageOpt }));
        assert.equal(middleware.shouldNotify(broker, message), expected, `actor ${actorOpt}, message ${messageOpt}`);
      }
    }
  });

  test("test_shutdown_notifications_worker_shutdown_messages: a debug line, then an info line per notified attempt", async () => {
    // Python logs `Sending shutdown notification to worker threads...` at DEBUG, then
    // `Worker shutdown notification. Raising exception in worker thread <id>.` at INFO per
    // thread that asked; here each line names the attempt's message.
    const { broker, worker, log } = setup({ extra: [new CurrentMessage()], concurrency: 4 });
    const started = [];
    const waits = async (tag) => {
      started.push(tag);
      const signal = currentSignal();
      await sleepFor(5000, undefined, { signal }).catch(() => {});
    };
    const notified = actor(waits, { broker, actorName: "notified", queueName: "n", notifyShutdown: true, maxRetries: 0 });
    const quiet = actor(async (tag) => (started.push(tag), sleep(100)), { broker, actorName: "quiet", queueName: "q", maxRetries: 0 });
    const sent = [notified.send(1), notified.send(2)];
    const unnotified = quiet.send(3);
    await eventually(() => started.length === 3, "all three started");
    await worker.stop();
    await rejection(broker.join("n"));
    await broker.join("q");
    const lines = log.lines.filter((l) => /shutdown notification/i.test(l));
    assert.equal(lines[0], "debug Sending shutdown notification to worker threads...", log.lines.join("\n"));
    assert.deepEqual(
      lines.slice(1).sort(),
      sent.map((m) => `info Worker shutdown notification. Aborting message ${m.messageId}.`).sort(),
      log.lines.join("\n"),
    );
    assert.ok(!log.lines.some((l) => l.includes(unnotified.messageId)), log.lines.join("\n"));
  });

  test("Dramatiq's debug lines never reach console, the default logger (Python's logging shows none unless configured)", async () => {
    const printed = [];
    const original = console.debug;
    console.debug = (...a) => void printed.push(a.join(" "));
    try {
      const broker = new StubBroker({ logger: console, middleware: [] });
      broker.addMiddleware(new ShutdownNotifications());
      const worker = new Worker(broker).start();
      await worker.stop();
    } finally {
      console.debug = original;
    }
    assert.deepEqual(printed, []);
  });

  // test_shutdown_notifications_are_received, test_shutdown_notifications_can_be_ignored,
  // test_shutdown_notifications_dont_notify_completed_threads
  test("test_shutdown_notifications_are_received / _can_be_ignored / _dont_notify_completed_threads", async () => {
    const { broker, worker } = setup({ extra: [new CurrentMessage()], concurrency: 4 });
    const shutdowns = [];
    const successes = [];
    const steps = async (name, n, ms) => {
      const signal = currentSignal();
      try {
        for (let i = 0; i < n; i++) {
          await sleep(ms);
          if (signal.aborted) throw signal.reason;
        }
      } catch (error) {
        if (error instanceof Shutdown) shutdowns.push(name);
        throw error;
      }
      successes.push(name);
    };
    const notified = actor((name, n) => steps(name, n, 50), { broker, actorName: "notified", queueName: "n", notifyShutdown: true, maxRetries: 0 });
    const ignoring = actor((name) => steps(name, 1, 300), { broker, actorName: "ignoring", queueName: "i", maxRetries: 0 });
    notified.send("short", 1);
    notified.send("long", 40);
    ignoring.send("ignored");
    await sleep(150);
    await worker.stop();
    assert.ok((await rejection(broker.join("n"))) instanceof Shutdown);
    await broker.join("i");
    // The attempt fails at the abort; the code of "long" sees it at its next step (up to
    // 50 ms later), as a Python thread sees Shutdown at its next bytecode.
    await eventually(() => shutdowns.length > 0, "long saw its Shutdown");
    assert.deepEqual(shutdowns, ["long"]);
    assert.deepEqual(successes.sort(), ["ignored", "short"]);
  });
});

describe("test_stub_broker.py and test_broker.py", { concurrency: true }, () => {
  test("test_stub_broker_raises_queue_error_when_enqueueing_messages_on_undeclared_queues / _joining_on_undeclared_queues", async () => {
    // Python's `QueueNotFound(queue_name)`: the name is the message. (Its
    // test_stub_broker_raises_queue_error_when_consuming_undeclared_queues calls
    // `StubBroker.consume`, which ours keeps internal: a worker consumes what is declared.)
    const broker = new StubBroker({ logger: logger() });
    const undeclared = (e) => e instanceof QueueNotFound && e.message === "idontexist";
    assert.throws(() => broker.enqueue(new Message({ queueName: "idontexist", actorName: "x", args: [], kwargs: {}, options: {} })), undeclared);
    assert.ok(undeclared(await rejection(broker.join("idontexist"))));
    // Delayed, the message goes to the delay queue, whose name Python's error names.
    const delayed = new Message({ queueName: "idontexist", actorName: "x" });
    assert.throws(() => broker.enqueue(delayed, { delay: 10 }), (e) => e instanceof QueueNotFound && e.message === "idontexist.DQ");
  });

  // test_stub_broker_can_be_flushed, test_stub_broker_flush_all_does_not_break_dead_letters
  test("test_stub_broker_can_be_flushed / _flush_all_does_not_break_dead_letters", async () => {
    const { broker, worker } = setup({ start: false });
    class SomeError extends Error {}
    const work = actor(
      () => {
        throw new SomeError(":(");
      },
      { broker, actorName: "do_work", maxRetries: 0 },
    );
    work.send();
    broker.flushAll();
    // A flushed queue has nothing unfinished: join resolves at once.
    await broker.join("default", { timeout: 1000 });
    worker.start();
    work.send();
    assert.ok((await rejection(broker.join("default"))) instanceof SomeError);
    broker.flushAll();
    assert.equal(broker.deadLetters.length, 0);
    work.send();
    assert.ok((await rejection(broker.join("default"))) instanceof SomeError);
    await worker.stop();
  });

  test("StubBroker.flush(queue) empties the queue of that name only, as Python's: its delay queue by its own name; an undeclared one throws", async () => {
    // Dramatiq's StubBroker.flush (test_stub_broker_can_be_flushed goes through flush_all).
    const { broker } = setup({ start: false });
    const work = actor(() => {}, { broker, actorName: "work" });
    work.send();
    work.sendWithOptions({ delay: 60_000 });
    broker.flush("default");
    await assert.rejects(broker.join("default", { timeout: 50 }), QueueJoinTimeout, "the delayed message is still there");
    broker.flush("default.DQ");
    await broker.join("default", { timeout: 1000 });
    // Python raises KeyError('nope').
    assert.throws(() => broker.flush("nope"), (e) => e instanceof QueueNotFound && e.message === "nope");
  });

  test("StubBroker.join takes the queue name as given, as Python's: a delay queue's name waits on that queue alone, a dead-letter queue's is not found", async () => {
    // Dramatiq's StubBroker.join looks up `queues[name]` and `queues[dq_name(name)]`.
    const { broker } = setup({ start: false });
    const work = actor(() => {}, { broker, actorName: "work" });
    work.send();
    await broker.join("default.DQ", { timeout: 1000 });
    await assert.rejects(broker.join("default", { timeout: 50 }), QueueJoinTimeout, "the message on the queue itself is waited for");
    await assert.rejects(broker.join("default.XQ"), (e) => e instanceof QueueNotFound && e.message === "default.XQ");
  });

  // test_stub_broker_can_join_with_timeout,
  // test_stub_broker_join_reraises_actor_exceptions_in_the_joining_current_thread
  test("test_stub_broker_can_join_with_timeout / _join_reraises_actor_exceptions", async () => {
    const { broker, worker } = setup();
    const slow = actor(() => sleep(400), { broker, actorName: "slow", queueName: "slow" });
    class CustomError extends Error {}
    const bad = actor(
      () => {
        throw new CustomError("well");
      },
      { broker, actorName: "bad", queueName: "bad", maxRetries: 0 },
    );
    slow.send();
    bad.send();
    assert.ok((await rejection(broker.join("slow", { timeout: 100 }))) instanceof QueueJoinTimeout);
    assert.ok((await rejection(broker.join("bad", { failFast: true }))) instanceof CustomError);
    await broker.join("slow");
    await worker.stop();
  });

  // test_broker_middleware_can_be_added_before_other_middleware,
  // test_broker_middleware_can_be_added_after_other_middleware,
  // test_broker_middleware_can_fail_to_be_added_before_or_after_missing_middleware,
  // test_broker_middleware_cannot_be_addwed_both_before_and_after
  test("test_broker_middleware_can_be_added_before / _after other middleware; a missing anchor throws; both throws", () => {
    const broker = new StubBroker({ logger: logger() });
    class Empty extends Middleware {}
    const first = new Empty();
    broker.addMiddleware(first, { before: AgeLimit });
    assert.equal(broker.middleware[0], first);
    const second = new Middleware();
    broker.addMiddleware(second, { after: AgeLimit });
    assert.equal(broker.middleware[2], second);
    class Absent extends Middleware {}
    assert.throws(() => broker.addMiddleware(new Middleware(), { after: Absent }));
    const count = broker.middleware.length;
    assert.throws(() => broker.addMiddleware(new Middleware(), { before: AgeLimit, after: AgeLimit }));
    assert.equal(broker.middleware.length, count, "nothing added");
  });

  test("test_broker_middleware_logs_warning_when_added_twice (and both are kept)", () => {
    const log = logger();
    const broker = new StubBroker({ logger: log, middleware: [] });
    class Empty extends Middleware {}
    const a = new Empty();
    const b = new Empty();
    broker.addMiddleware(a);
    broker.addMiddleware(b);
    assert.ok(log.at("warn").some((l) => l.includes("same type twice")), log.lines.join("\n"));
    assert.ok(broker.middleware.includes(a) && broker.middleware.includes(b));
  });

  test("test_can_instantiate_brokers_without_middleware", () => {
    assert.equal(new StubBroker({ middleware: [] }).middleware.length, 0);
  });
});

// --- Across the wire: the same scenarios over a real Redis, sent by Python's producer to our
// worker and by ours to Python's worker, each run beside the reference (Python to Python).

const skipWire = (!haveRedis && "no redis-server (scripts/setup --services)") ||
  (!havePython && "no Python Dramatiq in target/venv (scripts/setup --python)") || false;

// Each spec: [actor, args, options, delay]. Tags name the scenario; comments say which
// Dramatiq test it comes from and what that test asserts.
const SPECS = [
  // test_actors_can_be_assigned_message_max_retries[4] / [0]: the message's limit wins.
  ["flaky", ["maxr4"], { max_retries: 4, min_backoff: 5, max_backoff: 50 }],
  ["flaky", ["maxr0"], { max_retries: 0, min_backoff: 5, max_backoff: 50 }],
  // test_actor_messages_can_be_assigned_zero_min_backoff / _max_backoff: 0 is a value.
  ["flaky_slow", ["minb0"], { min_backoff: 0 }],
  ["flaky_slow", ["maxb0"], { max_backoff: 0 }],
  // test_actor_callback_knows_correct_number_of_retries: on_failure after every attempt.
  ["flaky", ["cbretries"], { max_retries: 3, min_backoff: 5, max_backoff: 20, on_failure: "cb" }],
  // test_on_retry_exhausted_is_sent / _is_not_sent_for_eventual_success (Retry(delay=1)).
  ["retry_asker", ["exhausted", 99], { on_retry_exhausted: "cb" }],
  ["retry_asker", ["eventual", 1], { on_retry_exhausted: "cb" }],
  // test_actors_can_conditionally_retry: retry_when (an actor option on each side).
  ["conditional", ["condvalue", false], {}],
  ["conditional", ["condruntime", true], {}],
  // test_actor_with_throws_logs_info_and_does_not_retry: failed once, on_failure still sent.
  ["thrower", ["throws"], { on_failure: "cb" }],
  // test_actor_messages_can_be_assigned_time_limits: the message's time_limit.
  ["sleeper", ["timelimit", 3000], { time_limit: 150, on_failure: "cb" }],
  // test_worker_handles_non_numeric_eta_and_logs_warning / _none_eta.
  ["record", ["etatext"], { eta: "not-a-number" }],
  ["record", ["etanull"], { eta: null }],
  // test_actors_can_delay_messages_independent_of_each_other (Dramatiq's 100 and 50 ms,
  // spread so that three runs at once on a loaded machine keep their order).
  ["record", ["delay1200"], {}, 1200],
  ["record", ["delay150"], {}, 150],
];

// What Dramatiq's tests assert, per tag: how many attempts.
const ATTEMPTS = {
  maxr4: 5, maxr0: 1, minb0: 4, maxb0: 4, cbretries: 4, exhausted: 3, eventual: 2, condvalue: 1, condruntime: 4,
  throws: 1, timelimit: 1, etatext: 1, etanull: 1, delay1200: 1, delay150: 1,
};

class RuntimeError extends Error {}
class ValueError extends Error {}
class ExpectedError extends Error {}

/** Our worker's side of tests/py/oracle_app.py: the same actors, options and recording. */
function jsApp(client, namespace, prefix, log) {
  const broker = new RedisBroker(client, { namespace, logger: log, middleware: [...defaultMiddleware(), new CurrentMessage()] });
  const attempts = `${prefix}:attempts`;
  const attempt = (tag) => client.rPush(attempts, tag);
  const opts = { broker, queueName: "oq" };
  actor(async (tag) => {
    await attempt(tag);
    throw new RuntimeError("failure");
  }, { ...opts, actorName: "flaky", maxRetries: 99, minBackoff: 5000, maxBackoff: 50_000 });
  actor(async (tag) => {
    await attempt(tag);
    throw new RuntimeError("failure");
  }, { ...opts, actorName: "flaky_slow", maxRetries: 3, minBackoff: 10_000 });
  actor(async (tag, failTimes) => {
    await attempt(tag);
    if ((await client.incr(`${attempts}:${tag}`)) <= failTimes) throw new Retry("", { delay: 1 });
  }, { ...opts, actorName: "retry_asker", maxRetries: 2 });
  actor(async (tag, runtime) => {
    await attempt(tag);
    throw runtime ? new RuntimeError("Runtime error") : new ValueError("Value error");
  }, { ...opts, actorName: "conditional", maxRetries: 0, minBackoff: 5, maxBackoff: 5, retryWhen: (n, e) => n < 3 && e instanceof RuntimeError });
  actor(async (tag) => {
    await attempt(tag);
    throw new ExpectedError("Expected Failure");
  }, { ...opts, actorName: "thrower", throws: [ExpectedError] });
  actor(async (tag, ms) => {
    await attempt(tag);
    // The attempt's signal stops the sleep at a time limit or a shutdown, as Python's
    // worker interrupts its thread.
    await sleepFor(ms, { signal: currentSignal() });
    await attempt(`${tag}:done`);
  }, { ...opts, actorName: "sleeper", maxRetries: 0 });
  actor((tag) => attempt(tag), { ...opts, actorName: "record" });
  actor("cb", { broker, queueName: "oracle-cb" });
  return broker;
}

/** Sends SPECS from JS, as Python's producer does from oracle_app.py. */
function jsSend(broker) {
  for (const [name, args, options, delay] of SPECS) broker.getActor(name).sendWithOptions({ args, delay, ...options });
  return broker;
}

/** What a run left: attempts per tag (in order), callbacks sent, dead letters. */
async function outcome(client, namespace, prefix) {
  const list = await client.lRange(`${prefix}:attempts`, 0, -1);
  const counts = {};
  for (const tag of list) counts[tag] = (counts[tag] ?? 0) + 1;
  const callbacks = (await client.hVals(`${namespace}:oracle-cb.msgs`))
    .map((body) => JSON.parse(body))
    .map(({ actor_name, args: [dict, payload] }) => JSON.stringify([actor_name, dict.actor_name, dict.args[0], dict.options.retries ?? null, payload]))
    .sort();
  const dead = (await client.zRange(`${namespace}:oq.XQ`, 0, -1)).length;
  return { list, counts, callbacks, dead };
}

describe("across the wire, beside Python Dramatiq 2.2.1 (Redis)", { skip: skipWire, timeout: 120_000 }, () => {
  let server;
  let client;
  before(async () => {
    server = await startRedis();
    client = createClient({ url: server.url });
    await client.connect();
  });
  after(async () => {
    await client?.quit();
    await server?.stop();
  });

  /** One run: `producer` sends SPECS, `runner`'s worker runs them; resolves with what it left. */
  async function run(producer, runner) {
    const namespace = `${producer}-${runner}`;
    const prefix = `${namespace}-app`;
    const env = { url: server.url, namespace, prefix };
    const log = logger();
    const sender = jsApp(client, namespace, prefix, log);
    let stop;
    if (runner === "py") {
      const py = await startPythonWorker({ ...env, app: "oracle_app", queues: ["oq"], threads: 4 });
      stop = async () => {
        await py.stop();
        return py.output;
      };
    } else {
      const worker = new Worker(sender, { queues: ["oq"], concurrency: 4 }).start();
      stop = async () => {
        await worker.stop();
        return log.lines.join("\n");
      };
    }
    if (producer === "py") {
      await runPython("oracle_app.py", ["send", ...SPECS.map(([actor, args, options, delay]) => JSON.stringify({ actor, args, options, delay }))], env);
    } else {
      jsSend(sender);
      await sleep(0);
    }
    const expectedCallbacks = 4 + 1 + 1 + 1; // cbretries, exhausted, throws, timelimit
    await eventually(async () => {
      const { counts, callbacks } = await outcome(client, namespace, prefix);
      return Object.entries(ATTEMPTS).every(([tag, n]) => (counts[tag] ?? 0) >= n) && callbacks.length >= expectedCallbacks;
    }, `${namespace}: every scenario done`, 60_000);
    // test_shutdown_notifications_are_received / _can_be_ignored: a stop interrupts only the
    // attempt that asked (notify_shutdown); the other finishes.
    const shutdown = [["sleeper", ["notified", 5000], { notify_shutdown: true, on_failure: "cb" }], ["sleeper", ["ignoring", 600], { on_failure: "cb" }]];
    if (producer === "py") await runPython("oracle_app.py", ["send", ...shutdown.map(([actor, args, options]) => JSON.stringify({ actor, args, options }))], env);
    else for (const [name, args, options] of shutdown) await sender.getActor(name).sendWithOptions({ args, ...options }).enqueued;
    await eventually(async () => {
      const { counts } = await outcome(client, namespace, prefix);
      return counts.notified && counts.ignoring;
    }, `${namespace}: the shutdown scenario started`);
    const output = await stop();
    await sender.close?.();
    return { ...(await outcome(client, namespace, prefix)), output };
  }

  test("Dramatiq's retry, callback, time-limit, eta, delay and shutdown scenarios: Python to Python, Python to JS, JS to Python", async () => {
    const [reference, toJs, fromJs] = await Promise.all([run("py", "py"), run("py", "js"), run("js", "py")]);
    for (const [name, got] of Object.entries({ reference, toJs, fromJs })) {
      const what = `${name}\n${got.output.slice(-3000)}`;
      // What Dramatiq's tests assert.
      for (const [tag, n] of Object.entries(ATTEMPTS)) assert.equal(got.counts[tag], n, `${what}\n${tag}`);
      assert.equal(got.counts["timelimit:done"], undefined, what);
      assert.ok(got.list.indexOf("delay150") < got.list.indexOf("delay1200"), `${what}\n${got.list}`);
      assert.equal(got.counts["ignoring:done"], 1, what);
      assert.equal(got.counts["notified:done"], undefined, what);
      assert.match(got.output, /Invalid eta value for message '[0-9a-f-]{36}': 'not-a-number'\. Setting eta to current_millis\(\)\./, what);
      // on_failure after every attempt, with retries 1..4; on_retry_exhausted once.
      assert.deepEqual(
        got.callbacks.map((c) => JSON.parse(c)).filter(([, actorName, tag]) => tag === "cbretries").map(([, , , retries]) => retries),
        [1, 2, 3, 4],
        what,
      );
      // And exactly what Python's worker sent.
      assert.deepEqual(got.callbacks, reference.callbacks, what);
      assert.equal(got.dead, reference.dead, what);
    }
    const types = reference.callbacks.map((c) => JSON.parse(c)[4]?.type).filter(Boolean).sort();
    assert.deepEqual(types, ["ExpectedError", "RuntimeError", "RuntimeError", "RuntimeError", "RuntimeError", "Shutdown", "TimeLimitExceeded"]);
  });

  test("test_workers_can_be_paused / test_actors_can_prioritize_work on a RedisBroker, with Python's producer", async () => {
    const namespace = "prio";
    const log = logger();
    const broker = new RedisBroker(client, { namespace, logger: log });
    const calls = [];
    actor(() => void calls.push("hi"), { broker, actorName: "hi", queueName: "oq", priority: 0 });
    actor(() => void calls.push("lo"), { broker, actorName: "lo", queueName: "oq", priority: 10 });
    actor("record", { broker, queueName: "oq" });
    const worker = new Worker(broker, { queues: ["oq"], concurrency: 10 });
    worker.pause();
    worker.start();
    // Python's producer sends to actors it knows (oracle_app's record), so the bodies are
    // its own, then renamed for ours: what a Python producer of `hi` / `lo` would write.
    const sent = [];
    for (let i = 0; i < 10; i++) sent.push(broker.getActor("record").message(`lo${i}`), broker.getActor("record").message(`hi${i}`));
    const dicts = sent.map((m, i) => JSON.stringify({ ...m.asDict(), actor_name: i % 2 ? "hi" : "lo" }));
    await runPython("produce.py", ["enqueue"], { url: server.url, namespace, input: dicts.join("\n") + "\n" });
    // Paused: none fetched (Python's paused consumer fetches no more), none run; the
    // worker heartbeats on.
    await sleep(300);
    assert.deepEqual(calls, []);
    assert.equal(await client.lLen(`${namespace}:oq`), 20);
    assert.equal(await client.sCard(`${namespace}:__acks__.${broker.brokerId}.oq`), 0);
    // Resumed: one fetch takes the 20 (the prefetch of 10 runners, as Python's), which run
    // by priority.
    worker.resume();
    await eventually(() => calls.length === 20, "all ran", 10_000);
    await worker.stop();
    await broker.close();
    assert.deepEqual(calls, [...Array(10).fill("hi"), ...Array(10).fill("lo")]);
  });
});
