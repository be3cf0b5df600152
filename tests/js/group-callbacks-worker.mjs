// A JS worker in a process of its own, for tests/js/group-callbacks.test.mjs to SIGKILL
// mid-group: a RedisBroker with GroupCallbacks on REDIS_URL, consuming QUEUE. `add` notes
// its start on `<PREFIX>:started`, then takes ADD_MS; `record` pushes its tag on
// `<PREFIX>:tags`. Prints "ready" once consuming.
import { createClient } from "redis";
import { GroupCallbacks, RedisBroker, RedisRateLimiterBackend, Worker, actor, defaultMiddleware } from "dramatiq-results";

const { REDIS_URL, QUEUE, PREFIX, ADD_MS = "300" } = process.env;
const client = await createClient({ url: REDIS_URL }).connect();
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const broker = new RedisBroker(client, {
  logger: quiet,
  middleware: [...defaultMiddleware(), new GroupCallbacks({ rateLimiterBackend: new RedisRateLimiterBackend(client) })],
});
actor(
  async (x, y = 0) => {
    await client.rPush(`${PREFIX}:started`, String(x));
    await new Promise((r) => setTimeout(r, Number(ADD_MS)));
    return x + y;
  },
  { actorName: "add", queueName: QUEUE, broker },
);
actor(async (tag) => void (await client.rPush(`${PREFIX}:tags`, String(tag))), { actorName: "record", queueName: QUEUE, broker });
new Worker(broker, { concurrency: 2 }).start();
console.log("ready");
