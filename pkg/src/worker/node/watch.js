// `--watch <dir>` (and Python's `--watch-use-polling`): what tells the supervisor that the
// code under a directory changed. The system's file events by default; with polling, a
// scan of the tree every second (as watchdog's PollingObserver, which Python's flag picks),
// for the file systems that send no events (a network share, a container's bind mount).
import { readdirSync, statSync, watch } from "node:fs";
import { join, relative } from "node:path";

/** Code only, as Python's --watch looks at .py files: a log or PID file written in the same
 * directory must not restart the processes that write it. */
const CODE = /\.(m?js|cjs|json)$/;
const SKIPPED = /(^|[/\\])(node_modules|\.git)([/\\]|$)/;

/** How often a polling watch scans the tree (watchdog's PollingObserver default). */
export const POLL_MS = 1000;

/**
 * Calls `onChange(file)` (a path relative to `dir`) when a code file under `dir` is
 * created, changed (content or times: a touch counts, as for watchdog) or removed.
 * Returns a function that stops watching.
 */
export function watchCode(dir, { polling = false } = {}, onChange) {
  if (!polling) {
    const watcher = watch(dir, { recursive: true }, (event, file) => {
      if (file && CODE.test(file) && !SKIPPED.test(file)) onChange(file);
    });
    return () => watcher.close();
  }
  let seen = scan(dir);
  const timer = setInterval(() => {
    const now = scan(dir);
    const changed = [...now].find(([file, stamp]) => seen.get(file) !== stamp)?.[0] ?? [...seen.keys()].find((file) => !now.has(file));
    seen = now;
    if (changed !== undefined) onChange(relative(dir, changed));
  }, POLL_MS);
  return () => clearInterval(timer);
}

/** Every code file under `dir` (not in node_modules or .git), with its mtime, ctime and size. */
function scan(dir) {
  const files = new Map();
  const walk = (folder) => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return; // Removed meanwhile, or unreadable: nothing to watch there.
    }
    for (const entry of entries) {
      if (entry.name === "node_modules" || entry.name === ".git") continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (CODE.test(entry.name)) {
        try {
          const s = statSync(path);
          files.set(path, `${s.mtimeMs}:${s.ctimeMs}:${s.size}`);
        } catch {
          // Gone between the listing and the stat: the next scan sees it gone.
        }
      }
    }
  };
  walk(dir);
  return files;
}
