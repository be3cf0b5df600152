// The in-process broker and worker against Dramatiq's behaviour: every stub `actor_result`
// vector replayed through a real Worker (the stored bytes must be Dramatiq's), the 19
// scenarios of Dramatiq's tests/test_results.py, and its result-related composition tests.
import { test } from "node:test";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import {
  StubBroker,
  StubBackend,
  Results,
  Worker,
  Middleware,
  SkipMessage,
  Message,
  actor,
  setBroker,
  getBroker,
  pipeline,
  group,
  ResultFailure,
  ResultMissing,
  ResultTimeout,
  QueueJoinTimeout,
  AgeLimit,
} from "dramatiq-results";
import { ofKind, sleep, text } from "./helpers.mjs";

/** A logger that keeps what it is told. */
function recorder() {
  const lines = { warn: [], error: [], info: [] };
  return { lines, warn: (m) => lines.warn.push(m), error: (m) => lines.error.push(m), info: (m) => lines.info.push(m) };
}

/** A fresh global broker with a Results middleware over a fresh stub, and a running worker. */
function setup({ results = {}, withResults = true, middleware } = {}) {
  const logger = recorder();
  const broker = new StubBroker({ logger, middleware });
  const backend = new StubBackend();
  if (withResults) broker.addMiddleware(new Results({ backend, ...results }));
  setBroker(broker);
  const worker = new Worker(broker, { concurrency: 4 });
  worker.start();
  return { broker, backend, worker, logger };
}

const stored = (backend, message) =>
  backend.getResultBytes(message).then(text, (e) => (e instanceof ResultMissing ? null : Promise.reject(e)));

// ---------------------------------------------------------------------------------------
// actor_result vectors through a real worker
// ---------------------------------------------------------------------------------------

/** Decodes stored bytes the way a JS actor would have produced them. */
async function valueOf(utf8) {
  const scratch = new StubBackend();
  const m = { queueName: "q", actorName: "a", messageId: "x" };
  await scratch.storeResultBytes(m, new TextEncoder().encode(utf8));
  try {
    return await scratch.getResult(m);
  } catch {
    return JSON.parse(utf8); // a returned canary look-alike: data the actor returned
  }
}

const seen = new Set();
const cases = ofKind("actor_result").filter((c) => {
  const id = c.case + JSON.stringify(c.results_middleware_kwargs);
  if (c.backend !== "stub" || seen.has(id)) return false;
  seen.add(id);
  return true;
});

test(`every stub actor_result vector (${cases.length}) stores Dramatiq's bytes through a Worker`, async () => {
  let compared = 0;
  for (const c of cases) {
    const snapshots = c.hook_snapshots;
    const finalBytes = c.stored_final?.present ? c.stored_final.value.utf8 ?? null : null;
    const digest = c.stored_final?.present ? c.stored_final.value.sha256 : null;
    // What the actor did: the last stored envelope says it raised; otherwise it returned
    // the stored value (or, when nothing was stored, some non-null value).
    const failure = finalBytes?.startsWith('{"__t":"dramatiq.results.Result"') && c.case !== "ret_canary_lookalike";
    const envelope = failure ? JSON.parse(finalBytes).exn : c.case.includes("raise") ? { type: "ValueError", msg: "x" } : null;
    // The two large values are stored by digest only: rebuilt as the generator made them.
    const large = { ret_large_list: () => Array.from({ length: 10000 }, (_, i) => i), ret_large_str: () => "éx".repeat(20000) };
    const returned = large[c.case]?.() ??
      (finalBytes !== null && !failure ? await valueOf(finalBytes) : c.case.includes("unencodable") ? () => 1 : "x");

    const mw = [];
    if (c.case === "skip_no_fail_stores_none") {
      mw.push(new (class extends Middleware { beforeProcessMessage() { throw new SkipMessage("Custom skip"); } })());
    }
    if (c.case === "fail_after_success_overwrites") {
      mw.push(new (class extends Middleware { afterProcessMessage(_b, m) { m.fail(); } })());
    }
    const kw = c.results_middleware_kwargs;
    const { broker, backend, worker } = setup({
      results: { storeResults: kw.store_results ?? false, resultTtl: kw.result_ttl },
    });
    for (const m of mw) broker.addMiddleware(m);
    class ValueError extends Error {}
    const { queue_name: queueName, throws, ...options } = c.actor_options;
    let calls = 0;
    const fn = () => {
      calls += 1;
      if (envelope && !(c.case === "fail_after_success_overwrites" || c.case.startsWith("age_limit"))) {
        const e = envelope.type === "ValueError" ? new ValueError(envelope.msg) : new Error(envelope.msg);
        if (envelope.type !== "ValueError") e.name = envelope.type;
        throw e;
      }
      return returned;
    };
    const a = actor(fn, {
      actorName: c.actor_name,
      queueName: queueName ?? "default",
      ...(throws ? { throws: [ValueError] } : {}),
      ...options,
    });
    const message = a.sendWithOptions({
      ...Object.fromEntries(Object.entries(c.message_options_sent).filter(([k]) => k !== "eta")),
      delay: c.enqueue_delay_ms ?? undefined,
    });
    // The key matches the one Dramatiq derived for the same message id and queue.
    const same = message.copy({ messageId: c.message_id });
    assert.equal(backend.buildMessageKey(same), c.key, `${c.case}: key`);
    await broker.join(a.queueName, { timeout: 5000, failFast: false });
    await worker.stop();

    const got = await stored(backend, message);
    const last = snapshots[snapshots.length - 1];
    assert.equal(broker.deadLetters.length > 0, last.hook === "after_nack", `${c.case}: failed?`);
    if (last.hook === "after_nack" && last.retries_option !== null) {
      assert.equal(broker.deadLetters[0].options.retries, last.retries_option, `${c.case}: retries`);
    }
    if (c.case === "raise_after_one_retry") assert.equal(calls, 2);
    if (c.stored_final?.expired) {
      // Dramatiq's stub rounds sub-second TTLs down to nothing; ours keeps exact ms, so the
      // value may still be there. What was written is the same either way.
      assert.ok(got === null || got === finalBytes, `${c.case}: ${got}`);
    } else if (digest !== null && finalBytes === null) {
      const sha = createHash("sha256").update(got).digest("hex");
      assert.equal(sha, digest, `${c.case}: stored digest`);
      compared += 1;
    } else if (finalBytes === null) {
      assert.equal(got, null, `${c.case}: nothing stored`);
    } else if (c.case === "ret_float_whole") {
      // The one documented loss: JS has no float 1.0, so it is stored as the int 1.
      assert.equal(got, "1");
    } else {
      assert.equal(got, finalBytes, `${c.case}: stored bytes`);
      compared += 1;
    }
  }
  assert.ok(compared >= 45, `compared ${compared}`);
});

// ---------------------------------------------------------------------------------------
// Dramatiq's tests/test_results.py
// ---------------------------------------------------------------------------------------

test("1. actors can store results", async () => {
  const { backend, worker } = setup();
  const doWork = actor(() => 42, { actorName: "do_work", storeResults: true });
  const m = doWork.send();
  assert.equal(await backend.getResult(m, { block: true }), 42);
  await worker.stop();
});

test("2. results written unwrapped (old format) still read", async () => {
  const { backend, worker } = setup();
  const m = new Message({ actorName: "do_work" });
  await backend.storeResultBytes(m, new TextEncoder().encode("42"), 3600000);
  assert.equal(await backend.getResult(m), 42);
  await worker.stop();
});

test("3/4. namespace prefix keys are readable; the default key is an MD5", async () => {
  const logger = recorder();
  const broker = new StubBroker({ logger });
  const backend = new StubBackend({ namespace: "myns", useNamespacePrefixKeys: true });
  broker.addMiddleware(new Results({ backend }));
  setBroker(broker);
  const worker = new Worker(broker).start();
  const doWork = actor(() => 99, { actorName: "do_work", storeResults: true });
  const m = doWork.send();
  assert.equal(await m.getResult({ block: true }), 99);
  const key = backend.buildMessageKey(m);
  assert.ok(key.startsWith("myns:default:do_work:") && key.endsWith(`:${m.messageId}`), key);
  const legacy = new StubBackend({ namespace: "myns" }).buildMessageKey(m);
  assert.match(legacy, /^[0-9a-f]{32}$/);
  await worker.stop();
});

test("5. actors can store exceptions", async () => {
  const { backend, worker } = setup();
  class RuntimeError extends Error {}
  const a = actor(() => { throw new RuntimeError("failed"); }, { actorName: "do_work", storeResults: true, maxRetries: 0 });
  const m = a.send();
  const err = await backend.getResult(m, { block: true }).catch((e) => e);
  assert.ok(err instanceof ResultFailure);
  assert.equal(err.message, "actor raised RuntimeError: failed");
  assert.equal(err.exceptionType, "RuntimeError");
  assert.equal(err.exceptionValue, "failed");
  await worker.stop();
});

test("6/7. a result not there yet is missing, and a short wait times out", async () => {
  const { backend, worker } = setup();
  const slow = actor(async () => { await sleep(200); return 42; }, { actorName: "slow", storeResults: true });
  const m = slow.send();
  await assert.rejects(backend.getResult(m), ResultMissing);
  await assert.rejects(backend.getResult(m, { block: true, timeout: 100 }), ResultTimeout);
  assert.equal(await backend.getResult(m, { block: true, timeout: 5000 }), 42);
  await worker.stop();
});

test("8/9. messages get results from a given backend and from the global broker's", async () => {
  const { backend, worker, broker } = setup();
  const a = actor(() => 42, { actorName: "do_work", storeResults: true });
  const m = a.send();
  assert.equal(await m.getResult({ backend, block: true }), 42);
  assert.equal(await m.getResult({ block: true }), 42);
  assert.equal(broker.getResultsBackend(), backend);
  assert.equal(getBroker(), broker);
  await worker.stop();
});

test("10. after_nack for an unknown actor stores nothing and does not throw", async () => {
  const backend = new StubBackend();
  const results = new Results({ backend, storeResults: true });
  const broker = new StubBroker({ logger: recorder() });
  broker.addMiddleware(results);
  const m = new Message({ actorName: "nobody" });
  const proxy = { message: m, actorName: "nobody", failed: true, exception: new Error("x") };
  await results.afterNack(broker, proxy);
  await assert.rejects(backend.getResult(m), ResultMissing);
});

test("11. without a Results middleware, message.getResult() rejects clearly", async () => {
  const { worker } = setup({ withResults: false });
  const a = actor(() => 42, { actorName: "do_work" });
  const m = a.send();
  await assert.rejects(m.getResult(), /Results middleware/);
  await worker.stop();
});

test("12/13/16/17. the 'add the Results middleware' warning, only when a value is dropped", async () => {
  const hint = /Consider adding the Results middleware/;
  for (const [returns, withResults, piped, warns] of [
    [null, false, false, false],
    [1, false, false, true],
    [1, false, true, false],
    [1, true, false, false],
  ]) {
    const { broker, logger, worker } = setup({ withResults });
    const a = actor(() => returns, { actorName: "do_work", ...(withResults ? { storeResults: true } : {}) });
    const b = actor(() => null, { actorName: "sink" });
    if (piped) pipeline([a.message(), b.message()]).run();
    else a.send();
    await broker.join("default");
    await worker.stop();
    assert.equal(logger.lines.warn.some((w) => hint.test(w)), warns, `${returns} ${withResults} ${piped}`);
  }
});

test("14/15. the 'value has been discarded' warning, not when piping", async () => {
  const discarded = /returned a value that is not None, but you haven't set its `store_results' option/;
  for (const piped of [false, true]) {
    const { broker, logger, worker } = setup();
    const a = actor(() => 1, { actorName: "do_work" });
    const b = actor(() => null, { actorName: "sink" });
    if (piped) pipeline([a.message(), b.message()]).run();
    else a.send();
    await broker.join("default");
    await worker.stop();
    assert.equal(logger.lines.warn.some((w) => discarded.test(w)), !piped);
  }
});

test("18. age-limit skipped messages store a consistent SkipMessage failure", async () => {
  const { backend, worker } = setup();
  const a = actor(() => 1, { actorName: "do_work", storeResults: true, maxAge: 1 });
  const m = a.sendWithOptions({ delay: 2 });
  const first = await backend.getResult(m, { block: true }).catch((e) => e);
  assert.ok(first instanceof ResultFailure);
  assert.equal(first.message, "actor raised SkipMessage: Message age limit exceeded");
  assert.equal(first.exceptionType, "SkipMessage");
  await sleep(200);
  const again = await backend.getResult(m).catch((e) => e);
  assert.equal(again.message, first.message);
  await worker.stop();
});

test("an actor's maxAge null is Python's max_age=None: its messages never age out, whatever AgeLimit's maxAge (as index.d.ts says)", async () => {
  const broker = new StubBroker({ middleware: [new AgeLimit({ maxAge: 1 })], failFastDefault: false, logger: recorder() });
  let ran = 0;
  actor(() => void ran++, { broker, actorName: "ageless", maxAge: null });
  actor(() => void ran++, { broker, actorName: "aged" });
  const old = Date.now() - 60_000;
  broker.enqueue(new Message({ actorName: "ageless", messageTimestamp: old }));
  broker.enqueue(new Message({ actorName: "aged", messageTimestamp: old }));
  const worker = new Worker(broker).start();
  await broker.join("default");
  await worker.stop();
  assert.equal(ran, 1);
  assert.deepEqual(broker.deadLetters.map((m) => m.actorName), ["aged"]);
});

test("19. a custom skip without fail stores null", async () => {
  const { backend, broker, worker } = setup();
  broker.addMiddleware(new (class extends Middleware { beforeProcessMessage() { throw new SkipMessage("Custom skip"); } })());
  const a = actor(() => 1, { actorName: "do_work", storeResults: true });
  const m = a.send();
  assert.equal(await backend.getResult(m, { block: true }), null);
  await sleep(200);
  assert.equal(await backend.getResult(m), null);
  await worker.stop();
});

// ---------------------------------------------------------------------------------------
// Actors, options, delays, retries
// ---------------------------------------------------------------------------------------

test("unknown actor options are rejected, naming them; names come from functions", () => {
  setup();
  assert.throws(() => actor(() => 1, { actorName: "t", storeResult: true }), /undefined: storeResult\. Did you forget/);
  const noResults = new StubBroker({ logger: recorder() });
  assert.throws(() => actor(() => 1, { actorName: "t", broker: noResults, storeResults: true }), /storeResults/);
  function namedTask() {}
  assert.equal(actor(namedTask).actorName, "namedTask");
  assert.throws(() => actor(() => 1, { actorName: "x", queueName: "9 bad" }), RangeError);
  assert.throws(() => actor(() => 1, {}), /needs a name/);
});

test("a delayed message travels on <queue>.DQ with an eta and keeps its key", async () => {
  const { backend, worker } = setup();
  const a = actor(async (x) => x * 2, { actorName: "double", storeResults: true });
  const before = Date.now();
  const m = a.sendWithOptions({ args: [21], delay: 100 });
  assert.equal(m.queueName, "default.DQ");
  assert.ok(m.options.eta >= before + 100);
  const plain = m.copy({ queueName: "default" });
  assert.equal(backend.buildMessageKey(m), backend.buildMessageKey(plain));
  await assert.rejects(backend.getResult(m), ResultMissing);
  assert.equal(await m.getResult({ block: true, timeout: 5000 }), 42);
  assert.ok(Date.now() - before >= 100);
  // A delay of 0 is a delay too (Dramatiq's `delay is not None`): on the delay queue, due now.
  const now = a.sendWithOptions({ args: [1], delay: 0 });
  assert.equal(now.queueName, "default.DQ");
  assert.ok(now.options.eta >= before);
  assert.equal(await now.getResult({ block: true, timeout: 5000 }), 2);
  // A negative delay is Python's `now + delay`: an eta in the past, due at once (a delay
  // computed as `target - now` after the target went by), not a refused send.
  const late = a.sendWithOptions({ args: [4], delay: -60_000 });
  assert.equal(late.queueName, "default.DQ");
  assert.ok(late.options.eta <= Date.now() - 60_000 + 5);
  assert.equal(await late.getResult({ block: true, timeout: 5000 }), 8);
  assert.throws(() => a.sendWithOptions({ args: [1], delay: -Infinity }), /delay must be a finite number of ms/);
  await worker.stop();
});

test("retries: exhausted failures are stored once; retryWhen and Retry decide", async () => {
  const { broker, backend, worker } = setup();
  let n = 0;
  const flaky = actor(() => { n += 1; if (n < 3) throw new Error(`try ${n}`); return n; }, {
    actorName: "flaky", storeResults: true, maxRetries: 5, minBackoff: 5, maxBackoff: 20,
  });
  const m = flaky.send();
  assert.equal(await m.getResult({ block: true, timeout: 5000 }), 3);

  const never = actor(() => { throw new TypeError("no"); }, {
    actorName: "never", storeResults: true, retryWhen: (retries) => retries < 1, minBackoff: 5,
  });
  const m2 = never.send();
  const err = await m2.getResult({ block: true, timeout: 5000 }).catch((e) => e);
  assert.equal(err.exceptionType, "TypeError");
  // Dramatiq's StubBroker.join fails fast by default: the dead letter's exception.
  await assert.rejects(broker.join("default"), (e) => e instanceof TypeError && e.message === "no");
  await broker.join("default", { failFast: false });
  assert.equal(broker.deadLetters.at(-1).options.retries, 2);
  await worker.stop();
});

test("sync and async actors, kwargs, concurrency and join", async () => {
  const { broker, backend, worker } = setup();
  const add = actor(async (x, y) => { await sleep(20); return x + y; }, { actorName: "add", storeResults: true });
  const kw = actor((a, kwargs) => [a, kwargs], { actorName: "kw", storeResults: true });
  const started = Date.now();
  const ms = Array.from({ length: 8 }, (_, i) => add.send(i, i));
  const k = kw.sendWithOptions({ args: [1], kwargs: { b: 2 } });
  await broker.join("default", { timeout: 5000 });
  assert.deepEqual(await backend.getResults(ms), [0, 2, 4, 6, 8, 10, 12, 14]);
  assert.deepEqual(await backend.getResult(k), [1, { b: 2 }]);
  assert.ok(Date.now() - started < 8 * 20 + 500, "ran concurrently");
  await worker.stop();
  const late = add.send(1, 1);
  // Python's stub words the timeout so: common.join_queue.
  await assert.rejects(broker.join("default", { timeout: 50 }), (e) => e instanceof QueueJoinTimeout && e.message === "timed out after 0.05 seconds");
  worker.start();
  assert.equal(await late.getResult({ block: true }), 2);
  await worker.stop();
});

// ---------------------------------------------------------------------------------------
// Pipelines and groups (tests/test_composition.py and the composition vectors)
// ---------------------------------------------------------------------------------------

test("pipelines: results, pipe_ignore, completion and wire form", async () => {
  const { broker, worker } = setup();
  const add = actor((x, y = 0) => x + y, { actorName: "add", storeResults: true });
  const p = pipeline([add.message(1, 2), add.message(3), add.message(4)]).run();
  assert.equal(await p.getResult({ block: true }), 10);
  assert.deepEqual(await p.getResults({ block: true }), [3, 6, 10]);
  assert.equal(await p.completed(), true);
  assert.equal(await p.completedCount(), 3);
  const wire = p.messages[0].asDict().options.pipe_target;
  assert.equal(wire.message_id, p.messages[1].messageId);
  assert.equal(wire.options.pipe_target.message_id, p.messages[2].messageId);

  const echo = actor((...xs) => xs, { actorName: "echo", storeResults: true });
  const q = pipeline([echo.message(1), echo.messageWithOptions({ args: [2], pipeIgnore: true }), echo.message(3)]).run();
  assert.deepEqual(await q.getResults({ block: true }), [[1], [2], [3, [2]]]);
  await broker.join("default");
  await worker.stop();
});

test("pipeline.run(): Dramatiq's delay, the larger of run's and the first step's own delay option, none for 0 (found by diff-fuzz)", () => {
  const broker = new StubBroker({ logger: recorder() });
  const seen = [];
  broker.addMiddleware(new (class extends Middleware {
    beforeEnqueue(_broker, message, delay) {
      seen.push([message.queueName, delay ?? null]);
    }
  })());
  const a = actor(() => {}, { broker, actorName: "pd", queueName: "pd" });
  const run = (first, options) => pipeline([first, a.message()], { broker }).run(options);
  run(a.message(), { delay: 0 }); // Python: `0 or None`, the work queue
  run(a.messageWithOptions({ delay: 1000 }));
  run(a.messageWithOptions({ delay: 1000 }), { delay: 2000 });
  run(a.messageWithOptions({ delay: 3000 }), { delay: 2000 });
  run(a.messageWithOptions({ delay: 2.5 }), { delay: 0 });
  assert.deepEqual(seen, [["pd", null], ["pd.DQ", 1000], ["pd.DQ", 2000], ["pd.DQ", 3000], ["pd.DQ", 2.5]]);
  // Python's max(0, "soon") raises: nothing is sent.
  assert.throws(() => run(a.messageWithOptions({ delay: "soon" })), TypeError);
  assert.equal(seen.length, 5);
});

test("the enqueue hooks see no delay as undefined, as declared, whether it was given as null (Python's None) or not at all", () => {
  const broker = new StubBroker({ logger: recorder() });
  const seen = [];
  broker.addMiddleware(new (class extends Middleware {
    beforeEnqueue(_broker, _message, delay) {
      seen.push(["before", delay]);
    }
    afterEnqueue(_broker, _message, delay) {
      seen.push(["after", delay]);
    }
  })());
  const a = actor("nd", { broker, queueName: "nd" });
  broker.enqueue(a.message(), { delay: null });
  a.sendWithOptions({ delay: null });
  group([a.message()], { broker }).run({ delay: null });
  pipeline([a.message()], { broker }).run({ delay: null });
  a.send();
  assert.deepEqual(seen, Array(5).fill([["before", undefined], ["after", undefined]]).flat());
  broker.enqueue(a.message(), { delay: 5 });
  assert.deepEqual(seen.slice(-2), [["before", 5], ["after", 5]]);
});

test("pipelines: a failed step stops the chain, counts as finished, and timeouts are shared", async () => {
  const { worker } = setup();
  const boom = actor(() => { throw new Error("boom"); }, { actorName: "boom", storeResults: true, maxRetries: 0 });
  const add = actor((x, y = 0) => x + y, { actorName: "add", storeResults: true });
  const p = pipeline([add.message(1), boom.message(), add.message(2)]).run();
  await assert.rejects(p.getResults({ block: true, timeout: 300 }), ResultFailure);
  assert.equal(await p.completedCount(), 2);
  assert.equal(await p.completed(), false);

  const slow = actor(async () => { await sleep(300); return 1; }, { actorName: "slow", storeResults: true });
  const s = pipeline([slow.message(), slow.message()]).run();
  const started = performance.now();
  await assert.rejects(s.getResults({ block: true, timeout: 100 }), ResultTimeout);
  const took = performance.now() - started;
  assert.ok(took >= 99 && took < 1000, `one deadline, ${took} ms`);
  await worker.stop();
});

test("groups: results in order, nested groups and pipelines, completion without Dramatiq's bugs", async () => {
  const { broker, worker } = setup();
  const add = actor((x, y = 0) => x + y, { actorName: "add", storeResults: true });
  const g = group([add.message(0), add.message(1, 1), add.message(2, 2), pipeline([add.message(3, 4), add.message(8)])]).run();
  assert.deepEqual(await g.getResults({ block: true }), [0, 2, 4, 15]);
  assert.equal(await g.completed(), true);
  assert.equal(await g.completedCount(), 4);

  const nothing = actor(() => null, { actorName: "nothing", storeResults: true });
  const nested = group([group([nothing.message(), nothing.message()]), group([nothing.message(), nothing.message()])]);
  assert.equal(await nested.completedCount(), 0, "a nested group that never ran is not complete");
  assert.equal(await nested.completed(), false);
  nested.run();
  await nested.wait({ timeout: 5000 });
  assert.deepEqual(await nested.getResults(), [[null, null], [null, null]]);

  const boom = actor(() => { throw new Error("boom"); }, { actorName: "boom", storeResults: true, maxRetries: 0 });
  const mixed = group([add.message(1), boom.message()]).run();
  await broker.join("default", { failFast: false });
  assert.equal(await mixed.completedCount(), 2, "a failed child is finished, not a throw");
  await assert.rejects(mixed.getResults(), ResultFailure);

  const slow = actor(async () => { await sleep(400); return 1; }, { actorName: "slow", storeResults: true });
  const timed = group([slow.message(), slow.message()]).run();
  await assert.rejects(timed.wait({ timeout: 100 }), ResultTimeout);
  await broker.join("default", { failFast: false });
  await worker.stop();
});

// ---------------------------------------------------------------------------------------
// Beyond Dramatiq: many results under one deadline
// ---------------------------------------------------------------------------------------

test("backend.getResults and iterResults: completion order, progress, errors, one deadline", async () => {
  const { backend, worker } = setup();
  const wait = actor(async (ms) => { await sleep(ms); if (ms === 30) throw new Error("odd"); return ms; }, {
    actorName: "wait", storeResults: true, maxRetries: 0,
  });
  const ms = [120, 10, 60, 30].map((t) => wait.send(t));
  const progress = [];
  const order = [];
  for await (const item of backend.iterResults(ms, { timeout: 5000, onProgress: (d, t) => progress.push([d, t]) })) {
    order.push(item.error ? `error:${item.error.exceptionValue}` : item.value);
    assert.ok(ms.includes(item.message));
  }
  assert.deepEqual(order, [10, "error:odd", 60, 120]);
  assert.deepEqual(progress, [[1, 4], [2, 4], [3, 4], [4, 4]]);
  await assert.rejects(backend.getResults(ms), ResultFailure);
  assert.deepEqual(await backend.getResults([ms[0], ms[1], ms[2]]), [120, 10, 60]);

  const never = [new Message({ actorName: "x" }), new Message({ actorName: "y" })];
  const started = performance.now();
  await assert.rejects(backend.getResults(never, { timeout: 150 }), ResultTimeout);
  const took = performance.now() - started;
  assert.ok(took >= 149 && took < 1000, `${took}`);
  await assert.rejects(backend.getResults(never, { block: false }), ResultMissing);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("stop")), 20);
  await assert.rejects(backend.getResults(never, { timeout: 5000, signal: ac.signal }), /stop/);
  assert.deepEqual(await backend.getResults([]), []);
  await assert.rejects(backend.getResults("nope"), TypeError);
  await worker.stop();
});

test("a failure runs to the end whatever the error's getters or the logger throw: retried, stored and dead-lettered as a plain Error", async () => {
  // An HTTP client's error with a throwing getter, a circular cause: here every getter the
  // worker's failure path might read throws.
  const hostile = () => {
    const e = new Error("hostile");
    // "stack" first: redefining it makes V8 format the stack, which reads `message`.
    for (const key of ["stack", "message", "name", "cause"]) {
      Object.defineProperty(e, key, { get() { throw new Error(`${key} getter`); }, configurable: true });
    }
    return e;
  };
  const throwingLogger = () => {
    const fail = () => { throw new Error("the logger is down"); };
    return { warn: fail, error: fail, info: fail };
  };
  for (const [label, make, logger] of [
    ["a plain Error", () => new Error("plain"), recorder()],
    ["an Error whose getters throw", hostile, recorder()],
    ["a logger whose error() throws", () => new Error("plain"), throwingLogger()],
    ["both", hostile, throwingLogger()],
  ]) {
    const broker = new StubBroker({ logger });
    const backend = new StubBackend();
    broker.addMiddleware(new Results({ backend }));
    setBroker(broker);
    let runs = 0;
    const failing = actor(() => { runs += 1; throw make(); }, {
      broker, actorName: "failing", storeResults: true, maxRetries: 2, minBackoff: 1, maxBackoff: 2,
    });
    const worker = new Worker(broker, { concurrency: 1 }).start();
    try {
      const m = failing.send();
      const e = await m.getResult({ block: true, timeout: 5000 }).catch((e) => e);
      assert.ok(e instanceof ResultFailure, `${label}: ${e}`);
      // Not failing fast (Python's default, which would reject with the actor's error here).
      await broker.join("default", { timeout: 5000, failFast: false });
      assert.equal(runs, 3, `${label}: maxRetries + 1 runs`);
      assert.equal(broker.deadLetters.length, 1, `${label}: dead-lettered`);
    } finally {
      await worker.stop();
    }
  }
});

test("worker.stop({ timeout }) resolves by its timeout with an actor that never settles, saying so", async () => {
  const logger = recorder();
  const broker = new StubBroker({ logger, middleware: [] });
  setBroker(broker);
  let started;
  const running = new Promise((r) => (started = r));
  const hang = actor(() => { started(); return new Promise(() => {}); }, { broker, actorName: "hang" });
  const worker = new Worker(broker, { concurrency: 1 }).start();
  hang.send();
  await running;
  const t0 = Date.now();
  await worker.stop({ timeout: 200 });
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 5000, `${took} ms`);
  assert.match(logger.lines.warn.join("\n"), /timeout of 200 ms with 1 message\(s\) still running/);
  await assert.rejects(worker.stop({ timeout: -1 }), /timeout/);
});
