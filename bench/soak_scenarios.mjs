// The scenarios of bench/soak.mjs. Each is `async (n, urls, sample) => result`: it repeats
// one thing `n` times and returns samples taken at n/10 and at n (see `points`).
import { createClient } from "redis";
import memjs from "memjs";
import { execFile } from "node:child_process";
import {
  StubBackend,
  RedisBackend,
  MemcachedBackend,
  connectRedis,
  RedisBroker,
  RabbitmqBroker,
  Worker,
  actor,
  group,
  Results,
  GroupCallbacks,
  RedisRateLimiterBackend,
  ConcurrentRateLimiter,
  WindowRateLimiter,
  Barrier,
  defaultMiddleware,
} from "dramatiq-results";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `step(i)` for i in [0, n) (`batch` at a time, concurrently), sampling after each
 * tenth: `{ samples: [...] }`, the first at n/10, the last at n. */
export async function points(n, sample, step, { batch = 1, extra } = {}) {
  const samples = [];
  let next = 1;
  for (let i = 0; i < n; i += batch) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + batch); j++) jobs.push(step(j));
    await Promise.all(jobs);
    // A real service gets its work through I/O, so the event loop turns between requests
    // (and FinalizationRegistry frees the wasm side of dropped objects); a loop of awaits
    // that only ever resolve at once would never let it.
    await new Promise(setImmediate);
    if (i + batch >= (n * next) / 10) {
      samples.push(await sample(extra));
      next = Math.floor(((i + batch) * 10) / n) + 1;
    }
  }
  return { samples };
}

/** Redis's own view: keys, and client connections (this admin connection included). */
async function redisView(url) {
  const admin = createClient({ url });
  await admin.connect();
  return {
    extra: async () => ({
      redisKeys: await admin.dbSize(),
      redisClients: (await admin.sendCommand(["CLIENT", "LIST"])).trim().split("\n").length,
    }),
    close: () => admin.quit(),
  };
}

// Plain identities, not `Message`s: a `Message` is a wasm object freed only when the JS
// collector finalizes it, so its memory follows V8's GC schedule, which would hide a leak
// (the `messages` scenario measures that on its own).
const msg = (i, actorName = "soak") => ({ queueName: "default", actorName, messageId: `m-${i}` });

/** The result scenarios, for any backend `make()` gives (with `done()` to close it). */
function resultScenarios(prefix, make, needs) {
  return {
    [`${prefix}StoreGet`]: {
      size: 100_000,
      needs,
      run: async (n, urls, sample) => {
        const { backend, extra, done } = await make(urls);
        try {
          return await points(n, sample, async (i) => {
            const m = msg(i % 2_000); // a bounded live set: what grows is not the data
            await backend.storeResult(m, { i, text: "x".repeat(i % 200) }, 3_000);
            const got = await backend.getResult(m);
            if (got.i !== i) throw new Error("wrong value");
            if (i % 3 === 0) await backend.deleteResult(m);
          }, { batch: 50, extra });
        } finally {
          await done();
        }
      },
    },
    [`${prefix}BlockingTimeouts`]: {
      size: 3_000,
      needs,
      run: async (n, urls, sample) => {
        const { backend, extra, done } = await make(urls);
        try {
          return await points(n, sample, async (i) => {
            await backend.getResult(msg(`never-${i}`), { block: true, timeout: 5 }).then(
              () => { throw new Error("a value for a key never stored"); },
              (e) => { if (e.name !== "ResultTimeout") throw e; },
            );
          }, { batch: 20, extra });
        } finally {
          await done();
        }
      },
    },
    [`${prefix}Aborted`]: {
      size: 5_000,
      needs,
      run: async (n, urls, sample) => {
        const { backend, extra, done } = await make(urls);
        try {
          const signalLong = AbortSignal.timeout(3_600_000); // one long-lived signal shared by all
          return await points(n, sample, async (i) => {
            const controller = new AbortController();
            const signal = i % 2 ? controller.signal : AbortSignal.any([controller.signal, signalLong]);
            const wait = backend.getResult(msg(`aborted-${i}`), { block: true, timeout: 60_000, signal });
            await sleep(i % 3);
            controller.abort();
            await wait.then(
              () => { throw new Error("resolved"); },
              (e) => { if (e.name !== "AbortError" && e.name !== "ResultError" && e.name !== "TimeoutError") throw e; },
            );
          }, { batch: 20, extra });
        } finally {
          await done();
        }
      },
    },
    [`${prefix}IterAbandoned`]: {
      size: 3_000,
      needs,
      run: async (n, urls, sample) => {
        const { backend, extra, done } = await make(urls);
        try {
          return await points(n, sample, async (i) => {
            const batch = [msg(`it-${i % 500}-a`), msg(`it-${i % 500}-b`), msg(`it-${i % 500}-never`), msg(`it-${i % 500}-never2`)];
            await backend.storeResult(batch[0], 1, 3_000);
            await backend.storeResult(batch[1], 2, 3_000);
            if (i % 2) {
              for await (const _ of backend.iterResults(batch, { timeout: 60_000 })) break;
            } else {
              const it = backend.iterResults(batch, { timeout: 60_000 });
              await it.next();
              await it.next();
              await it.return();
            }
          }, { batch: 10, extra });
        } finally {
          await done();
        }
      },
    },
    [`${prefix}GetResultsTimeout`]: {
      size: 2_000,
      needs,
      run: async (n, urls, sample) => {
        const { backend, extra, done } = await make(urls);
        try {
          return await points(n, sample, async (i) => {
            const batch = [msg(`gr-${i % 500}-a`), msg(`gr-${i % 500}-never`)];
            await backend.storeResult(batch[0], 1, 3_000);
            await backend.getResults(batch, { timeout: 5 }).then(
              () => { throw new Error("resolved"); },
              (e) => { if (e.name !== "ResultTimeout") throw e; },
            );
          }, { batch: 10, extra });
        } finally {
          await done();
        }
      },
    },
  };
}

const stub = async () => ({ backend: new StubBackend(), done: async () => {} });

const nodeRedis = (blocking) => async (urls) => {
  const client = createClient({ url: urls.redis });
  await client.connect();
  const blockingClient = blocking ? client.duplicate() : undefined;
  await blockingClient?.connect();
  const view = await redisView(urls.redis);
  return {
    backend: new RedisBackend(client, { blockingClient }),
    extra: view.extra,
    done: async () => {
      await view.close();
      await client.quit();
      await blockingClient?.quit();
    },
  };
};

const ownRedis = (blocking) => async (urls) => {
  const client = await connectRedis(urls.redis);
  const blockingClient = blocking ? await client.duplicate() : undefined;
  const view = await redisView(urls.redis);
  return {
    backend: new RedisBackend(client, { blockingClient }),
    extra: view.extra,
    done: async () => {
      await view.close();
      await client.close();
      await blockingClient?.close();
    },
  };
};

const memcached = async (urls) => {
  const client = memjs.Client.create(urls.memcached, { logger: { log() {} } });
  return {
    backend: new MemcachedBackend(client),
    done: async () => client.close(),
  };
};

/** RabbitMQ's own view, through `rabbitmqctl` (slow: ~1 s a call, so only at samples). */
function rabbitView(ctlEnv) {
  const ctl = (...args) =>
    new Promise((resolve, reject) =>
      execFile("/usr/lib/rabbitmq/bin/rabbitmqctl", ["-n", ctlEnv.RABBITMQ_NODENAME, "-q", ...args], { env: ctlEnv, timeout: 60_000 }, (e, out) =>
        e ? reject(e) : resolve(out)));
  const count = (out) => out.trim().split("\n").filter((l) => l && !/^(name|pid|channel|connection)\b/.test(l)).length;
  return async () => ({
    connections: count(await ctl("list_connections", "pid")),
    channels: count(await ctl("list_channels", "pid")),
    consumers: count(await ctl("list_consumers", "channel_pid")),
  });
}

const quiet = { warn() {}, error() {}, info() {} };

/**
 * A broker and its worker's actors, on Redis or RabbitMQ, with results and rate limiters in
 * Redis: `send(i)` sends the i-th message of a mix (a success storing its result, one that
 * fails once then succeeds on retry, one that fails for good and is dead-lettered, a
 * delayed one, one under a ConcurrentRateLimiter and a WindowRateLimiter, a two-message
 * group with a completion callback, one waiting on a Barrier) and resolves once it is done.
 */
async function brokerRig(kind, urls, queue = "soak") {
  const client = await connectRedis(urls.redis);
  const rl = new RedisRateLimiterBackend(client);
  const middleware = [
    ...defaultMiddleware(),
    new Results({ backend: new RedisBackend(client), resultTtl: 5_000 }),
    new GroupCallbacks({ rateLimiterBackend: rl, barrierTtl: 5_000 }),
  ];
  const broker = kind === "redis"
    ? new RedisBroker(client, { middleware, logger: quiet, deadMessageTtl: 5_000, maintenanceChance: 100_000 })
    : await RabbitmqBroker.connect(urls.rabbitmq, { middleware, logger: quiet, deadMessageTtl: 5_000 });
  const waiting = new Map();
  const finish = (token) => {
    const done = waiting.get(token);
    waiting.delete(token);
    done?.();
  };
  const seen = new Set();
  const mutex = new ConcurrentRateLimiter(rl, "soak-mutex", { limit: 2, ttl: 5_000 });
  const window = new WindowRateLimiter(rl, "soak-window", { limit: 1_000_000, window: 1 });
  const options = { broker, queueName: queue, maxRetries: 3, minBackoff: 1, maxBackoff: 5 };
  const ok = actor((token) => (finish(token), token), { ...options, actorName: "soak_ok", storeResults: true, resultTtl: 5_000 });
  const flaky = actor((token) => {
    if (!seen.has(token)) {
      seen.add(token);
      throw new Error("first attempt fails");
    }
    seen.delete(token);
    finish(token);
  }, { ...options, actorName: "soak_flaky" });
  const doomed = actor((token) => {
    finish(token);
    throw new Error("always fails");
  }, { ...options, actorName: "soak_doomed", maxRetries: 0 });
  const limited = actor((token) =>
    mutex.acquire(() => window.acquire(() => finish(token), { raiseOnFailure: false })), { ...options, actorName: "soak_limited" });
  const barrierActor = actor(async (token) => {
    const barrier = new Barrier(rl, `soak-barrier-${token}`, { ttl: 5_000 });
    await barrier.create(1);
    await barrier.wait({ block: true, timeout: 1_000 });
    finish(token);
  }, { ...options, actorName: "soak_barrier" });
  const groupDone = actor((token) => finish(token), { ...options, actorName: "soak_group_done" });
  const send = (i) => {
    const token = `t${i}`;
    const done = new Promise((r) => waiting.set(token, r));
    switch (i % 7) {
      case 0: ok.send(token); break;
      case 1: flaky.send(token); break;
      case 2: doomed.send(token); break;
      case 3: ok.sendWithOptions({ args: [token], delay: 5 }); break;
      case 4: limited.send(token); break;
      case 5: {
        const g = group([ok.message(`${token}-a`), ok.message(`${token}-b`)], { broker });
        g.addCompletionCallback(groupDone.message(token));
        g.run();
        break;
      }
      case 6: barrierActor.send(token); break;
    }
    return done;
  };
  return {
    broker,
    client,
    send,
    waiting,
    close: async () => {
      await broker.close();
      await client.close();
    },
  };
}

function brokerScenarios(kind, needs) {
  const extraOf = async (urls) => {
    const view = await redisView(urls.redis);
    const rabbit = kind === "rabbitmq" ? rabbitView(urls.rabbitmqCtl) : null;
    return {
      extra: async () => ({ ...(await view.extra()), ...(rabbit ? await rabbit() : {}) }),
      close: view.close,
    };
  };
  return {
    [`${kind}WorkerMix`]: {
      size: 50_000,
      needs,
      run: async (n, urls, sample) => {
        const rig = await brokerRig(kind, urls);
        const view = await extraOf(urls);
        const worker = new Worker(rig.broker, { concurrency: 8 }).start();
        try {
          return await points(n, sample, (i) => rig.send(i), { batch: 50, extra: view.extra });
        } finally {
          await worker.stop();
          await rig.close();
          await view.close();
        }
      },
    },
    [`${kind}WorkerCycles`]: {
      size: 100,
      needs,
      run: async (n, urls, sample) => {
        const rig = await brokerRig(kind, urls, "soak-cycles");
        const view = await extraOf(urls);
        try {
          return await points(n, sample, async (i) => {
            const worker = new Worker(rig.broker, { concurrency: 4 }).start();
            await Promise.all(Array.from({ length: 7 }, (_, j) => rig.send(i * 7 + j)));
            await worker.stop();
          }, { extra: view.extra });
        } finally {
          await rig.close();
          await view.close();
        }
      },
    },
  };
}

/** A raw HTTP request on its own socket: resolves with the first bytes of the answer, then
 * `end` says how the client leaves: "destroy" (FIN), "reset" (RST), or "read" (waits for
 * the whole answer, `Connection: close`). `after` ms pass between the first bytes and the end. */
async function rawRequest(port, head, { end = "destroy", after = 0, body = "" } = {}) {
  const { connect } = await import("node:net");
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : ""}\r\n${body}`);
  let text = "";
  await new Promise((resolve) => {
    socket.on("data", (d) => {
      text += d;
      if (end !== "read") resolve();
    });
    socket.once("close", resolve);
  });
  if (after) await sleep(after);
  if (end === "reset") socket.resetAndDestroy();
  else if (end === "destroy") socket.destroy();
  else await new Promise((r) => (socket.closed ? r() : socket.once("close", r)));
  return text;
}

function gatewayScenarios() {
  const token = "viewer-token-0123456789";
  const operatorToken = "operator-token-0123456789";
  const auth = (t = token) => `Authorization: Bearer ${t}`;
  async function rig(urls) {
    const { startGateway } = await import("../pkg/src/gateway/node.js");
    const admin = createClient({ url: urls.redis });
    await admin.connect();
    // A queue with messages and a few dead letters to look at.
    const body = (i) => JSON.stringify({ queue_name: "work", actor_name: "soak", args: [i], kwargs: {}, options: {}, message_id: `g-${i}`, message_timestamp: Date.now() });
    for (let i = 0; i < 20; i++) {
      await admin.hSet("dramatiq:work.msgs", `r${i}`, body(i));
      await admin.rPush("dramatiq:work", `r${i}`);
      await admin.zAdd("dramatiq:work.XQ", { score: Date.now(), value: `x${i}` });
      await admin.hSet("dramatiq:work.XQ.msgs", `x${i}`, body(100 + i));
    }
    const gateway = await startGateway({ redis: urls.redis, port: 0, token, operatorToken, events: { intervalMs: 50 } });
    const port = new URL(gateway.url).port;
    const view = await redisView(urls.redis);
    const extra = async () => ({
      ...(await view.extra()),
      serverConnections: await new Promise((r) => gateway.server.getConnections((e, n) => r(n))),
      watchers: gateway.app.poller.watchers,
      resultWaiters: gateway.app.waiter?.size,
    });
    return {
      port,
      gateway,
      extra,
      // A message enqueued and another taken, so the poller has events for the viewers.
      churn: async (i) => {
        await admin.hSet("dramatiq:work.msgs", `c${i}`, body(1000 + i));
        await admin.rPush("dramatiq:work", `c${i}`);
        if (i >= 20) await admin.multi().hDel("dramatiq:work.msgs", `c${i - 20}`).lRem("dramatiq:work", 0, `c${i - 20}`).exec();
      },
      close: async () => {
        await gateway.close();
        await view.close();
        await admin.quit();
      },
    };
  }
  return {
    gatewaySse: {
      size: 5_000,
      needs: ["redis"],
      run: async (n, urls, sample) => {
        const g = await rig(urls);
        try {
          return await points(n, sample, async (i) => {
            if (i % 20 === 0) await g.churn(i / 20);
            // Some leave at once, some after a few events (10 ms: the poller runs every 50).
            await rawRequest(g.port, `GET /api/events HTTP/1.1\r\n${auth()}${i % 3 ? "" : "\r\nLast-Event-ID: 0"}`, {
              end: i % 2 ? "reset" : "destroy",
              after: i % 4 === 0 ? 120 : i % 5,
            });
          }, { batch: 20, extra: g.extra });
        } finally {
          await g.close();
        }
      },
    },
    gatewayResultAbandoned: {
      size: 5_000,
      needs: ["redis"],
      run: async (n, urls, sample) => {
        const g = await rig(urls);
        try {
          return await points(n, sample, async (i) => {
            const path = i % 2 ? `/api/results/work/soak/never-${i}?timeout=30000` : `/api/messages/g-${i % 20}/result?timeout=30000`;
            const { connect } = await import("node:net");
            const socket = connect(g.port, "127.0.0.1");
            socket.on("error", () => {});
            socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth()}\r\n\r\n`);
            await sleep(5 + (i % 10));
            if (i % 3) socket.destroy();
            else socket.resetAndDestroy();
          }, { batch: 20, extra: g.extra });
        } finally {
          await g.close();
        }
      },
    },
    gatewayOperator: {
      size: 5_000,
      needs: ["redis"],
      run: async (n, urls, sample) => {
        const g = await rig(urls);
        try {
          const op = auth(operatorToken);
          return await points(n, sample, async (i) => {
            const requests = [
              [`GET /api/queues HTTP/1.1\r\n${op}`],
              [`GET /api/messages?state=dead-lettered&limit=5 HTTP/1.1\r\n${op}`],
              [`POST /api/dead-letters/requeue HTTP/1.1\r\n${op}`, JSON.stringify({ queue: "work", dryRun: true })],
              [`POST /api/messages/none-${i}/requeue HTTP/1.1\r\n${op}`],
              [`DELETE /api/messages/none-${i} HTTP/1.1\r\n${op}`],
              [`GET /api/audit HTTP/1.1\r\n${op}`],
              [`GET /api/workers HTTP/1.1\r\n${op}`],
              [`GET /api/status HTTP/1.1\r\n${op}`],
              [`GET /api/session HTTP/1.1\r\n${op}`],
              [`GET /api/messages?q=g-1 HTTP/1.1\r\n${op}`],
            ];
            const [head, body] = requests[i % requests.length];
            const text = await rawRequest(g.port, head, { end: "read", body });
            if (!/^HTTP\/1.1 (200|404|409) /.test(text)) throw new Error(`${head.split("\r")[0]}: ${text.slice(0, 300)}`);
          }, { batch: 10, extra: g.extra });
        } finally {
          await g.close();
        }
      },
    },
  };
}

/** The resources of process `pid` and its descendants, read from /proc. */
async function processTree(pid) {
  const { readdirSync, readFileSync } = await import("node:fs");
  const children = (p) => {
    try {
      return readdirSync(`/proc/${p}/task`).flatMap((t) => readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      return [];
    }
  };
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]));
  let rssMB = 0;
  let fds = 0;
  let threads = 0;
  for (const p of all) {
    try {
      rssMB += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))[1]) / 1024;
      fds += readdirSync(`/proc/${p}/fd`).length;
      threads += readdirSync(`/proc/${p}/task`).length;
    } catch {}
  }
  return { childProcesses: all.length, childRssMB: +rssMB.toFixed(1), childFds: fds, childThreads: threads };
}

const workerCommand = {
  workerCommand: {
    size: 20_000,
    needs: ["redis"],
    run: async (n, urls, sample) => {
      const { spawn } = await import("node:child_process");
      const { fileURLToPath } = await import("node:url");
      const bin = fileURLToPath(new URL("../pkg/bin/dramatiq-results.js", import.meta.url));
      const tasks = fileURLToPath(new URL("./soak/tasks.mjs", import.meta.url));
      const child = spawn(process.execPath, [bin, "worker", tasks, "-p", "1", "-t", "4"], {
        env: { ...process.env, BROKER_URL: urls.redis },
        stdio: ["ignore", "ignore", "pipe"],
        detached: true,
      });
      let log = "";
      child.stderr.on("data", (d) => (log = (log + d).slice(-20_000)));
      const client = createClient({ url: urls.redis });
      await client.connect();
      const broker = new RedisBroker(client, { middleware: [] });
      const senders = ["cmd_ok", "cmd_flaky", "cmd_doomed", "cmd_overrun"].map((name) => actor(name, { broker, queueName: "soak-cmd" }));
      const view = await redisView(urls.redis);
      try {
        while (!/ready for action/.test(log)) {
          if (child.exitCode !== null) throw new Error(`the worker exited: ${log}`);
          await sleep(50);
        }
        let ran = 0;
        // The overrunning actor costs a thread each time (terminated, replaced): 1 in 50.
        const kindOf = (i) => (i % 50 === 49 ? 3 : i % 3);
        return await points(n, sample, async (i) => {
          if (i % 100 === 0) {
            // Batches of 100: sent, then waited for (each marks `soak:ran` once).
            await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => senders[kindOf(i + j)].send(`t${i + j}`).enqueued));
            const want = ran + Math.min(100, n - i);
            const deadline = Date.now() + 60_000;
            while ((ran = await client.lLen("soak:ran")) < want) {
              if (Date.now() > deadline) {
                const seen = new Set(await client.lRange("soak:ran", 0, -1));
                const missing = Array.from({ length: want }, (_, k) => k).filter((k) => !seen.has(`t${k}`)).map((k) => `t${k} (${["cmd_ok", "cmd_flaky", "cmd_doomed", "cmd_overrun"][kindOf(k)]})`);
                throw new Error(`only ${ran} of ${want} ran; missing ${missing.join(", ")}: ${log.slice(-3000)}`);
              }
              await sleep(20);
            }
          }
        }, { extra: async () => ({ ...(await view.extra()), ...(await processTree(child.pid)) }) });
      } finally {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {}
        await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
        await broker.close();
        await view.close();
        await client.quit();
      }
    },
  },
};

const rateLimits = {
  rateLimitsRedis: {
    size: 20_000,
    needs: ["redis"],
    run: async (n, urls, sample) => {
      const { BucketRateLimiter } = await import("dramatiq-results");
      const client = await connectRedis(urls.redis);
      const blocking = await client.duplicate();
      const rl = new RedisRateLimiterBackend(client);
      const view = await redisView(urls.redis);
      const mutex = new ConcurrentRateLimiter(rl, "rl-mutex", { limit: 1, ttl: 2_000 });
      const window = new WindowRateLimiter(rl, "rl-window", { limit: 5, window: 1 });
      const bucket = new BucketRateLimiter(rl, "rl-bucket", { limit: 5, bucket: 100 });
      try {
        return await points(n, sample, async (i) => {
          switch (i % 4) {
            case 0: await mutex.acquire(() => sleep(1), { raiseOnFailure: false }); break;
            case 1: await window.acquire(() => {}, { raiseOnFailure: false }); break;
            case 2: await bucket.acquire(() => {}, { raiseOnFailure: false }); break;
            case 3: {
              // A barrier nobody else reaches: its wait times out; its keys expire.
              const barrier = new Barrier(rl, `rl-barrier-${i}`, { ttl: 500 });
              await barrier.create(2);
              await barrier.wait({ block: true, timeout: 5 });
              break;
            }
          }
        }, { batch: 8, extra: view.extra });
      } finally {
        await view.close();
        await client.close();
        await blocking.close();
      }
    },
  },
};

const outages = {
  redisOutages: {
    size: 60,
    needs: [],
    run: async (n, urls, sample) => {
      const { startRedis } = await import("../tests/js/services.mjs");
      const server = await startRedis();
      const client = await connectRedis(server.url, { commandTimeout: 2_000, connectTimeout: 2_000 });
      const blockingClient = await client.duplicate();
      const backend = new RedisBackend(client, { blockingClient });
      const broker = new RedisBroker(client, { logger: quiet, middleware: [...defaultMiddleware(), new Results({ backend })] });
      let ran = 0;
      const work = actor(() => (ran += 1), { broker, actorName: "outage", queueName: "outage", storeResults: true, minBackoff: 1, maxBackoff: 10 });
      const worker = new Worker(broker, { concurrency: 2 }).start();
      const attempt = (p) => p.then(() => true, () => false);
      try {
        return await points(n, sample, async (i) => {
          // Redis dies (SIGKILL) while reads wait on both connections and the worker fetches.
          const waiting = backend.getResult({ queueName: "outage", actorName: "outage", messageId: `never-${i}` }, { block: true, timeout: 300 }).catch(() => {});
          await sleep(20);
          await server.kill();
          await attempt(work.send(i).enqueued);
          await attempt(backend.storeResult({ queueName: "q", actorName: "a", messageId: `o-${i}` }, i, 1_000));
          await waiting;
          await server.start();
          // Until both connections and the worker are back: a message runs, a result reads.
          const before = ran;
          const deadline = Date.now() + 30_000;
          while (!(await attempt(work.send(i).enqueued))) if (Date.now() > deadline) throw new Error("no send after the restart");
          while (ran === before) {
            if (Date.now() > deadline) throw new Error("the worker never ran a message after the restart");
            await sleep(10);
          }
          await backend.getResult({ queueName: "q", actorName: "a", messageId: `x-${i}` }, { block: true, timeout: 20 }).catch(() => {});
        }, { extra: async () => ({ restarts: server.child.pid && 1 }) });
      } finally {
        await worker.stop({ timeout: 5_000 });
        await broker.close();
        await client.close();
        await blockingClient.close();
        await server.stop();
      }
    },
  },
};

const sharedSignal = {
  stubSharedSignal: {
    size: 100_000,
    needs: [],
    run: async (n, urls, sample) => {
      const { getEventListeners } = await import("node:events");
      const backend = new StubBackend();
      // One long-lived signal (a service's shutdown signal) handed to every wait.
      const shutdown = new AbortController();
      return await points(n, sample, async (i) => {
        const id = msg(`shared-${i % 1_000}`);
        const wait = backend.getResult(id, { block: true, timeout: 60_000, signal: shutdown.signal });
        await sleep(0);
        await backend.storeResult(id, i, 1_000);
        await wait;
      }, { batch: 50, extra: async () => ({ listeners: getEventListeners(shutdown.signal, "abort").length }) });
    },
  },
};

const all = {
  ...resultScenarios("stub", stub, []),
  ...resultScenarios("nodeRedis", nodeRedis(false), ["redis"]),
  ...resultScenarios("nodeRedisBlocking", nodeRedis(true), ["redis"]),
  ...resultScenarios("connectRedis", ownRedis(false), ["redis"]),
  ...resultScenarios("connectRedisBlocking", ownRedis(true), ["redis"]),
  ...resultScenarios("memcached", memcached, ["memcached"]),
  ...brokerScenarios("redis", ["redis"]),
  ...brokerScenarios("rabbitmq", ["redis", "rabbitmq"]),
  ...gatewayScenarios(),
  ...workerCommand,
  ...rateLimits,
  ...outages,
  ...sharedSignal,
};

export const scenarios = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.run]));
export const sizes = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.size]));
export const needs = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.needs]));
