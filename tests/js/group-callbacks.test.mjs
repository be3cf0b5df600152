// Group completion callbacks (Dramatiq's `group.add_completion_callback` and
// `GroupCallbacks`): in memory, then over a real redis-server beside the real Python
// Dramatiq 2.2.1 (tests/py/broker_app.py runs GroupCallbacks on the same Redis): a group
// Python sends and JS workers run, one JS sends and Python workers run, and one whose
// children are split between both, each fire their callback exactly once.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import {
  Barrier,
  GroupCallbacks,
  RabbitmqBroker,
  RedisBroker,
  RedisRateLimiterBackend,
  StubBroker,
  StubRateLimiterBackend,
  Worker,
  actor,
  defaultMiddleware,
  group,
  pipeline,
} from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";
import { eventually } from "./broker-helpers.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** Polls `check` until it answers truthy, or fails after `ms`. */
describe("in memory", () => {
  function setup() {
    const rateLimiterBackend = new StubRateLimiterBackend();
    const broker = new StubBroker({ logger: quiet, middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend })] });
    const done = [];
    const add = actor((x, y = 0) => (done.push(`add ${x} ${y}`), x + y), { actorName: "add", broker });
    const boom = actor(() => { throw new Error("boom"); }, { actorName: "boom", broker, maxRetries: 0 });
    const report = actor((tag) => void done.push(tag), { actorName: "report", broker });
    return { broker, add, boom, report, done };
  }

  // Dramatiq's test_groups_can_have_completion_callbacks and
  // test_groups_of_pipelines_can_have_completion_callbacks (test_composition.py).
  test("the callbacks run once, after every child (pipelines count at their last step)", async () => {
    const { broker, add, report, done } = setup();
    const worker = new Worker(broker, { concurrency: 4 }).start();
    try {
      const g = group([add.message(1), add.message(2), pipeline([add.message(1), add.message(2)], { broker })], { broker });
      g.addCompletionCallback(report.message("first"));
      g.addCompletionCallback(report.message("second"));
      assert.equal(g.run(), g);
      await g.enqueued;
      await broker.join("default", { timeout: 5000 });
      // The pipeline's second step (add 2 1) runs before the callbacks: it is the one
      // carrying the group's options.
      assert.deepEqual(done.slice(-3), ["add 2 1", "first", "second"]);
      assert.equal(done.length, 6);
    } finally {
      await worker.stop();
    }
  });

  test("children carry Python's options; a failed child never completes the group", async () => {
    const { broker, add, boom, report, done } = setup();
    const sent = [];
    broker.addMiddleware({ afterEnqueue: (_, message) => sent.push(message) });
    const g = group([add.message(1), boom.message()], { broker });
    const callback = report.message("never");
    g.addCompletionCallback(callback);
    g.run();
    await g.enqueued;
    const options = sent.map((m) => m.options).filter((o) => "group_completion_uuid" in o);
    assert.deepEqual(sent.map((m) => m.messageId), g.children.map((m) => m.messageId), "the children, same ids");
    assert.deepEqual(Object.keys(options[0]).slice(-2), ["group_completion_uuid", "group_completion_callbacks"]);
    assert.equal(options.length, 2, "both children marked");
    assert.match(options[0].group_completion_uuid, UUID);
    assert.equal(options[0].group_completion_uuid, options[1].group_completion_uuid);
    assert.deepEqual(options[0].group_completion_callbacks, [callback.asDict()]);
    const worker = new Worker(broker).start();
    try {
      await broker.join("default", { timeout: 5000 }).catch(() => {});
      await sleep(50);
      assert.deepEqual(done, ["add 1 0"]);
    } finally {
      await worker.stop();
    }
  });

  test("without the middleware, run() throws, as Python's; nested groups are refused, as Python's", () => {
    const broker = new StubBroker({ logger: quiet });
    const add = actor((x) => x, { actorName: "add", broker });
    const g = group([add.message(1)], { broker });
    g.addCompletionCallback(add.message(2));
    assert.throws(() => g.run(), (e) => e.code === "GROUP_CALLBACKS_MISSING" && /GroupCallbacks middleware not found/.test(e.message));
    assert.throws(() => g.addCompletionCallback({}), TypeError);
    const withMw = new StubBroker({ logger: quiet, middleware: [new GroupCallbacks({ rateLimiterBackend: new StubRateLimiterBackend() })] });
    const nested = group([group([add.message(1)], { broker: withMw })], { broker: withMw });
    nested.addCompletionCallback(add.message(2));
    assert.throws(() => nested.run(), TypeError);
    // No children: Python's Barrier.create(0) asserts, so run() raises and sends nothing.
    const empty = group([], { broker: withMw });
    empty.addCompletionCallback(add.message(3));
    assert.throws(() => empty.run(), (e) => e instanceof RangeError && /no children/.test(e.message));
    assert.throws(() => new GroupCallbacks({}), TypeError);
    assert.throws(() => new GroupCallbacks({ rateLimiterBackend: new StubRateLimiterBackend(), barrierTtl: 0 }), TypeError);
  });
});

const missingFor = (broker) =>
  !haveRedis
    ? "no redis-server (scripts/setup --services)"
    : !havePython
      ? "no target/venv (scripts/setup --python)"
      : broker === "rabbitmq" && !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)";

for (const kind of ["redis", "rabbitmq"]) {
  describe(`beside Python Dramatiq 2.2.1 over ${kind} (barriers on Redis)`, { skip: missingFor(kind) }, () => {
    let server;
    let rabbit;
    let client;
    const opened = [];

    before(async () => {
      server = await startRedis();
      if (kind === "rabbitmq") rabbit = await startRabbitmq();
      client = await createClient({ url: server.url }).connect();
    });

    after(async () => {
      for (const b of opened) await b.close();
      await client?.quit();
      await rabbit?.stop();
      await server?.stop();
    });

    /** The Python side's connection options for `queue` and `prefix`. */
    const conn = (queue, prefix) => ({ broker: kind, url: kind === "redis" ? server.url : rabbit.url, resultsUrl: server.url, queue, prefix });

    /** A JS broker of this kind with GroupCallbacks on `queue`: `add`, and `record`, which
     * pushes its tag on `<prefix>:tags`. */
    async function jsBroker(queue, prefix) {
      const options = {
        logger: quiet,
        middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) })],
      };
      const broker = kind === "redis" ? new RedisBroker(client, options) : await RabbitmqBroker.connect(rabbit.url, options);
      if (kind === "rabbitmq") opened.push(broker);
      const add = actor((x, y = 0) => x + y, { actorName: "add", queueName: queue, broker });
      const record = actor(async (tag) => void (await client.rPush(`${prefix}:tags`, String(tag))), { actorName: "record", queueName: queue, broker });
      return { broker, add, record };
    }

    /** The barriers in Redis: keys that are UUIDs, with their state. */
    async function barriers() {
      const out = [];
      for (const key of await client.keys("*")) {
        if (!UUID.test(key)) continue;
        out.push({
          key,
          type: await client.type(key),
          value: await client.get(key),
          pttl: await client.pTTL(key),
          events: await client.lRange(`${key}@events`, 0, -1),
          eventsPttl: await client.pTTL(`${key}@events`),
        });
      }
      return out;
    }

    const seen = new Set();
    /** The one barrier made since the last call. */
    async function newBarrier() {
      const fresh = (await barriers()).filter((b) => !seen.has(b.key));
      assert.equal(fresh.length, 1, "one new barrier");
      seen.add(fresh[0].key);
      return fresh[0];
    }

    const nearDay = (pttl) => pttl > 86_400_000 - 120_000 && pttl <= 86_400_000;

    test("a group Python sends, run by a JS worker: the callback fires once, Python's barrier cleared", { timeout: 90_000 }, async () => {
      const queue = "py2js";
      const prefix = `py2js-${kind}`;
      const specs = [{ actor: "record", args: ["done"] }, ...Array.from({ length: 6 }, (_, i) => ({ actor: "add", args: [i, i] }))];
      await runPython("produce.py", ["group-callback", ...specs.map((s) => JSON.stringify(s))], conn(queue, prefix));
      const made = await newBarrier();
      assert.equal(made.value, "6", "Python's barrier: one party per child");
      const { broker } = await jsBroker(queue, prefix);
      const worker = new Worker(broker, { concurrency: 4 }).start();
      try {
        await eventually(async () => (await client.lRange(`${prefix}:tags`, 0, -1)).includes("done"), "the callback");
        await sleep(500);
        assert.deepEqual(await client.lRange(`${prefix}:tags`, 0, -1), ["done"]);
      } finally {
        await worker.stop();
      }
      const [b] = (await barriers()).filter((x) => x.key === made.key);
      assert.equal(b.type, "string");
      assert.equal(b.value, "1", "the last party's decrement is refused, as Python's");
      assert.deepEqual(b.events, ["x"]);
      assert.ok(nearDay(b.eventsPttl), `events PTTL ${b.eventsPttl}`);
    });

    test("a group JS sends, run by a Python worker: Python's barrier, the callback fires once", { timeout: 120_000 }, async () => {
      const queue = "js2py";
      const prefix = `js2py-${kind}`;
      const { broker, add, record } = await jsBroker(queue, prefix);
      const g = group(Array.from({ length: 6 }, (_, i) => add.message(i, i)), { broker });
      const callback = record.message("done");
      g.addCompletionCallback(callback);
      g.run();
      await g.enqueued;
      const made = await newBarrier();
      assert.equal(made.type, "string");
      assert.equal(made.value, "6");
      assert.ok(nearDay(made.pttl), `barrier PTTL ${made.pttl}`);
      assert.deepEqual(made.events, []);
      const worker = await startPythonWorker({ ...conn(queue, prefix), threads: 4 });
      try {
        const processed = async () => JSON.parse((await runPython("produce.py", ["processed"], conn(queue, prefix))).at(-1));
        await eventually(async () => (await processed()).includes(callback.messageId), "the callback on the Python worker");
        await sleep(500);
        assert.deepEqual((await processed()).filter((id) => id === callback.messageId), [callback.messageId]);
      } finally {
        await worker.stop();
      }
      const [b] = (await barriers()).filter((x) => x.key === made.key);
      assert.equal(b.value, "1");
      assert.deepEqual(b.events, ["x"]);
    });

    if (kind === "redis") {
      test("a JS worker SIGKILLed mid-group: once its children are redelivered, the callback fires once", { timeout: 120_000 }, async (t) => {
        const queue = "killed";
        const prefix = "killed";
        const env = { ...process.env, REDIS_URL: server.url, QUEUE: queue, PREFIX: prefix, ADD_MS: "300" };
        const script = fileURLToPath(new URL("./group-callbacks-worker.mjs", import.meta.url));
        const child = spawn(process.execPath, [script], { env, stdio: ["ignore", "pipe", "inherit"] });
        const exited = new Promise((r) => child.once("exit", r));
        try {
          await new Promise((resolve, reject) => {
            child.stdout.on("data", (d) => String(d).includes("ready") && resolve());
            child.once("exit", () => reject(new Error("the worker process exited before it was ready")));
          });
          const { add, record } = await jsBroker(queue, prefix);
          const g = group(Array.from({ length: 12 }, (_, i) => add.message(i, i)), { broker: add.broker });
          g.addCompletionCallback(record.message("done"));
          g.run();
          await g.enqueued;
          await newBarrier();
          // It dies holding children it started and never finished.
          await eventually(async () => (await client.lLen(`${prefix}:started`)) >= 3, "the worker starting children");
          child.kill("SIGKILL");
          await exited;
          t.diagnostic(`killed after ${await client.lLen(`${prefix}:started`)} child start(s)`);
        } finally {
          child.kill("SIGKILL");
        }
        // A new worker (maintenance on every fetch, a 2 s heartbeat timeout) takes back
        // what the dead one held, and finishes the group.
        const broker = new RedisBroker(client, {
          logger: quiet,
          heartbeatTimeout: 2000,
          maintenanceChance: 1_000_000,
          middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) })],
        });
        actor(async (x, y = 0) => x + y, { actorName: "add", queueName: queue, broker });
        actor(async (tag) => void (await client.rPush(`${prefix}:tags`, String(tag))), { actorName: "record", queueName: queue, broker });
        const worker = new Worker(broker, { concurrency: 4 }).start();
        try {
          await eventually(async () => (await client.lRange(`${prefix}:tags`, 0, -1)).includes("done"), "the callback", 60_000);
          await sleep(1000);
          assert.deepEqual(await client.lRange(`${prefix}:tags`, 0, -1), ["done"]);
        } finally {
          await worker.stop();
        }
      });
    }

    // A member whose callbacks a producer wrote by hand, the second with a key no message
    // has. Python's GroupCallbacks counts the member down first, then builds each callback
    // with `Message(**dict)`: the first is sent, the second raises (logged), the third is
    // never sent. The JS worker must do the same, member counted included.
    test("a completion callback Python cannot build: the ones before it sent, the barrier counted, as Python's", { timeout: 90_000 }, async () => {
      const backend = new RedisRateLimiterBackend(client);
      const run = async (who, prefix, start, ran) => {
        const uuid = who === "Python" ? "11111111-1111-4111-8111-111111111111" : "22222222-2222-4222-8222-222222222222";
        await new Barrier(backend, uuid, { ttl: 60_000 }).create(1);
        seen.add(uuid);
        const cb = (tag, extra = {}) => ({
          queue_name: prefix, actor_name: "record", args: [tag], kwargs: {}, options: {}, message_id: `cb-${tag}`, message_timestamp: 1, ...extra,
        });
        const member = {
          queue_name: prefix, actor_name: "add", args: [1, 2], kwargs: {}, message_id: `member-${who}`, message_timestamp: Date.now(),
          options: { group_completion_uuid: uuid, group_completion_callbacks: [cb("a"), cb("b", { zzz: 1 }), cb("c")] },
        };
        await runPython("produce.py", ["enqueue"], { ...conn(prefix, prefix), input: `${JSON.stringify(member)}\n` });
        const worker = await start(prefix);
        try {
          await eventually(async () => (await ran(prefix)).length >= 1, `${who}: the first callback`);
          await sleep(1500);
          return { ran: await ran(prefix), barrier: (await barriers()).find((b) => b.key === uuid) };
        } finally {
          await worker.stop();
        }
      };
      const py = await run(
        "Python", `badcb-py-${kind}`,
        (q) => startPythonWorker({ ...conn(q, q), threads: 2 }),
        async (q) => JSON.parse((await runPython("produce.py", ["processed"], conn(q, q))).at(-1)),
      );
      const js = await run(
        "JS", `badcb-js-${kind}`,
        async (q) => new Worker((await jsBroker(q, q)).broker, { concurrency: 2 }).start(),
        async (q) => (await client.lRange(`${q}:tags`, 0, -1)).map((tag) => `cb-${tag}`),
      );
      assert.deepEqual(py.ran, ["cb-a"], "Python: the callback before the bad one, only");
      assert.deepEqual(js.ran, py.ran);
      const shape = ({ type, value, events }) => ({ type, value, events });
      assert.deepEqual(shape(py.barrier), { type: "string", value: "1", events: ["x"] }, "Python counted the member: cleared");
      assert.deepEqual(shape(js.barrier), shape(py.barrier));
    });

    test("a group whose children are split between a Python and a JS worker fires its callback once", { timeout: 120_000 }, async () => {
      const queue = "split";
      const prefix = `split-${kind}`;
      const { broker, add, record } = await jsBroker(queue, prefix);
      const python = await startPythonWorker({ ...conn(queue, prefix), threads: 4 });
      const worker = new Worker(broker, { concurrency: 4 }).start();
      try {
        const g = group(Array.from({ length: 40 }, (_, i) => add.message(i, i)), { broker });
        const callback = record.message("done");
        g.addCompletionCallback(callback);
        g.run();
        await g.enqueued;
        const count = async () => {
          const ours = (await client.lRange(`${prefix}:tags`, 0, -1)).filter((t) => t === "done").length;
          const theirs = (await client.lRange(`${prefix}:processed`, 0, -1)).filter((id) => id === callback.messageId).length;
          return ours + theirs;
        };
        await newBarrier();
        await eventually(count, "the callback on either worker");
        await sleep(1000);
        assert.equal(await count(), 1);
      } finally {
        await worker.stop();
        await python.stop();
      }
    });
  });
}
