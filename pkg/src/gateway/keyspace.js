// Following a deployment by Redis keyspace notifications instead of polling alone: with
// `notify-keyspace-events` holding K (keyspace channels) and the list, hash and sorted-set
// classes (l, h, z; or A for all), Redis publishes on `__keyspace@<db>__:<key>` every
// change of a key. The gateway subscribes to the broker's namespace and the result keys
// and then (1) wakes the event poller at once on a broker key's change, so a message is
// read the moment it is enqueued, not up to a poll interval later (a message sent and done
// between two polls used to be a row with no actor, queue or arguments); (2) reads an
// awaited result the moment its key is written (`/result` answers at once).
//
// Without them (a managed Redis that forbids CONFIG, or nobody turned them on) the gateway
// polls, and says so at start and on the page. `serve --keyspace-events` asks Redis to turn
// them on (CONFIG SET, adding only the missing flags). Host-neutral: the subscription
// itself is the host's (Node: node-redis, loaded on demand; see ./node.js).

/** The flags the gateway needs: keyspace channels, and list, hash and sorted-set events. */
export const NEEDED = "Klhz";

/** The flags missing from a `notify-keyspace-events` value (`A` stands for every class). */
export function missingFlags(current) {
  const has = (f) => current.includes(f) || ("lhz".includes(f) && current.includes("A"));
  return [...NEEDED].filter((f) => !has(f)).join("");
}

const textOf = (reply) => (reply instanceof Uint8Array ? new TextDecoder().decode(reply) : String(reply ?? ""));

/**
 * Reads (and with `set`, completes) the server's `notify-keyspace-events`: `{ on, flags,
 * changed, error }`. `error` says why they cannot be had (CONFIG refused, say); never throws.
 */
export async function checkKeyspace(redis, { set = false } = {}) {
  let flags;
  try {
    const reply = await redis.sendCommand(["CONFIG", "GET", "notify-keyspace-events"]);
    const pairs = Array.isArray(reply) ? reply.map(textOf) : Object.entries(reply ?? {}).flat().map(textOf);
    flags = pairs[1] ?? "";
  } catch (error) {
    return { on: false, flags: null, changed: false, error: `CONFIG GET refused: ${error.cause?.message ?? error.message}` };
  }
  const missing = missingFlags(flags);
  if (!missing) return { on: true, flags, changed: false, error: null };
  if (!set) return { on: false, flags, changed: false, error: null };
  try {
    await redis.sendCommand(["CONFIG", "SET", "notify-keyspace-events", flags + missing]);
    return { on: true, flags: flags + missing, changed: true, error: null };
  } catch (error) {
    return { on: false, flags, changed: false, error: `CONFIG SET refused: ${error.cause?.message ?? error.message}` };
  }
}

/** What `serve` prints about keyspace notifications at start. */
export function keyspaceNotice(state) {
  if (state.on) return state.changed ? `keyspace notifications turned on (notify-keyspace-events ${state.flags})` : "keyspace notifications on: a message is read as it is enqueued";
  const why = state.error ? ` (${state.error})` : "";
  return `keyspace notifications are off${why}: the gateway polls, and a message sent and done between two polls is known by its result only. Turn them on with \`redis-cli CONFIG SET notify-keyspace-events ${NEEDED}\` (or \`serve --keyspace-events\`)`;
}

/** The SCAN-style patterns of the keyspace channels to subscribe to, for database `db`. */
export function keyspacePatterns({ db = 0, brokerNamespace, resultPattern }) {
  const esc = (s) => s.replace(/[*?[\]\\]/g, "\\$&");
  const prefix = `__keyspace@${db}__:`;
  return [`${prefix}${esc(brokerNamespace)}:*`, ...(resultPattern ? [`${prefix}${resultPattern}`] : [])];
}

/**
 * What a notification on `channel` means for the gateway: `{ broker: true, discover }` for
 * a broker key (discover: a key of a queue not seen yet), `{ result: key }` for a result key.
 */
export function routeNotification(channel, { db = 0, brokerKeys, knownQueues }) {
  const prefix = `__keyspace@${db}__:`;
  if (!channel.startsWith(prefix)) return null;
  const key = channel.slice(prefix.length);
  const queue = brokerKeys.queueOf(key);
  if (queue !== undefined) return { broker: true, discover: !knownQueues().has(queue) };
  if (key.startsWith(`${brokerKeys.namespace}:`)) return { broker: true, discover: false };
  return { result: key };
}
