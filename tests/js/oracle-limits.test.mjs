// Dramatiq 2.2.1's own rate-limiter and barrier tests (test_concurrent_rate_limiter.py,
// test_window_rate_limiter.py, test_bucket_rate_limiter.py, test_barrier.py) as the oracle:
// each scenario in our words, over each of the three backends (Stub, a real redis-server, a
// real memcached), with Dramatiq's assertions; then the same scenarios shared between a JS
// process and the real Python Dramatiq (tests/py/rate_limits.py `lanes`) on one server,
// where the counts must hold across the two languages. (The keys, values and TTLs each
// limiter leaves, byte for byte against Python's, are rate-limits.test.mjs's.)
// Dramatiq's window test runs 20 s (a 5 s window); here the same shape runs 4 s (a 2 s
// window), and the cases run concurrently, so the file stays short.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import memjs from "memjs";
import {
  Barrier,
  BucketRateLimiter,
  ConcurrentRateLimiter,
  MemcachedRateLimiterBackend,
  RateLimitExceeded,
  RedisRateLimiterBackend,
  StubRateLimiterBackend,
  WindowRateLimiter,
} from "dramatiq-results";
import { haveMemcached, haveRedis, memcachedText, startMemcached, startRedis } from "./services.mjs";
import { havePython, runPython } from "./pyworker.mjs";
import { sleep } from "./helpers.mjs";

if (!haveRedis || !haveMemcached) throw new Error("redis-server or memcached is missing: run scripts/setup --services");
const skipPython = !havePython && "no target/venv (scripts/setup --python)";

let redis;
let memcached;
let raw;
let blocking;
let mc;

before(async () => {
  [redis, memcached] = await Promise.all([startRedis(), startMemcached()]);
  raw = await createClient({ url: redis.url }).connect();
  blocking = await createClient({ url: redis.url }).connect();
  mc = memjs.Client.create(memcached.address, { logger: { log() {} }, retries: 0 });
});

after(async () => {
  await raw?.quit();
  await blocking?.quit();
  mc?.close();
  await Promise.all([redis?.stop(), memcached?.stop()]);
});

// One stub for the whole file, as Python's fixture is one backend per test: keys differ.
const stub = new StubRateLimiterBackend();
const BACKENDS = {
  stub: () => stub,
  redis: () => new RedisRateLimiterBackend(raw, { blockingClient: blocking }),
  memcached: () => new MemcachedRateLimiterBackend(mc),
};
const urlOf = { redis: () => redis.url, memcached: () => `memcached://${memcached.address}` };

/** The first `margin` ms after the next multiple of `period` ms of Unix time, at least
 * `lead` ms from now: a start both languages can meet, inside one second or bucket. */
const alignedStart = (period, { lead = 0, margin = 100 } = {}) => (Math.floor((Date.now() + lead) / period) + 1) * period + margin;

/**
 * The shape of Dramatiq's limiter tests, as tests/py/rate_limits.py `lanes` runs it:
 * `threads` concurrent lanes; round r starts at `start + r * roundMs`, and in it each lane
 * makes `perRound` acquisitions in turn, holding each slot `holdMs`. `raising` acquires with
 * raiseOnFailure (a RateLimitExceeded is a refusal). Answers how many were acquired.
 */
async function lanes(limiter, { threads, rounds = 1, perRound = 1, roundMs = 0, holdMs = 0, start = Date.now(), raising = false }) {
  let acquired = 0;
  await Promise.all(
    Array.from({ length: threads }, async () => {
      for (let r = 0; r < rounds; r++) {
        await sleep(Math.max(0, start + r * roundMs - Date.now()));
        for (let i = 0; i < perRound; i++) {
          if (raising) {
            try {
              await limiter.acquire(async () => {
                acquired++;
                await sleep(holdMs);
              });
            } catch (error) {
              if (!(error instanceof RateLimitExceeded)) throw error;
            }
          } else {
            const ok = await limiter.acquire(async (a) => {
              if (a) await sleep(holdMs);
              return a;
            }, { raiseOnFailure: false });
            if (ok) acquired++;
          }
        }
      }
    }),
  );
  return acquired;
}

/** Python's side of `lanes` (the same options), run by Dramatiq 2.2.1's own limiter. */
async function pythonLanes(backend, kind, key, { limit, param, threads, rounds = 1, perRound = 1, roundMs = 0, holdMs = 0, start, raising = false }) {
  const args = ["lanes", urlOf[backend](), kind, key, ...[limit, param, threads, rounds, perRound, roundMs, holdMs, start].map(String), raising ? "1" : "0"];
  return JSON.parse((await runPython("rate_limits.py", args)).at(-1)).acquired;
}

/**
 * Dramatiq's bucket assertion: 2 per second over two seconds is 4. On Memcached it can be
 * more, for Python's limiter too (a finding left for a decision: the TTLs are kept byte for
 * byte): a counter's TTL is the bucket in whole seconds (Dramatiq's `int(ttl / 1000)`), and
 * memcached's clock ticks once a second, so a 1 s item expires at its next tick, anywhere in
 * the following second; a tick during a second's attempts (a loaded machine spreads them)
 * empties that second's counter, and up to 2 more pass. Dramatiq marks its test skip_in_ci.
 */
function bucketCount(backend, n, what) {
  if (backend === "memcached") assert.ok(n >= 4 && n <= 8, `${what}: ${n} acquired`);
  else assert.equal(n, 4, what);
}

/** Dramatiq's window assertion, 4 to 6 over four seconds (however late a loaded machine
 * runs the rounds, no two neighbouring seconds pass more than 2, so no run of seconds passes
 * more than 6). On Memcached up to 8: the whole-second TTLs above can empty a second's
 * counter early, for Python's limiter too. */
function windowCount(backend, n, what) {
  const most = backend === "memcached" ? 8 : 6;
  assert.ok(n >= 4 && n <= most, `${what}: ${n} acquired`);
}

// Every case on its own keys: all run at once (the file takes as long as its longest case).
describe("Dramatiq 2.2.1's rate-limiter and barrier tests", { concurrency: true }, () => {
  for (const [name, make] of Object.entries(BACKENDS)) {
    describe(`Dramatiq's scenarios over the ${name} backend`, { concurrency: true }, () => {
      test("a mutex taken 8 times in a row is acquired each time (the slot is given back after each) (test_concurrent_rate_limiter_releases_the_lock_after_each_call)", async () => {
        const mutex = new ConcurrentRateLimiter(make(), `${name}-sequential`, { limit: 1 });
        assert.equal(await lanes(mutex, { threads: 1, perRound: 8 }), 8);
      });

      test("a mutex raced by 8 holding 300 ms lets exactly one in (test_concurrent_rate_limiter_can_act_as_a_mutex)", async () => {
        const mutex = new ConcurrentRateLimiter(make(), `${name}-mutex`, { limit: 1 });
        assert.equal(await lanes(mutex, { threads: 8, holdMs: 300 }), 1);
      });

      test("a limit of 4 raced by 32 raising acquisitions lets 3 to 4 in (test_concurrent_rate_limiter_limits_concurrency)", async () => {
        const limiter = new ConcurrentRateLimiter(make(), `${name}-four`, { limit: 4 });
        const n = await lanes(limiter, { threads: 32, holdMs: 300, raising: true });
        // Dramatiq's bound; ours gives back a refused increment, so it is exactly 4.
        assert.ok(n >= 3 && n <= 4, `${n} acquired`);
        assert.equal(n, 4);
      });

      test("a window of 2 per 2 s, 8 lanes × 8 attempts every second for 4 s: 4 to 6 in all (8 on Memcached) (test_window_rate_limiter_limits_per_window)", async () => {
        const limiter = new WindowRateLimiter(make(), `${name}-window`, { limit: 2, window: 2 });
        const n = await lanes(limiter, { threads: 8, rounds: 4, perRound: 8, roundMs: 1000, start: alignedStart(1000) });
        // Seconds s..s+3, each round inside its second: 2 in s, none in s+1, 2 in s+2.
        windowCount(name, n, "JS");
      });

      test("a bucket of 2 per second, 8 attempts in each of two seconds: 4 (test_bucket_rate_limiter_limits_per_bucket)", async () => {
        const limiter = new BucketRateLimiter(make(), `${name}-bucket`, { limit: 2 });
        // The 8 attempts of a second at once (Dramatiq makes them one after another): eight
        // round trips in a row outlasted their second on a loaded CI machine, and the next
        // second's bucket let 2 more in.
        const n = await lanes(limiter, { threads: 8, rounds: 2, perRound: 1, roundMs: 1000, start: alignedStart(1000) });
        bucketCount(name, n, "JS");
      });

      test("a barrier of 2: created once (not again, whatever the parties), the first arrival false, the second true (test_barrier)", async () => {
        const barrier = new Barrier(make(), `${name}-barrier`, { ttl: 30_000 });
        assert.equal(await barrier.create(2), true);
        assert.equal(await barrier.create(10), false);
        assert.equal(await barrier.wait({ block: false }), false);
        assert.equal(await barrier.wait({ block: false }), true);
      });

      test("two parties blocking on a barrier are released together (Memcached cannot block, as Dramatiq's) (test_barriers_can_block)", async () => {
        const barrier = new Barrier(make(), `${name}-blocking`, { ttl: 30_000 });
        assert.equal(await barrier.create(2), true);
        const party = async () => {
          await sleep(100);
          assert.equal(await barrier.wait({ timeout: 2000 }), true);
          return performance.now();
        };
        if (name === "memcached") {
          // Dramatiq's raises NotImplementedError (its test skips); ours is a clear error.
          await assert.rejects(party(), (e) => e.code === "RATE_LIMIT_BACKEND" && /cannot wait/.test(e.message));
          return;
        }
        const [a, b] = await Promise.all([party(), party()]);
        // Dramatiq asserts 10 ms; a generous bound that still tells a wake-up from the timeout.
        assert.ok(Math.abs(a - b) < 1000, `released ${Math.abs(a - b)} ms apart`);
      });

      test("a blocking wait on a barrier nobody else reaches answers false at its timeout (test_barriers_can_timeout)", async () => {
        const barrier = new Barrier(make(), `${name}-timeout`, { ttl: 30_000 });
        assert.equal(await barrier.create(2), true);
        if (name === "memcached") {
          await assert.rejects(barrier.wait({ timeout: 300 }), (e) => e.code === "RATE_LIMIT_BACKEND");
          return;
        }
        const t0 = performance.now();
        assert.equal(await barrier.wait({ timeout: 300 }), false);
        assert.ok(performance.now() - t0 >= 290);
      });
    });
  }

  for (const name of ["redis", "memcached"]) {
    describe(`the same scenarios shared with Python Dramatiq over ${name}`, { skip: skipPython, concurrency: true }, () => {
      // Python's start-up (a second or more on a loaded machine) comes before `start`; slots
      // are held 1 s, so a late thread on either side still meets the holders.
      test("a mutex raced by 8 Python threads and 8 JS lanes lets exactly one in", async () => {
        const key = `${name}-x-mutex`;
        const start = Date.now() + 4000;
        const shape = { limit: 1, threads: 8, holdMs: 1000, start };
        const [py, js] = await Promise.all([
          pythonLanes(name, "concurrent", key, { ...shape, param: 60_000 }),
          lanes(new ConcurrentRateLimiter(BACKENDS[name](), key, { limit: 1, ttl: 60_000 }), shape),
        ]);
        assert.equal(py + js, 1, `Python ${py} + JS ${js}`);
      });

      test("a limit of 4 raced by 16 Python and 16 JS raising acquisitions lets 3 to 4 in", async () => {
        const key = `${name}-x-four`;
        const start = Date.now() + 4000;
        const shape = { limit: 4, threads: 16, holdMs: 1000, start, raising: true };
        const [py, js] = await Promise.all([
          pythonLanes(name, "concurrent", key, { ...shape, param: 60_000 }),
          lanes(new ConcurrentRateLimiter(BACKENDS[name](), key, { limit: 4, ttl: 60_000 }), shape),
        ]);
        assert.ok(py + js >= 3 && py + js <= 4, `Python ${py} + JS ${js}`);
      });

      test("a window of 2 per 2 s, 4 Python and 4 JS lanes × 8 attempts every second for 4 s: 4 to 6 in all (8 on Memcached)", async () => {
        const key = `${name}-x-window`;
        const start = alignedStart(1000, { lead: 4000 });
        const shape = { limit: 2, threads: 4, rounds: 4, perRound: 8, roundMs: 1000, start };
        const [py, js] = await Promise.all([
          pythonLanes(name, "window", key, { ...shape, param: 2 }),
          lanes(new WindowRateLimiter(BACKENDS[name](), key, { limit: 2, window: 2 }), shape),
        ]);
        windowCount(name, py + js, `Python ${py} + JS ${js}`);
      });

      test("a bucket of 2 per second, 8 Python and 8 JS attempts in each of two seconds: 4", async () => {
        const key = `${name}-x-bucket`;
        const start = alignedStart(1000, { lead: 4000 });
        // Each side's 8 attempts of a second at once (see the bucket case above).
        const shape = { limit: 2, threads: 8, rounds: 2, perRound: 1, roundMs: 1000, start };
        const [py, js] = await Promise.all([
          pythonLanes(name, "bucket", key, { ...shape, param: 1000 }),
          lanes(new BucketRateLimiter(BACKENDS[name](), key, { limit: 2 }), shape),
        ]);
        bucketCount(name, py + js, `Python ${py} + JS ${js}`);
      });

      test("a barrier's counter after a create and one arrival is Python's: value, flags, TTL (and the events list's, on Redis)", async () => {
        const [ours, theirs] = [`${name}-x-item-js`, `${name}-x-item-py`];
        const barrier = new Barrier(BACKENDS[name](), ours, { ttl: 30_000 });
        assert.equal(await barrier.create(3), true);
        assert.equal(await barrier.wait({ block: false }), false);
        assert.deepEqual(JSON.parse((await runPython("rate_limits.py", ["barrier-create", urlOf[name](), theirs, "3", "30000"])).at(-1)), { created: true });
        assert.deepEqual(JSON.parse((await runPython("rate_limits.py", ["barrier-wait", urlOf[name](), theirs, "30000", "0", "1000"])).at(-1)), { passed: false });
        const item = async (key) => {
          if (name === "redis") {
            const pttl = await raw.pTTL(key);
            assert.ok(pttl > 20_000 && pttl <= 30_000, `${key}: PTTL ${pttl}`);
            return { type: await raw.type(key), value: await raw.get(key), events: await raw.exists(`${key}@events`) };
          }
          const [head, value] = (await memcachedText(memcached.port, `mg ${key} f t v`)).split("\r\n");
          const ttl = Number(/ t(-?\d+)/.exec(head)[1]);
          assert.ok(ttl > 20 && ttl <= 30, `${key}: TTL ${ttl}`);
          return { flags: / f(\d+)/.exec(head)[1], value, events: (await memcachedText(memcached.port, `mg ${key}@events v`)).trim() };
        };
        assert.deepEqual(await item(ours), await item(theirs));
        assert.equal((await item(ours)).value, "2");
      });

      test("a barrier of 2 JS creates: Python's recreation refused, one party each side, the second clears it", { skip: name === "memcached" && "blocking waits are Redis's only (as Dramatiq's)" }, async () => {
        const key = `${name}-x-barrier`;
        const barrier = new Barrier(BACKENDS[name](), key, { ttl: 30_000 });
        assert.equal(await barrier.create(2), true);
        const created = JSON.parse((await runPython("rate_limits.py", ["barrier-create", urlOf[name](), key, "10", "30000"])).at(-1));
        assert.deepEqual(created, { created: false });
        // Both block; whichever arrives second clears the barrier and wakes the other.
        const [py, js] = await Promise.all([
          runPython("rate_limits.py", ["barrier-wait", urlOf[name](), key, "30000", "1", "10000"]).then((lines) => JSON.parse(lines.at(-1))),
          sleep(1500).then(() => barrier.wait({ timeout: 10_000 })),
        ]);
        assert.deepEqual(py, { passed: true });
        assert.equal(js, true);
      });
    });
  }
});
