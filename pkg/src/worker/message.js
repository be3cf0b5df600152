// The message a worker hands to middleware hooks (Dramatiq's `MessageProxy`).
import { kAbort } from "../internal/symbols.js";

/**
 * A message being processed (Dramatiq's `MessageProxy`): the `Message` plus whether it
 * failed and the exception it carries. Middleware hooks receive this.
 */
export class WorkerMessage {
  #controller;

  constructor(message) {
    /** The underlying `Message` (a middleware may replace it with an updated copy). */
    this.message = message;
    /** Whether the message failed (it is then nacked and dead-lettered). */
    this.failed = false;
    /** The exception the actor raised, if any. */
    this.exception = undefined;
  }

  /**
   * Aborts when this attempt should stop: at its time limit (`TimeLimitExceeded`), or when
   * its worker stops and `notifyShutdown` is on (`Shutdown`); `signal.reason` says which.
   * Pass it to `fetch` and friends so the work stops with the attempt.
   */
  get signal() {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** Aborts the attempt's signal with `reason` (once; later reasons are ignored). */
  [kAbort](reason) {
    this.#controller ??= new AbortController();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /** Marks the message failed. */
  fail() {
    this.failed = true;
  }

  get queueName() {
    return this.message.queueName;
  }
  get actorName() {
    return this.message.actorName;
  }
  get messageId() {
    return this.message.messageId;
  }
  get messageTimestamp() {
    return this.message.messageTimestamp;
  }
  get args() {
    return this.message.args;
  }
  get kwargs() {
    return this.message.kwargs;
  }
  get options() {
    return this.message.options;
  }
  asDict() {
    return this.message.asDict();
  }
  toString() {
    return this.message.toString();
  }
}
