// The real clients, passed without casts (type-checked only: nothing connects).
import { createClient } from "redis";
import { Redis } from "ioredis";
import memjs from "memjs";
import { RedisBackend, MemcachedBackend, Message, actor, pipeline, group } from "dramatiq-results";

const nodeRedis = createClient({ url: "redis://127.0.0.1:1" });
const blocking = nodeRedis.duplicate();
new RedisBackend(nodeRedis, { blockingClient: blocking });

const ioredis = new Redis({ lazyConnect: true });
new RedisBackend(ioredis, { blockingClient: ioredis.duplicate() });

const memcached = memjs.Client.create("127.0.0.1:1");
new MemcachedBackend(memcached);

// An actor's result type flows through pipelines and groups.
const add = actor((a: number, b: number) => a + b, { actorName: "add" });
const shout = actor(async (s: string) => s.toUpperCase(), { actorName: "shout" });
const half = actor((n: number) => n / 2, { actorName: "half" });
export async function reads(): Promise<void> {
  const total: number = await pipeline([add.message(1, 2), half.messageWithOptions()]).getResult();
  const both: [number, string] = await group([add.message(1, 2), shout.message("a")]).getResults();
  const one: Message = add.message(1, 2);
  void total, both, one;
}
