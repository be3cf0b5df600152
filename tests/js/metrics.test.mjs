// The worker's Prometheus middleware (pkg/src/metrics/prometheus.js) on a real Redis broker:
// Dramatiq's delayed-message gauge moves as Python's does (up under the delay queue's name
// when a worker holds a delayed message, down under the work queue's when this process runs
// it), and moving a due message counts as an enqueue, as Dramatiq's full enqueue does. And
// the exposition server answers as Python's `_run_exposition_server`
// (tests/middleware/test_prometheus.py).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { RedisBroker, Worker, actor, defaultMiddleware } from "dramatiq-results";
import { Prometheus, serveMetrics } from "../../pkg/src/metrics/prometheus.js";
import { haveRedis, startRedis } from "./services.mjs";

const skip = haveRedis ? false : "redis-server is not installed (scripts/setup --services)";
let server;
let client;

before(async () => {
  if (skip) return;
  server = await startRedis();
  client = createClient({ url: server.url });
  client.on("error", () => {});
  await client.connect();
});

after(async () => {
  await client?.quit().catch(() => {});
  await server?.stop();
});

async function sample(metrics, name) {
  const json = await metrics.registry.getMetricsAsJSON();
  const metric = json.find((m) => m.name === name);
  return Object.fromEntries((metric?.values ?? []).map((v) => [`${v.labels.queue_name}/${v.labels.actor_name}`, v.value]));
}

async function until(check, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a held delayed message is in dramatiq_delayed_messages_inprogress until this worker runs it", { skip, timeout: 30_000 }, async () => {
  const metrics = new Prometheus();
  const broker = new RedisBroker(client, { namespace: "metrics", middleware: [metrics, ...defaultMiddleware()] });
  const ran = [];
  const job = actor((x) => void ran.push(x), { broker, actorName: "job", queueName: "m" });
  const worker = new Worker(broker, { concurrency: 2 }).start();
  try {
    job.sendWithOptions({ args: [1], delay: 1500 });
    await until(async () => (await sample(metrics, "dramatiq_delayed_messages_inprogress"))["m.DQ/job"] === 1, "the delayed message held");
    assert.deepEqual(ran, [], "not run before its eta");
    await until(() => ran.length === 1, "the delayed message run");
    const delayed = await sample(metrics, "dramatiq_delayed_messages_inprogress");
    assert.equal(delayed["m.DQ/job"], 1, "counted up under the delay queue's name (as Dramatiq)");
    assert.equal(delayed["m/job"], -1, "counted down under the work queue's name when run here (as Dramatiq)");
    assert.equal((await sample(metrics, "dramatiq_messages_total"))["m/job"], 1);
  } finally {
    await worker.stop();
  }
});

// Dramatiq's test_prometheus_middleware_exposes_metrics requests http://127.0.0.1:9191 (the
// path "/") and expects 200: Python's handler serves the metrics on every GET path, and
// answers any other method 501 (BaseHTTPRequestHandler without do_HEAD / do_POST).
test("the metrics server answers every GET path with the metrics, as Python's exposition server (test_prometheus_middleware_exposes_metrics)", async () => {
  const metrics = new Prometheus();
  metrics.total.inc({ queue_name: "q", actor_name: "a" });
  const server = await serveMetrics({ host: "127.0.0.1", port: 0, collect: async () => [await metrics.registry.getMetricsAsJSON()] });
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    for (const path of ["", "/", "/metrics", "/anything?x=1"]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type"), /^text\/plain; version=/, path);
      assert.match(await res.text(), /^dramatiq_messages_total\{queue_name="q",actor_name="a"\} 1$/m, path);
    }
    for (const method of ["HEAD", "POST"]) {
      const res = await fetch(`${base}/metrics`, { method });
      assert.equal(res.status, 501, method);
      await res.arrayBuffer();
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
