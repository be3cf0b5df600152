// Nothing lost, nothing doubled, under faults (issue 25's promise across issue 24's mixed
// fleet): a JS worker's acks and delayed-message moves when the connection drops or the
// server restarts, and workers SIGKILLed mid-message with another language's worker left
// to recover what they held. Each actor notes its message id, so losses and doubles are
// counted end to end; Python Dramatiq 2.2.1's own behaviour in the same situation is the
// reference (its worker retries a failed ack until the server answers, and a dead worker's
// messages come back after the heartbeat timeout). The long randomized runs of the same
// scenarios are bench/chaos/; RabbitMQ's are fleet-faults-rabbitmq.test.mjs.
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
import { eventually, recordingLogger, tally } from "./broker-helpers.mjs";

const skip = !haveRedis && "redis-server is not installed";

/** Every `__acks__` set of `namespace` with its members (what workers hold unsettled). */
async function ackSets(client, namespace) {
  const out = {};
  for (const key of await client.keys(`${namespace}:__acks__.*`)) {
    const members = await client.sMembers(key);
    if (members.length > 0) out[key] = members; // (gone since KEYS: emptied meanwhile)
  }
  return out;
}


/**
 * A node-redis client whose Dramatiq script calls of `command` ("ack", "nack", …) on a
 * queue `onQueue` fail `times` times before reaching the server, as a dropped connection
 * fails them: the worker sees the failure, the server never sees the call. With
 * `afterServer`, the call runs on the server first and only its reply is lost.
 */
function failing(client, { command, onQueue, times, afterServer = false }) {
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
        const lost = () => Promise.reject(new Error("Socket closed unexpectedly (injected)"));
        return afterServer ? client.sendCommand(argv, options).then(lost, lost) : lost();
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

  test("a fetch whose reply is lost after it ran on the server: the ids it took into the (live) worker's ack set are given back and run, where Python's worker leaves them until it dies", async () => {
    const ns = "lostfetch";
    const logger = recordingLogger();
    const wrapped = failing(client, { command: "fetch", onQueue: "q", times: 1, afterServer: true });
    const broker = new RedisBroker(wrapped, { namespace: ns, middleware: [], logger });
    const runs = [];
    const job = actor((i) => void runs.push(i), { broker, actorName: "job", queueName: "q" });
    for (let i = 0; i < 6; i++) await job.send(i).enqueued;
    const worker = new Worker(broker, { concurrency: 2 }).start();
    try {
      await eventually(async () => runs.length >= 6 && Object.keys(await ackSets(client, ns)).length === 0, "every message run, none left held", 10_000);
    } finally {
      await worker.stop({ timeout: 5000 });
    }
    assert.equal(wrapped.failed, 1);
    assert.deepEqual([...runs].sort(), [0, 1, 2, 3, 4, 5], `each ran once: ${runs}`);
    assert.ok(logger.lines.some((l) => /taken into this worker's ack set by a fetch whose reply was lost/.test(l)), logger.lines.join("\n"));
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

  test("a synchronous actor that blocks the event loop past the heartbeat timeout: the worker says its messages may have been handed on (Python's consumer threads heartbeat through it; bench/chaos/probe_sync_heartbeat.mjs shows the double run)", async () => {
    const ns = "silent";
    const logger = recordingLogger();
    const broker = new RedisBroker(client, { namespace: ns, middleware: [], logger, heartbeatTimeout: 1000 });
    const runs = [];
    const spin = actor((ms) => {
      const end = Date.now() + ms;
      while (Date.now() < end);
      runs.push(ms);
    }, { broker, actorName: "spin", queueName: "q" });
    await spin.send(10).enqueued;
    const worker = new Worker(broker, { concurrency: 1 }).start();
    try {
      await eventually(() => runs.length === 1, "the short one run");
      await sleep(1500); // idle fetches, at most a second apart: no warning
      assert.ok(!logger.lines.some((l) => /sent no heartbeat/.test(l)), logger.lines.join("\n"));
      await spin.send(2500).enqueued;
      await eventually(() => logger.lines.some((l) => /^warn This worker sent no heartbeat for \d+ ms, longer than the heartbeat timeout \(1000 ms\).*dramatiq-results worker/.test(l)), "the warning", 15_000);
    } finally {
      await worker.stop({ timeout: 5000 });
    }
  });

  test("stop({ timeout }) on a connection gone silent (every command hangs, no error): resolves by its timeout and a second's grace, as Python's stop(timeout) returns; what it held comes back after the heartbeat timeout", async () => {
    const ns = "silentstop";
    const logger = recordingLogger();
    const gate = { hung: false };
    const hanging = { sendCommand: (argv, options) => (gate.hung ? new Promise(() => {}) : client.sendCommand(argv, options)) };
    const broker = new RedisBroker(hanging, { namespace: ns, middleware: [], logger });
    const runs = [];
    let silenced;
    const silent = new Promise((resolve) => (silenced = resolve));
    const job = actor(async (i) => {
      // The connection goes silent while this one runs: its ack (at least) hangs.
      if (i === 2) (gate.hung = true), silenced();
      await sleep(300);
      runs.push(i);
    }, { broker, actorName: "job", queueName: "q" });
    for (let i = 0; i < 10; i++) await job.send(i).enqueued;
    const worker = new Worker(broker, { concurrency: 2 }).start();
    await silent;
    const started = Date.now();
    const outcome = await Promise.race([worker.stop({ timeout: 1000 }).then(() => "stopped"), sleep(10_000).then(() => "still stopping after 10 s")]);
    const took = Date.now() - started;
    assert.equal(outcome, "stopped");
    assert.ok(took < 1000 + 1000 + 2000, `by the timeout and its grace (+ a loaded machine's slack): ${took} ms`);
    assert.ok(logger.lines.some((l) => /Worker stopped after its timeout of 1000 ms/.test(l)), logger.lines.join("\n"));
    // Nothing lost: what did not run is in the (now silent) worker's ack set or the queue
    // (what ran but whose ack hung is there too: it runs again, at least once).
    const held = Object.values(await ackSets(client, ns)).flat().length;
    const queued = await client.lLen(`${ns}:q`);
    assert.ok(held + queued >= 10 - new Set(runs).size && held + queued <= 10, `held ${held}, queued ${queued}, run ${runs.length}`);
    await client.del(await client.keys(`${ns}:*`));
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

const root = new URL("../../", import.meta.url).pathname;
const tasks = new URL("./fleet-faults-tasks.mjs", import.meta.url).pathname;

/**
 * `dramatiq-results worker fleet-faults-tasks.mjs -p 1 -t 2` in a process group of its own
 * (supervisor and worker process), resolved once every worker process is ready. `kill()`
 * SIGKILLs the whole group: a machine lost, so no supervisor releases its messages and
 * only the heartbeat timeout brings them back.
 */
async function startJsWorker(env) {
  const child = spawn(process.execPath, [`${root}pkg/bin/dramatiq-results.js`, "worker", tasks, "-p", "1", "-t", "2"], {
    cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true,
  });
  const reaped = reapOnExit(child.pid);
  const w = { output: "", pid: child.pid };
  const exited = new Promise((r) => child.once("exit", (code, signal) => r(code ?? signal)));
  exited.then(() => (w.exited = true));
  child.stdout.on("data", (d) => (w.output += d));
  child.stderr.on("data", (d) => (w.output += d));
  w.kill = async () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    await exited;
    reaped();
  };
  await eventually(() => /Every worker process is ready for action/.test(w.output) || w.exited, "the JS worker ready", 30_000).catch((e) => {
    throw new Error(`${e.message}\n${w.output}`);
  });
  if (!/Every worker process is ready for action/.test(w.output)) throw new Error(`the JS worker exited:\n${w.output}`);
  return w;
}

describe("a worker SIGKILLed mid-message: the other language's worker recovers what it held after the heartbeat timeout", { skip: skip || (!havePython && "no Python Dramatiq (scripts/setup --python)") }, () => {
  let server;
  let client;

  before(async () => {
    server = await startRedis();
    client = createClient({ url: server.url });
    await client.connect();
  });

  after(async () => {
    await client?.quit().catch(() => {});
    await server?.stop();
  });

  /** Sends `n` `record` messages from JS on `queue`, and `delayed` more with a delay of
   * `delay` ms; their ids. */
  async function send(queue, n, { delayed = 0, delay = 1500 } = {}) {
    const broker = new RedisBroker(client, { middleware: [] });
    const record = actor(() => {}, { broker, actorName: "record", queueName: queue });
    const sent = [];
    for (let i = 0; i < n; i++) sent.push(record.send(`t${i}`));
    for (let i = 0; i < delayed; i++) sent.push(record.sendWithOptions({ args: [`d${i}`], delay }));
    await Promise.all(sent.map((m) => m.enqueued));
    return sent.map((m) => m.messageId);
  }

  /**
   * The ids of `done` still in a (dead) worker's ack set for `queue`, sorted: killed
   * after their actor finished and before their ack landed. Only these may run twice:
   * delivery is at least once, and the kill can fall in that window.
   */
  async function finishedUnacked(queue, done) {
    const held = new Set();
    for (const key of await client.keys(`dramatiq:__acks__.*.${queue}`)) {
      // An ack set holds redis_message_ids; the message's own id is in its stored body.
      for (const redisId of await client.sMembers(key)) {
        const body = await client.hGet(`dramatiq:${queue}.msgs`, redisId);
        if (body !== null) held.add(JSON.parse(body).message_id);
      }
    }
    return done.filter((id) => held.has(id)).sort();
  }

  /** Waits until every id of `ids` is on `list`; what was processed, with its doubles. */
  async function allProcessed(list, ids, ms = 30_000) {
    const processed = await eventually(async () => {
      const seen = await client.lRange(list, 0, -1);
      const got = new Set(seen);
      return ids.every((id) => got.has(id)) && seen;
    }, "every message processed", ms);
    return { processed, ...tally(processed) };
  }

  for (const kind of ["sync", "async"]) {
    test(`a JS worker (the worker command, ${kind} actor on worker threads) killed with messages running, prefetched and delayed: a Python worker runs them all, none lost, none processed twice`, { timeout: 60_000 }, async (t) => {
      const queue = `jsdies-${kind}`;
      const prefix = queue;
      // Delayed ones too: held in the JS worker's delay-queue ack set when it dies, they
      // go back to the delay queue and the Python worker moves them when due.
      const ids = await send(queue, 12);
      const js = await startJsWorker({ BROKER_URL: server.url, QUEUE: queue, PREFIX: prefix, RECORD_KIND: kind, RECORD_MS: "600" });
      let py;
      try {
        // Sent once it runs, due in 3 s: the JS worker holds them when it dies.
        ids.push(...(await send(queue, 0, { delayed: 4, delay: 3000 })));
        const delayedHeld = async () => {
          const [key] = await client.keys(`dramatiq:__acks__.*.${queue}.DQ`);
          return key === undefined ? 0 : client.sCard(key);
        };
        await eventually(async () => (await delayedHeld()) === 4, "the delayed ones held by the JS worker");
        await eventually(async () => (await client.lLen(`${prefix}:started`)) >= 2 && (await client.lLen(`${prefix}:processed`)) >= 2, "the JS worker mid-batch");
        const held = await client.keys(`dramatiq:__acks__.*.${queue}`);
        const heldIds = held.length ? await client.sMembers(held[0]) : [];
        assert.equal(await delayedHeld(), 4, "the delayed ones still held (not yet due)");
        await js.kill();
        const started = await client.lRange(`${prefix}:started`, 0, -1);
        const doneByJs = await client.lRange(`${prefix}:processed`, 0, -1);
        const running = started.filter((id) => !doneByJs.includes(id));
        const unacked = await finishedUnacked(queue, doneByJs);
        t.diagnostic(`killed holding ${heldIds.length}, ${running.length} of them running, ${doneByJs.length} done, ${unacked.length} done but not yet acked`);
        assert.ok(heldIds.length > 0, "the JS worker held messages when killed");
        // Python's maintenance: a worker silent for over heartbeat_timeout has its acks requeued.
        py = await startPythonWorker({ url: server.url, queue, prefix, threads: 4, env: { BROKER_HEARTBEAT_TIMEOUT: "1000", BROKER_MAINTENANCE_CHANCE: "1000000" } });
        const { distinct, doubled, processed } = await allProcessed(`${prefix}:processed`, ids);
        t.diagnostic(`${ids.length} sent, ${processed.length} processed, doubled: ${doubled.length}`);
        assert.equal(distinct, ids.length, "none lost");
        assert.ok(unacked.length <= 2, `at most one per thread (-t 2) between its end and its ack: ${unacked}`);
        assert.ok(unacked.length <= 2, `at most one per thread (2) between its end and its ack: ${unacked}`);
      assert.deepEqual(doubled.sort(), unacked, "none processed twice but those killed between their end and their ack (at least once)");
        await eventually(async () => Object.keys(await ackSets(client, "dramatiq")).length === 0, "nothing left held");
        assert.equal(await client.exists(`dramatiq:${queue}`), 0);
      } finally {
        await js.kill();
        await py?.kill();
      }
    });
  }

  test("a Python worker killed with messages running and prefetched: a JS worker command (heartbeatTimeout 1 s) runs them all", { timeout: 60_000 }, async (t) => {
    const queue = "pydies";
    const prefix = queue;
    const ids = await send(queue, 12);
    const py = await startPythonWorker({ url: server.url, queue, prefix, threads: 2, env: { RECORD_DELAY_MS: "600" } });
    let js;
    try {
      await eventually(async () => (await client.lLen(`${prefix}:processed`)) >= 2, "the Python worker mid-batch");
      const held = await client.keys(`dramatiq:__acks__.*.${queue}`);
      const heldCount = held.length ? await client.sCard(held[0]) : 0;
      await py.kill();
      const unacked = await finishedUnacked(queue, await client.lRange(`${prefix}:processed`, 0, -1));
      t.diagnostic(`the Python worker was killed holding ${heldCount}, ${unacked.length} done but not yet acked`);
      assert.ok(heldCount > 0);
      js = await startJsWorker({ BROKER_URL: server.url, QUEUE: queue, PREFIX: prefix, RECORD_KIND: "async", RECORD_MS: "50", HEARTBEAT_TIMEOUT: "1000" });
      const { distinct, doubled, processed } = await allProcessed(`${prefix}:processed`, ids);
      t.diagnostic(`${ids.length} sent, ${processed.length} processed, doubled: ${doubled.length}`);
      assert.equal(distinct, ids.length, "none lost");
      assert.ok(unacked.length <= 2, `at most one per thread (2) between its end and its ack: ${unacked}`);
      assert.deepEqual(doubled.sort(), unacked, "none processed twice but those killed between their end and their ack (at least once)");
      await eventually(async () => Object.keys(await ackSets(client, "dramatiq")).length === 0, "nothing left held");
    } finally {
      await py.kill();
      await js?.kill();
    }
  });
});
