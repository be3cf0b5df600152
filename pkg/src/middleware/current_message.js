// Dramatiq's `CurrentMessage` middleware: the message an actor is running for, found from
// inside the actor (through the host's AsyncLocalStorage; see internal/context.js).
import { currentAttempt, runInAttempt } from "../internal/context.js";
import { kExposed, kRunExposed } from "../internal/symbols.js";
import { Middleware } from "./middleware.js";

/**
 * Exposes the message being processed to its actor's code (Dramatiq's `CurrentMessage`):
 * add it to the broker, then call `CurrentMessage.getCurrentMessage()` inside an actor.
 * Needs the host's `AsyncLocalStorage` (Node, Bun, Deno, Cloudflare Workers with
 * `nodejs_compat`); elsewhere `getCurrentMessage()` throws saying so.
 */
export class CurrentMessage extends Middleware {
  /**
   * The `WorkerMessage` (Dramatiq's `MessageProxy`: the message's fields, `message`, and
   * `signal`) whose actor is running here, or null outside an actor or when the broker has
   * no `CurrentMessage` middleware.
   */
  static getCurrentMessage() {
    const proxy = currentAttempt();
    return proxy !== undefined && proxy[kExposed] ? proxy : null;
  }

  /**
   * Runs `fn()` with `proxy` as the current, exposed attempt: the `dramatiq-results worker`
   * command's threads run their actors through it (the middleware itself runs on the
   * process's main thread, where the message is processed).
   */
  static [kRunExposed](proxy, fn) {
    proxy[kExposed] = true;
    return runInAttempt(proxy, fn);
  }

  /** The attempt runs under this middleware, for its whole life: code an attempt runs on
   * with after a time limit or a shutdown failed it (an async actor cannot be stopped) still
   * finds its message and its aborted signal, as a Python actor's code does until it
   * returns. (Outside the attempt's code nothing finds it: the lookup goes through the
   * async context the actor was called in.) */
  beforeProcessMessage(broker, message) {
    message[kExposed] = true;
  }
}

/**
 * The `AbortSignal` of the attempt running here (what `TimeLimit` and
 * `ShutdownNotifications` abort): `CurrentMessage.getCurrentMessage()?.signal`, so it too
 * needs the `CurrentMessage` middleware on the broker (undefined without it, or outside an
 * actor) and the host's `AsyncLocalStorage`. The middleware is opt-in, as in Dramatiq:
 * on Node 20 an `AsyncLocalStorage` in use slows every Promise of the process.
 */
export function currentSignal() {
  return CurrentMessage.getCurrentMessage()?.signal;
}
