// Reading a message's identity (queue, actor, id) in one call across the boundary: reading
// three properties from Rust costs a round trip each (and the `Message` getters another
// into wasm), which dominated small stores and reads.

/** Where a `Message` caches its identity (set up by the package's api.js). */
export const IDENTITY = Symbol.for("dramatiq-results.identity");

/** The three parts joined by NUL, or as an array in the rare case one holds a NUL;
 * `undefined` when a part is not a string (Rust then reports which). */
export function joinIdentity(queue, actor, id) {
  if (typeof queue !== "string" || typeof actor !== "string" || typeof id !== "string") {
    return undefined;
  }
  if (queue.includes("\0") || actor.includes("\0") || id.includes("\0")) return [queue, actor, id];
  return `${queue}\0${actor}\0${id}`;
}

/** The identity of a `Message`, `{ queueName, actorName, messageId }` or a Python dict:
 * a string or a new array of three strings, or `undefined`. Its getters may throw: Rust
 * imports this with `catch`. */
export function identityOf(m) {
  if (m === null || typeof m !== "object") return undefined;
  const cached = m[IDENTITY];
  if (typeof cached === "string") return cached;
  if (cached !== undefined) {
    // Only a Message caches (an array when a part holds a NUL); anything else is re-read.
    if (Array.isArray(cached) && cached.length === 3) return joinIdentity(cached[0], cached[1], cached[2]);
  }
  return joinIdentity(
    m.queueName ?? m.queue_name,
    m.actorName ?? m.actor_name,
    m.messageId ?? m.message_id,
  );
}
