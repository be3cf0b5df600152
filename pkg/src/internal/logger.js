// The logger brokers start with: `console` unless the application sets another.
import { describeThrown } from "./describe.js";

let defaultLogger = console;

/** Throws a TypeError unless `logger` has `warn()` and `error()`. */
export function checkLogger(logger) {
  if (!logger || typeof logger.warn !== "function" || typeof logger.error !== "function") {
    throw new TypeError("a logger needs warn() and error() methods");
  }
}

/** Sets the logger new brokers use (anything with `warn`, `error`, optionally `info`). */
export function setLogger(logger) {
  checkLogger(logger);
  defaultLogger = logger;
}

/** The logger new brokers use (`console` unless set). */
export function getLogger() {
  return defaultLogger;
}

/**
 * `logger` behind methods that never throw: the worker's failure paths log before they
 * retry, store or dead-letter, so a logger whose `error()` throws (or that cannot format an
 * Error whose getters throw) must not cut them short. When a call throws, the same call is
 * tried once more with every argument reduced to plain text; if that throws too, the line
 * is dropped. `info` and `debug` are called only when the logger has them, and `debug` never
 * on `console` (the default): its `debug` prints every line, where Python's logging shows
 * none below WARNING unless configured, so Dramatiq's debug lines stay out of a program's
 * output until a logger that wants them is given.
 */
export function guardLogger(logger) {
  const call = (level, args) => {
    let method;
    try {
      if (level === "debug" && logger === console) return;
      method = logger[level];
      if (typeof method !== "function") return;
      method.apply(logger, args);
    } catch {
      try {
        method.apply(logger, [args.map((a) => (typeof a === "string" ? a : describeThrown(a))).join(" ")]);
      } catch {
        // Nothing more can be said through this logger.
      }
    }
  };
  return {
    error: (...args) => call("error", args),
    warn: (...args) => call("warn", args),
    info: (...args) => call("info", args),
    debug: (...args) => call("debug", args),
  };
}
