// The boundary fuzzer: random entry points of the built package called with random hostile
// values (the shapes of hostile.mjs, nested in arrays and objects, with getters that throw
// random things), checking every 10 000 calls that the module still stores and reads. Any
// WebAssembly RuntimeError, or a module that stops working, fails the run.
// Usage: node tests/js/boundary-fuzz.mjs [CALLS] [SEED]   (scripts/fuzz runs it; a short
// run is part of tests/js/boundary.test.mjs)
import { entryPoints, hostileObjects, healthy, outcome, thrownValues } from "./hostile.mjs";

/** A small deterministic PRNG (mulberry32), so a seed reproduces a run. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const QUICK = { queueName: "q", actorName: "a", messageId: "m", block: false, timeout: 0 };
const NAMES = ["queueName", "actorName", "messageId", "queue_name", "block", "timeout", "signal", "encoder", "args", "then", "toJSON", "get", "sendCommand", "value", "length", "0"];

/** A random hostile value: a base shape, possibly nested or dressed with throwing getters. */
function hostile(next, shapes, depth = 0) {
  const pick = (list) => list[Math.floor(next() * list.length)];
  const r = next();
  if (depth > 2 || r < 0.45) return pick(shapes);
  if (r < 0.6) return [hostile(next, shapes, depth + 1), "x", hostile(next, shapes, depth + 1)];
  // Plain objects double as options: non-blocking, so no call waits for a result.
  if (r < 0.75) return { ...QUICK, messageId: String(next()), [pick(NAMES)]: hostile(next, shapes, depth + 1) };
  if (r < 0.9) {
    const o = { ...QUICK };
    const thrown = pick(thrownValues());
    Object.defineProperty(o, pick(NAMES), { get() { throw thrown; }, enumerable: true });
    return o;
  }
  const thrown = pick(thrownValues());
  return new Proxy(pick([{}, [], new Uint8Array(2)]), {
    [pick(["get", "has", "ownKeys", "getPrototypeOf", "getOwnPropertyDescriptor"])]() {
      throw thrown;
    },
  });
}

/** Runs `calls` random hostile calls; resolves with counts, rejects on a broken module. */
export async function fuzz(calls, seed) {
  const next = rng(seed);
  const entries = Object.entries(entryPoints());
  let shapes = hostileObjects();
  const counts = { ok: 0, error: 0 };
  for (let i = 0; i < calls; i++) {
    if (i % 997 === 0) shapes = hostileObjects();
    const [name, entry] = entries[Math.floor(next() * entries.length)];
    const result = await outcome(entry, hostile(next, shapes), i);
    if (result !== "ok" && result !== "error") throw new Error(`call ${i} (${name}, seed ${seed}): ${result}`);
    counts[result] += 1;
    if (i % 10_000 === 9_999 && !(await healthy())) throw new Error(`the module stopped working by call ${i} (seed ${seed})`);
  }
  if (!(await healthy())) throw new Error(`the module stopped working (seed ${seed})`);
  return counts;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const calls = Number(process.argv[2] ?? 1_000_000);
  const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 32));
  const started = performance.now();
  const counts = await fuzz(calls, seed);
  const s = (performance.now() - started) / 1000;
  console.log(`[fuzz] boundary: ${calls} calls (seed ${seed}) in ${s.toFixed(1)} s: ${counts.ok} answered, ${counts.error} refused, module healthy`);
}
