// Dramatiq's `AgeLimit` middleware.
import { ageLimitExceeded, ageLimitWarning } from "../../dist/dramatiq_results.js";
import { SkipMessage } from "../errors.js";
import { checkOptions } from "../internal/options.js";
import { kSpec } from "../internal/symbols.js";
import { Middleware } from "./middleware.js";

/** Skips and fails messages older than `maxAge` ms (Dramatiq's `AgeLimit`). */
export class AgeLimit extends Middleware {
  constructor(options) {
    super();
    const { maxAge } = checkOptions("new AgeLimit()", options, { maxAge: "ms?" });
    /** The default age limit in ms, or undefined for none. */
    this.maxAge = maxAge ?? undefined;
  }

  get actorOptions() {
    return new Set(["max_age"]);
  }

  beforeProcessMessage(broker, message) {
    const actor = broker.actors.get(message.actorName);
    if (!actor) return;
    if (ageLimitExceeded(this.maxAge, message.message, actor[kSpec], Date.now())) {
      broker.logger.warn(ageLimitWarning(message.message));
      message.fail();
      throw new SkipMessage("Message age limit exceeded");
    }
  }
}
