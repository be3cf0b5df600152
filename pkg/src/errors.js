// Every error the package throws, in one place. The result errors (`ResultError` and its
// family) are the wasm glue's own classes (src/bindings/exports/errors.js), re-exported so
// `instanceof` sees the class the core throws; the rest are thrown by the JavaScript side.
// Each carries a stable `code`, as the result errors do, for callers that match on it.
export { ResultError, ResultMissing, ResultTimeout, ResultFailure, DecodeError, Missing } from "../dist/errors.js";

const CODE = Symbol("dramatiq.errorCode");

/**
 * What the JavaScript-side errors share: `code`, an own field as on the result errors,
 * taken from the class (`coded` below), so a user's subclass keeps its parent's code.
 * Internal: not exported.
 */
class CodedError extends Error {
  constructor(message, options) {
    super(message, options);
    this.code = this[CODE];
  }
}

/** Marks Dramatiq's `DramatiqError`s (see DRAMATIQ_ERROR in the result errors' module):
 * Python stores and calls back one with an empty message as `''`. */
const DRAMATIQ_ERROR = Symbol.for("dramatiq-results.dramatiqError");

/** Gives `Class` its `name` and `code`, and with `dramatiqError` Python's mark of its own errors. */
function coded(Class, name, code, { dramatiqError = false } = {}) {
  Class.prototype.name = name;
  Class.prototype[CODE] = code;
  if (dramatiqError) Class.prototype[DRAMATIQ_ERROR] = true;
}

/** No actor of that name is declared on the broker (Dramatiq's `ActorNotFound`). */
export class ActorNotFound extends CodedError {}
coded(ActorNotFound, "ActorNotFound", "ACTOR_NOT_FOUND", { dramatiqError: true });

/** No queue of that name is declared on the broker (Dramatiq's `QueueNotFound`). */
export class QueueNotFound extends CodedError {}
coded(QueueNotFound, "QueueNotFound", "QUEUE_NOT_FOUND", { dramatiqError: true });

/** `broker.join(queue, { timeout })` ran out of time (Dramatiq's `QueueJoinTimeout`). */
export class QueueJoinTimeout extends CodedError {}
coded(QueueJoinTimeout, "QueueJoinTimeout", "QUEUE_JOIN_TIMEOUT", { dramatiqError: true });

/** The broker lost its connection or channel and could not get it back (Dramatiq's `ConnectionClosed`). */
export class ConnectionClosed extends CodedError {}
coded(ConnectionClosed, "ConnectionClosed", "CONNECTION_CLOSED", { dramatiqError: true });

/** Raised in `beforeProcessMessage` to skip a message (Dramatiq's `SkipMessage`). */
export class SkipMessage extends CodedError {}
coded(SkipMessage, "SkipMessage", "SKIP_MESSAGE");

/** Thrown by an actor to ask for a retry, optionally after `delay` ms (Dramatiq's `Retry`). */
export class Retry extends CodedError {
  constructor(message = "", { delay } = {}) {
    super(message);
    /** The delay before the retry, in ms; undefined for the usual back-off. */
    this.delay = delay;
  }
}
coded(Retry, "Retry", "RETRY", { dramatiqError: true });

/** An actor ran past its time limit (Dramatiq's `TimeLimitExceeded`). */
export class TimeLimitExceeded extends CodedError {}
coded(TimeLimitExceeded, "TimeLimitExceeded", "TIME_LIMIT_EXCEEDED");

/**
 * The worker running an actor is stopping (Dramatiq's `Shutdown`): an async actor whose
 * `notifyShutdown` is on sees its `signal` abort with this, and the attempt fails with it
 * (retried as any failure is). Like Python's, its message is empty.
 */
export class Shutdown extends CodedError {
  constructor(message = "", options) {
    super(message, options);
  }
}
coded(Shutdown, "Shutdown", "SHUTDOWN");

/** A rate limiter had no slot and `raiseOnFailure` was on (Dramatiq's `RateLimitExceeded`). */
export class RateLimitExceeded extends CodedError {
  constructor(message, options = {}) {
    super(message);
    /** The limiter's key. */
    this.key = options.key ?? null;
  }
}
coded(RateLimitExceeded, "RateLimitExceeded", "RATE_LIMIT_EXCEEDED", { dramatiqError: true });
