// A worker process of the `worker` command (forked by supervisor.js, one per `--processes`):
// imports the user's modules, checks the broker they set, starts a thread pool and a
// `Worker` over it, and reports to the supervisor over IPC. Stops gracefully on the
// supervisor's "stop" (or SIGTERM): no more fetching, prefetched messages back to their
// queues at once, messages in progress finished (up to the shutdown timeout), exit 0.
import { setImmediate } from "node:timers";
import { pathToFileURL } from "node:url";
import { CurrentMessage, Middleware, RabbitmqBroker, RedisBroker, Worker, getBroker, setLogger } from "../../../dist/node.js";
import { kExecutorFree, kPrefetch, kProbe, kSupervised } from "../../internal/symbols.js";
import { Prometheus } from "../../metrics/prometheus.js";
import { RET, describeImportFailure, isConnectionError, locateSyntaxErrorOf } from "./exit_codes.js";
import { createLogger } from "./log.js";
import { importModules } from "./modules.js";
import { ThreadPool } from "./pool.js";

const config = JSON.parse(process.argv[2]);
const name = `WorkerProcess(${config.index})`;
const logger = createLogger({ component: `dramatiq.${name}`, verbose: config.verbose, file: config.logFile });
// Python's `Worker.stop()` logs its own two INFO lines under `dramatiq.worker.Worker`; an
// operator's log search or alert written for Python workers finds them here too.
const workerLogger = createLogger({ component: "dramatiq.worker.Worker", verbose: config.verbose, file: config.logFile });
const send = (msg) => {
  try {
    if (process.connected) process.send(msg);
  } catch {
    // The supervisor is gone; "disconnect" stops this process.
  }
};

// The terminal's Ctrl-C reaches the whole process group: the supervisor decides what it
// means and tells this process. SIGHUP is the supervisor's too (a reload).
process.on("SIGINT", () => {});
process.on("SIGHUP", () => {});

let worker;
let pool;
let stopping;

async function stop(why) {
  if (stopping) return stopping;
  stopping = (async () => {
    logger.info(`Stopping worker process (${why})...`);
    // Python's worker.stop(timeout=…): prefetched messages go back at once, those running
    // get until the shutdown timeout.
    if (worker) {
      workerLogger.info("Shutting down...");
      await worker.stop({ timeout: config.shutdownTimeout });
    }
    if (pool && pool.busy > 0) {
      // Out now, threads and all: the supervisor gives what this process still held back
      // to the queues (RabbitMQ does so itself when the connection drops). Exit 0 all the
      // same, as Python's worker process does after its shutdown timeout.
      logger.warn(
        `Shutdown timeout of ${config.shutdownTimeout} ms reached with ${pool.busy} message(s) in progress; ` +
          "stopping them (they return to their queues).",
      );
      process.exit(RET.OK);
    }
    if (worker) workerLogger.info("Worker has been shut down.");
    if (metrics) send({ type: "final", data: await metrics.registry.getMetricsAsJSON().catch(() => []) });
    await pool?.close();
    logger.info("Worker process stopped.");
    // Let the log line and the last IPC message out, then go: the user's clients (Redis
    // connections) would keep the event loop alive.
    setImmediate(() => process.exit(RET.OK));
  })();
  return stopping;
}

process.on("SIGTERM", () => stop("SIGTERM"));
process.on("disconnect", () => stop("the supervisor is gone"));
process.on("message", async (msg) => {
  if (msg?.type === "stop") stop(msg.why ?? "asked by the supervisor");
  else if (msg?.type === "kill") process.exit(RET.KILLED);
  else if (msg?.type === "metrics") {
    let data = [];
    try {
      if (metrics) data = await metrics.registry.getMetricsAsJSON();
    } catch (error) {
      logger.error("Could not read this process's metrics.", error);
    }
    send({ type: "metrics", id: msg.id, data });
  }
});

let metrics;

/** With --verbose, a debug line per message received and done (Python's worker logs both). */
class MessageLog extends Middleware {
  #logger;
  constructor(logger) {
    super();
    this.#logger = logger;
  }
  beforeProcessMessage(broker, message) {
    this.#logger.debug(`Received message ${message} with id ${message.messageId} from queue ${message.queueName}.`);
  }
  afterProcessMessage(broker, message, { exception } = {}) {
    this.#logger.debug(`${exception === undefined ? "Processed" : "Failed"} message ${message.messageId}.`);
  }
  afterAck(broker, message) {
    this.#logger.debug(`Acked message ${message.messageId}.`);
  }
  afterNack(broker, message) {
    this.#logger.debug(`Dead-lettered message ${message.messageId}.`);
  }
}

function fail(code, line, error) {
  logger.error(line, ...(error && config.verbose ? [error] : []));
  send({ type: "failed", code, reason: line });
  setImmediate(() => process.exit(code));
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { code: "ETIMEDOUT" })), ms);
    }),
  ]);
}

async function main() {
  // Brokers take the logger current when they are made, so set it before the modules run.
  setLogger(logger);
  const modules = config.modules.map((m) => pathToFileURL(m).href);
  let importing;
  try {
    await importModules(modules, config.brokerExport, (url) => (importing = url));
  } catch (error) {
    if (isConnectionError(error)) return fail(RET.CONNECT, `Broker connection failed: ${error?.message ?? error}`, error);
    const { line } = describeImportFailure(error, { locateSyntaxError: () => locateSyntaxErrorOf(importing) });
    return fail(RET.IMPORT, `Could not import the modules: ${line}`, error);
  }
  const broker = getBroker();
  if (!(broker instanceof RedisBroker || broker instanceof RabbitmqBroker)) {
    return fail(RET.IMPORT, "The modules set no RedisBroker or RabbitmqBroker: call setBroker(new RedisBroker(client)) (or a RabbitmqBroker) in them, or name the export that is the broker (tasks.mjs:broker).");
  }
  try {
    await withTimeout(broker[kProbe](), 10_000, "the broker");
  } catch (error) {
    return fail(RET.CONNECT, `Broker connection failed: ${error?.message ?? error}`, error);
  }
  if (config.metrics) {
    metrics = new Prometheus();
    broker.addMiddleware(metrics);
    // What this process has counted, at most a second old, is the supervisor's: if this
    // process dies without a word, the sums still hold its counts (as Python's files do).
    let pushed = metrics.changes;
    setInterval(async () => {
      if (metrics.changes === pushed) return;
      pushed = metrics.changes;
      try {
        send({ type: "snapshot", data: await metrics.registry.getMetricsAsJSON() });
      } catch (error) {
        logger.error("Could not read this process's metrics.", error);
      }
    }, 1000).unref();
  }
  if (config.verbose) broker.addMiddleware(new MessageLog(logger));
  pool = new ThreadPool({
    size: config.threads,
    modules,
    brokerExport: config.brokerExport,
    logger,
    log: { index: config.index, verbose: config.verbose, file: config.logFile },
    // Only then does each call carry its message to the thread (a copy per message).
    currentMessage: broker.middleware.some((m) => m instanceof CurrentMessage),
  });
  try {
    await pool.start();
  } catch (error) {
    await pool.close();
    return fail(RET.IMPORT, `Could not import the modules in a worker thread: ${error?.message ?? error}`, error);
  }
  if (stopping) return;
  // As Python's `dramatiq -Q`: a subset of the queues the modules' actors use. A named
  // queue no actor here uses (another language's, a typo, a delay queue) is not consumed:
  // this worker would only dead-letter every message on it, as ones for unknown actors.
  const local = [...new Set([...broker.actors.values()].filter((a) => !a.remote).map((a) => a.queueName))];
  let queues = local;
  if (config.queues?.length) {
    queues = config.queues.filter((q) => local.includes(q));
    for (const q of config.queues.filter((q) => !local.includes(q))) {
      logger.warn(`Not consuming queue ${JSON.stringify(q)} (-Q): no actor that runs here uses it (the queues of those that do: ${local.join(", ") || "none"}).`);
    }
  }
  worker = new Worker(broker, { concurrency: config.threads, queues, executor: pool.run });
  worker[kPrefetch] = config.prefetch;
  // The supervisor gives back what this process holds when it exits (the stop's warning says so).
  worker[kSupervised] = true;
  // It takes a message only when a thread can run it at once (not while one starts up).
  worker[kExecutorFree] = () => pool.whenFree();
  worker.start();
  send({ type: "ready", brokerId: broker instanceof RedisBroker ? broker.brokerId : undefined, queues });
  const id = broker instanceof RedisBroker ? `, broker id ${broker.brokerId}` : "";
  logger.info(`Worker process is ready for action (${config.threads} threads, queues: ${queues.join(", ") || "none"}${id}).`);
}

main().catch((error) => fail(RET.KILLED, `Worker process failed: ${error?.message ?? error}`, error));
