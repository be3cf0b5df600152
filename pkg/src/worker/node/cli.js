// `dramatiq-results worker <module> [more modules] [options]`: Python's `dramatiq` command
// for JavaScript actors. Parses the command line (Python's flags where they mean the
// same) and hands it to the supervisor.
import { availableParallelism } from "node:os";
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { RET } from "./exit_codes.js";

export const USAGE = `Usage: dramatiq-results worker <module>[:broker] [module...] [options]

Runs the actors of the modules (files that call setBroker(new RedisBroker(client)) or a
RabbitmqBroker, and declare actors) as Python's "dramatiq" runs a Python app: a supervisor,
worker processes, and in each a pool of worker threads the actors run on. As Python's
"module:broker", "tasks.mjs:broker" takes the broker from that export of the first module
(or calls it, if it is a function that sets the broker up).

  -p, --processes <n>             worker processes (default: the number of cores)
  -t, --threads <n>               worker threads per process (default 8): actors run on
                                  them, so a synchronous actor blocks only its thread
  -Q, --queues <q> [q...]         consume only these of the actors' queues (default: all
                                  of them; a queue no actor uses is not consumed)
      --pid-file <path>           write the supervisor's PID there (refused if it names a
                                  running process or holds anything but a PID)
      --log-file <path>           append the logs there instead of stderr (and what the
                                  actors print)
      --watch <dir>               restart the worker processes when a file under <dir> changes
      --watch-use-polling         with --watch: look for changes every second, not through
                                  the system's file events (network shares, bind mounts)
      --worker-shutdown-timeout <ms>
                                  how long a stop waits for messages in progress
                                  (default 600000, as Python's)
      --metrics-port <port>       serve Prometheus metrics at /metrics, summed over the
                                  worker processes (or env dramatiq_prom_port)
      --metrics-host <addr>       the address to serve them on (default 0.0.0.0, or env
                                  dramatiq_prom_host)
  -v, --verbose                   debug lines, and the stack of a start-up failure
      --version                   the package's version
  -h, --help                      this text

Environment (Python's): dramatiq_prom_port and dramatiq_prom_host (see above),
dramatiq_queue_prefetch and dramatiq_delay_queue_prefetch (messages a worker process holds
per queue; default threads × 2 and threads × 1000).

Signals: SIGTERM or SIGINT stop gracefully (no more fetching; prefetched messages return
to their queues at once; messages in progress finish, up to the shutdown timeout); a second
one stops at once. SIGHUP restarts the worker processes (a code reload).

Exit codes (Python's): 0 stopped cleanly, 1 killed (or the metrics port cannot be
listened on), 2 a module failed to import or a bad command line, 3 the broker could not
be reached at start-up, 4 the PID file names a running process, holds something else or
cannot be written.
`;

function usageError(message) {
  // As argparse: the reason, and where the options are (not all 40 lines of them).
  process.stderr.write(`dramatiq-results worker: ${message}\n(dramatiq-results worker --help lists the options)\n`);
  process.exit(RET.IMPORT);
}

// Python's flags this command has no use for, and why: a unit file copied from a Python
// deployment then fails with the reason, not just "unknown option".
const PYTHON_ONLY = {
  "--path": "modules are files here: name them by their path (tasks.mjs, lib/tasks.mjs)",
  "-P": "modules are files here: name them by their path (tasks.mjs, lib/tasks.mjs)",
  "--skip-logging": "this command always writes its own log lines (to stderr or --log-file)",
  "--use-spawn": "worker processes are always spawned (Node cannot fork)",
  "--fork-function": "there are no fork processes: run other programs next to the worker",
  "-f": "there are no fork processes: run other programs next to the worker",
  "--worker-fork-timeout": "there are no fork processes: run other programs next to the worker",
  "--watch-include": "--watch follows .js, .mjs, .cjs and .json files",
  "-i": "--watch follows .js, .mjs, .cjs and .json files",
  "--watch-exclude": "--watch already skips node_modules and .git",
  "-x": "--watch already skips node_modules and .git",
};

function unknownOption(error) {
  const option = /'(-[^']*)'/.exec(error.message)?.[1];
  if (error.code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION" || option === undefined) return error.message;
  const name = option.split("=")[0];
  const why = PYTHON_ONLY[name];
  return why ? `${name} is Python's dramatiq's and has no equivalent here: ${why}` : `unknown option ${name}`;
}

function whole(name, value, min, max) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(String(value)) || n < min || n > max) usageError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/**
 * The command line as the supervisor's config. Python's `-Q q1 q2` (several values after
 * one flag) is kept: the words after -Q up to the next option are queues.
 */
export function parseWorkerArgs(argv, env = process.env) {
  const args = [];
  const queues = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === "-Q" || a === "--queues") {
      while (i + 1 < argv.length && !argv[i + 1].startsWith("-")) queues.push(argv[++i]);
      continue;
    }
    if (/^-Q[^-]/.test(a)) {
      // argparse's attached value: `-Qdefault` is the queue "default", and so is
      // `-Q=default` (argparse drops the "="; taken as is, the queue "=default" was
      // never consumed).
      queues.push(a.slice(a[2] === "=" ? 3 : 2));
      continue;
    }
    if (/^-[pt]=/.test(a)) {
      // argparse's `-p=2` too (parseArgs would take the value as "=2" and refuse it).
      args.push(a.slice(0, 2), a.slice(3));
      continue;
    }
    if (a.startsWith("--queues=")) {
      queues.push(...a.slice("--queues=".length).split(",").filter(Boolean));
      continue;
    }
    args.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        processes: { type: "string", short: "p" },
        threads: { type: "string", short: "t" },
        "pid-file": { type: "string" },
        "log-file": { type: "string" },
        watch: { type: "string" },
        "watch-use-polling": { type: "boolean" },
        "worker-shutdown-timeout": { type: "string" },
        "metrics-port": { type: "string" },
        "metrics-host": { type: "string" },
        verbose: { type: "boolean", short: "v" },
        version: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    usageError(unknownOption(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (values.version) return { version: true };
  if (positionals.length === 0) {
    // `worker -Q default tasks.mjs`: -Q takes the words after it (as Python's), the module
    // too; "name a module" alone left the user looking at the module they did name.
    const taken = queues.find((q) => existsSync(resolve(q)) && statSync(resolve(q)).isFile());
    usageError(
      "name at least one module (a file that declares actors)" +
        (taken ? `; -Q takes every word after it up to the next option, so ${taken} was read as a queue: name the modules before -Q` : ""),
    );
  }
  // Python's `module:broker`: the first module's export that is the broker (or sets it up).
  let brokerExport;
  const spec = /^(.+):([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)$/.exec(positionals[0]);
  if (spec && !existsSync(resolve(positionals[0])) && existsSync(resolve(spec[1]))) {
    positionals[0] = spec[1];
    brokerExport = spec[2];
  }
  const modules = positionals.map((m) => resolve(m));
  for (const [i, m] of modules.entries()) {
    if (!existsSync(m) || !statSync(m).isFile()) {
      // A Python habit: `dramatiq tasks` names a module, not a file.
      const file = [".mjs", ".js", ".cjs"].map((ext) => positionals[i].replaceAll(".", "/") + ext).find((f) => existsSync(f));
      usageError(`no such module file: ${positionals[i]}${file ? ` (modules are files here: ${file}?)` : ""}`);
    }
  }
  if (values.watch !== undefined && !(existsSync(values.watch) && statSync(values.watch).isDirectory())) {
    usageError(`--watch needs a directory: ${values.watch}`);
  }
  // Python ignores it without --watch; said here, as --metrics-host without a port is.
  if (values["watch-use-polling"] && values.watch === undefined) usageError("--watch-use-polling needs --watch <dir>");
  const metricsPort = whole("--metrics-port", values["metrics-port"] ?? env.dramatiq_prom_port, 0, 65535);
  // Metrics are on with a port only: a host alone would be silently ignored.
  if (values["metrics-host"] !== undefined && metricsPort === undefined) usageError("--metrics-host needs --metrics-port <port> (or env dramatiq_prom_port)");
  return {
    modules,
    brokerExport,
    processes: whole("--processes", values.processes, 1, 1024) ?? availableParallelism(),
    threads: whole("--threads", values.threads, 1, 1024) ?? 8,
    queues: queues.length > 0 ? queues : undefined,
    pidFile: values["pid-file"] && resolve(values["pid-file"]),
    logFile: values["log-file"] && resolve(values["log-file"]),
    watch: values.watch && resolve(values.watch),
    watchPolling: values["watch-use-polling"] ?? false,
    // Dramatiq's worker reads these too (0 or unset: threads × 2 and threads × 1000).
    prefetch: {
      queue: whole("dramatiq_queue_prefetch", env.dramatiq_queue_prefetch || undefined, 0, 65535) ?? 0,
      delayQueue: whole("dramatiq_delay_queue_prefetch", env.dramatiq_delay_queue_prefetch || undefined, 0, 65535) ?? 0,
    },
    shutdownTimeout: whole("--worker-shutdown-timeout", values["worker-shutdown-timeout"], 0, 2 ** 31 - 1) ?? 600_000,
    metrics: metricsPort === undefined ? undefined : { port: metricsPort, host: values["metrics-host"] ?? env.dramatiq_prom_host ?? "0.0.0.0" },
    verbose: values.verbose ?? false,
  };
}

/** `dramatiq-results worker …`: parses `argv` and runs the supervisor. */
export async function main(argv) {
  const config = parseWorkerArgs(argv);
  if (config.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (config.version) {
    const { version } = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    process.stdout.write(`${version}\n`);
    return;
  }
  const { supervise } = await import("./supervisor.js");
  await supervise(config);
}
