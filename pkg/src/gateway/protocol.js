// What the gateway and its page agree on: a message's states and the names of the events
// of `/api/events`. The one home of these names: the gateway's routes and poller import
// them, and so does the dashboard (`www/deployment.js`, through the page's import map, or
// Node's package exports, as `dramatiq-results/gateway/protocol`). No imports, no host
// APIs: it loads as is in Node, workerd and the browser.

/** The states of a message still in the broker, in the order `/api/messages` pages through
 * them when no state is named. */
export const BROKER_STATES = Object.freeze(["queued", "delayed", "in-progress", "dead-lettered"]);

/** Every state a message has in the deployment view, in the order the page shows them:
 * the broker's states, then those of a message that left it (`done`, `failed`). */
export const MESSAGE_STATES = Object.freeze(["queued", "delayed", "in-progress", "done", "failed", "dead-lettered"]);

/** The states a message ends in: nothing moves it on but the forgetting of old records. */
export const FINISHED_STATES = Object.freeze(["done", "failed", "dead-lettered"]);

/**
 * The events of `/api/events`. Those of `RECORD_EVENTS` carry a message's whole record (the
 * client keeps the latest per `messageId`) and an id (`Last-Event-ID` replays from it); the
 * others describe the stream and the deployment:
 *   status     `{ ok, error, at }` of the poller's last round
 *   queues     `[{ name, queued, delayed, inProgress, deadLettered }]` when they change
 *   workers    `[{ id, lastSeen }]` of the workers alive, when they change
 *   reset      `{ head, records }`: forget everything, a snapshot of `records` follows
 *   snapshot   one record of the snapshot (the last one carries the id to resume from)
 *   ready      an empty snapshot is complete (carries the id to resume from)
 *   reconnect  the gateway ends this stream on purpose: come back with `Last-Event-ID`
 *   audit      an operator's action, as `/api/audit` lists it (not replayed)
 *   progress   `{ action, filter, matched, done, complete }` of a bulk action under way
 */
export const EVENT = Object.freeze({
  status: "status",
  queues: "queues",
  workers: "workers",
  reset: "reset",
  snapshot: "snapshot",
  ready: "ready",
  reconnect: "reconnect",
  audit: "audit",
  progress: "progress",
  /** First seen (in whichever state). */
  appeared: "appeared",
  /** A worker took it (into `in-progress`). */
  started: "started",
  /** It left `in-progress` for the delay queue or the queue (a failed attempt). */
  retried: "retried",
  /** Any other move between waiting states (its eta came: delayed → queued). */
  moved: "moved",
  /** It left the broker and its result (if it stores one) is a value. */
  finished: "finished",
  /** Its stored result is an exception. */
  failed: "failed",
  /** It landed in the dead-letter queue. */
  deadLettered: "dead-lettered",
  /** Its result's TTL ran out. */
  expired: "expired",
  /** It left the dead-letter queue, or a record known only by its result key gave way. */
  removed: "removed",
});

/** The events that carry a message's record and an event id. */
export const RECORD_EVENTS = Object.freeze([
  EVENT.appeared,
  EVENT.started,
  EVENT.retried,
  EVENT.moved,
  EVENT.finished,
  EVENT.failed,
  EVENT.deadLettered,
  EVENT.expired,
  EVENT.removed,
]);
