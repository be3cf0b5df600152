// The scenarios of bench/soak.mjs. Each is `async (n, urls, sample) => result`: it repeats
// one thing `n` times and returns samples taken at n/10 and at n (see `points`).
import { createClient } from "redis";
import memjs from "memjs";
import {
  StubBackend,
  RedisBackend,
  MemcachedBackend,
  Message,
  connectRedis,
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

const all = {
  ...resultScenarios("stub", stub, []),
  ...resultScenarios("nodeRedis", nodeRedis(false), ["redis"]),
  ...resultScenarios("nodeRedisBlocking", nodeRedis(true), ["redis"]),
  ...resultScenarios("connectRedis", ownRedis(false), ["redis"]),
  ...resultScenarios("connectRedisBlocking", ownRedis(true), ["redis"]),
  ...resultScenarios("memcached", memcached, ["memcached"]),
};

export const scenarios = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.run]));
export const sizes = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.size]));
export const needs = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.needs]));
