// The actors of bench/soak.mjs's `workerCommand` scenario, run by `dramatiq-results worker`
// on its threads: a success storing its result, one failing once then retried, one failing
// for good, and one that overruns its time limit synchronously (its thread is terminated
// and replaced). Each marks that it ran by RPUSH on `soak:ran` (read by the driver).
import { CurrentMessage, RedisBackend, RedisBroker, Results, actor, connectRedis, defaultMiddleware, setBroker } from "dramatiq-results";

const client = await connectRedis(process.env.BROKER_URL);
setBroker(new RedisBroker(client, {
  middleware: [...defaultMiddleware(), new CurrentMessage(), new Results({ backend: new RedisBackend(client), resultTtl: 5_000 })],
  deadMessageTtl: 5_000,
}));
const ran = (token) => client.sendCommand(["RPUSH", "soak:ran", token]);
const options = { queueName: "soak-cmd", maxRetries: 1, minBackoff: 1, maxBackoff: 5 };

actor(async (token) => (await ran(token), token), { ...options, actorName: "cmd_ok", storeResults: true });
actor(async (token) => {
  if (!CurrentMessage.getCurrentMessage().options.retries) throw new Error("first attempt fails");
  await ran(token);
}, { ...options, actorName: "cmd_flaky" });
actor(async (token) => {
  await ran(token);
  throw new Error("always fails");
}, { ...options, actorName: "cmd_doomed", maxRetries: 0 });
actor(async (token) => {
  await ran(token);
  const end = Date.now() + 1_000;
  while (Date.now() < end); // synchronous: only terminating the thread stops it
}, { ...options, actorName: "cmd_overrun", maxRetries: 0, timeLimit: 200 });
