// Middleware: Dramatiq's hooks around enqueueing and processing a message. Each built-in
// middleware here asks the wasm core what to do (which options apply, retry or fail,
// what to store) and does it; the JS side only carries out the decision.
import {
  ActorSpec,
  ResultsAction,
  ResultsPolicy,
  RetriesPolicy,
  ageLimitExceeded,
  pipeNext,
} from "../dist/dramatiq_results.js";

/** Raised in `beforeProcessMessage` to skip a message (Dramatiq's `SkipMessage`). */
export class SkipMessage extends Error {}
SkipMessage.prototype.name = "SkipMessage";

/** Thrown by an actor to ask for a retry, optionally after `delay` ms (Dramatiq's `Retry`). */
export class Retry extends Error {
  constructor(message = "", { delay } = {}) {
    super(message);
    /** The delay before the retry, in ms; undefined for the usual back-off. */
    this.delay = delay;
  }
}
Retry.prototype.name = "Retry";

/** An actor ran past its time limit (Dramatiq's `TimeLimitExceeded`). */
export class TimeLimitExceeded extends Error {}
TimeLimitExceeded.prototype.name = "TimeLimitExceeded";

/**
 * Base class of middleware. Hooks are optional methods, sync or async, named as in
 * Dramatiq in camelCase: `beforeProcessMessage(broker, message)`,
 * `afterProcessMessage(broker, message, { result, exception })`,
 * `afterSkipMessage(broker, message)`, `beforeAck` / `afterAck` / `beforeNack` /
 * `afterNack(broker, message)`, `beforeEnqueue` / `afterEnqueue(broker, message, delay)`
 * (these two synchronous). Throwing `SkipMessage` from `beforeProcessMessage` skips the
 * message; a failure in an `after*` hook is logged and does not stop the others.
 */
export class Middleware {
  /** The actor options this middleware adds to the broker (snake_case names). */
  get actorOptions() {
    return new Set();
  }
}

const UNKNOWN = new Map();
/** The broker's spec of the message's actor, or the "unknown actor" stand-in. */
function specOf(broker, message) {
  const actor = broker.actors.get(message.actorName);
  if (actor) return actor.spec;
  let spec = UNKNOWN.get(message.actorName);
  if (!spec) {
    spec = ActorSpec.unknown(message.actorName);
    UNKNOWN.set(message.actorName, spec);
  }
  return spec;
}

/** Dramatiq's `Exception("unknown")`, stored when a failed message carries no exception. */
function unknownException() {
  const error = new Error("unknown");
  error.name = "Exception";
  return error;
}

/**
 * Stores actor results in `backend` (Dramatiq's `Results`). `storeResults` (default
 * false) and `resultTtl` (ms; 0 or undefined means 600 000) are the defaults for actors
 * that do not set their own; a message's own options win over both.
 */
export class Results extends Middleware {
  constructor({ backend, storeResults = false, resultTtl } = {}) {
    super();
    if (!backend || typeof backend.storeResult !== "function" || typeof backend.getResult !== "function") {
      throw new TypeError("Results needs { backend }: a result backend such as new StubBackend()");
    }
    if (typeof storeResults !== "boolean") throw new TypeError("storeResults must be a boolean");
    if (resultTtl !== undefined && resultTtl !== null && typeof resultTtl !== "number") {
      throw new TypeError("resultTtl must be a number of milliseconds");
    }
    /** The result backend. */
    this.backend = backend;
    this.policy = new ResultsPolicy(storeResults, resultTtl ?? undefined);
  }

  get actorOptions() {
    return new Set(["store_results", "result_ttl"]);
  }

  /** The middleware-level default for `storeResults`. */
  get storeResults() {
    return this.policy.storeResults;
  }

  /** The middleware-level default TTL, in ms. */
  get resultTtl() {
    return this.policy.resultTtl;
  }

  async afterProcessMessage(broker, message, { result = null, exception } = {}) {
    const d = this.policy.afterProcessMessage(message.message, specOf(broker, message), result, exception !== undefined);
    if (d.action === ResultsAction.StoreResult) {
      await this.backend.storeResult(message.message, result === undefined ? null : result, d.ttl);
    } else if (d.action === ResultsAction.Warn) {
      broker.logger.warn(d.warning);
    }
  }

  async afterSkipMessage(broker, message) {
    const d = this.policy.afterSkipMessage(message.message, specOf(broker, message), message.failed);
    if (d.action === ResultsAction.StoreNone) await this.backend.storeResult(message.message, null, d.ttl);
  }

  async afterNack(broker, message) {
    const d = this.policy.afterNack(message.message, specOf(broker, message), message.failed);
    if (d.action === ResultsAction.StoreException) {
      await this.backend.storeException(message.message, message.exception ?? unknownException(), d.ttl);
    }
  }
}

/**
 * Retries failed messages with exponential back-off (Dramatiq's `Retries`): `maxRetries`
 * (default 20; null for no limit), `minBackoff` (15 s) and `maxBackoff` (7 days) in ms,
 * and `retryWhen(retries, error)`. Actors may set `maxRetries`, `minBackoff`,
 * `maxBackoff`, `retryWhen` and `throws` (error classes that fail at once).
 */
export class Retries extends Middleware {
  constructor({ maxRetries, minBackoff, maxBackoff, retryWhen } = {}) {
    super();
    if (retryWhen !== undefined && typeof retryWhen !== "function") {
      throw new TypeError("retryWhen must be a function (retries, error) => boolean");
    }
    this.policy = new RetriesPolicy(maxRetries, minBackoff ?? undefined, maxBackoff ?? undefined);
    this.retryWhen = retryWhen;
  }

  get actorOptions() {
    return new Set(["max_retries", "min_backoff", "max_backoff", "retry_when", "throws"]);
  }

  afterProcessMessage(broker, message, { exception } = {}) {
    if (exception === undefined) return;
    const actor = broker.getActor(message.actorName);
    const throws = [actor.options.throws, message.options.throws].flat().filter((c) => typeof c === "function");
    const thrown = throws.some((Class) => exception instanceof Class);
    const retryWhen = actor.options.retry_when ?? this.retryWhen;
    let verdict;
    if (!thrown && retryWhen) verdict = Boolean(retryWhen(RetriesPolicy.retriesSoFar(message.message), exception));
    const delay = exception instanceof Retry && typeof exception.delay === "number" ? exception.delay : undefined;
    const traceback = typeof exception?.stack === "string" ? exception.stack : undefined;
    const decision = this.policy.decide(message.message, actor.spec, thrown, verdict, delay, traceback, Date.now());
    message.message = decision.message;
    if (decision.fail) {
      if (thrown) broker.logger.info?.(`Aborting message ${message.messageId}.`);
      else broker.logger.warn(`Retries exceeded for message ${message.messageId}.`);
      message.fail();
      return;
    }
    broker.logger.info?.(`Retrying message ${message.messageId} in ${decision.delay} milliseconds.`);
    // Returned, so a network broker's write is awaited (and its failure logged) before the
    // message is acked.
    return broker.enqueue(decision.message, { delay: decision.delay });
  }
}

/** Skips and fails messages older than `maxAge` ms (Dramatiq's `AgeLimit`). */
export class AgeLimit extends Middleware {
  constructor({ maxAge } = {}) {
    super();
    this.maxAge = maxAge ?? undefined;
  }

  get actorOptions() {
    return new Set(["max_age"]);
  }

  beforeProcessMessage(broker, message) {
    const actor = broker.actors.get(message.actorName);
    if (!actor) return;
    if (ageLimitExceeded(this.maxAge, message.message, actor.spec, Date.now())) {
      broker.logger.warn(`Message ${message.messageId} has exceeded its age limit.`);
      message.fail();
      throw new SkipMessage("Message age limit exceeded");
    }
  }
}

/**
 * Fails actors whose Promise has not settled within `timeLimit` ms (default 10 minutes;
 * Dramatiq's `TimeLimit`). A synchronous actor cannot be interrupted in JavaScript; an
 * async one is abandoned (its work goes on, its result is ignored).
 */
export class TimeLimit extends Middleware {
  constructor({ timeLimit = 600000 } = {}) {
    super();
    this.timeLimit = timeLimit;
  }

  get actorOptions() {
    return new Set(["time_limit"]);
  }

  /** The limit for `message`, in ms: message option, actor option, then the default. */
  limitFor(broker, message) {
    const actor = broker.actors.get(message.actorName);
    return message.options.time_limit || actor?.options.time_limit || this.timeLimit;
  }
}

/**
 * Runs pipelines (Dramatiq's `Pipelines`): on success, enqueues the message's
 * `pipe_target` with the result appended to its arguments, unless it or the current actor
 * sets `pipe_ignore`.
 */
export class Pipelines extends Middleware {
  get actorOptions() {
    return new Set(["pipe_ignore"]);
  }

  afterProcessMessage(broker, message, { result = null, exception } = {}) {
    if (exception !== undefined || message.failed) return;
    const actor = broker.actors.get(message.actorName);
    const next = pipeNext(message.message, result, Boolean(actor?.options.pipe_ignore), Date.now());
    // Returned, so a network broker's write lands before the message is acked.
    if (next) return broker.enqueue(next.message, { delay: next.delay });
  }
}

/** The middleware a broker starts with, as in Dramatiq (minus Prometheus and shutdown hooks). */
export function defaultMiddleware() {
  return [new AgeLimit(), new TimeLimit(), new Pipelines(), new Retries()];
}
