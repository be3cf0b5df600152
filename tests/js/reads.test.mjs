// Result reads of groups side by side with the real Python Dramatiq over one real
// redis-server: tests/py/reads.py stores each child's outcome and reads the group with
// `group.get_results()`; we read the same keys with `group([...]).getResults()` and must
// give the same values, or reject with the same error class about the same child.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import { Message, RedisBackend, ResultError, ResultTimeout, Results, StubBroker, connectRedis, group } from "dramatiq-results";
import { havePython, runPython } from "./pyworker.mjs";
import { startRedis } from "./services.mjs";

if (!havePython) throw new Error("no Python Dramatiq: run scripts/setup --python");

const message = (id) => new Message({ queueName: "default", actorName: "act", messageId: id, args: [], kwargs: {}, options: {} });

let server, client, backend, broker;
before(async () => {
  server = await startRedis();
  client = createClient({ url: server.url });
  await client.connect();
  backend = new RedisBackend(client);
  broker = new StubBroker({ middleware: [new Results({ backend })] });
});
after(async () => {
  await client?.quit();
  await server?.stop();
});

/** Our group for a reads.py tree (a list of `{ id }` and nested lists). */
function ours(tree) {
  return group(tree.map((c) => (Array.isArray(c) ? ours(c) : message(c.id))), { broker });
}

/** What Python's `group.get_results(block=False)` gave, and ours, in one shape. */
async function both(tree) {
  await client.flushDb();
  const [line] = await runPython("reads.py", [server.url, "group-nonblock"], { input: JSON.stringify(tree) });
  const python = JSON.parse(line);
  delete python.ms;
  let js;
  try {
    js = { values: await ours(tree).getResults({ block: false }) };
  } catch (e) {
    // A failure names its child by its message ("boom <id>"), others by their key.
    js = { error: e.constructor.name };
    if (e.exceptionType !== undefined) Object.assign(js, { type: e.exceptionType, msg: e.exceptionValue });
    else js.key = e.messageKey;
  }
  if (python.id != null) python.key = backend.buildMessageKey(message(python.id));
  delete python.id;
  return { python, js };
}

const fail = (id) => ({ id, store: { exception: ["TypeError", `boom ${id}`] } });
const missing = (id) => ({ id, store: null });
const ok = (id, value) => ({ id, store: { value } });

describe("group.getResults({ block: false }) raises what Python's get_results does", () => {
  const cases = {
    "a missing child ahead of a failed one": [missing("a"), fail("b")],
    "a failed child ahead of a missing one": [fail("b"), missing("a")],
    "a nested group's failure ahead of a missing message": [[fail("b")], missing("a")],
    "a missing message ahead of a nested group's failure": [missing("a"), [fail("b")]],
    "a missing message deep in a nested group ahead of a failure": [ok("c", 1), [ok("d", 2), missing("a")], fail("b")],
    "two failures: the first child's": [fail("b"), fail("e")],
    "nested groups, the first one's error": [[[missing("a")]], [fail("b")]],
    "every child stored": [ok("c", 1), [ok("d", [2, "x"]), ok("e", null)], ok("f", { k: "é" })],
  };
  for (const [name, tree] of Object.entries(cases)) {
    test(name, async () => {
      const { python, js } = await both(tree);
      assert.deepEqual(js, python);
    });
  }
});

describe("a blocking read through a blocking connection", () => {
  const clients = {
    "node-redis": async () => {
      const c = client.duplicate();
      await c.connect();
      return [c, () => c.quit()];
    },
    connectRedis: async () => {
      const c = await connectRedis(server.url);
      return [c, () => c.close()];
    },
  };
  for (const [name, make] of Object.entries(clients)) {
    test(`${name}: resolves with a value Python stores late; with none, a plain ResultTimeout at the deadline`, async () => {
      const [blocking, close] = await make();
      try {
        const b = new RedisBackend(client, { blockingClient: blocking });
        const id = `late-${name}`;
        const stored = runPython("reads.py", [server.url, "late", "300", id, JSON.stringify({ "é": [1, 2.5] })]);
        assert.deepEqual(await b.getResult(message(id), { block: true, timeout: 30_000 }), { "é": [1, 2.5] });
        await stored;

        const start = performance.now();
        const e = await b.getResult(message("never"), { block: true, timeout: 700 }).catch((e) => e);
        const took = performance.now() - start;
        assert.ok(e instanceof ResultTimeout, String(e));
        assert.ok(took >= 700, `rejected after ${took} ms, before its deadline`);
        // Redis answered its own timeout a tick late: that is no store failure.
        assert.equal(e.cause, undefined);
        assert.doesNotMatch(e.message, /failed/);
      } finally {
        await close();
      }
    });
  }
});

test("a blocking group read of a key holding another Redis type fails at once, as Python's does", async () => {
  await client.flushDb();
  await client.set(backend.buildMessageKey(message("wrongtype")), "not a list");
  // Python's group.get_results(block=True) raises Redis's WRONGTYPE error at once.
  const [line] = await runPython("reads.py", [server.url, "block", "20000", "wrongtype"]);
  const python = JSON.parse(line);
  assert.equal(python.error, "ResponseError");
  const start = performance.now();
  const e = await group([message("wrongtype")], { broker }).getResults({ block: true, timeout: 20_000 }).catch((e) => e);
  assert.ok(e instanceof ResultError && !(e instanceof ResultTimeout), String(e));
  assert.equal(e.code, "RESULT_STORE");
  assert.match(String(e.cause?.message ?? e.cause), /WRONGTYPE/);
  assert.ok(performance.now() - start < 10_000, "retried as if the server could change its answer");
});

test("a stored failure's null type or message reads as null, as Python's None", async () => {
  await client.flushDb();
  const envelopes = {
    "null-msg": { type: "ValueError", msg: null },
    "null-type": { type: null, msg: "m" },
    "odd-values": { type: 5, msg: { a: [true, null] } },
  };
  for (const [id, exn] of Object.entries(envelopes)) {
    await client.lPush(backend.buildMessageKey(message(id)), JSON.stringify({ __t: "dramatiq.results.Result", exn }));
  }
  const python = (await runPython("reads.py", [server.url, "read", ...Object.keys(envelopes)])).map((l) => JSON.parse(l));
  for (const [i, id] of Object.keys(envelopes).entries()) {
    const e = await backend.getResult(message(id)).catch((e) => e);
    assert.deepEqual({ error: e.constructor.name, type: e.exceptionType, msg: e.exceptionValue }, python[i], id);
  }
});
