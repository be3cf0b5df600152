// The real Python Dramatiq 2.2.1 on the other side of the broker tests: a worker process
// (`dramatiq` from target/venv, the app in tests/py/broker_app.py) and the producer /
// result reader tests/py/produce.py. Both are configured from the same options, so they
// agree on broker, namespace, queue and result backend.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { groupAlive, killGroup, reapOnExit } from "./services.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const pyDir = `${root}tests/py`;
const venv = `${root}target/venv/bin`;

/** Whether the venv with Python Dramatiq exists (`scripts/setup --python`). */
export const havePython = existsSync(`${venv}/python`) && existsSync(`${venv}/dramatiq`);

/**
 * The environment broker_app.py reads (see its docstring), from the harness's options:
 * `broker` "redis" | "rabbitmq", `url` (the broker's), `namespace` (RedisBroker's),
 * `resultsUrl` (Redis behind the Results middleware; defaults to `url` for redis),
 * `resultsNamespace`, `queue` (the actors' queue), `prefix` (the app's own Redis keys),
 * `confirm` (RabbitMQ publisher confirms), and `env` (anything else, last).
 */
export function appEnv({ broker = "redis", url, namespace, resultsUrl, resultsNamespace, queue, prefix, confirm, env } = {}) {
  const set = (name, value) => (value === undefined ? {} : { [name]: String(value) });
  return {
    ...process.env,
    PYTHONPATH: pyDir,
    PYTHONUNBUFFERED: "1",
    BROKER: broker,
    ...set("BROKER_URL", url),
    ...set("BROKER_NAMESPACE", namespace),
    ...set("RESULTS_REDIS_URL", resultsUrl),
    ...set("RESULTS_NAMESPACE", resultsNamespace),
    ...set("QUEUE", queue),
    ...set("APP_PREFIX", prefix),
    ...set("BROKER_CONFIRM", confirm === undefined ? undefined : confirm ? 1 : 0),
    ...env,
  };
}

/**
 * Starts `dramatiq --processes 1 --threads N broker_app` and resolves once its worker
 * process logs "Worker process is ready for action." (its consumers are set up then).
 * Options: those of `appEnv`, plus `app` (the module of tests/py to run; default
 * "broker_app"), `threads` (default 2), `queues` (`--queues`; default all of the app's),
 * `shutdownTimeoutMs` (`--worker-shutdown-timeout`, default 10 s) and `readyMs` (default
 * 60 s).
 *
 * Returns `{ pid, output, stop(), kill(), exited }`: `output` is everything the worker
 * logged so far; `stop()` is SIGTERM (Dramatiq's graceful shutdown) and waits for every
 * process of the worker to be gone; `kill()` is SIGKILL to the whole process group (the
 * main process and its forked worker process), a crash; `exited` resolves with the main
 * process's exit code (or signal name).
 */
export async function startPythonWorker(options = {}) {
  const { threads = 2, queues, shutdownTimeoutMs = 10_000, readyMs = 60_000, app = "broker_app" } = options;
  const args = [
    "--processes", "1", "--threads", String(threads), "--path", pyDir,
    "--worker-shutdown-timeout", String(shutdownTimeoutMs),
    app,
    ...(queues ? ["--queues", ...queues] : []),
  ];
  // Its own process group, so kill() reaches the forked worker process too.
  const child = spawn(`${venv}/dramatiq`, args, {
    cwd: pyDir, env: appEnv(options), stdio: ["ignore", "pipe", "pipe"], detached: true,
  });
  const pid = child.pid;
  const reaped = reapOnExit(pid);
  const worker = { pid, output: "" };
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  worker.exited = exited;

  let onData;
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready worker after ${readyMs} ms`)), readyMs);
    onData = (d) => {
      worker.output += d;
      if (worker.output.includes("Worker process is ready for action.")) (clearTimeout(timer), resolve());
    };
    exited.then((code) => (clearTimeout(timer), reject(new Error(`dramatiq exited with ${code}`))));
  });
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);

  // Dramatiq's main process passes SIGTERM on to its worker process, which finishes (or,
  // after the shutdown timeout, requeues) the messages it holds.
  worker.stop = async () => {
    if (groupAlive(pid)) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {}
      await exited;
      try {
        await killGroup(pid, 0, shutdownTimeoutMs + 10_000);
      } catch {
        await killGroup(pid, "SIGKILL"); // a worker process left behind by its main process
      }
    }
    reaped();
  };
  worker.kill = async () => {
    if (groupAlive(pid)) await killGroup(pid, "SIGKILL");
    await exited;
    reaped();
  };

  try {
    await ready;
  } catch (e) {
    await worker.kill();
    throw new Error(`Python worker did not start: ${e.message}\n${worker.output}`);
  }
  return worker;
}

/**
 * Runs a script of tests/py (e.g. "produce.py") with the venv's Python and resolves with
 * its stdout's non-empty lines; rejects with its stderr if it fails. Options: those of
 * `appEnv`, plus `input` (written to its stdin) and `timeout` (ms, default 60 s).
 */
export function runPython(script, args = [], options = {}) {
  const { input, timeout = 60_000 } = options;
  return new Promise((resolve, reject) => {
    const child = execFile(
      `${venv}/python`, [`${pyDir}/${script}`, ...args],
      { cwd: pyDir, env: appEnv(options), maxBuffer: 256 << 20, timeout },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${script} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
        else resolve(stdout.split("\n").filter((l) => l.trim() !== ""));
      },
    );
    // A script that exits (or is timed out) before reading all its input must fail the
    // call with its stderr, not crash the test process with an unhandled EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}
