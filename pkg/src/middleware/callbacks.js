// Dramatiq's `Callbacks` middleware: the core names the target and builds the callback
// message (its first argument is the finished message's dict, exactly); this sends it.
import { builtinActorOptions, callbackMessage, callbackTarget, failureCallbackMessage } from "../../dist/dramatiq_results.js";
import { freeIfCopied } from "../internal/owned.js";
import { kSpec } from "../internal/symbols.js";
import { Middleware } from "./middleware.js";

let optionNames;

/**
 * Sends success and failure callbacks (Dramatiq's `Callbacks`, on by default): after an
 * attempt succeeds, the actor named by the message's `on_success` option, else its actor's
 * `onSuccess`, is sent `(message.asDict(), result)`; after *every* failed attempt (retried
 * or not), the one named by `on_failure` / `onFailure` is sent
 * `(message.asDict(), { type, message })`. A name no actor on the broker has (local, or
 * remote declared by name) is logged, never thrown.
 */
export class Callbacks extends Middleware {
  get actorOptions() {
    optionNames ??= builtinActorOptions().Callbacks;
    return new Set(optionNames);
  }

  afterProcessMessage(broker, message, { result = null, exception } = {}) {
    const actor = broker.getActor(message.actorName);
    const failed = exception !== undefined;
    const name = callbackTarget(message.message, actor[kSpec], failed ? "on_failure" : "on_success");
    if (name === undefined) return;
    const target = broker.getActor(name);
    const callback = failed
      ? failureCallbackMessage(target.queueName, target.actorName, message.message, exception)
      : callbackMessage(target.queueName, target.actorName, message.message, result);
    // Returned, so a network broker's write lands before the message is acked.
    return freeIfCopied(broker, callback, broker.enqueue(callback));
  }
}
