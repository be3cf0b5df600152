// The logger brokers start with: `console` unless the application sets another.

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
