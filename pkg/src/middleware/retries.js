// Dramatiq's `Retries` middleware: the core decides retry or fail, and the back-off.
import { RetriesPolicy, builtinActorOptions, callbackMessage } from "../../dist/dramatiq_results.js";
import { Retry } from "../errors.js";
import { isInstance, readSafely } from "../internal/describe.js";
import { checkOptions } from "../internal/options.js";
import { freeIfCopied } from "../internal/owned.js";
import { kSpec } from "../internal/symbols.js";
import { Middleware } from "./middleware.js";

/**
 * Retries failed messages with exponential back-off (Dramatiq's `Retries`): `maxRetries`
 * (default 20; null for no limit), `minBackoff` (15 s) and `maxBackoff` (7 days) in ms,
 * and `retryWhen(retries, error)`. Actors may set `maxRetries`, `minBackoff`,
 * `maxBackoff`, `retryWhen`, `throws` (error classes that fail at once) and
 * `onRetryExhausted` (message option `on_retry_exhausted`): the actor sent
 * `(message.asDict(), { retries, max_retries })` when retries run out.
 */
let optionNames;

export class Retries extends Middleware {
  #policy;

  constructor(options) {
    super();
    const { maxRetries, minBackoff, maxBackoff, retryWhen } = checkOptions("new Retries()", options, {
      maxRetries: "any", // the core checks it (null: no limit)
      minBackoff: "ms?",
      maxBackoff: "ms?",
      retryWhen: "function",
    });
    this.#policy = new RetriesPolicy(maxRetries, minBackoff ?? undefined, maxBackoff ?? undefined);
    /** The default `retryWhen(retries, error)`, or undefined. */
    this.retryWhen = retryWhen;
  }

  get actorOptions() {
    optionNames ??= builtinActorOptions().Retries;
    return new Set(optionNames);
  }

  afterProcessMessage(broker, message, { exception } = {}) {
    if (exception === undefined) return;
    const actor = broker.getActor(message.actorName);
    // The exception may be anything an actor threw, getters that throw included: nothing
    // read from it may stop the retry-or-fail decision.
    const throws = [actor.options.throws, message.options.throws].flat().filter((c) => typeof c === "function");
    const thrown = throws.some((Class) => isInstance(exception, Class));
    const retryWhen = actor.options.retry_when ?? this.retryWhen;
    let verdict;
    // A `retries` option that is no number: Python's hook fails before asking retry_when.
    const retries = thrown ? undefined : RetriesPolicy.retriesSoFar(message.message);
    if (retries !== undefined && retryWhen) {
      try {
        verdict = Boolean(retryWhen(retries, exception));
      } catch (error) {
        broker.logger.error(`retryWhen threw for message ${message.messageId}; the retry limit decides.`, error);
      }
    }
    const asked = isInstance(exception, Retry) ? readSafely(exception, "delay") : undefined;
    const delay = typeof asked === "number" ? asked : undefined;
    const stack = readSafely(exception, "stack");
    const traceback = typeof stack === "string" ? stack : undefined;
    const decision = this.#policy.decide(message.message, actor[kSpec], thrown, verdict, delay, traceback, Date.now());
    message.message = decision.message;
    if (decision.broken) {
      // Python's `Retries` raises here (`"x" + 1`, `0 >= "3"`, `None * 2`): it logs the
      // failure of its hook and the message, neither retried nor failed, is acked. So is ours.
      broker.logger.error(
        `Unexpected failure in afterProcessMessage of Retries: message ${message.messageId} has a retries, ` +
          "max_retries, min_backoff or max_backoff option that is no number Python's Retries can use; " +
          "it is neither retried nor dead-lettered.",
      );
      return;
    }
    if (decision.fail) {
      // Python's lines, word for word (`%r` of the id): INFO for a `throws` match, else WARNING.
      if (thrown) broker.logger.info?.(decision.line);
      else broker.logger.warn(decision.line);
      message.fail();
      if (decision.exhaustedTo === undefined) return;
      // Python's order: failed first, then the target looked up (an unknown one is logged).
      const target = broker.getActor(decision.exhaustedTo);
      // Returned, so a network broker's write lands before the message is nacked.
      const callback = callbackMessage(target.queueName, target.actorName, decision.message, decision.exhausted);
      return freeIfCopied(broker, callback, broker.enqueue(callback));
    }
    broker.logger.info?.(decision.line);
    // Returned, so a network broker's write is awaited (and its failure logged) before the
    // message is acked.
    return broker.enqueue(decision.message, { delay: decision.delay });
  }
}
