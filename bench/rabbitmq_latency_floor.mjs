// The floor under RabbitmqBroker's send → blocking result tail (issue 29): the same round
// trip written straight against amqplib and node-redis, with no package at all, measured in
// fresh processes alternating with ours and with Python Dramatiq's, on one RabbitMQ node and
// one redis-server. If plain Node has the tail too, it is Node's (V8 compiling and
// collecting beside the servers on a shared machine), not the package's.
//
//   node bench/rabbitmq_latency_floor.mjs [--rounds 6] [--runs 600]
//
// Each side, per round, in a fresh process: 20 sends to warm the connections up (as every
// side of bench/rabbitmq_broker.mjs does), then `runs` sends one at a time, each timed from
// the send to its result read by a blocking read. The sides:
//   ours    RabbitmqBroker + Worker (concurrency 8) + Results on RedisBackend (node-redis,
//           a blocking client), the sender and the worker in one process, as in the bench;
//   node    the floor: amqplib publishes Dramatiq's message (persistent) to a plain durable
//           queue; a consumer in the same process (prefetch 8) parses it, adds, stores the
//           result as Dramatiq's Redis backend does (MULTI: DEL, LPUSH, PEXPIRE) and acks;
//           the sender waits with BLMOVE on a second connection, as ours does;
//   python  bench/python_broker_baseline.py --latency-round: Dramatiq's broker.enqueue and
//           get_result(block=True), with a `dramatiq` worker process (8 threads).
// Prints a line per round on stderr, then one JSON object on stdout (bench/run.mjs reads it):
// the pooled p50 / p99 / max per side.
import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { arg, percentile, runPython } from "./broker_bench.mjs";

const WARM_UP = 20;

/** One side's round in this process: `runs` timed sends; returns the samples in ms. */
async function child(side, rabbitUrl, redisUrl, runs) {
  const { createClient } = await import("redis");
  const client = await createClient({ url: redisUrl }).connect();
  const blocking = await createClient({ url: redisUrl }).connect();
  const times = [];
  if (side === "ours") {
    const { RabbitmqBroker, RedisBackend, Results, Worker, actor } = await import("dramatiq-results");
    const backend = new RedisBackend(client, { blockingClient: blocking });
    const broker = await RabbitmqBroker.connect(rabbitUrl, { middleware: [new Results({ backend })] });
    const add = actor((x, y) => x + y, { broker, actorName: "add", queueName: "floor-ours", storeResults: true });
    const worker = new Worker(broker, { concurrency: 8 }).start();
    for (let i = 0; i < WARM_UP + runs; i++) {
      const t = performance.now();
      await add.send(i, 1).getResult({ block: true, timeout: 10_000 });
      if (i >= WARM_UP) times.push(performance.now() - t);
    }
    await worker.stop();
    await broker.close();
  } else {
    const amqp = (await import("amqplib")).default;
    const connection = await amqp.connect(rabbitUrl, { noDelay: true });
    const queue = "floor-node";
    const send = await connection.createChannel();
    const consume = await connection.createChannel();
    await send.assertQueue(queue, { durable: true });
    await consume.prefetch(8);
    const keyOf = (m) => `dramatiq:results:${createHash("md5").update(`${m.queue_name}:${m.actor_name}:${m.message_id}`).digest("hex")}`;
    let acked = 0;
    let allAcked;
    const done = new Promise((resolve) => (allAcked = resolve));
    await consume.consume(queue, async (delivery) => {
      const message = JSON.parse(delivery.content.toString());
      const result = message.args[0] + message.args[1];
      const key = keyOf(message);
      await client.multi().del(key).lPush(key, JSON.stringify(result)).pExpire(key, 600_000).exec();
      consume.ack(delivery);
      if (++acked === WARM_UP + runs) allAcked();
    });
    for (let i = 0; i < WARM_UP + runs; i++) {
      const t = performance.now();
      const message = {
        queue_name: queue, actor_name: "add", args: [i, 1], kwargs: {}, options: {},
        message_id: randomUUID(), message_timestamp: Date.now(),
      };
      send.sendToQueue(queue, Buffer.from(JSON.stringify(message)), {
        persistent: true, contentType: "application/json", priority: 0,
      });
      const key = keyOf(message);
      const got = await blocking.blMove(key, key, "RIGHT", "LEFT", 10);
      if (JSON.parse(got) !== i + 1) throw new Error(`floor: read ${got} for ${i} + 1`);
      if (i >= WARM_UP) times.push(performance.now() - t);
    }
    await done; // the last result is read before its delivery is acked
    await consume.close();
    await send.close();
    await connection.close();
  }
  await client.quit();
  await blocking.quit();
  return times;
}

if (process.argv[2] === "--child") {
  const [, , , side, rabbitUrl, redisUrl, runs] = process.argv;
  console.log(JSON.stringify(await child(side, rabbitUrl, redisUrl, Number(runs))));
} else {
  const { startRabbitmq, startRedis } = await import("../tests/js/services.mjs");
  const ROUNDS = arg("rounds", 6);
  const RUNS = arg("runs", 600);
  const [redis, rabbit] = await Promise.all([startRedis(), startRabbitmq()]);
  const self = fileURLToPath(import.meta.url);
  const samples = { ours: [], node: [], python: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = ["ours", "node", "python"];
      for (let k = 0; k < r % 3; k++) order.push(order.shift());
      for (const side of order) {
        let times;
        if (side === "python") {
          const round = runPython(["--rabbitmq", rabbit.url, "--redis", redis.url, "--latency-round", "--latency-runs", String(RUNS)]);
          if (round.error) throw new Error(`python: ${round.error}`);
          times = round.samples_ms;
        } else {
          const run = spawnSync(process.execPath, [self, "--child", side, rabbit.url, redis.url, String(RUNS)], { encoding: "utf8", timeout: 300_000 });
          if (run.status !== 0) throw new Error(`${side}: ${run.stderr}`);
          times = JSON.parse(run.stdout.trim().split("\n").pop());
        }
        const sorted = [...times].sort((a, b) => a - b);
        console.error(JSON.stringify({ round: r, side, p50: +percentile(sorted, 50).toFixed(2), p99: +percentile(sorted, 99).toFixed(2) }));
        samples[side].push(...times);
      }
    }
  } finally {
    await Promise.all([redis.stop(), rabbit.stop()]);
  }
  const pooled = {};
  for (const [side, xs] of Object.entries(samples)) {
    const sorted = xs.sort((a, b) => a - b);
    pooled[side] = { runs: sorted.length, p50_ms: +percentile(sorted, 50).toFixed(2), p99_ms: +percentile(sorted, 99).toFixed(2), max_ms: +sorted.at(-1).toFixed(2) };
  }
  console.log(JSON.stringify({ rounds: ROUNDS, runs: RUNS, ...pooled }));
}
