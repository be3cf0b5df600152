#!/usr/bin/env node
// `dramatiq-results serve`: the results gateway and live dashboard for a Dramatiq deployment.
// `dramatiq-results worker`: runs JavaScript actors as Python's `dramatiq` runs Python ones
// (its own usage and code: pkg/src/worker/node/cli.js).
import { parseArgs } from "node:util";

const USAGE = `Usage: dramatiq-results serve --redis <url> [options]
       dramatiq-results assets <dir>
       dramatiq-results worker <module> [module...] [options]   (see: worker --help)

Serves the results dashboard and an API over a Dramatiq deployment: the Redis
broker's queues, workers and messages, and their results; read-only unless an
operator token is set (then dead letters can be requeued and messages deleted).

  --redis <url>               the broker's Redis (results too, unless --memcached)
  --memcached <servers>       read results from Memcached instead ("host:port,host:port")
  --amqp <url>                the broker is RabbitMQ (amqp://…; needs amqplib): queue counts
                              and dead letters from it, --redis then holds results and the
                              audit log only (docs/operators.md says what AMQP cannot show)
  --queues <q1,q2>            with --amqp, the queues to show (AMQP cannot list them)
  --broker-namespace <ns>     the RedisBroker's namespace (default "dramatiq")
  --results-namespace <ns>    the result backend's namespace (default "dramatiq-results")
  --prefix-keys               results use namespace-prefixed keys (use_namespace_prefix_keys=True)
  --port <n>                  default 8080 (0: any free port)
  --host <addr>               default 127.0.0.1; other hosts need a token
  --token <secret>            the viewer's token (or DRAMATIQ_RESULTS_TOKEN, at least 16
                              characters): every API route then requires
                              "Authorization: Bearer <secret>"
  --operator-token <secret>   the operator's token (or DRAMATIQ_RESULTS_OPERATOR_TOKEN, at
                              least 16 characters): unlocks requeue and delete of messages
                              (POST/DELETE under /api); without it they do not exist
  --cors <origin>             let pages of this origin call the API
  --keyspace-events           ask Redis to turn on the keyspace notifications the gateway
                              follows (CONFIG SET notify-keyspace-events, adding Klhz);
                              without them it polls (it says which at start)
  --poll-interval <ms>        how often the event poller reads the broker (default 500)
  --heartbeat-timeout <ms>    a worker counts as alive this long after its heartbeat (default 60000)
  --version                   the package's version

"assets <dir>" writes the dashboard's static files into <dir>, for the gateway deployed
as a Cloudflare Worker (wrangler.toml's [assets] directory; see docs/edge.md).
`;

function fail(message) {
  process.stderr.write(`dramatiq-results: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const number = (name, value, min, max) => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) fail(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
};

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help" || command === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  if (command === "--version" || (command === "serve" && rest.includes("--version"))) {
    const { readFileSync } = await import("node:fs");
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    process.stdout.write(`${version}\n`);
    return;
  }
  if (command === "worker") {
    const { main: worker } = await import("../src/worker/node/cli.js");
    await worker(rest);
    return;
  }
  if (command === "assets") {
    if (rest.length !== 1 || rest[0].startsWith("-")) fail("assets takes one directory");
    const { copyDashboard } = await import("../src/gateway/node.js");
    copyDashboard(rest[0]);
    process.stdout.write(`dramatiq-results: the dashboard's files are in ${rest[0]}\n`);
    return;
  }
  if (command !== "serve") fail(`unknown command: ${command}`);
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      options: {
        redis: { type: "string" },
        memcached: { type: "string" },
        amqp: { type: "string" },
        queues: { type: "string" },
        "broker-namespace": { type: "string" },
        "results-namespace": { type: "string" },
        "prefix-keys": { type: "boolean" },
        port: { type: "string" },
        host: { type: "string" },
        token: { type: "string" },
        "operator-token": { type: "string" },
        cors: { type: "string" },
        "poll-interval": { type: "string" },
        "keyspace-events": { type: "boolean" },
        "heartbeat-timeout": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    fail(error.message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!values.redis) fail("--redis <url> is required");
  if (values.queues !== undefined && !values.amqp) fail("--queues goes with --amqp (the Redis broker's queues are found by themselves)");
  const queues = values.queues?.split(",").map((q) => q.trim()).filter(Boolean);
  if (values.amqp !== undefined) {
    if (!/^amqps?:\/\//.test(values.amqp)) fail("--amqp takes an AMQP URL, like amqp://guest:guest@127.0.0.1:5672");
    if (!queues?.length) fail("--amqp needs --queues q1,q2: AMQP cannot list a RabbitMQ node's queues");
    if (queues.some((q) => !/^[A-Za-z0-9_.-]{1,200}$/.test(q) || /\.(DQ|XQ)$/.test(q))) fail("--queues: queue names as the actors name them (not their .DQ or .XQ)");
  }
  const token = values.token ?? (process.env.DRAMATIQ_RESULTS_TOKEN || undefined);
  if (token !== undefined && token.length < 16) fail("the token must be at least 16 characters");
  const operatorToken = values["operator-token"] ?? (process.env.DRAMATIQ_RESULTS_OPERATOR_TOKEN || undefined);
  if (operatorToken !== undefined && operatorToken.length < 16) fail("the operator token must be at least 16 characters");
  if (operatorToken !== undefined && operatorToken === token) fail("the operator token must differ from the viewer's token");
  if (values.cors !== undefined && !/^https?:\/\/[^/\s]+$/.test(values.cors)) fail("--cors takes an origin, like https://ops.example.com");

  const { startGateway } = await import("../src/gateway/node.js");
  const gateway = await startGateway({
    redis: values.redis,
    memcached: values.memcached,
    amqp: values.amqp,
    queues,
    brokerNamespace: values["broker-namespace"],
    resultsNamespace: values["results-namespace"],
    prefixKeys: values["prefix-keys"] ?? false,
    port: number("port", values.port, 0, 65535),
    host: values.host,
    token,
    operatorToken,
    cors: values.cors,
    events: { intervalMs: number("poll-interval", values["poll-interval"], 50, 600_000) ?? 500 },
    heartbeatTimeoutMs: number("heartbeat-timeout", values["heartbeat-timeout"], 1, 86_400_000),
    keyspaceEvents: values["keyspace-events"] ?? false,
  });
  for (const notice of gateway.notices ?? []) process.stderr.write(`dramatiq-results: ${notice}\n`);
  const roles = [token ? "token required" : "", operatorToken ? "operator actions on" : ""].filter(Boolean).join(", ");
  process.stdout.write(`dramatiq-results gateway on ${gateway.url}/${roles ? ` (${roles})` : ""}\n`);
  const stop = async () => {
    await gateway.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`dramatiq-results: ${error.message}\n`);
  process.exit(1);
});
