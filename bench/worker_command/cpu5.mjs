// The CPU-bound actor's work, shared by the bench (which calibrates it and checks its CPU
// time) and tasks.mjs (which runs it). Node has no per-thread CPU clock before v23.9, so
// "5 ms of CPU" is a fixed amount of work, calibrated as the fastest of several runs (the run
// least disturbed by other load), not a wall-clock spin, which on a busy machine counts
// waiting for a core as work.
let sink = 0;

/** `iterations` steps of integer arithmetic the optimiser cannot drop. */
export function work(iterations) {
  let x = sink;
  for (let i = 0; i < iterations; i += 1) x = (x * 31 + i) | 0;
  sink = x;
}

/** How many iterations of `work` take 5 ms here: the fastest of 20 timed runs. */
export function calibrate() {
  let best = Infinity;
  for (let run = 0; run < 20; run += 1) {
    const t0 = performance.now();
    work(1_000_000);
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round((5 / best) * 1_000_000);
}
