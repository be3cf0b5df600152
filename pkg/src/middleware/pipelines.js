// Dramatiq's `Pipelines` middleware: the core links the next step; this enqueues it.
import { builtinActorOptions, pipeNext, pipesOnward } from "../../dist/dramatiq_results.js";
import { freeIfCopied } from "../internal/owned.js";
import { Middleware } from "./middleware.js";

/**
 * Runs pipelines (Dramatiq's `Pipelines`): on success, enqueues the message's
 * `pipe_target` with the result appended to its arguments, unless it or the current actor
 * sets `pipe_ignore`.
 */
let optionNames;

export class Pipelines extends Middleware {
  /** `pipe_ignore`, and `pipe_target`, which Dramatiq declares too (only a message's is followed). */
  get actorOptions() {
    optionNames ??= builtinActorOptions().Pipelines;
    return new Set(optionNames);
  }

  afterProcessMessage(broker, message, { result = null, exception } = {}) {
    if (exception !== undefined || message.failed) return;
    // As in Dramatiq, the result is only read when there is a target to pipe it to (a
    // result JSON cannot hold is no failure of a message that pipes nowhere).
    if (!pipesOnward(message.message)) return;
    const actor = broker.actors.get(message.actorName);
    const next = pipeNext(message.message, result, Boolean(actor?.options.pipe_ignore), Date.now());
    // Returned, so a network broker's write lands before the message is acked.
    if (next) return freeIfCopied(broker, next.message, broker.enqueue(next.message, { delay: next.delay }));
  }
}
