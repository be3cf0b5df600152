// A message enqueued through a broker reads its result from that broker's backend (issue 31):
// `broker.enqueue(actor.message(…))` then `message.getResult()` worked only through `send()`,
// and otherwise failed with "There is no global broker". This file never sets a global broker
// until its last test, so it runs in a process that has none.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import {
  RedisBackend,
  RedisBroker,
  Results,
  StubBackend,
  StubBroker,
  Worker,
  actor,
  defaultMiddleware,
  setBroker,
} from "dramatiq-results";
import { haveRedis, startRedis } from "./services.mjs";

const quiet = { warn() {}, error() {}, info() {} };

test("StubBroker: enqueue(actor.message()) then getResult() reads this broker's backend, with no global broker", async () => {
  const broker = new StubBroker({ logger: quiet, middleware: [...defaultMiddleware(), new Results({ backend: new StubBackend() })] });
  const add = actor((x, y) => x + y, { broker, actorName: "add", storeResults: true });
  const worker = new Worker(broker).start();
  try {
    const message = add.message(1, 2);
    const enqueued = broker.enqueue(message);
    assert.equal(await message.getResult({ block: true, timeout: 10_000 }), 3);
    assert.equal(await enqueued.getResult({ block: true, timeout: 10_000 }), 3);
    // A delayed enqueue returns a copy: it knows the broker too.
    const delayed = broker.enqueue(add.message(2, 3), { delay: 10 });
    assert.equal(await delayed.getResult({ block: true, timeout: 10_000 }), 5);
    // An explicit backend still wins.
    const other = new StubBackend();
    await assert.rejects(message.getResult({ backend: other }), { name: "ResultMissing" });
  } finally {
    await worker.stop();
  }
});

test("a message never enqueued still reads the global broker's backend (Dramatiq's rule)", async () => {
  const broker = new StubBroker({ logger: quiet });
  const add = actor((x, y) => x + y, { broker, actorName: "add2" });
  await assert.rejects(add.message(1, 2).getResult(), /There is no global broker/);
});

test("the broker that enqueued wins over the global broker", async () => {
  const globalBackend = new StubBackend();
  setBroker(new StubBroker({ logger: quiet, middleware: [new Results({ backend: globalBackend })] }));
  const backend = new StubBackend();
  const broker = new StubBroker({ logger: quiet, middleware: [...defaultMiddleware(), new Results({ backend })] });
  const mul = actor((x, y) => x * y, { broker, actorName: "mul", storeResults: true });
  const worker = new Worker(broker).start();
  try {
    const message = mul.message(6, 7);
    broker.enqueue(message);
    assert.equal(await message.getResult({ block: true, timeout: 10_000 }), 42);
    await assert.rejects(globalBackend.getResult(message), { name: "ResultMissing" });
  } finally {
    await worker.stop();
  }
});

describe("RedisBroker", { skip: !haveRedis && "no redis-server (scripts/setup --services)" }, () => {
  let server;
  let client;
  before(async () => {
    server = await startRedis();
    client = await createClient({ url: server.url }).connect();
  });
  after(async () => {
    await client?.quit();
    await server?.stop();
  });

  test("await broker.enqueue(actor.message()) then getResult(), on the message handed in and on the one returned", async () => {
    const broker = new RedisBroker(client, { logger: quiet, middleware: [...defaultMiddleware(), new Results({ backend: new RedisBackend(client) })] });
    const add = actor((x, y) => x + y, { broker, actorName: "add", queueName: "enq", storeResults: true });
    const worker = new Worker(broker).start();
    try {
      const message = add.message(20, 22);
      const sent = await broker.enqueue(message);
      assert.equal(sent.messageId, message.messageId);
      assert.equal(await message.getResult({ block: true, timeout: 10_000 }), 42);
      assert.equal(await sent.getResult({ block: true, timeout: 10_000 }), 42);
    } finally {
      await worker.stop();
    }
  });
});
