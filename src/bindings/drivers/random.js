// Random bytes, from the host's crypto where it has one.

/** Fills `bytes` with random values: crypto when the host has it, Math.random otherwise. */
export function fillRandom(bytes) {
  if (globalThis.crypto?.getRandomValues) {
    globalThis.crypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.random() * 256) | 0;
  }
}
