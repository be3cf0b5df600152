// The worker command's log lines, in the shape Python Dramatiq's operators read:
//   [2026-12-06 18:40:00,123] [PID 4242] [MainThread] [dramatiq.WorkerProcess(0)] [INFO] Worker process is ready for action.
// one line per event (a failure's stack follows it, as Python's traceback does), to stderr
// or appended to `--log-file`.
import { appendFileSync } from "node:fs";
import { inspect } from "node:util";

/** `error[kThreadName]`: the worker thread an actor's error came from (set by pool.js), so
 * the line that reports it names that thread, not the main thread that logs it. */
export const kThreadName = Symbol("dramatiq.threadName");

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };
const NAMES = { debug: "DEBUG", info: "INFO", warn: "WARNING", error: "ERROR" };

function stamp(date) {
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return (
    `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())},${p(date.getMilliseconds(), 3)}`
  );
}

/** How many causes one logged error shows (Python's traceback chains are short; a cause
 * chain an app builds in a loop need not be). */
const MAX_CAUSES = 8;

/** Text for one logged argument: an Error's stack (its causes' too, each once: an error that
 * is its own cause once wrote a line of megabytes), anything else inspected. */
function text(value, seen = new Set()) {
  try {
    if (typeof value === "string") return value;
    if (value instanceof Error) {
      seen.add(value);
      let out = value.stack ?? `${value.name}: ${value.message}`;
      const cause = value.cause;
      if (cause === undefined) return out;
      if (seen.has(cause)) return `${out}\nCaused by: (the error above: a cycle of causes)`;
      if (seen.size >= MAX_CAUSES) return `${out}\nCaused by: (more causes, not shown)`;
      return `${out}\nCaused by: ${text(cause, seen)}`;
    }
    return inspect(value, { depth: 4, breakLength: Infinity });
  } catch {
    // A thrown revoked Proxy or an error whose getters throw: the line still goes out.
    return "(a value that cannot be read)";
  }
}

/**
 * A logger (`debug`, `info`, `warn`, `error`) naming the process (`PID n`), the thread and
 * the component; `verbose` adds debug lines; `file` appends there instead of stderr.
 */
export function createLogger({ component, thread = "MainThread", verbose = false, file } = {}) {
  const min = verbose ? LEVELS.debug : LEVELS.info;
  const write = (level, args) => {
    if (LEVELS[level] < min) return;
    let from = thread;
    for (const a of args) {
      try {
        if (a instanceof Error && typeof a[kThreadName] === "string") from = a[kThreadName];
      } catch {
        // Unreadable: the line names this thread.
      }
    }
    const head = `[${stamp(new Date())}] [PID ${process.pid}] [${from}] [${component}] [${NAMES[level]}]`;
    const line = `${head} ${args.map((a) => text(a)).join(" ")}\n`;
    try {
      if (file) appendFileSync(file, line);
      else process.stderr.write(line);
    } catch {
      // A full disk or a closed stderr must not stop the worker.
    }
  };
  return {
    debug: (...args) => write("debug", args),
    info: (...args) => write("info", args),
    log: (...args) => write("info", args),
    warn: (...args) => write("warn", args),
    error: (...args) => write("error", args),
  };
}
