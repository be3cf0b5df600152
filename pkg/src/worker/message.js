// The message a worker hands to middleware hooks (Dramatiq's `MessageProxy`).
import { exceptionInfo } from "../../dist/errors.js";
import { asError } from "../internal/describe.js";
import { kAbort, kAborted, kOnAbort, kStoredAs } from "../internal/symbols.js";

/**
 * A message being processed (Dramatiq's `MessageProxy`): the `Message` plus whether it
 * failed and the exception it carries. Middleware hooks receive this.
 */
export class WorkerMessage {
  // The attempt's abort, kept without an AbortController until someone asks for the
  // signal: making one per message would cost every message, and few actors look.
  #controller;
  #aborted;
  #listeners;
  #namesOf;
  #namesCache;

  /** `[type, message]` stored for an attempt that threw `thrown` (see symbols.js). Never throws. */
  static [kStoredAs](thrown) {
    return exceptionInfo(asError(thrown));
  }

  constructor(message) {
    /** The underlying `Message` (a middleware may replace it with an updated copy). */
    this.message = message;
    /** Whether the message failed (it is then nacked and dead-lettered). */
    this.failed = false;
    /** The exception the actor raised, if any. */
    this.exception = undefined;
  }

  /**
   * Aborts when this attempt should stop: past its time limit (`TimeLimitExceeded`, at
   * `TimeLimit`'s first check past it), or when its worker stops and `notifyShutdown` is
   * on (`Shutdown`); `signal.reason` says which.
   * Pass it to `fetch` and friends so the work stops with the attempt.
   */
  get signal() {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#aborted.reason);
    }
    return this.#controller.signal;
  }

  /** Aborts the attempt with `reason` (once; later reasons are ignored). */
  [kAbort](reason) {
    if (this.#aborted) return;
    this.#aborted = { reason };
    this.#controller?.abort(reason);
    for (const listener of this.#listeners ?? []) listener(reason);
    this.#listeners = undefined;
  }

  /** `{ reason }` once the attempt aborted. */
  get [kAborted]() {
    return this.#aborted;
  }

  /** Calls `listener(reason)` when the attempt aborts; returns the unsubscribe. */
  [kOnAbort](listener) {
    (this.#listeners ??= new Set()).add(listener);
    return () => this.#listeners?.delete(listener);
  }

  /** Marks the message failed. */
  fail() {
    this.failed = true;
  }

  // The names are read from the core once per message (each read is a call into wasm and
  // a string copied out, and the hooks read the actor's name about seven times a message);
  // a middleware that replaces `message` gets them read again.
  get queueName() {
    return (this.#names().queueName ??= this.message.queueName);
  }
  get actorName() {
    return (this.#names().actorName ??= this.message.actorName);
  }
  #names() {
    if (this.#namesOf !== this.message) {
      this.#namesOf = this.message;
      this.#namesCache = { queueName: undefined, actorName: undefined };
    }
    return this.#namesCache;
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
  /** The message's bytes, as Python's proxy's `encode()` gives them. */
  encode() {
    return this.message.encode();
  }
  /** A `Message` copy with `changes` (Python's proxy's `copy(**attributes)`). */
  copy(changes) {
    return this.message.copy(changes);
  }
  /** The message as Python's `str(message)` writes it (`actor(args)`). Never throws: the
   * worker's log lines use it, and an actor may have freed or replaced its message. */
  toString() {
    try {
      return this.message.toString();
    } catch {
      return "(a message that cannot be read: freed or replaced)";
    }
  }
}
