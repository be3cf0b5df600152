// Dramatiq 2.2.1's own tests as the oracle: the scenarios of its tests/test_results.py,
// test_composition.py, test_messages.py and test_common.py, in our words, run by a JS
// StubBroker and Worker against each result backend Dramatiq's `result_backend` fixture
// names (a StubBackend, a real redis-server, a real memcached), and asserting what
// Dramatiq's tests assert. tests/js/broker.test.mjs holds the StubBackend-only versions of
// the test_results scenarios; here each runs on all three stores, where the store's own
// waiting and TTLs are what is tested. Timing is never asserted (generous deadlines only):
// where Dramatiq measures elapsed time, we count actors in flight instead.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import memjs from "memjs";
import {
  Group,
  MemcachedBackend,
  Message,
  Middleware,
  Pipeline,
  RedisBackend,
  RedisBrokerKeys,
  ResultFailure,
  ResultMissing,
  ResultTimeout,
  Results,
  SkipMessage,
  StubBackend,
  StubBroker,
  Worker,
  actor,
  group,
  pipeline,
  setBroker,
} from "dramatiq-results";
import { haveMemcached, haveRedis, startMemcached, startRedis } from "./services.mjs";
import { sleep } from "./helpers.mjs";

const quiet = { warn() {}, error() {}, info() {}, debug() {} };

/** A promise with its resolve outside: an actor waits on it, the test opens it. */
function gate() {
  let open;
  const opened = new Promise((r) => (open = r));
  return { opened, open };
}

/** Polls `check` until it holds (or `ms` pass, then fails with `what`). */
async function eventually(check, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

let redis;
let memcached;
let redisClient;
let memcachedClient;

before(async () => {
  [redis, memcached] = await Promise.all([haveRedis ? startRedis() : null, haveMemcached ? startMemcached() : null]);
  if (redis) {
    redisClient = createClient({ url: redis.url });
    redisClient.on("error", () => {});
    await redisClient.connect();
  }
  if (memcached) memcachedClient = memjs.Client.create(memcached.address, { logger: { log() {} }, retries: 0 });
});

after(async () => {
  await redisClient?.quit().catch(() => {});
  memcachedClient?.close();
  await Promise.all([redis?.stop(), memcached?.stop()]);
});

// Dramatiq's `result_backend` fixture: one store per run, each under a namespace of its own.
let namespaces = 0;
const KINDS = {
  stub: { skip: false, make: (o = {}) => new StubBackend(o) },
  redis: { skip: !haveRedis && "no redis-server", make: (o = {}) => new RedisBackend(redisClient, { namespace: `oracle-${++namespaces}`, ...o }) },
  memcached: {
    skip: !haveMemcached && "no memcached",
    make: (o = {}) => new MemcachedBackend(memcachedClient, { namespace: `oracle-${++namespaces}`, ...o }),
  },
};

/**
 * A fresh global StubBroker with the Results middleware over `backend` (unless null), and a
 * started worker. `stop()` ends the worker.
 */
function setup(backend, { concurrency = 8, worker: withWorker = true, middleware = [] } = {}) {
  const broker = new StubBroker({ logger: quiet });
  if (backend) broker.addMiddleware(new Results({ backend }));
  for (const m of middleware) broker.addMiddleware(m);
  setBroker(broker);
  const worker = new Worker(broker, { concurrency });
  if (withWorker) worker.start();
  return { broker, worker, stop: () => worker.stop() };
}

for (const [kind, { skip, make }] of Object.entries(KINDS)) {
  describe(`test_results.py on a ${kind} result backend`, { skip }, () => {
    test("test_actors_can_store_results: the value comes back through a blocking read", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const doWork = actor(() => 42, { actorName: "do_work", storeResults: true });
      assert.equal(await backend.getResult(doWork.send(), { block: true }), 42);
      await stop();
    });

    test("test_actors_results_are_backwards_compatible: a bare value stored by an old Dramatiq reads as itself", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const doWork = actor(() => 42, { actorName: "do_work", storeResults: true });
      const m = doWork.message();
      // What an old Dramatiq's `_store(key, 42, 3600000)` leaves: the encoded value, no wrapper.
      await backend.storeResultBytes(m, new TextEncoder().encode("42"), 3600000);
      assert.equal(await backend.getResult(m, { block: true }), 42);
      await stop();
    });

    test("test_use_namespace_prefix_keys_*: readable <ns>:<queue>:<actor>:<id> keys, else a 32-digit MD5", async () => {
      const backend = make({ namespace: "myns", useNamespacePrefixKeys: true });
      const { stop } = setup(backend);
      const doWork = actor(() => 99, { actorName: "do_work", storeResults: true });
      const m = doWork.send();
      assert.equal(await backend.getResult(m, { block: true }), 99);
      assert.equal(backend.buildMessageKey(m), `myns:default:do_work:${m.messageId}`);
      const legacy = make({ namespace: "myns" }).buildMessageKey(new Message({ queueName: "default", actorName: "do_work" }));
      assert.match(legacy, /^[0-9a-f]{32}$/);
      await stop();
    });

    test("test_actors_can_store_exceptions: ResultFailure with Dramatiq's text, type and message", async () => {
      const backend = make();
      const { stop } = setup(backend);
      class RuntimeError extends Error {}
      const doWork = actor(() => { throw new RuntimeError("failed"); }, { actorName: "do_work", storeResults: true, maxRetries: 0 });
      const error = await backend.getResult(doWork.send(), { block: true }).catch((e) => e);
      assert.ok(error instanceof ResultFailure, String(error));
      assert.equal(error.message, "actor raised RuntimeError: failed");
      assert.equal(error.exceptionType, "RuntimeError");
      assert.equal(error.exceptionValue, "failed");
      await stop();
    });

    test("test_retrieving_a_result_can_raise_result_missing / _can_time_out: ResultMissing, then ResultTimeout", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const held = gate();
      const doWork = actor(async () => { await held.opened; return 42; }, { actorName: "do_work", storeResults: true });
      const m = doWork.send();
      await assert.rejects(backend.getResult(m), ResultMissing);
      await assert.rejects(backend.getResult(m, { block: true, timeout: 100 }), ResultTimeout);
      held.open();
      assert.equal(await backend.getResult(m, { block: true, timeout: 10_000 }), 42);
      await stop();
    });

    test("test_messages_can_get_results_from_backend / _from_inferred_backend", async () => {
      const backend = make();
      const { broker, stop } = setup(backend);
      const doWork = actor(() => 42, { actorName: "do_work", storeResults: true });
      const m = doWork.send();
      assert.equal(await m.getResult({ backend, block: true }), 42);
      assert.equal(await m.getResult({ block: true }), 42);
      assert.equal(broker.getResultsBackend(), backend);
      await stop();
    });

    test("test_messages_without_actor_not_crashing_lookup_options: after_nack of an unknown actor's message", async () => {
      const backend = make();
      const results = new Results({ backend });
      const broker = new StubBroker({ logger: quiet });
      broker.addMiddleware(results);
      const m = new Message({ queueName: "default", actorName: "idontexist" });
      assert.equal(await results.afterNack(broker, { message: m, actorName: "idontexist", failed: true, exception: new Error("x") }), undefined);
      await assert.rejects(backend.getResult(m), ResultMissing);
    });

    test("test_age_limit_skipped_messages_store_consistent_exceptions: the same SkipMessage failure, read twice", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const doWork = actor(() => 42, { actorName: "do_work", storeResults: true, maxAge: 1 });
      const m = doWork.sendWithOptions({ args: [], kwargs: {}, delay: 2 });
      const first = await backend.getResult(m, { block: true }).catch((e) => e);
      assert.ok(first instanceof ResultFailure, String(first));
      assert.equal(first.message, "actor raised SkipMessage: Message age limit exceeded");
      assert.equal(first.exceptionType, "SkipMessage");
      assert.equal(first.exceptionValue, "Message age limit exceeded");
      await sleep(200);
      const again = await backend.getResult(m).catch((e) => e);
      assert.ok(again instanceof ResultFailure);
      assert.deepEqual([again.message, again.exceptionType, again.exceptionValue], [first.message, first.exceptionType, first.exceptionValue]);
      await stop();
    });

    test("test_custom_skipped_messages_with_no_fail_stores_none: null, read twice", async () => {
      const backend = make();
      class SkipIt extends Middleware {
        beforeProcessMessage() {
          throw new SkipMessage("Custom skip");
        }
      }
      const { stop } = setup(backend, { middleware: [new SkipIt()] });
      const doWork = actor(() => 42, { actorName: "do_work", storeResults: true });
      const m = doWork.send();
      assert.equal(await backend.getResult(m, { block: true }), null);
      await sleep(200);
      assert.equal(await backend.getResult(m), null);
      await stop();
    });
  });

  describe(`test_composition.py on a ${kind} result backend`, { skip }, () => {
    test("test_pipe_ignore_applies_to_receiving_message: [[1], [2], [3, [2]]]", async () => {
      const backend = make();
      const { broker, stop } = setup(backend);
      const returnArgs = actor((...args) => args, { actorName: "return_args", storeResults: true });
      const pipe = pipeline([returnArgs.message(1), returnArgs.messageWithOptions({ pipeIgnore: true, args: [2] }), returnArgs.message(3)]).run();
      await broker.join("default");
      assert.deepEqual(await pipe.getResults({ block: true }), [[1], [2], [3, [2]]]);
      await stop();
    });

    test("test_pipeline_results_can_be_retrieved: a nested pipeline's steps count, 10 and [3, 6, 10]", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const add = actor((x, y) => x + y, { actorName: "add", storeResults: true });
      const pipe = pipeline([add.message(1, 2), pipeline([add.message(3), add.message(4)])]).run();
      assert.equal(await pipe.getResult({ block: true }), 10);
      assert.deepEqual(await pipe.getResults(), [3, 6, 10]);
      await stop();
    });

    test("test_pipeline_results_respect_timeouts: a chain slower than the timeout is a ResultTimeout", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const release = gate();
      const wait = actor(async (n) => { await release.opened; return n * 2; }, { actorName: "wait", storeResults: true });
      const pipe = pipeline([wait.message(1), wait.message(), wait.message()]).run();
      await assert.rejects(pipe.getResults({ block: true, timeout: 200 }), ResultTimeout);
      release.open();
      assert.deepEqual(await pipe.getResults({ block: true, timeout: 10_000 }), [2, 4, 8]);
      await stop();
    });

    test("test_pipelines_expose_completion_stats: completedCount grows with each finished step", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const gates = [gate(), gate()];
      let step = 0;
      const wait = actor(async (n) => { await gates[step++].opened; return n; }, { actorName: "wait", storeResults: true });
      const pipe = pipeline([wait.message(1), wait.message()]).run();
      assert.equal(await pipe.completedCount(), 0);
      for (let count = 1; count <= pipe.length; count++) {
        gates[count - 1].open();
        await eventually(async () => (await pipe.completedCount()) === count, `${count} step(s) complete`);
        // Never more than what finished: the next step is still held.
        await sleep(30);
        assert.equal(await pipe.completedCount(), count);
      }
      assert.equal(await pipe.completed(), true);
      await stop();
    });

    test("test_pipelines_can_be_incomplete: with no worker, a run pipeline is not completed", async () => {
      const backend = make();
      const { stop } = setup(backend, { worker: false });
      const doNothing = actor(() => null, { actorName: "do_nothing", storeResults: true });
      const pipe = pipeline([doNothing.message(), doNothing.messageWithOptions({ pipeIgnore: true })]).run();
      assert.equal(await pipe.completed(), false);
      assert.equal(await pipe.completedCount(), 0);
      await stop();
    });

    test("test_groups_execute_jobs_in_parallel: every child runs at once, as many results as children, completed", async () => {
      const backend = make();
      const { stop } = setup(backend, { concurrency: 8 });
      let running = 0;
      let most = 0;
      const all = gate();
      const wait = actor(async () => {
        most = Math.max(most, ++running);
        if (running === 5) all.open();
        await Promise.race([all.opened, sleep(2000)]);
        running -= 1;
        return null;
      }, { actorName: "wait", storeResults: true });
      const g = group(Array.from({ length: 5 }, () => wait.message())).run();
      const results = await g.getResults({ block: true });
      assert.equal(most, 5, "all five ran at the same time");
      assert.equal(results.length, g.length);
      assert.equal(await g.completed(), true);
      await stop();
    });

    test("test_groups_execute_inner_groups: three groups of two give [[null, null]] × 3", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const wait = actor(async () => { await sleep(20); }, { actorName: "wait", storeResults: true });
      const g = group(Array.from({ length: 3 }, () => group([wait.message(), wait.message()]))).run();
      assert.deepEqual(await g.getResults({ block: true }), [[null, null], [null, null], [null, null]]);
      assert.equal(await g.completed(), true);
      await stop();
    });

    test("test_groups_can_time_out: wait({ timeout }) is a ResultTimeout and the group is not completed", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const release = gate();
      const wait = actor(async () => { await release.opened; }, { actorName: "wait", storeResults: true });
      const g = group([wait.message(), wait.message()]).run();
      await assert.rejects(g.wait({ timeout: 100 }), ResultTimeout);
      assert.equal(await g.completed(), false);
      release.open();
      await g.wait({ timeout: 10_000 });
      assert.equal(await g.completed(), true);
      await stop();
    });

    test("test_groups_expose_completion_stats / _completion_count_works_for_tasks_finishing_out_of_order", async () => {
      const backend = make();
      const { stop } = setup(backend);
      const gates = new Map([[1, gate()], [2, gate()], [3, gate()]]);
      const wait = actor(async (n) => { await gates.get(n).opened; return n; }, { actorName: "wait", storeResults: true });
      const g = group([wait.message(3), wait.message(1), wait.message(2)]).run();
      assert.equal(await g.completedCount(), 0);
      // Finishing in another order than the group's (issue Bogdanp/dramatiq#452).
      for (const [count, n] of [[1, 1], [2, 2], [3, 3]]) {
        gates.get(n).open();
        await eventually(async () => (await g.completedCount()) === count, `${count} child(ren) complete`);
        assert.equal(await g.completed(), count === 3);
      }
      assert.deepEqual(await g.getResults(), [3, 1, 2]);
      await stop();
    });

    test("test_pipeline_does_not_continue_to_next_actor_when_message_is_marked_as_failed", async () => {
      const backend = make();
      class FailEverything extends Middleware {
        afterProcessMessage(_broker, message) {
          message.fail();
        }
      }
      const { broker, stop } = setup(backend, { middleware: [new FailEverything()] });
      let ran = false;
      const doNothing = actor(() => {}, { actorName: "do_nothing" });
      const shouldNeverRun = actor(() => { ran = true; }, { actorName: "should_never_run" });
      const pipe = pipeline([doNothing.messageWithOptions({ pipeIgnore: true }), shouldNeverRun.message()]).run();
      await pipe.enqueued;
      await broker.join("default", { timeout: 10_000, failFast: false });
      await sleep(50);
      assert.equal(ran, false);
      await stop();
    });

    // test_pipeline_respects_own_delay, test_pipeline_respects_delay_of_first_message,
    // test_pipeline_respects_delay_of_second_message,
    // test_pipeline_respects_bigger_of_first_messages_and_pipelines_delay
    test("test_pipeline_respects_own_delay / _delay_of_first_message / _delay_of_second_message / _bigger_of_…: timeouts", async () => {
      const backend = make();
      const { broker, stop } = setup(backend);
      let runs = 0;
      const add = actor((x, y) => (runs++, x + y), { actorName: "add", storeResults: true });
      const cases = [
        ["run's delay", () => pipeline([add.message(1, 2), add.message(3)]).run({ delay: 10_000 }), 100],
        ["first step's delay", () => pipeline([add.messageWithOptions({ args: [1, 2], delay: 10_000 }), add.message(3)]).run(), 100],
        ["second step's delay", () => pipeline([add.message(1, 2), add.messageWithOptions({ args: [3], delay: 10_000 })]).run(), 100],
        ["the larger of run's and the first step's", () => pipeline([add.messageWithOptions({ args: [1, 2], delay: 100 }), add.message(3)]).run({ delay: 10_000 }), 300],
      ];
      await Promise.all(cases.map(async ([what, run, timeout]) => {
        const pipe = run();
        await assert.rejects(pipe.getResults({ block: true, timeout }), ResultTimeout, what);
      }));
      // Nothing ran early: only the one undelayed first step (of the second step's case).
      assert.equal(runs, 1);
      await stop();
    });
  });
}

// ---------------------------------------------------------------------------------------
// Composition that needs no result store
// ---------------------------------------------------------------------------------------

describe("test_composition.py: pipelines' and groups' shape", () => {
  test("test_messages_can_be_piped: each step's pipe_target is the next step's asdict(); the last has none", () => {
    setup(null, { worker: false });
    const add = actor((x, y) => x + y, { actorName: "add" });
    const pipe = pipeline([add.message(1, 2), add.message(3), add.message(4)]);
    assert.ok(pipe instanceof Pipeline);
    assert.deepEqual(pipe.messages[0].options.pipe_target, pipe.messages[1].asDict());
    assert.deepEqual(pipe.messages[1].options.pipe_target, pipe.messages[2].asDict());
    assert.equal("pipe_target" in pipe.messages[2].options, false);
  });

  test("test_pipelines_flatten_child_pipelines: four steps, in order", () => {
    setup(null, { worker: false });
    const add = actor((x, y) => x + y, { actorName: "add" });
    const pipe = pipeline([add.message(1, 2), pipeline([add.message(3), add.message(4)]), add.message(5)]);
    assert.equal(pipe.length, 4);
    assert.deepEqual(pipe.messages.map((m) => m.args), [[1, 2], [3], [4], [5]]);
    assert.deepEqual(pipe.messages[1].options.pipe_target, pipe.messages[2].asDict());
    assert.deepEqual(pipe.messages[2].options.pipe_target, pipe.messages[3].asDict());
  });

  test("a nested pipeline's steps are taken as they are: a last step's own pipe_target stays, as Python's copy() keeps it", () => {
    setup(null, { worker: false });
    const add = actor((x, y) => x + y, { actorName: "add" });
    const inner = pipeline([add.message(3), add.messageWithOptions({ args: [4] }).copy({ options: { pipe_target: { x: 1 } } })]);
    const pipe = pipeline([add.message(1), inner]);
    assert.deepEqual(pipe.messages.map((m) => Object.keys(m.options)), [["pipe_target"], ["pipe_target"], ["pipe_target"]]);
    assert.deepEqual(pipe.messages[2].options.pipe_target, { x: 1 });
    assert.equal(pipe.messages[1].options.pipe_target.message_id, pipe.messages[2].messageId);
  });

  test("test_groups_with_completion_callbacks_fail_unless_group_callbacks_is_set_up: run() throws", () => {
    let sent = 0;
    class Count extends Middleware {
      beforeEnqueue() {
        sent += 1;
      }
    }
    setup(null, { worker: false, middleware: [new Count()] });
    const doNothing = actor(() => {}, { actorName: "do_nothing" });
    const finalize = actor(() => {}, { actorName: "finalize" });
    const g = group(Array.from({ length: 5 }, () => doNothing.message()));
    assert.ok(g instanceof Group);
    g.addCompletionCallback(finalize.message(42));
    assert.throws(() => g.run(), /GroupCallbacks middleware not found/);
    assert.equal(sent, 0, "nothing was sent");
  });
});

describe("test_results.py: the worker's warnings about a discarded value, word for word", () => {
  test("test_actor_warning_when_returns_result_and_no_results_middleware_present / _and_store_results_is_not_set", async () => {
    const warnings = async (withResults) => {
      const lines = [];
      const broker = new StubBroker({ logger: { ...quiet, warn: (line) => void lines.push(line) } });
      if (withResults) broker.addMiddleware(new Results({ backend: new StubBackend() }));
      const always1 = actor(() => 1, { broker, actorName: "always_1" });
      const worker = new Worker(broker).start();
      always1.send();
      await broker.join("default");
      await worker.stop();
      return lines;
    };
    // dramatiq/worker.py and dramatiq/results/middleware.py, 2.2.1.
    assert.deepEqual(await warnings(false), [
      "Actor 'always_1' returned a value that is not None, and you haven't added the Results middleware to the " +
        "broker, so the value has been discarded. Consider adding the Results middleware to your broker or piping " +
        "the result into another actor.",
    ]);
    assert.deepEqual(await warnings(true), [
      "Actor 'always_1' returned a value that is not None, but you haven't set its `store_results' option to " +
        "`True' so the value has been discarded.",
    ]);
  });
});

// ---------------------------------------------------------------------------------------
// test_messages.py and test_common.py
// ---------------------------------------------------------------------------------------

describe("test_messages.py", () => {
  test("test_messages_have_namedtuple_methods: asdict's fields in Dramatiq's order; copy replaces one", () => {
    setup(null, { worker: false });
    const add = actor((x, y) => x + y, { actorName: "add" });
    const m1 = add.message(1, 2);
    assert.deepEqual(Object.keys(m1.asDict()), [
      "queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp",
    ]);
    const m2 = m1.copy({ queueName: "example" });
    assert.equal(m2.asDict().queue_name, "example");
    assert.equal(m2.messageId, m1.messageId, "a copy keeps the id (namedtuple._replace)");
    assert.equal(m1.queueName, "default", "the original is untouched");
  });

  test("message.copy(options=…) adds to the options, as Dramatiq 2.2.1's copy does ({**options, **new})", () => {
    const m = new Message({ actorName: "a", options: { a: 1, pipe_target: { x: 1 }, z: null } });
    const c = m.copy({ options: { b: 2, a: 3 } });
    // Python: {'a': 3, 'pipe_target': {'x': 1}, 'z': None, 'b': 2}: replaced keys keep their place.
    assert.deepEqual(Object.entries(c.options), [["a", 3], ["pipe_target", { x: 1 }], ["z", null], ["b", 2]]);
    assert.deepEqual(m.options, { a: 1, pipe_target: { x: 1 }, z: null }, "the original is untouched");
    assert.deepEqual(m.copy({ options: {} }).options, m.options);
    assert.equal(m.copy({ options: {} }).messageId, m.messageId);
  });

  test("test_messageproxy_representation: the message a worker hands over prints as the message does", async () => {
    const { broker, stop } = setup(new StubBackend());
    const seen = [];
    class Look extends Middleware {
      beforeProcessMessage(_broker, message) {
        seen.push(String(message));
      }
    }
    broker.addMiddleware(new Look());
    const a = actor((arg) => arg, { actorName: "actor" });
    const m = a.send("input");
    await broker.join("default");
    assert.deepEqual(seen, [String(m)]);
    assert.equal(String(m), "actor('input')");
    await stop();
  });

  test("test_message_datetime: message_timestamp is whole milliseconds since the epoch, within the last second", () => {
    setup(null, { worker: false });
    const a = actor((arg) => arg, { actorName: "actor" });
    const m = a.send("input");
    const now = Date.now();
    assert.ok(Number.isInteger(m.messageTimestamp));
    assert.ok(m.messageTimestamp <= now && m.messageTimestamp > now - 1000, `${m.messageTimestamp} vs ${now}`);
    assert.equal(new Date(m.messageTimestamp).getTime() / 1000, m.messageTimestamp / 1000);
  });
});

describe("test_common.py: canonical, delay and dead-letter queue names", () => {
  const keys = new RedisBrokerKeys();
  for (const given of ["default", "default.DQ", "default.XQ"]) {
    test(`${given}: dq_name is default.DQ, and a result is keyed by q_name, default`, () => {
      assert.equal(keys.delayQueue(given), "default.DQ");
      // The Redis broker's dead letters follow its dispatch.lua, not xq_name: only a delay
      // queue's suffix is dropped (so a queue named "default.XQ" has "default.XQ.XQ").
      assert.equal(keys.deadLetters(given), given === "default.XQ" ? "dramatiq:default.XQ.XQ" : "dramatiq:default.XQ");
      // A result is keyed by the canonical queue (q_name), whichever of the three it is on.
      const backend = new StubBackend({ namespace: "n", useNamespacePrefixKeys: true });
      assert.equal(backend.buildMessageKey({ queueName: given, actorName: "a", messageId: "id" }), "n:default:a:id");
    });
  }
});
