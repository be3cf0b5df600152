// Python Dramatiq's exit codes (`dramatiq.cli`), kept by the `worker` command so scripts
// and supervisors written for `dramatiq` read ours the same; and how a start-up failure
// is told.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

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

/**
 * One line for a module that failed to import, saying where, as Python's traceback does:
 * the error's message (after its name, unless a plain Error's), then the file and line of
 * its first frame in user code.
 * A SyntaxError from `import()` carries no location an API can read (Node prints it only
 * for an uncaught error), so for one `locateSyntaxError` asks a throwaway `node` for it.
 */
export function describeImportFailure(error, { locateSyntaxError } = {}) {
  let head;
  let isError;
  let isSyntaxError;
  try {
    isError = error instanceof Error;
    isSyntaxError = error instanceof SyntaxError;
    // A plain Error's name says nothing; a TypeError's or SyntaxError's does.
    if (isError) head = error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
    else head = `the module threw ${typeof error === "string" ? JSON.stringify(error) : String(error)}`;
  } catch {
    return { line: "the module threw a value that cannot be read", detail: undefined };
  }
  if (isSyntaxError && locateSyntaxError) {
    const found = locateSyntaxError();
    if (found) return { line: `${head} (at ${found.where})`, detail: found.excerpt };
  }
  let where;
  try {
    where = isError ? firstUserFrame(error.stack) : undefined;
  } catch {
    // A stack getter that throws: the line goes without a place.
  }
  return { line: where ? `${head} (at ${where})` : head, detail: undefined };
}

/** The first `file:` frame of `stack` outside node_modules (else the first `file:` frame), as a path. */
function firstUserFrame(stack) {
  if (typeof stack !== "string") return undefined;
  const frames = [...stack.matchAll(/(file:\/\/[^\s()]+?:\d+(?::\d+)?)\)?$/gm)].map((m) => m[1]);
  const pick = frames.find((f) => !f.includes("/node_modules/")) ?? frames[0];
  return pick && toPath(pick);
}

function toPath(location) {
  try {
    const m = /^(file:\/\/.+?)(:\d+(?::\d+)?)$/.exec(location);
    return m ? fileURLToPath(m[1]) + m[2] : location;
  } catch {
    return location;
  }
}

/**
 * Where the SyntaxError that importing `url` fails with is: a throwaway `node` imports it
 * and, the error uncaught, prints its location first (`file:///…:LINE`, the source line and
 * a caret). Parsing fails before any module of the graph runs, so nothing runs twice.
 */
export function locateSyntaxErrorOf(url) {
  try {
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(url)});`], {
      encoding: "utf8",
      timeout: 10_000,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const lines = (out.stderr ?? "").split("\n");
    const m = /^(file:\/\/\S+|\/\S+):(\d+)$/.exec(lines[0] ?? "");
    if (!m) return undefined;
    const caret = lines.findIndex((l, i) => i > 0 && /^\s*\^+\s*$/.test(l));
    const excerpt = caret > 0 ? lines.slice(1, caret + 1).join("\n") : undefined;
    return { where: toPath(`${m[1]}:${m[2]}`), excerpt };
  } catch {
    return undefined;
  }
}
