// Every error the package throws, in one place. The result errors (`ResultError` and its
// family) are the wasm glue's own classes (src/bindings/exports/errors.js), re-exported so
// `instanceof` sees the class the core throws; the rest are thrown by the JavaScript side.
// Each carries a stable `code`, as the result errors do, for callers that match on it.
export { ResultError, ResultMissing, ResultTimeout, ResultFailure, DecodeError, Missing } from "../dist/errors.js";

/** No actor of that name is declared on the broker (Dramatiq's `ActorNotFound`). */
export class ActorNotFound extends Error {
  constructor(message, options) {
    super(message, options);
    /** "ACTOR_NOT_FOUND". */
    this.code = "ACTOR_NOT_FOUND";
  }
}
ActorNotFound.prototype.name = "ActorNotFound";

/** No queue of that name is declared on the broker (Dramatiq's `QueueNotFound`). */
export class QueueNotFound extends Error {
  constructor(message, options) {
    super(message, options);
    /** "QUEUE_NOT_FOUND". */
    this.code = "QUEUE_NOT_FOUND";
  }
}
QueueNotFound.prototype.name = "QueueNotFound";

/** `broker.join(queue, { timeout })` ran out of time (Dramatiq's `QueueJoinTimeout`). */
export class QueueJoinTimeout extends Error {
  constructor(message, options) {
    super(message, options);
    /** "QUEUE_JOIN_TIMEOUT". */
    this.code = "QUEUE_JOIN_TIMEOUT";
  }
}
QueueJoinTimeout.prototype.name = "QueueJoinTimeout";

/** The broker lost its connection or channel and could not get it back (Dramatiq's `ConnectionClosed`). */
export class ConnectionClosed extends Error {
  constructor(message, options) {
    super(message, options);
    /** "CONNECTION_CLOSED". */
    this.code = "CONNECTION_CLOSED";
  }
}
ConnectionClosed.prototype.name = "ConnectionClosed";

/** Raised in `beforeProcessMessage` to skip a message (Dramatiq's `SkipMessage`). */
export class SkipMessage extends Error {
  constructor(message, options) {
    super(message, options);
    /** "SKIP_MESSAGE". */
    this.code = "SKIP_MESSAGE";
  }
}
SkipMessage.prototype.name = "SkipMessage";

/** Thrown by an actor to ask for a retry, optionally after `delay` ms (Dramatiq's `Retry`). */
export class Retry extends Error {
  constructor(message = "", { delay } = {}) {
    super(message);
    /** "RETRY". */
    this.code = "RETRY";
    /** The delay before the retry, in ms; undefined for the usual back-off. */
    this.delay = delay;
  }
}
Retry.prototype.name = "Retry";

/** An actor ran past its time limit (Dramatiq's `TimeLimitExceeded`). */
export class TimeLimitExceeded extends Error {
  constructor(message, options) {
    super(message, options);
    /** "TIME_LIMIT_EXCEEDED". */
    this.code = "TIME_LIMIT_EXCEEDED";
  }
}
TimeLimitExceeded.prototype.name = "TimeLimitExceeded";

/**
 * The worker running an actor is stopping (Dramatiq's `Shutdown`): an async actor whose
 * `notifyShutdown` is on sees its `signal` abort with this, and the attempt fails with it
 * (retried as any failure is). Like Python's, its message is empty.
 */
export class Shutdown extends Error {
  constructor(message = "", options) {
    super(message, options);
    /** "SHUTDOWN". */
    this.code = "SHUTDOWN";
  }
}
Shutdown.prototype.name = "Shutdown";

/** A rate limiter had no slot and `raiseOnFailure` was on (Dramatiq's `RateLimitExceeded`). */
export class RateLimitExceeded extends Error {
  constructor(message, options = {}) {
    super(message);
    /** "RATE_LIMIT_EXCEEDED". */
    this.code = "RATE_LIMIT_EXCEEDED";
    /** The limiter's key. */
    this.key = options.key ?? null;
  }
}
RateLimitExceeded.prototype.name = "RateLimitExceeded";
