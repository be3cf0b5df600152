// The module `dramatiq-results worker` runs in tests/js/diff-fuzz-worker.test.mjs: the
// fuzz run's actors (FW_SPEC, a JSON file) on a RedisBroker at FW_REDIS_URL, or, given
// FW_AMQP_URL (tests/js/diff-fuzz-worker-amqp.test.mjs), on a RabbitmqBroker there (FW_MAX_PRIORITY its maxPriority) with
// results and barriers at FW_REDIS_URL. Its worker threads import it too, each with
// connections of its own.
import { readFileSync } from "node:fs";
import { RedisRateLimiterBackend, connectRedis, setBroker } from "dramatiq-results";
import { declareActors, fuzzAmqpBroker, fuzzBroker } from "./diff-fuzz-worker-actors.mjs";

const client = await connectRedis(process.env.FW_REDIS_URL);
const broker = process.env.FW_AMQP_URL ? await fuzzAmqpBroker(process.env.FW_AMQP_URL, client, { maxPriority: Number(process.env.FW_MAX_PRIORITY) || undefined }) : fuzzBroker(client);
setBroker(broker);
declareActors(broker, (key, value) => client.sendCommand(["RPUSH", key, value]), JSON.parse(readFileSync(process.env.FW_SPEC, "utf8")).actors, new RedisRateLimiterBackend(client));
