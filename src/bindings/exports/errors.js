// The error classes of the public API. They live in a JS module (not in Rust) so that they
// are real subclasses of Error: `instanceof`, `name`, `cause` and stack traces work as JS
// users expect. The package re-exports this very module, so the classes the wasm code throws
// are the classes users import.

/**
 * Marks the classes that are Dramatiq's `DramatiqError`s (the result errors here; `Retry`,
 * `RateLimitExceeded` and the broker errors in pkg/src/errors.js): Python writes such an
 * error with an empty message as `''` (its `__str__`), and so does `exceptionInfo`'s caller.
 * Registered (`Symbol.for`), so the JS-side classes mark themselves without importing this.
 */
export const DRAMATIQ_ERROR = Symbol.for("dramatiq-results.dramatiqError");

/** Each class's code when none is given: a `new ResultTimeout()` made by hand (a test's, a
 * wrapper's) carries `RESULT_TIMEOUT`, as the ones the package throws do, and as the
 * JavaScript-side errors take theirs from their class. */
const DEFAULT_CODE = Symbol("dramatiq-results.defaultCode");

/** Base class of every error about a result (Dramatiq's `ResultError`). */
export class ResultError extends Error {
  constructor(message, options = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    /** The store key of the message the error is about, or null. */
    this.messageKey = options.messageKey ?? null;
    /** A stable machine-readable code, e.g. "RESULT_MISSING". */
    this.code = options.code ?? this[DEFAULT_CODE];
  }
}
ResultError.prototype.name = "ResultError";
ResultError.prototype[DEFAULT_CODE] = "RESULT_ERROR";
ResultError.prototype[DRAMATIQ_ERROR] = true;

/** No result is stored (or it expired) and the caller did not block. */
export class ResultMissing extends ResultError {}
ResultMissing.prototype.name = "ResultMissing";
ResultMissing.prototype[DEFAULT_CODE] = "RESULT_MISSING";

/** The caller blocked and the deadline passed with no result stored. */
export class ResultTimeout extends ResultError {}
ResultTimeout.prototype.name = "ResultTimeout";
ResultTimeout.prototype[DEFAULT_CODE] = "RESULT_TIMEOUT";

/** The actor raised; the message reads `actor raised <type>: <msg>`. */
export class ResultFailure extends ResultError {
  constructor(message, options = {}) {
    super(message, options);
    // Only a missing option defaults: a stored `null` stays null, as Python's `None` does.
    /** The exception's class name (Dramatiq's `orig_exc_type`). */
    this.exceptionType = options.exceptionType === undefined ? "" : options.exceptionType;
    /** The exception's message (Dramatiq's `orig_exc_msg`). */
    this.exceptionValue = options.exceptionValue === undefined ? "" : options.exceptionValue;
    /** The traceback, when the producer stored one (Python Dramatiq never does). */
    this.traceback = options.traceback ?? null;
  }
}
ResultFailure.prototype.name = "ResultFailure";
ResultFailure.prototype[DEFAULT_CODE] = "RESULT_FAILURE";

/** Stored bytes that Dramatiq's encoder cannot read (Dramatiq's `DecodeError`). */
export class DecodeError extends ResultError {}
DecodeError.prototype.name = "DecodeError";
DecodeError.prototype[DEFAULT_CODE] = "RESULT_DECODE";

const CLASSES = {
  RESULT_MISSING: ResultMissing,
  RESULT_TIMEOUT: ResultTimeout,
  RESULT_FAILURE: ResultFailure,
  RESULT_DECODE: DecodeError,
};

/** Builds the error for `code`; called from the wasm bindings. With `standIns`, its
 * texts hold stand-ins for lone surrogates (U+10F800 for U+D800 … U+10FFFF for U+DFFF:
 * `codec::surrogates`), written back here as the lone surrogates a JS string can hold. */
export function makeResultError(code, message, messageKey, cause, failure, standIns) {
  const Class = CLASSES[code] ?? ResultError;
  const back = standIns ? lonesBack : (v) => v;
  const options = { code, messageKey: messageKey ?? null };
  if (cause !== undefined) options.cause = cause;
  if (failure !== undefined) {
    options.exceptionType = back(failure[0]);
    options.exceptionValue = back(failure[1]);
    options.traceback = back(failure[2] ?? null);
  }
  return new Class(back(message), options);
}

/** `value` (made by the bindings: strings, arrays, plain objects) with each stand-in in
 * its strings, keys too, as the lone surrogate it stands for. */
function lonesBack(value) {
  if (typeof value === "string") {
    return value.replace(/[\uDBFE\uDBFF][\uDC00-\uDFFF]/g, (pair) => String.fromCharCode(0xd800 + pair.codePointAt(0) - 0x10f800));
  }
  if (Array.isArray(value)) return value.map(lonesBack);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [lonesBack(k), lonesBack(v)]));
  }
  return value;
}

/**
 * The sentinel for "no value" (Dramatiq's `Missing`): returned where absence is an answer
 * rather than an error, e.g. by `tryGetResult`.
 */
export const Missing = Object.freeze(
  Object.create(null, {
    toString: { value: () => "Missing" },
    [Symbol.toStringTag]: { value: "Missing" },
  }),
);

/** Returns the Missing sentinel; called from the wasm bindings. */
export function missing() {
  return Missing;
}

/**
 * What Dramatiq's `wrap_exception` reads off an exception, for a JS thrown value:
 * [type, message, dramatiqError]. The type is the class name (a subclass that does not set
 * `name` still reports its own class, as Python's `type(e).__name__` does), unless `name`
 * was set to something more specific than "Error". `dramatiqError`: whether it is one of
 * Dramatiq's own errors (`DRAMATIQ_ERROR`), whose empty message Python writes as `''`.
 */
export function exceptionInfo(error) {
  if (error !== null && typeof error === "object") {
    let dramatiqError = false;
    try {
      dramatiqError = error[DRAMATIQ_ERROR] === true;
    } catch {
      // A revoked Proxy: not one of ours.
    }
    let type = "Error";
    try {
      const ownName = typeof error.name === "string" ? error.name : "";
      const ctorName = typeof error.constructor?.name === "string" ? error.constructor.name : "";
      type = ownName && ownName !== "Error" ? ownName : ctorName || ownName || "Error";
    } catch {
      // A throwing getter or a revoked Proxy: an Error with no more to say.
    }
    let message = "";
    try {
      const raw = error.message;
      message = raw === undefined ? "" : text(raw);
    } catch {
      message = "(a message that cannot be read)";
    }
    return [type, message, dramatiqError];
  }
  return ["Error", text(error), false];
}

/** `String(value)` that never throws: a Symbol, an object whose `toString` throws or that has
 * none (`Object.create(null)`) are described instead. */
function text(value) {
  if (typeof value === "symbol") return value.toString();
  try {
    return String(value);
  } catch {
    return "(a value that cannot be converted to a string)";
  }
}
