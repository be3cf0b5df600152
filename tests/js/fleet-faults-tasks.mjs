// The module tests/js/fleet-faults.test.mjs runs with `dramatiq-results worker`: the
// `record` actor of tests/py/broker_app.py, so a Python worker can take over what a killed
// JS worker held (and the other way round). It notes its start on `<PREFIX>:started` and,
// once processed, its message id on `<PREFIX>:processed`, as Python's does.
// RECORD_KIND "sync": a synchronous, CPU-bound actor (run on a worker thread by the
// command); "async": it awaits a timer. RECORD_MS: how long it takes.
import { RedisBroker, actor, connectRedis, defaultMiddleware, setBroker } from "dramatiq-results";

const { BROKER_URL, QUEUE, PREFIX, RECORD_KIND = "async", RECORD_MS = "400", HEARTBEAT_TIMEOUT } = process.env;
const rec = await connectRedis(BROKER_URL);
const ms = Number(RECORD_MS);
const broker = new RedisBroker(await connectRedis(BROKER_URL), {
  middleware: [
    ...defaultMiddleware(),
    {
      // In the main thread, whichever thread ran the actor.
      async beforeProcessMessage(_b, message) {
        if (message.actorName === "record") await rec.sendCommand(["RPUSH", `${PREFIX}:started`, message.messageId]);
      },
      async afterProcessMessage(_b, message, { exception }) {
        if (message.actorName === "record" && exception === undefined) await rec.sendCommand(["RPUSH", `${PREFIX}:processed`, message.messageId]);
      },
    },
  ],
  ...(HEARTBEAT_TIMEOUT ? { heartbeatTimeout: Number(HEARTBEAT_TIMEOUT), maintenanceChance: 1_000_000 } : {}),
});
setBroker(broker);

actor(
  RECORD_KIND === "sync"
    ? (tag) => {
        const end = Date.now() + ms;
        while (Date.now() < end);
        return tag;
      }
    : async (tag) => {
        await new Promise((r) => setTimeout(r, ms));
        return tag;
      },
  { actorName: "record", queueName: QUEUE },
);
