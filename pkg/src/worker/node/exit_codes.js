// Python Dramatiq's exit codes (`dramatiq.cli`), kept by the `worker` command so scripts
// and supervisors written for `dramatiq` read ours the same.
export const RET = Object.freeze({
  /** The process terminated successfully. */
  OK: 0,
  /** The process was killed (or stopped before its messages were done). */
  KILLED: 1,
  /** Module import(s) failed, or an invalid command line. */
  IMPORT: 2,
  /** The broker could not be reached at start-up. */
  CONNECT: 3,
  /** The PID file points to a running process or cannot be written. */
  PIDFILE: 4,
});

/** Whether a failure looks like an unreachable server rather than a broken module. */
export function isConnectionError(error) {
  const codes = ["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN", "CONNECTION_CLOSED", "REDIS_CONNECTION"];
  for (let e = error, depth = 0; e && depth < 5; e = e.cause, depth += 1) {
    if (codes.includes(e.code) || /ConnectionClosed|ConnectionTimeout|SocketClosedUnexpectedly/.test(e.name ?? "")) return true;
    if (Array.isArray(e.errors) && e.errors.some((x) => codes.includes(x?.code))) return true;
  }
  return false;
}

