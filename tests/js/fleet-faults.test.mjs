// Nothing lost, nothing doubled, under faults (issue 25's promise across issue 24's mixed
// fleet): a JS worker's acks and delayed-message moves when the connection drops or the
// server restarts, and workers SIGKILLed mid-message with another language's worker left
// to recover what they held. Each actor notes its message id, so losses and doubles are
// counted end to end; Python Dramatiq 2.2.1's own behaviour in the same situation is the
// reference (its worker retries a failed ack until the server answers, and a dead worker's
// messages come back after the heartbeat timeout). The long randomized runs of the same
// scenarios are bench/chaos/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { RedisBroker, Worker, actor, connectRedis, defaultMiddleware } from "dramatiq-results";
import { haveRedis, reapOnExit, startRedis } from "./services.mjs";
import { havePython, startPythonWorker } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";
import { eventually, recordingLogger } from "./broker-helpers.mjs";

const skip = !haveRedis && "redis-server is not installed";

/** Every `__acks__` set of `namespace` with its members (what workers hold unsettled). */
async function ackSets(client, namespace) {
  const out = {};
  for (const key of await client.keys(`${namespace}:__acks__.*`)) out[key] = await client.sMembers(key);
  return out;
}

/** How many times each item of `list` occurs, and which occur more than once. */
function tally(list) {
  const counts = new Map();
  for (const x of list) counts.set(x, (counts.get(x) ?? 0) + 1);
  return { distinct: counts.size, doubled: [...counts].filter(([, n]) => n > 1).map(([x]) => x) };
}

/**
 * A node-redis client whose Dramatiq script calls of `command` ("ack", "nack", …) on a
 * queue `onQueue` fail `times` times before reaching the server, as a dropped connection
 * fails them: the worker sees the failure, the server never sees the call.
 */
function failing(client, { command, onQueue, times }) {
  let left = times;
  const dispatchArgs = (argv) => {
    const at = argv.findIndex((a) => String(a) === command);
    return at >= 0 && argv[0] && /^EVAL/i.test(String(argv[0])) ? argv.slice(at) : undefined;
  };
  return {
    failed: 0,
    sendCommand(argv, options) {
      const args = dispatchArgs(argv);
      if (args && String(args[2]) === onQueue && left > 0) {
        left -= 1;
        this.failed += 1;
        return Promise.reject(new Error("Socket closed unexpectedly (injected)"));
      }
      return client.sendCommand(argv, options);
    },
  };
}

describe("a JS worker's settlements under connection faults (Redis)", { skip }, () => {
  let server;
  let client;
  let dir;

  before(async () => {
    // Persistence on, so a restarted server still has the queues, ack sets and bodies.
    dir = mkdtempSync(join(tmpdir(), "fleet-faults-"));
    server = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir] });
    client = createClient({ url: server.url, socket: { reconnectStrategy: () => 50 } });
    client.on("error", () => {});
    await client.connect();
  });

  after(async () => {
    await client?.quit().catch(() => {});
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("an ack or nack lost to the connection is retried until the server answers, as Python's post_process_message: none left in the ack set, none run twice", async () => {
    const ns = "ackretry";
    for (const command of ["ack", "nack"]) {
      const logger = recordingLogger();
      const wrapped = failing(client, { command, onQueue: "q", times: 3 });
      // Retries (in the default middleware) fails the message for good: the nack.
      const broker = new RedisBroker(wrapped, { namespace: ns, middleware: defaultMiddleware(), logger });
      const runs = [];
      const job = actor((i) => {
        runs.push(i);
        if (command === "nack") throw new Error("fails, dead-lettered");
      }, { broker, actorName: "job", queueName: "q", maxRetries: 0 });
      for (let i = 0; i < 6; i++) await job.send(i).enqueued;
      const worker = new Worker(broker, { concurrency: 2 }).start();
      try {
        await eventually(async () => runs.length >= 6 && Object.keys(await ackSets(client, ns)).length === 0, `every ${command} through`, 15_000);
      } finally {
        await worker.stop({ timeout: 5000 });
      }
      assert.equal(wrapped.failed, 3, "the injected failures happened");
      assert.deepEqual([...runs].sort(), [0, 1, 2, 3, 4, 5], `each message ran once: ${runs}`);
      assert.deepEqual(await ackSets(client, ns), {}, "nothing left held by the (live) worker");
      assert.equal(await client.lLen(`${ns}:q`), 0);
      assert.equal(await client.zCard(`${ns}:q.XQ`), command === "nack" ? 6 : 0, "the failed ones dead-lettered, once each");
      assert.ok(logger.lines.some((l) => l.startsWith("error") && new RegExp(`Could not ${command} .*retrying until the server answers`).test(l)), logger.lines.join("\n"));
      await broker.flush("q");
    }
  });

  test("a delayed message whose ack on the delay queue is lost after its move runs once: only the ack is retried, not the move", async () => {
    const ns = "moveretry";
    const logger = recordingLogger();
    const wrapped = failing(client, { command: "ack", onQueue: "q.DQ", times: 2 });
    const broker = new RedisBroker(wrapped, { namespace: ns, middleware: [], logger });
    const runs = [];
    const job = actor((i) => void runs.push(i), { broker, actorName: "job", queueName: "q" });
    for (let i = 0; i < 4; i++) await job.sendWithOptions({ args: [i], delay: 100 }).enqueued;
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await eventually(async () => runs.length >= 4 && Object.keys(await ackSets(client, ns)).length === 0, "every move settled", 15_000);
      await sleep(1500); // a second copy would have been moved and run by now
    } finally {
      await worker.stop({ timeout: 5000 });
    }
    assert.equal(wrapped.failed, 2);
    assert.deepEqual([...runs].sort(), [0, 1, 2, 3], `each delayed message ran once: ${runs}`);
    assert.deepEqual(await ackSets(client, ns), {});
    assert.equal(await client.lLen(`${ns}:q.DQ`), 0);
    assert.equal(await client.lLen(`${ns}:q`), 0);
  });

  test("Redis killed and restarted while messages run and delayed ones wait (connectRedis, which fails commands while down): every message runs once, nothing stays held", { timeout: 60_000 }, async (t) => {
    const ns = "restart";
    const logger = recordingLogger();
    const conn = await connectRedis(server.url);
    const broker = new RedisBroker(conn, { namespace: ns, middleware: [], logger });
    const runs = [];
    const job = actor(async (i) => {
      await sleep(250);
      runs.push(i);
    }, { broker, actorName: "job", queueName: "q" });
    for (let i = 0; i < 12; i++) await job.send(`now-${i}`).enqueued;
    for (let i = 0; i < 8; i++) await job.sendWithOptions({ args: [`later-${i}`], delay: 300 + 40 * i }).enqueued;
    const worker = new Worker(broker, { concurrency: 4 }).start();
    try {
      await sleep(150);
      await server.stop();
      await sleep(1200);
      await server.start();
      await eventually(async () => runs.length >= 20 && Object.keys(await ackSets(client, ns)).length === 0, "every message run and settled", 30_000);
      await sleep(500);
    } finally {
      await worker.stop({ timeout: 5000 });
      await conn.close?.();
    }
    const { distinct, doubled } = tally(runs);
    t.diagnostic(`${runs.length} runs, ${logger.lines.filter((l) => /Could not (ack|nack|move)/.test(l)).length} settlement(s) retried`);
    assert.equal(distinct, 20, `none lost: ${runs}`);
    assert.deepEqual(doubled, [], "none run twice (every one finished within the outage's retries)");
    assert.deepEqual(await ackSets(client, ns), {});
    assert.equal(await client.lLen(`${ns}:q`) + await client.lLen(`${ns}:q.DQ`), 0);
  });
});
