// Dramatiq's Prometheus metrics, for JavaScript workers: the same names, help texts, labels
// and buckets as `dramatiq.middleware.prometheus`, so the dashboards and alerts written for
// Python workers read JavaScript ones unchanged. Counted by a middleware in each worker
// process over prom-client (the maintained Prometheus client for Node); the `worker`
// command's supervisor sums the processes' registries (prom-client's AggregatorRegistry)
// and serves the text at /metrics.
import { createServer } from "node:http";
import prom from "prom-client";
import { Middleware } from "../../dist/node.js";

const LABELS = ["queue_name", "actor_name"];
// Dramatiq's buckets, in milliseconds (+Inf is implicit in prom-client).
const BUCKETS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, 30000, 60000, 600000, 900000];

/**
 * The `Prometheus` middleware of Dramatiq, over its own prom-client `Registry`
 * (`registry`): messages processed, errored, retried, dead-lettered, in progress, and
 * their durations, labelled by queue and actor.
 */
export class Prometheus extends Middleware {
  #started = new Map();
  #delayed = new Set();

  constructor() {
    super();
    /** How many times the metrics changed (the worker command pushes them when it moves). */
    this.changes = 0;
    /** This process's metrics. */
    this.registry = new prom.Registry();
    const registers = [this.registry];
    const counter = (name, help) => new prom.Counter({ name, help, labelNames: LABELS, registers });
    this.total = counter("dramatiq_messages_total", "The total number of messages processed.");
    this.errors = counter("dramatiq_message_errors_total", "The total number of errored messages.");
    this.retries = counter("dramatiq_message_retries_total", "The total number of retried messages.");
    this.rejects = counter("dramatiq_message_rejects_total", "The total number of dead-lettered messages.");
    this.inProgress = new prom.Gauge({
      name: "dramatiq_messages_inprogress",
      help: "The number of messages in progress.",
      labelNames: LABELS,
      registers,
      aggregator: "sum",
    });
    this.delayedInProgress = new prom.Gauge({
      name: "dramatiq_delayed_messages_inprogress",
      help: "The number of delayed messages in memory.",
      labelNames: LABELS,
      registers,
      aggregator: "sum",
    });
    this.durations = new prom.Histogram({
      name: "dramatiq_message_duration_milliseconds",
      help: "The time spent processing messages.",
      labelNames: LABELS,
      buckets: BUCKETS,
      registers,
    });
  }

  afterNack(broker, message) {
    this.changes += 1;
    this.rejects.inc(labels(message));
  }

  afterEnqueue(broker, message) {
    // As Dramatiq: an enqueue of a message that carries a retry count is a retry.
    const options = message.options;
    if (options && options.retries !== undefined) {
      this.changes += 1;
      this.retries.inc(labels(message));
    }
  }

  /**
   * A delayed message held in memory until its eta. As Dramatiq's, it is counted under the
   * delay queue's name and uncounted (under the work queue's) when this process runs it.
   */
  beforeDelayMessage(broker, message) {
    this.changes += 1;
    this.#delayed.add(message.messageId);
    this.delayedInProgress.inc(labels(message));
  }

  beforeProcessMessage(broker, message) {
    this.changes += 1;
    if (this.#delayed.delete(message.messageId)) this.delayedInProgress.dec(labels(message));
    this.inProgress.inc(labels(message));
    this.#started.set(message.messageId, performance.now());
  }

  afterProcessMessage(broker, message, { exception } = {}) {
    this.changes += 1;
    const l = labels(message);
    const started = this.#started.get(message.messageId) ?? performance.now();
    this.#started.delete(message.messageId);
    this.durations.observe(l, Math.round(performance.now() - started));
    this.inProgress.dec(l);
    this.total.inc(l);
    if (exception !== undefined && exception !== null) this.errors.inc(l);
  }

  afterSkipMessage(broker, message) {
    this.afterProcessMessage(broker, message);
  }
}

function labels(message) {
  return { queue_name: String(message.queueName), actor_name: String(message.actorName) };
}

/** Prometheus's text for the sum of several processes' `registry.getMetricsAsJSON()`. */
export async function aggregateText(perProcess) {
  const registry = prom.AggregatorRegistry.aggregate(perProcess);
  return { contentType: registry.contentType, text: pythonBucketBounds(await registry.metrics()) };
}

/**
 * Bucket bounds written as Python's client writes them (`le="5.0"`, not prom-client's
 * `le="5"`): `le` is a label, compared as text by Prometheus before 3.0, so a query or alert
 * naming `le="1000.0"` for Python workers, or a `sum by (le)` over a fleet of both, would
 * otherwise miss or split our buckets. Only a bare `le` label at the start of the label set
 * (where prom-client puts it) is rewritten; a label value's escaped quotes never match.
 */
export function pythonBucketBounds(text) {
  return text.replace(/^([a-zA-Z_:][a-zA-Z0-9_:]*_bucket\{le=")(\d+)(")/gm, "$1$2.0$3");
}

/**
 * Serves the metrics on `host:port` with what `collect()` resolves to (an array of
 * `getMetricsAsJSON()` results, one per process). As Python's exposition server, a `GET`
 * of any path is answered with them (`/metrics`, Prometheus's default, as well as `/`),
 * any other method with 501. Resolves with the listening server.
 */
export function serveMetrics({ host, port, collect, logger }) {
  const server = createServer(async (req, res) => {
    if (req.method !== "GET") {
      res.writeHead(501, { "content-type": "text/plain" }).end(`Unsupported method (${req.method})\n`);
      return;
    }
    try {
      const { contentType, text } = await aggregateText(await collect());
      res.writeHead(200, { "content-type": contentType }).end(text);
    } catch (error) {
      logger?.error("Could not collect the worker processes' metrics.", error);
      res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
