// Dramatiq's `Results` middleware: the core decides what each hook stores; this stores it.
import { ResultsAction, ResultsPolicy } from "../../dist/dramatiq_results.js";
import { checkOptions } from "../internal/options.js";
import { Middleware, specOf } from "./middleware.js";

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
  #policy;

  constructor(options) {
    super();
    const { backend, storeResults = false, resultTtl } = checkOptions("new Results()", options, {
      backend: "object",
      storeResults: "boolean",
      resultTtl: "ms?",
    });
    if (!backend || typeof backend.storeResult !== "function" || typeof backend.getResult !== "function") {
      throw new TypeError("Results needs { backend }: a result backend such as new StubBackend()");
    }
    /** The result backend. */
    this.backend = backend;
    this.#policy = new ResultsPolicy(storeResults, resultTtl ?? undefined);
  }

  get actorOptions() {
    return new Set(["store_results", "result_ttl"]);
  }

  /** The middleware-level default for `storeResults`. */
  get storeResults() {
    return this.#policy.storeResults;
  }

  /** The middleware-level default TTL, in ms. */
  get resultTtl() {
    return this.#policy.resultTtl;
  }

  async afterProcessMessage(broker, message, { result = null, exception } = {}) {
    const d = this.#policy.afterProcessMessage(message.message, specOf(broker, message), result, exception !== undefined);
    if (d.action === ResultsAction.StoreResult) {
      // A result the encoder cannot hold rejects here, and the broker logs it as an
      // unexpected failure in this hook: Dramatiq stores nothing then either (the stub
      // vector ret_bytes_unencodable), so neither do we.
      await this.backend.storeResult(message.message, result === undefined ? null : result, d.ttl);
    } else if (d.action === ResultsAction.Warn) {
      broker.logger.warn(d.warning);
    }
  }

  async afterSkipMessage(broker, message) {
    const d = this.#policy.afterSkipMessage(message.message, specOf(broker, message), message.failed);
    if (d.action === ResultsAction.StoreNone) await this.backend.storeResult(message.message, null, d.ttl);
  }

  async afterNack(broker, message) {
    const d = this.#policy.afterNack(message.message, specOf(broker, message), message.failed);
    if (d.action === ResultsAction.StoreException) {
      await this.backend.storeException(message.message, message.exception ?? unknownException(), d.ttl);
    }
  }
}
