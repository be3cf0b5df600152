// The broker test infrastructure on its own: real Python Dramatiq 2.2.1 on both sides (the
// producer tests/py/produce.py, a `dramatiq` worker running tests/py/broker_app.py) over a
// real redis-server and a real RabbitMQ node. What JS broker tests build on: if these fail,
// the harness is broken, not the package.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { echoSpec, echoed, eventually } from "./broker-helpers.mjs";

/** Why a test that needs `needs` cannot run here, or false. */
function missing(...needs) {
  const why = {
    redis: !haveRedis && "no redis-server (scripts/setup --services)",
    rabbitmq: !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)",
    python: !havePython && "no Python Dramatiq in target/venv (scripts/setup --python)",
  };
  return needs.map((n) => why[n]).filter(Boolean).join("; ") || false;
}

for (const broker of ["redis", "rabbitmq"]) {
  const skip = missing("redis", "python", ...(broker === "rabbitmq" ? ["rabbitmq"] : []));

  describe(`Python producer → Python worker over ${broker}`, { skip }, () => {
    let redis;
    let rabbit;
    let worker;
    let conn;

    before(async () => {
      redis = await startRedis();
      if (broker === "rabbitmq") rabbit = await startRabbitmq();
      conn = {
        broker,
        url: broker === "redis" ? redis.url : rabbit.url,
        resultsUrl: redis.url,
        prefix: `smoke-${broker}`,
      };
      worker = await startPythonWorker({ ...conn, threads: 4 });
    });

    after(async () => {
      await worker?.stop();
      await rabbit?.stop();
      await redis?.stop();
    });

    test("values, unusual arguments, a failure and a retry come back to Python", async () => {
      const sent = await runPython("produce.py", [
        "send",
        '{"actor":"add","args":[1,2]}',
        '{"actor":"add","args":[40],"kwargs":{"y":2}}',
        echoSpec,
        '{"actor":"fail","args":["boom \\u2622"]}',
        `{"actor":"retry_once","args":["${broker}-${Date.now()}"]}`,
        '{"actor":"slow","args":[50]}',
      ], conn);
      assert.equal(sent.length, 6);
      const first = JSON.parse(sent[0]);
      assert.equal(first.queue_name, "default");
      assert.equal(first.actor_name, "add");
      assert.deepEqual(first.args, [1, 2]);
      const got = await runPython("produce.py", ["results", "--timeout", "20000"], { ...conn, input: sent.join("\n") });
      assert.deepEqual(got, [
        '{"value":3}',
        '{"value":42}',
        echoed,
        '{"failure":{"type":"AppError","msg":"boom \\u2622"}}',
        '{"value":2}',
        '{"value":50}',
      ]);
      assert.match(worker.output, /Worker process is ready for action/);
    });

    test("a pipeline and a group", async () => {
      const pipe = await runPython("produce.py", ["pipeline", '{"actor":"add","args":[1,2]}', '{"actor":"add","args":[10]}', '{"actor":"add","args":[100]}'], conn);
      assert.equal(pipe.length, 3);
      assert.deepEqual(await runPython("produce.py", ["results"], { ...conn, input: pipe.at(-1) }), ['{"value":113}']);
      const group = await runPython("produce.py", ["group", '{"actor":"add","args":[1,1]}', '{"actor":"add","args":[2,2]}'], conn);
      assert.deepEqual(await runPython("produce.py", ["results"], { ...conn, input: group.join("\n") }), ['{"value":2}', '{"value":4}']);
    });

    test("record lists each processed message once", async () => {
      const sent = await runPython("produce.py", ["send", '{"actor":"record","args":["t"],"count":5}'], conn);
      const ids = sent.map((line) => JSON.parse(line).message_id).sort();
      assert.equal(new Set(ids).size, 5);
      const seen = await eventually(async () => {
        const [line] = await runPython("produce.py", ["processed"], conn);
        const list = JSON.parse(line);
        return list.length >= 5 && list;
      }, "5 processed records", 10_000);
      assert.deepEqual([...seen].sort(), ids);
    });

    if (broker === "rabbitmq") {
      test("restart() and kill() + restart() keep a durable queue's persistent messages", async () => {
        await worker.stop();
        // Confirmed publishes: RabbitMQ confirms a persistent message once it is on disk.
        const persist = { ...conn, queue: "persist", confirm: true };
        const before = await runPython("produce.py", ["send", '{"actor":"add","args":[1],"count":3}'], persist);
        await rabbit.restart();
        const between = await runPython("produce.py", ["send", '{"actor":"add","args":[2],"count":3}'], persist);
        await rabbit.kill();
        assert.equal(rabbit.running, false);
        await rabbit.restart();
        worker = await startPythonWorker({ ...persist, queues: ["persist"] });
        const got = await runPython("produce.py", ["results", "--timeout", "20000"], { ...persist, input: [...before, ...between].join("\n") });
        assert.deepEqual(got, [1, 1, 1, 2, 2, 2].map((v) => `{"value":${v}}`));
      });
    }
  });
}
