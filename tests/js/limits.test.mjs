// What a server's own size limits do to our sends: one publish over RabbitMQ's
// `max_message_size`, one write over Redis's `proto-max-bulk-len`, among many ordinary ones.
// Each must fail alone, with the server's reason, and double nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import amqplib from "amqplib";
import { Message, RabbitmqBroker, RedisBroker, connectRedis } from "dramatiq-results";
import { haveRabbitmq, haveRedis, startRabbitmq, startRedis } from "./services.mjs";
import { recordingLogger } from "./broker-helpers.mjs";

/** Every message body on `queue` now, taken off it, as message ids. */
async function drainIds(url, queue) {
  const conn = await amqplib.connect(url);
  try {
    const ch = await conn.createChannel();
    const ids = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (m === false) return ids;
      ids.push(Message.decode(m.content).messageId);
    }
  } finally {
    await conn.close();
  }
}

describe("RabbitMQ with max_message_size 1 MiB", { skip: !haveRabbitmq && "no rabbitmq-server (scripts/setup --services)" }, () => {
  let server;
  before(async () => {
    server = await startRabbitmq({ config: "max_message_size = 1048576\n" });
  });
  after(async () => {
    await server?.stop();
  });

  test("one 2 MB publish among 2 000 small ones fails alone with the server's reason; the others are enqueued exactly once", { timeout: 120_000 }, async () => {
    const logger = recordingLogger();
    const broker = await RabbitmqBroker.connect(server.url, { confirmDelivery: true, middleware: [], logger });
    try {
      await broker.ensureQueue("lim");
      const small = [];
      const sends = [];
      for (let i = 0; i < 2000; i++) {
        const m = new Message({ actorName: "a", queueName: "lim", args: [i] });
        small.push(m.messageId);
        sends.push(broker.enqueue(m));
        if (i === 1000) {
          const big = new Message({ actorName: "a", queueName: "lim", args: ["x".repeat(2 << 20)] });
          sends.push(
            broker.enqueue(big).then(
              () => assert.fail("the 2 MB publish was accepted"),
              (e) => ({ big: e }),
            ),
          );
        }
      }
      const outcomes = await Promise.allSettled(sends);
      const failed = outcomes.filter((o) => o.status === "rejected");
      assert.deepEqual(failed.map((o) => String(o.reason)), [], "every small publish confirmed");
      const { big } = outcomes.map((o) => o.value).find((v) => v?.big);
      assert.match(big.message, /larger than configured max size|max_message_size|PRECONDITION/i, big.message);
      const ids = await drainIds(server.url, "lim");
      const seen = new Map();
      for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      const doubled = [...seen].filter(([, n]) => n > 1).length;
      assert.equal(doubled, 0, `${doubled} messages enqueued more than once`);
      assert.equal(ids.length, 2000, "each small message once, the big one never");
      assert.deepEqual(new Set(ids), new Set(small));
    } finally {
      await broker.close();
    }
  });
});

describe("Redis with proto-max-bulk-len 1 MiB", { skip: !haveRedis && "no redis-server (scripts/setup --services)" }, () => {
  let server;
  before(async () => {
    server = await startRedis({ args: ["--proto-max-bulk-len", "1mb"] });
  });
  after(async () => {
    await server?.stop();
  });

  test("one 2 MB send among 300 small ones: Redis closes the connection, so the sends pipelined with it fail too; nothing is enqueued twice, and every failure says it may have been enqueued", { timeout: 60_000 }, async () => {
    const client = await connectRedis(server.url);
    const logger = recordingLogger();
    try {
      const broker = new RedisBroker(client, { namespace: "lim", middleware: [], logger });
      const sends = [];
      for (let i = 0; i < 300; i++) {
        const m = new Message({ actorName: "a", queueName: "lim", args: [i] });
        sends.push(broker.enqueue(m).then((sent) => ({ ok: sent.options.redis_message_id }), (e) => ({ e })));
        if (i === 150) {
          const big = new Message({ actorName: "a", queueName: "lim", args: ["x".repeat(2 << 20)] });
          sends.push(broker.enqueue(big).then(() => ({ big: "accepted" }), (e) => ({ big: e })));
        }
      }
      const outcomes = await Promise.all(sends);
      const big = outcomes.find((o) => "big" in o).big;
      assert.ok(big instanceof Error, "the 2 MB send was refused");
      // Redis answers "Protocol error: invalid bulk length" and closes the connection.
      assert.match(big.message, /invalid bulk length|Protocol error|closed/i, big.message);
      const failed = outcomes.filter((o) => o.e);
      for (const { e } of failed) assert.match(e.message, /may have been enqueued/, e.message);
      const ok = outcomes.filter((o) => o.ok).map((o) => o.ok);
      const stored = await client.sendCommand(["LRANGE", "lim:lim", "0", "-1"]);
      assert.equal(new Set(stored).size, stored.length, "no id twice");
      for (const id of ok) assert.ok(stored.includes(id), `${id} confirmed but not stored`);
      assert.ok(stored.length <= 300);
      // The next send opens a new connection and works.
      await broker.enqueue(new Message({ actorName: "a", queueName: "lim" }));
    } finally {
      await client.close();
    }
  });

  test("with maxMessageBytes under proto-max-bulk-len, the 2 MB send fails alone before anything is written, and the 300 others are enqueued once", { timeout: 60_000 }, async () => {
    const client = await connectRedis(server.url);
    try {
      const broker = new RedisBroker(client, { namespace: "lim2", middleware: [], maxMessageBytes: 1 << 20 });
      const sends = [];
      let big;
      for (let i = 0; i < 300; i++) {
        sends.push(broker.enqueue(new Message({ actorName: "a", queueName: "lim", args: [i] })));
        if (i === 150) big = broker.enqueue(new Message({ actorName: "a", queueName: "lim", args: ["x".repeat(2 << 20)] }));
      }
      await assert.rejects(big, /over maxMessageBytes \(1048576 bytes\); nothing was written/);
      const sent = await Promise.all(sends);
      const stored = await client.sendCommand(["LRANGE", "lim2:lim", "0", "-1"]);
      assert.deepEqual(stored, sent.map((m) => m.options.redis_message_id));
    } finally {
      await client.close();
    }
  });
});
