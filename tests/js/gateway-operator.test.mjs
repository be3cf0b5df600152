// The operator's gateway (issue 28), the gateway started by its own bin against a real
// redis-server and a real Python Dramatiq producer and worker: roles (viewer 403, none 401,
// no operator token 405), finding a message (search, by id, its history), dead letters made
// by the worker requeued one at a time and in bulk (dry run first, two operators at once:
// each message requeued once), deleted, the audit log (in Redis: it survives a restart; an
// `audit` event), and results waited for over HTTP, then read by Python's `get_result`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { haveRedis, startRedis } from "./services.mjs";
import { execFileSync } from "node:child_process";
import { bin, dict, openEvents, startGatewayBin, eventually } from "./gateway-helpers.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";

const skip = (!haveRedis && "redis-server is not installed (scripts/setup --services)") || (!havePython && "no Python Dramatiq (scripts/setup --python)");
const VIEWER = "viewer-token-for-the-tests-0123456789";
const OPERATOR = "operator-token-for-the-tests-987654";
const viewer = { authorization: `Bearer ${VIEWER}` };
const operator = { authorization: `Bearer ${OPERATOR}` };
const QUEUE = "ops";
const PREFIX = "ops-app";

test("the operator's gateway over a real redis-server and a real Python Dramatiq", { skip, timeout: 300_000 }, async (t) => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const py = { url: redis.url, queue: QUEUE, prefix: PREFIX };
  await client.set(`${PREFIX}:broken`, "1"); // the bug: until_fixed raises
  let worker = await startPythonWorker({ ...py, threads: 4 });
  const args = ["--redis", redis.url, "--poll-interval", "100"];
  let gateway = await startGatewayBin(args, { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const call = (path, { method = "GET", headers = operator, body } = {}) =>
    fetch(`${gateway.url}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const jsonOf = async (res) => ({ status: res.status, body: await res.json() });
  const deadCount = async () => (await (await call("/api/queues", { headers: viewer })).json()).find((q) => q.name === QUEUE)?.deadLettered ?? 0;
  try {
    // Eight messages the bug dead-letters (after one retry each), sent by Python.
    const sent = (await runPython("produce.py", ["send", JSON.stringify({ actor: "until_fixed", args: [1] }),
      ...[2, 3, 4, 5, 6, 7, 8].map((x) => JSON.stringify({ actor: "until_fixed", args: [x] }))], py)).map((l) => JSON.parse(l));
    assert.equal(sent.length, 8);
    const byArg = new Map(sent.map((m) => [m.args[0], m]));
    await eventually(async () => (await deadCount()) === 8, 90_000, "8 dead letters");

    await t.test("roles: viewer 403, none or a wrong token 401, the operator reads everything", async () => {
      const id = byArg.get(1).message_id;
      for (const [method, path] of [["POST", `/api/messages/${id}/requeue`], ["DELETE", `/api/messages/${id}`], ["POST", "/api/dead-letters/requeue"], ["POST", "/api/dead-letters/delete"]]) {
        const body = path.startsWith("/api/dead") ? { dryRun: true } : undefined;
        assert.equal((await call(path, { method, headers: {}, body })).status, 401, `${method} ${path} without a token`);
        assert.equal((await call(path, { method, headers: { authorization: `Bearer ${OPERATOR}x` }, body })).status, 401, `${method} ${path} wrong token`);
        const asViewer = await call(path, { method, headers: viewer, body });
        assert.equal(asViewer.status, 403, `${method} ${path} as the viewer`);
        // A cookie is no credential.
        assert.equal((await call(path, { method, headers: { cookie: `token=${OPERATOR}` }, body })).status, 401);
      }
      for (const path of ["/api/queues", "/api/audit", `/api/messages/${id}`, "/api/messages?q=until_fixed"]) {
        assert.equal((await call(path)).status, 200, `${path} with the operator's token`);
        assert.equal((await call(path, { headers: viewer })).status, 200, `${path} with the viewer's token`);
        assert.equal((await call(path, { headers: {} })).status, 401, `${path} without`);
      }
      // Writes to a route that takes none, and form posts, are refused.
      assert.equal((await call("/api/queues", { method: "POST", body: {} })).status, 405);
      const form = await fetch(`${gateway.url}/api/dead-letters/delete`, { method: "POST", headers: { ...operator, "content-type": "application/x-www-form-urlencoded" }, body: "dryRun=false" });
      assert.equal(form.status, 400, "only JSON bodies");
      assert.equal(await deadCount(), 8, "nothing changed");
    });

    await t.test("search: by actor, by id, by argument and by the traceback's text", async () => {
      const all = await jsonOf(await call("/api/messages?q=UNTIL_FIXED", { headers: viewer }));
      assert.equal(all.status, 200);
      assert.equal(all.body.items.length, 8);
      assert.ok(all.body.items.every((i) => i.state === "dead-lettered" && i.queue === QUEUE && i.message.actor_name === "until_fixed"));
      const one = await jsonOf(await call(`/api/messages?q=${byArg.get(3).message_id}`, { headers: viewer }));
      assert.deepEqual(one.body.items.map((i) => i.message.message_id), [byArg.get(3).message_id]);
      const tb = await jsonOf(await call(`/api/messages?q=${encodeURIComponent("broken for 5")}`, { headers: viewer }));
      assert.deepEqual(tb.body.items.map((i) => i.message.args[0]), [5]);
      // Pages: 3 at a time, all 8 exactly once.
      const seen = [];
      let cursor = null;
      do {
        const page = await jsonOf(await call(`/api/messages?q=until_fixed&queue=${QUEUE}&limit=3${cursor ? `&cursor=${cursor}` : ""}`, { headers: viewer }));
        assert.equal(page.status, 200);
        seen.push(...page.body.items.map((i) => i.message.message_id));
        cursor = page.body.cursor;
      } while (cursor);
      assert.equal(seen.length, 8);
      assert.equal(new Set(seen).size, 8);
      assert.equal((await call("/api/messages?q=nothing-like-this", { headers: viewer }).then((r) => r.json())).items.length, 0);
      assert.equal((await call("/api/messages?q=", { headers: viewer })).status, 400);
      assert.equal((await call("/api/messages?q=x&cursor=eyJ4IjoxfQ", { headers: viewer })).status, 400);
    });

    await t.test("one message by id: where it is, its record and its history; 404 unknown", async () => {
      const m = byArg.get(2);
      const { status, body } = await jsonOf(await call(`/api/messages/${m.message_id}`, { headers: viewer }));
      assert.equal(status, 200);
      assert.equal(body.state, "dead-lettered");
      assert.equal(body.queue, QUEUE);
      assert.equal(body.actor, "until_fixed");
      assert.deepEqual(body.message.args, [2]);
      assert.equal(body.options.retries, 1);
      assert.match(body.options.traceback, /AppError: broken for 2/);
      // The history is what the poller saw (a new queue is found within its discovery period).
      await eventually(async () => (await (await call(`/api/messages/${m.message_id}`, { headers: viewer })).json()).history.some((h) => h.state === "dead-lettered"), 30_000, "the history");
      assert.equal((await call("/api/messages/no-such-message", { headers: viewer })).status, 404);
      // Any string Python's Message takes is an id ("job 42" too): unknown is 404; only an
      // id past 1 000 characters is refused.
      assert.equal((await call("/api/messages/no%20such%20message", { headers: viewer })).status, 404);
      assert.equal((await call(`/api/messages/${"x".repeat(1001)}`, { headers: viewer })).status, 400);
    });

    await t.test("a dry run counts and changes nothing; the filter's fields are checked", async () => {
      const dry = await jsonOf(await call("/api/dead-letters/requeue", { method: "POST", body: { actor: "until_fixed", exception: "broken for 7", dryRun: true } }));
      assert.deepEqual(dry, { status: 200, body: { matched: 1, done: 0, complete: true, dryRun: true } });
      const dryAll = await jsonOf(await call("/api/dead-letters/delete", { method: "POST", body: { queue: QUEUE, dryRun: true } }));
      assert.equal(dryAll.body.matched, 8);
      const later = await jsonOf(await call("/api/dead-letters/delete", { method: "POST", body: { since: Date.now() + 60_000, dryRun: true } }));
      assert.equal(later.body.matched, 0);
      assert.equal(await deadCount(), 8);
      for (const bad of [{ queue: "a b" }, { actor: 5 }, { since: -1 }, { until: "soon" }, { dryRun: "yes" }, { what: 1 }]) {
        assert.equal((await call("/api/dead-letters/requeue", { method: "POST", body: bad })).status, 400, JSON.stringify(bad));
      }
    });

    // The bug is fixed.
    await client.del(`${PREFIX}:broken`);

    await t.test("requeue one: it runs again, and its result is waited for over HTTP", async () => {
      const m = byArg.get(1);
      const waiting = call(`/api/messages/${m.message_id}/result?timeout=30000`, { headers: viewer });
      const res = await jsonOf(await call(`/api/messages/${m.message_id}/requeue`, { method: "POST" }));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.done, 1);
      // The waiting request had the failure first (stored when it was dead-lettered)…
      const first = await jsonOf(await waiting);
      assert.equal(first.status, 200);
      // …so wait for the new outcome: the result key now holds 2.
      const done = await eventually(async () => {
        const r = await jsonOf(await call(`/api/messages/${m.message_id}/result?timeout=5000`, { headers: viewer }));
        return r.status === 200 && r.body.state === "done" ? r : null;
      }, 60_000, "the requeued message's result");
      assert.deepEqual(done.body, { state: "done", result: { json: "2" } });
      // Requeued again: not a dead letter any more.
      const again = await call(`/api/messages/${m.message_id}/requeue`, { method: "POST" });
      assert.ok([404, 409].includes(again.status), String(again.status));
    });

    await t.test("delete one dead letter; a queued and a delayed one too", async () => {
      const m = byArg.get(8);
      const res = await jsonOf(await call(`/api/messages/${m.message_id}`, { method: "DELETE" }));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.done, 1);
      assert.equal(await deadCount(), 6);
      assert.equal((await call(`/api/messages/${m.message_id}`, { method: "DELETE" })).status, 404);
      // A delayed and a queued message, sent by Python to a queue no worker consumes, deleted.
      const idle = { ...py, queue: "ops-idle" };
      const [delayed] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "add", args: [40, 2], delay: 60_000 })], idle)).map((l) => JSON.parse(l));
      const [queued] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "add", args: [1, 1] })], idle)).map((l) => JSON.parse(l));
      const del = await jsonOf(await call(`/api/messages/${delayed.message_id}`, { method: "DELETE" }));
      assert.equal(del.status, 200, JSON.stringify(del.body));
      assert.equal(del.body.state, "delayed");
      assert.equal(await client.hLen("dramatiq:ops-idle.DQ.msgs"), 0);
      assert.equal(await client.lLen("dramatiq:ops-idle.DQ"), 0);
      const delQueued = await jsonOf(await call(`/api/messages/${queued.message_id}`, { method: "DELETE" }));
      assert.equal(delQueued.body.state, "queued");
      assert.equal(await client.lLen("dramatiq:ops-idle"), 0);
      // A delayed message a worker holds until its eta (Dramatiq's workers fetch them at
      // once): the worker will run it whatever Redis says, so it is not deleted (409).
      const [held] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "add", args: [2, 2], delay: 60_000 })], py)).map((l) => JSON.parse(l));
      await eventually(async () => (await client.lLen(`dramatiq:${QUEUE}.DQ`)) === 0 && (await client.hLen(`dramatiq:${QUEUE}.DQ.msgs`)) === 1, 30_000, "the worker to hold it");
      const refused = await jsonOf(await call(`/api/messages/${held.message_id}`, { method: "DELETE" }));
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(refused.body.error, /a worker holds it/);
    });

    await t.test("two operators requeue the same dead letters at once: each message once", async () => {
      await worker.stop(); // so the queue shows exactly what was requeued
      worker = null;
      const [a, b] = await Promise.all([0, 1].map(() => call("/api/dead-letters/requeue", { method: "POST", body: { queue: QUEUE, actor: "until_fixed" } }).then(jsonOf)));
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.equal(a.body.done + b.body.done, 6, `${JSON.stringify(a.body)} ${JSON.stringify(b.body)}`);
      assert.equal(await deadCount(), 0);
      assert.equal(await client.lLen(`dramatiq:${QUEUE}`), 6, "six enqueues, no more");
      const bodies = Object.values(await client.hGetAll(`dramatiq:${QUEUE}.msgs`)).map((s) => JSON.parse(s));
      assert.equal(bodies.length, 6);
      assert.deepEqual(bodies.map((m) => m.args[0]).sort(), [2, 3, 4, 5, 6, 7]);
      for (const body of bodies) {
        assert.equal(body.options.retries, 0, "the Retries budget is whole again");
        assert.equal(body.queue_name, QUEUE);
        assert.equal(body.options.eta, undefined);
      }
      // Python's worker runs them, and Python's get_result reads their results.
      worker = await startPythonWorker({ ...py, threads: 4 });
      const lines = await runPython("produce.py", ["results", "--timeout", "30000"], { ...py, input: [2, 3, 4, 5, 6, 7].map((x) => JSON.stringify(byArg.get(x))).join("\n") + "\n" });
      assert.deepEqual(lines.map((l) => JSON.parse(l)), [4, 6, 8, 10, 12, 14].map((value) => ({ value })));
    });

    await t.test("the audit log: every action, newest first, as an event, and across a restart", async () => {
      const events = await openEvents(`${gateway.url}/api/events`, viewer);
      try {
        await events.until((e) => e.event === "ready" || e.event === "snapshot");
        const dry = await jsonOf(await call("/api/dead-letters/delete", { method: "POST", body: { dryRun: true, actor: "nobody" } }));
        assert.equal(dry.body.matched, 0);
        const event = await events.until((e) => e.event === "audit");
        assert.equal(event.data.action, "dead-letters/delete");
        assert.equal(event.data.dryRun, true);
      } finally {
        events.close();
      }
      const log = (await jsonOf(await call("/api/audit", { headers: viewer }))).body;
      assert.equal(log[0].action, "dead-letters/delete");
      assert.deepEqual(log[0].filter, { actor: "nobody" });
      assert.ok(log.every((e, i) => i === 0 || e.at <= log[i - 1].at), "newest first");
      assert.ok(log.every((e) => e.role === "operator"));
      const kinds = log.map((e) => e.action);
      for (const kind of ["requeue", "delete", "dead-letters/requeue", "dead-letters/delete"]) assert.ok(kinds.includes(kind), kind);
      assert.ok(log.some((e) => e.action === "requeue" && e.messageId === byArg.get(1).message_id && e.done === 1));
      assert.equal((await call("/api/audit?limit=2", { headers: viewer }).then((r) => r.json())).length, 2);
      await gateway.stop();
      gateway = await startGatewayBin(args, { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
      assert.deepEqual((await jsonOf(await call("/api/audit", { headers: viewer }))).body, log);
    });

    await t.test("a result waited for over HTTP, for a message the gateway never saw", async () => {
      const [m] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "slow", args: [300] })], py)).map((l) => JSON.parse(l));
      const res = await jsonOf(await call(`/api/results/${QUEUE}/slow/${m.message_id}?timeout=30000`, { headers: viewer }));
      assert.deepEqual(res, { status: 200, body: { state: "done", result: { json: "300" } } });
      const [f] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "fail", args: ["<img src=x onerror=alert(1)>"] })], py)).map((l) => JSON.parse(l));
      const failed = await jsonOf(await call(`/api/results/${QUEUE}/fail/${f.message_id}?timeout=30000`, { headers: viewer }));
      assert.equal(failed.status, 200);
      assert.deepEqual(failed.body, { state: "failed", result: { exception: { type: "AppError", message: "<img src=x onerror=alert(1)>" } } });
      const started = Date.now();
      const none = await jsonOf(await call(`/api/results/${QUEUE}/slow/no-such-message?timeout=300`, { headers: viewer }));
      assert.equal(none.status, 202);
      assert.ok(Date.now() - started >= 250, "waited for the timeout");
      for (const bad of ["?timeout=60001", "?timeout=-1", "?timeout=x", "?wait=1"]) {
        assert.equal((await call(`/api/results/${QUEUE}/slow/x${bad}`, { headers: viewer })).status, 400, bad);
      }
      assert.equal((await call(`/api/results/a%20b/slow/x`, { headers: viewer })).status, 400);
      // Many waiting at once share the rounds: all answered when the result comes.
      const [late] = (await runPython("produce.py", ["send", JSON.stringify({ actor: "slow", args: [500] })], py)).map((l) => JSON.parse(l));
      const many = await Promise.all(Array.from({ length: 50 }, () => call(`/api/results/${QUEUE}/slow/${late.message_id}?timeout=30000`, { headers: viewer }).then(jsonOf)));
      assert.ok(many.every((r) => r.status === 200 && r.body.result.json === "500"));
    });
  } finally {
    await gateway?.stop();
    await worker?.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("without an operator token the actions do not exist (405)", { skip: !haveRedis && "redis-server is not installed", timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const gateway = await startGatewayBin(["--redis", redis.url], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER } });
  try {
    for (const [method, path] of [["POST", "/api/messages/abc/requeue"], ["DELETE", "/api/messages/abc"], ["POST", "/api/dead-letters/requeue"], ["POST", "/api/dead-letters/delete"]]) {
      const res = await fetch(`${gateway.url}${path}`, { method, headers: { ...viewer, "content-type": "application/json" }, body: "{}" });
      assert.equal(res.status, 405, `${method} ${path}`);
    }
    assert.equal((await fetch(`${gateway.url}/api/audit`, { headers: viewer })).status, 200);
  } finally {
    await gateway.stop();
    await redis.stop();
  }
});

test("serve refuses a short operator token, and one equal to the viewer's; --help lists the new flags", { skip: !haveRedis && "redis-server is not installed", timeout: 30_000 }, async () => {
  const help = execFileSync(process.execPath, [bin, "serve", "--help"], { encoding: "utf8" });
  for (const flag of ["--operator-token <secret>", "DRAMATIQ_RESULTS_OPERATOR_TOKEN", "--keyspace-events"]) assert.ok(help.includes(flag), flag);
  for (const env of [{ DRAMATIQ_RESULTS_OPERATOR_TOKEN: "short" }, { DRAMATIQ_RESULTS_TOKEN: VIEWER, DRAMATIQ_RESULTS_OPERATOR_TOKEN: VIEWER }]) {
    await assert.rejects(startGatewayBin(["--redis", "redis://127.0.0.1:1"], { env }), (e) => e.code === 2 && /operator token/.test(e.output));
  }
});

test("keyspace notifications: serve says when they are off; with --keyspace-events every message is read, from its notification alone, with its actor, queue and arguments", { skip, timeout: 180_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const py = { url: redis.url, queue: "quick", prefix: "quick-app" };
  let gateway = null;
  let worker = null;
  let events = null;
  try {
    // Off by default: the gateway polls and says how to turn them on.
    gateway = await startGatewayBin(["--redis", redis.url]);
    await eventually(async () => /keyspace notifications are off/.test(gateway.output()), 10_000, "the notice");
    assert.match(gateway.output(), /CONFIG SET notify-keyspace-events Klhz/);
    assert.equal((await (await fetch(`${gateway.url}/api/session`)).json()).follow, "polling");
    await gateway.stop();
    // --keyspace-events turns them on, and the gateway follows them. The poll interval is
    // ten minutes: within this test only a notification can make the gateway read a message.
    gateway = await startGatewayBin(["--redis", redis.url, "--keyspace-events", "--poll-interval", "600000"]);
    await eventually(async () => /keyspace notifications turned on/.test(gateway.output()), 10_000, "the notice");
    assert.match((await client.configGet("notify-keyspace-events"))["notify-keyspace-events"], /K/);
    assert.equal((await (await fetch(`${gateway.url}/api/session`)).json()).follow, "keyspace");
    events = await openEvents(`${gateway.url}/api/events`);
    await events.until((e) => e.event === "ready" || e.event === "snapshot");
    // Messages on a queue the gateway has never seen, sent after its first poll and before
    // any worker runs (so no worker can take one before the gateway reads it: the test
    // must not depend on who is faster): each must be read, with its actor, queue and
    // arguments, from its notification alone.
    const sent = (await runPython("produce.py", ["send", JSON.stringify({ actor: "add", args: [1, 2], count: 30 })], py)).map((l) => JSON.parse(l));
    const ids = new Set(sent.map((m) => m.message_id));
    const withMessage = (state) => (x) => ids.has(x.data?.messageId) && x.data?.state === state && x.data?.message !== undefined;
    const seen = (state) => new Set(events.events.filter(withMessage(state)).map((x) => x.data.messageId));
    const missing = (state) => [...ids].filter((id) => !seen(state).has(id));
    await eventually(async () => missing("queued").length === 0, 60_000, "every message read from its notification").catch((e) => {
      throw new Error(`${e.message}: ${missing("queued").length} of 30 not read; gateway: ${gateway.output().slice(-1500)}`);
    });
    for (const e of events.events.filter(withMessage("queued"))) {
      assert.equal(e.data.actor, "add");
      assert.equal(e.data.queue, "quick");
      assert.deepEqual(e.data.message.args, [1, 2], `${e.data.messageId}: read with its arguments`);
    }
    // Then a worker runs them: each one's end is followed too (its result's key is notified).
    worker = await startPythonWorker({ ...py, threads: 4 });
    await eventually(async () => missing("done").length === 0, 60_000, "every message done").catch((e) => {
      throw new Error(`${e.message}: ${missing("done").length} of 30 not seen done`);
    });
  } finally {
    events?.close();
    await gateway?.stop();
    await worker?.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("a message the gateway never saw (sent and done between two polls) is found by id, by its result under a queue and actor it has seen", { skip, timeout: 180_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const py = { url: redis.url, queue: "seen", prefix: "seen-app" };
  let gateway = null;
  let worker = null;
  try {
    // An `add` waits in the queue (no worker yet) when the gateway starts: its first poll
    // sees it. The poll interval is ten minutes: it polls no more in this test.
    const early = (await runPython("produce.py", ["send", JSON.stringify({ actor: "add", args: [1, 2] })], py)).map((l) => JSON.parse(l));
    gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "600000"], { env: { DRAMATIQ_RESULTS_TOKEN: VIEWER } });
    const get = async (path) => {
      const res = await fetch(`${gateway.url}${path}`, { headers: viewer });
      return { status: res.status, body: await res.json() };
    };
    await eventually(async () => (await get(`/api/messages/${early[0].message_id}`)).body.message?.actor_name === "add", 30_000, "the first poll");
    // Then a worker runs everything, including messages sent after the gateway's last poll.
    const late = (await runPython("produce.py", ["send", JSON.stringify({ actor: "add", args: [20, 22] }), JSON.stringify({ actor: "echo", args: ["never-seen actor"] })], py)).map((l) => JSON.parse(l));
    worker = await startPythonWorker({ ...py, threads: 2 });
    const [add, echo] = late;
    // (While it is in the broker, a lookup finds it there, by a walk of the bodies.)
    const done = await eventually(async () => {
      const r = await get(`/api/messages/${add.message_id}`);
      return r.status === 200 && r.body.state === "done" ? r : null;
    }, 60_000, "the late add, by its result");
    assert.deepEqual(
      { state: done.body.state, queue: done.body.queue, actor: done.body.actor, message: done.body.message, knownBy: done.body.knownBy, result: done.body.result },
      { state: "done", queue: "seen", actor: "add", message: null, knownBy: "result", result: { json: "42" } },
    );
    // Its result waited for by id, too.
    assert.deepEqual((await get(`/api/messages/${add.message_id}/result?timeout=0`)).body, { state: "done", result: { json: "42" } });
    // An actor the gateway has never seen names no key it can try: not found, as before.
    const [echoed] = await runPython("produce.py", ["results", "--timeout", "30000"], { ...py, input: `${JSON.stringify(echo)}\n` });
    assert.deepEqual(JSON.parse(echoed), { value: { args: ["never-seen actor"], kwargs: {} } }, "echo's result is in Redis");
    assert.equal((await get(`/api/messages/${echo.message_id}`)).status, 404);
  } finally {
    await gateway?.stop();
    await worker?.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});

test("a bulk action over 1 500 dead letters goes in pages with progress events, and a dry run counts the same", { skip: !haveRedis && "redis-server is not installed", timeout: 120_000 }, async () => {
  const redis = await startRedis();
  const client = await createClient({ url: redis.url }).connect();
  client.on("error", () => {});
  const gateway = await startGatewayBin(["--redis", redis.url, "--poll-interval", "200"], { env: { DRAMATIQ_RESULTS_OPERATOR_TOKEN: OPERATOR } });
  const events = await openEvents(`${gateway.url}/api/events`);
  try {
    // 1 500 dead letters written as dispatch.lua's nack leaves them (two actors).
    const multi = client.multi();
    const now = Date.now() - 5000; // all dead-lettered before the action starts
    for (let i = 0; i < 1500; i++) {
      const rid = crypto.randomUUID();
      const m = dict("bulk", i % 3 === 0 ? "other" : "job", [i], { options: { redis_message_id: rid, retries: 20, traceback: `Traceback\nValueError: case ${i}\n` } });
      multi.zAdd("dramatiq:bulk.XQ", { score: now + i, value: rid });
      multi.hSet("dramatiq:bulk.XQ.msgs", rid, JSON.stringify(m));
    }
    // And one a hostile producer wrote: its body names another queue than its dead-letter set's.
    const stray = crypto.randomUUID();
    multi.zAdd("dramatiq:bulk.XQ", { score: now, value: stray });
    multi.hSet("dramatiq:bulk.XQ.msgs", stray, JSON.stringify(dict("elsewhere", "job", [], { options: { redis_message_id: stray } })));
    await multi.exec();
    const post = async (path, body) => {
      const res = await fetch(`${gateway.url}${path}`, { method: "POST", headers: { ...operator, "content-type": "application/json" }, body: JSON.stringify(body) });
      return res.json();
    };
    assert.deepEqual(await post("/api/dead-letters/requeue", { actor: "job", dryRun: true }), { matched: 1001, done: 0, complete: true, dryRun: true });
    assert.deepEqual(await post("/api/dead-letters/requeue", { actor: "job" }), { matched: 1001, done: 1000, complete: true, dryRun: false });
    assert.equal(await client.exists("dramatiq:elsewhere"), 0, "the stray body named another queue: left as it was");
    const progress = events.events.filter((e) => e.event === "progress" && e.data.dryRun === false);
    assert.ok(progress.length >= 3, `progress in pages: ${progress.length}`);
    assert.equal(await client.zCard("dramatiq:bulk.XQ"), 501);
    assert.equal(await client.lLen("dramatiq:bulk"), 1000);
    const bodies = Object.values(await client.hGetAll("dramatiq:bulk.msgs")).map((b) => JSON.parse(b));
    assert.ok(bodies.every((b) => b.actor_name === "job" && b.options.retries === 0));
    assert.equal(new Set(bodies.map((b) => b.message_id)).size, 1000);
    // The exception filter reads the traceback.
    assert.deepEqual(await post("/api/dead-letters/delete", { exception: "ValueError: case 3\n" }), { matched: 1, done: 1, complete: true, dryRun: false });
    assert.equal(await client.zCard("dramatiq:bulk.XQ"), 500);
  } finally {
    events.close();
    await gateway.stop();
    await client.quit().catch(() => {});
    await redis.stop();
  }
});
