// Random bytes, from the host's crypto where it has one.

// Every message id takes 16 bytes, and one `crypto.getRandomValues` call costs 2 µs hot and
// ≈ 9 µs after the process idled (a confirmed publish waits that long; bench/notes.md), so
// the bytes come from a pool refilled 4 KiB at a time, as Node's own `randomUUID` does.
const POOL_SIZE = 4096;
let pool;
let used = POOL_SIZE;

/** Fills `bytes` with random values: crypto when the host has it, Math.random otherwise. */
export function fillRandom(bytes) {
  const crypto = globalThis.crypto;
  if (!crypto?.getRandomValues) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.random() * 256) | 0;
    return;
  }
  if (bytes.length > 256) {
    // getRandomValues takes at most 65 536 bytes a call.
    for (let at = 0; at < bytes.length; at += 65_536) crypto.getRandomValues(bytes.subarray(at, at + 65_536));
    return;
  }
  if (used + bytes.length > POOL_SIZE) {
    pool ??= new Uint8Array(POOL_SIZE);
    crypto.getRandomValues(pool);
    used = 0;
  }
  bytes.set(pool.subarray(used, used + bytes.length));
  // Handed out once: wiped, so no two callers ever share bytes.
  pool.fill(0, used, used + bytes.length);
  used += bytes.length;
}
