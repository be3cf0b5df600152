// Dramatiq's `ShutdownNotifications` middleware: when a worker stops, the attempts that
// asked to hear of it have their signal aborted with `Shutdown`.
import { builtinActorOptions, shouldNotifyShutdown } from "../../dist/dramatiq_results.js";
import { Shutdown } from "../errors.js";
import { checkOptions } from "../internal/options.js";
import { kAbort, kWorker } from "../internal/symbols.js";
import { Middleware, specOf } from "./middleware.js";

let optionNames;

/**
 * Tells running actors their worker is stopping (Dramatiq's `ShutdownNotifications`, on by
 * default): when `worker.stop()` begins, every attempt of that worker whose
 * `notify_shutdown` (message option, else actor option `notifyShutdown`, else this
 * middleware's `notifyShutdown`, default false) is true has its `signal` aborted with
 * `Shutdown`, and an async actor's attempt fails with it (retried as any failure is).
 * Attempts that did not ask are left to finish.
 */
export class ShutdownNotifications extends Middleware {
  #attempts = new Set();

  constructor(options) {
    super();
    const { notifyShutdown = false } = checkOptions("new ShutdownNotifications()", options, { notifyShutdown: "boolean" });
    /** The default for actors and messages that do not say. */
    this.notifyShutdown = notifyShutdown;
  }

  get actorOptions() {
    optionNames ??= builtinActorOptions().ShutdownNotifications;
    return new Set(optionNames);
  }

  /** Whether `message`'s attempt is aborted when its worker stops (Python's `should_notify`). */
  shouldNotify(broker, message) {
    return shouldNotifyShutdown(message.message, specOf(broker, message), this.notifyShutdown);
  }

  beforeProcessMessage(broker, message) {
    if (this.shouldNotify(broker, message)) this.#attempts.add(message);
  }

  afterProcessMessage(broker, message) {
    this.#attempts.delete(message);
  }

  afterSkipMessage(broker, message) {
    this.#attempts.delete(message);
  }

  beforeWorkerShutdown(broker, worker) {
    // Python's words, though here the attempts are aborted rather than threads raised in.
    broker.logger.debug?.("Sending shutdown notification to worker threads...");
    for (const message of this.#attempts) {
      if (message[kWorker] !== worker) continue;
      broker.logger.info?.(`Worker shutdown notification. Aborting message ${message.messageId}.`);
      message[kAbort](new Shutdown());
    }
  }
}
