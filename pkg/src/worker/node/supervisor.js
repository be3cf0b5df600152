// The `worker` command's supervisor: N worker processes (process.js), restarted when one
// dies; the messages a dead one held go back to their queues at once (RedisBroker: its
// ack sets are released, as Dramatiq's maintenance does after a heartbeat timeout;
// RabbitMQ returns them itself when its connection drops). Signals as Python's `dramatiq`:
// SIGTERM / SIGINT stop gracefully (a second one stops at once), SIGHUP restarts the
// worker processes (a code reload), as a change under `--watch` does.
import { fork } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setImmediate } from "node:timers";
import { pathToFileURL } from "node:url";
import { RedisBroker, getBroker, setLogger } from "../../../dist/node.js";
import { kProbe, kReleaseWorker } from "../../internal/symbols.js";
import { serveMetrics } from "../../metrics/prometheus.js";
import prom from "prom-client";
import { RET, describeImportFailure, isConnectionError, locateSyntaxErrorOf } from "./exit_codes.js";
import { createLogger } from "./log.js";
import { importModules } from "./modules.js";
import { watchCode } from "./watch.js";

const ENTRY = new URL("./process.js", import.meta.url);

/**
 * Runs the worker command with `config` (see cli.js): resolves never; the process exits
 * with one of Python's exit codes.
 */
export async function supervise(config) {
  let outputFd = "inherit";
  if (config.logFile) {
    // The logger swallows write errors (a full disk must not stop a worker), so a log file
    // that cannot be written at all would leave the operator with no line anywhere.
    try {
      appendFileSync(config.logFile, "");
      // What actors and modules print (console.log, a thread's stdout) goes there too, as
      // Python's worker processes send their stdout and stderr to the log.
      outputFd = openSync(config.logFile, "a");
    } catch (error) {
      process.stderr.write(`dramatiq-results worker: cannot write the log file ${config.logFile}: ${error.message}\n`);
      process.exitCode = RET.IMPORT;
      return;
    }
  }
  const logger = createLogger({ component: "dramatiq.MainProcess", verbose: config.verbose, file: config.logFile });
  let pidFileWritten = false;
  const exit = (code) => {
    // Only our own PID file goes: a refused start leaves the running worker's alone.
    if (pidFileWritten) rmSync(config.pidFile, { force: true });
    setImmediate(() => process.exit(code));
  };

  // Until the worker processes start (the modules' import and the broker's check can take
  // a while), a stop signal ends the start and a reload has nothing to reload: Node's
  // default for all three would kill this process and leave its PID file behind.
  const early = {
    SIGTERM: () => (logger.info("Stopping (SIGTERM) before the worker processes started."), exit(RET.OK)),
    SIGINT: () => (logger.info("Stopping (SIGINT) before the worker processes started."), exit(RET.OK)),
    SIGHUP: () => {},
  };
  for (const [signal, handler] of Object.entries(early)) process.on(signal, handler);

  if (config.pidFile) {
    if (!writePidFile(config.pidFile, logger)) return exit(RET.PIDFILE);
    pidFileWritten = true;
  }

  // The supervisor imports the modules too: a broken module or an unreachable broker is one
  // clear line and an exit code before any process starts, and the broker they set is how
  // it returns a dead worker process's messages.
  setLogger(logger);
  let importing;
  try {
    await importModules(config.modules.map((m) => pathToFileURL(m).href), config.brokerExport, (url) => (importing = url));
  } catch (error) {
    const connect = isConnectionError(error);
    if (connect) {
      logger.error(`Broker connection failed: ${error?.message ?? error}`, ...(config.verbose ? [error] : []));
      return exit(RET.CONNECT);
    }
    const { line, detail } = describeImportFailure(error, { locateSyntaxError: () => locateSyntaxErrorOf(importing) });
    logger.error(`Could not import the modules: ${line}${detail ? `\n${detail}` : ""}`, ...(config.verbose ? [error] : []));
    return exit(RET.IMPORT);
  }
  const broker = getBroker();
  if (typeof broker[kProbe] !== "function") {
    logger.error("The modules set no RedisBroker or RabbitmqBroker: call setBroker(new RedisBroker(client)) (or a RabbitmqBroker) in them, or name the export that is the broker (tasks.mjs:broker).");
    return exit(RET.IMPORT);
  }
  try {
    await broker[kProbe]();
  } catch (error) {
    logger.error(`Broker connection failed: ${error?.message ?? error}`);
    return exit(RET.CONNECT);
  }

  logger.info(
    `dramatiq-results worker is booting up: ${config.processes} process(es) × ${config.threads} thread(s), ` +
      `modules: ${config.modules.join(", ")}.`,
  );

  const children = new Set();
  let stopping = false;
  let booted = false;
  // The counters and histograms of worker processes that are gone, summed: as Python's
  // multiprocess metrics keep a dead process's counts, so the sums never go down (a counter
  // that drops reads as a reset, and rate() as a burst). Their gauges are not kept: what a
  // gone process had in progress or delayed is back in its queue (Python's livesum).
  let retired = [];
  let retiring = Promise.resolve();
  let metricsServer;

  const spawn = (index, failures = 0) => {
    const child = fork(ENTRY, [JSON.stringify({ ...config, index })], {
      stdio: ["ignore", outputFd, outputFd, "ipc"],
      serialization: "advanced",
    });
    const entry = { child, index, ready: false, brokerId: undefined, queues: undefined, failures, reload: false, startedAt: Date.now(), waiting: new Map() };
    children.add(entry);
    child.on("message", (msg) => {
      if (msg?.type === "ready") {
        Object.assign(entry, { ready: true, brokerId: msg.brokerId, queues: msg.queues });
        if (!booted && [...children].every((c) => c.ready)) {
          booted = true;
          logger.info("Every worker process is ready for action.");
        }
      } else if (msg?.type === "failed") {
        entry.failure = msg;
      } else if (msg?.type === "metrics") {
        if (msg.data !== undefined) entry.metrics = msg.data;
        entry.waiting.get(msg.id)?.(msg.data);
      } else if (msg?.type === "snapshot" || msg?.type === "final") {
        // Its latest counts, pushed while it works and when it stops: what the sums keep
        // of it once it is gone, even if it dies without a word (SIGKILL, a crash).
        entry.metrics = msg.data;
      }
    });
    child.on("exit", (code, signal) => {
      if (config.metrics) retire(entry);
      onExit(entry, code, signal);
    });
    return entry;
  };

  /** Adds what a gone worker process counted to `retired` (one at a time: each reads the last). */
  const retire = (entry) => {
    retiring = retiring.then(async () => {
      // Messages it sent before exiting are read before its channel closes.
      if (entry.child.connected) {
        await new Promise((resolve) => {
          entry.child.once("disconnect", resolve);
          setTimeout(resolve, 1000).unref();
        });
      }
      const kept = (entry.metrics ?? []).filter((m) => m?.type !== "gauge");
      if (kept.length === 0) return;
      try {
        retired = [await prom.AggregatorRegistry.aggregate([...retired, kept]).getMetricsAsJSON()];
      } catch (error) {
        logger.error(`Could not keep worker process ${entry.index}'s metrics.`, error);
      }
    });
  };

  const releasing = new Set();
  /**
   * Returns what a gone worker process held and did not settle (after a clean stop, what
   * was still running at the shutdown timeout). A process that stopped cleanly (exit code
   * 0) keeps its heartbeat, as a stopped Python worker's stays until maintenance drops it;
   * one that died leaves the heartbeats once it holds nothing, as maintenance has it.
   */
  const release = async (entry, code) => {
    if (entry.brokerId === undefined || !(broker instanceof RedisBroker)) return;
    try {
      await broker[kReleaseWorker](entry.brokerId, entry.queues, { stopped: code === 0 });
      if (code !== 0) logger.info(`Returned the messages worker process ${entry.index} (PID ${entry.child.pid}) held to their queues.`);
    } catch (error) {
      logger.error(
        `Could not return the messages worker process ${entry.index} held; they return once its heartbeat times out.`,
        error,
      );
    }
  };

  const onExit = async (entry, code, signal) => {
    children.delete(entry);
    for (const resolve of entry.waiting.values()) resolve(undefined);
    const how = signal ? `signal ${signal}` : `code ${code}`;
    // Released alongside the restart, not before it: a slow Redis must not hold it up.
    const released = release(entry, code);
    releasing.add(released);
    released.finally(() => releasing.delete(released));
    if (stopping) {
      if (code !== 0) {
        logger.warn(`Worker process ${entry.index} (PID ${entry.child.pid}) exited with ${how}.`);
        // As Python's `dramatiq`: the first worker process to stop badly gives its code.
        if (exitCode === RET.OK) exitCode = code ?? RET.KILLED;
      }
      await released;
      if (children.size === 0 && releasing.size === 0) finish();
      return;
    }
    if (!entry.ready && !booted && entry.failure) {
      // A worker process that cannot boot (a module fails in it, the broker is gone): as
      // Python's `dramatiq`, give up with its exit code rather than restart it forever.
      logger.error(`Worker process ${entry.index} failed to boot: ${entry.failure.reason}`);
      stopAll("a worker process failed to boot", entry.failure.code);
      return;
    }
    if (entry.reload) {
      spawn(entry.index);
      return;
    }
    logger.error(`Worker process ${entry.index} (PID ${entry.child.pid}) died (${how}); restarting it.`);
    const quick = Date.now() - entry.startedAt < 10_000;
    const failures = quick ? entry.failures + 1 : 0;
    const delay = quick ? Math.min(100 * 2 ** entry.failures, 10_000) : 0;
    setTimeout(() => {
      if (!stopping) spawn(entry.index, failures);
    }, delay);
  };

  let exitCode = RET.OK;
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    if (metricsServer) {
      // A scraper's keep-alive connection would hold close() open.
      metricsServer.closeAllConnections();
      await new Promise((r) => metricsServer.close(r));
    }
    logger.info("Stopped.");
    exit(exitCode);
  };

  const stopAll = (why, code = RET.OK) => {
    exitCode = Math.max(exitCode, code);
    if (stopping) return;
    stopping = true;
    stopWatching?.();
    logger.info(`Stopping (${why}): sending stop to ${children.size} worker process(es)...`);
    if (children.size === 0) return finish();
    for (const { child } of children) send(child, { type: "stop", why });
  };

  const killAll = (why) => {
    logger.warn(`Stopping at once (${why}).`);
    exitCode = RET.KILLED;
    for (const { child } of children) {
      send(child, { type: "kill" });
      setTimeout(() => child.kill("SIGKILL"), 1000).unref();
    }
    if (children.size === 0) finish();
  };

  const reload = (why) => {
    if (stopping) return;
    logger.info(`Restarting the worker processes (${why})...`);
    for (const entry of children) {
      entry.reload = true;
      send(entry.child, { type: "stop", why: `reload: ${why}` });
    }
  };

  const onStopSignal = (signal) => {
    if (stopping) killAll(`second ${signal}`);
    else stopAll(signal);
  };
  for (const [signal, handler] of Object.entries(early)) process.off(signal, handler);
  process.on("SIGTERM", () => onStopSignal("SIGTERM"));
  process.on("SIGINT", () => onStopSignal("SIGINT"));
  process.on("SIGHUP", () => reload("SIGHUP"));

  let stopWatching;
  if (config.watch) {
    let timer;
    stopWatching = watchCode(config.watch, { polling: config.watchPolling }, (file) => {
      clearTimeout(timer);
      timer = setTimeout(() => reload(`${file} changed`), 300);
    });
  }

  if (config.metrics) {
    let ids = 0;
    const collect = async () => {
      const live = [...children].filter((c) => c.ready);
      const snapshots = await Promise.all(
        live.map(
          (c) =>
            new Promise((resolve) => {
              const id = ++ids;
              const timer = setTimeout(() => done(undefined), 2000);
              const done = (data) => {
                clearTimeout(timer);
                c.waiting.delete(id);
                resolve(data);
              };
              c.waiting.set(id, done);
              send(c.child, { type: "metrics", id });
            }),
        ),
      );
      await retiring;
      // A process that exited meanwhile is in `retired` now: counted there, not twice. One
      // too busy to answer in time counts what it last said (a sum must not dip).
      const current = snapshots.map((s, i) => (children.has(live[i]) ? (s ?? live[i].metrics) : undefined));
      return [...retired, ...current.filter((s) => s !== undefined)];
    };
    try {
      metricsServer = await serveMetrics({ host: config.metrics.host, port: config.metrics.port, collect, logger });
      const { address, port } = metricsServer.address();
      logger.info(`Serving Prometheus metrics on http://${address.includes(":") ? `[${address}]` : address}:${port}/metrics`);
    } catch (error) {
      logger.error(`Could not serve metrics on ${config.metrics.host}:${config.metrics.port}: ${error.message}`);
      return exit(RET.KILLED);
    }
  }

  // Numbered from 0, as Python's `dramatiq.WorkerProcess(0)`: a log search for a process finds ours too.
  for (let i = 0; i < config.processes; i += 1) spawn(i);
}

function send(child, msg) {
  try {
    if (child.connected) child.send(msg);
  } catch {
    // It is exiting; its "exit" event follows.
  }
}

/** Writes this process's PID to `path`, unless it names a process that is still running. */
function writePidFile(path, logger) {
  try {
    if (existsSync(path)) {
      const text = readFileSync(path, "utf8").trim();
      // As Python's `dramatiq`: a file that holds anything but a PID is not ours to
      // overwrite (a config file named by mistake), nor to delete at exit.
      if (!/^\d{1,10}$/.test(text)) {
        logger.error(`The PID file ${path} holds something other than a PID; refusing to overwrite it.`);
        return false;
      }
      const pid = Number(text);
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        logger.error(`The PID file ${path} names a running process (${pid}): is a worker already running?`);
        return false;
      }
    }
    writeFileSync(path, `${process.pid}\n`);
    // -rw-r--r-- whatever the umask, as Python's `dramatiq` leaves it.
    chmodSync(path, 0o644);
    return true;
  } catch (error) {
    logger.error(`Could not write the PID file ${path}: ${error.message}`);
    return false;
  }
}

/** Whether `pid` is a process this user may signal, as Python's `dramatiq` asks (any
 * `os.kill(pid, 0)` error means stale): a PID file a reboot left behind, now naming another
 * user's process (EPERM), must not keep the worker from starting. A worker of another
 * user's holding the file is still safe: its 0644 file cannot be overwritten (exit 4). */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
