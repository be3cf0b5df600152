// `dramatiq-results/gateway/protocol`: the names the gateway and its page agree on (see
// ./protocol.js). Checked against the module by tests/js/types-gateway.test.mjs.

/** A message's state in the deployment view. */
export type MessageState = "queued" | "delayed" | "in-progress" | "done" | "failed" | "dead-lettered";

/** The states of a message still in the broker, in the order `/api/messages` pages them. */
export const BROKER_STATES: readonly ["queued", "delayed", "in-progress", "dead-lettered"];

/** Every state, in the order the page shows them. */
export const MESSAGE_STATES: readonly ["queued", "delayed", "in-progress", "done", "failed", "dead-lettered"];

/** The states a message ends in. */
export const FINISHED_STATES: readonly ["done", "failed", "dead-lettered"];

/** The event names of `/api/events`. */
export const EVENT: {
  readonly status: "status";
  readonly queues: "queues";
  readonly workers: "workers";
  readonly reset: "reset";
  readonly snapshot: "snapshot";
  readonly ready: "ready";
  readonly reconnect: "reconnect";
  readonly audit: "audit";
  readonly progress: "progress";
  readonly appeared: "appeared";
  readonly started: "started";
  readonly retried: "retried";
  readonly moved: "moved";
  readonly finished: "finished";
  readonly failed: "failed";
  readonly deadLettered: "dead-lettered";
  readonly expired: "expired";
  readonly removed: "removed";
};

/** A record event's name (those events carry a message's whole record and an event id). */
export type RecordEvent = "appeared" | "started" | "retried" | "moved" | "finished" | "failed" | "dead-lettered" | "expired" | "removed";

/** The events that carry a message's record and an event id. */
export const RECORD_EVENTS: readonly RecordEvent[];
