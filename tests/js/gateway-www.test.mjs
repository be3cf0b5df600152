// The dashboard's Deployment source end to end, all real: redis-server, a Python Dramatiq
// 2.2.1 producer and worker running fast, slow, failing, retried, delayed and unconsumed
// messages, the gateway started by its own bin, and headless Chromium. Then 10 000 messages
// streaming through the virtualised table with frame times measured, and the page through a
// Redis outage and a gateway restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { JSONEncoder, RedisBackend } from "dramatiq-results";
import { chromiumPath, launchChromium } from "./chromium.mjs";
import { haveRedis, startRedis } from "./services.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { HandBroker, dict, startGatewayBin } from "./gateway-helpers.mjs";

const skip =
  (!chromiumPath && "chromium is not installed (scripts/setup --browser)") ||
  (!haveRedis && "redis-server is not installed (scripts/setup --services)") ||
  (!havePython && "no Python Dramatiq (scripts/setup --python)");
const outDir = fileURLToPath(new URL("../../target/test-output/", import.meta.url));
const TOKEN = "dashboard-token-0123456789abcdef";
const encoder = new JSONEncoder();
const decode = (line) => encoder.decode(new TextEncoder().encode(line));

/** Opens the gateway's page; console and page errors land in `errors`. */
async function openPage(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    // Chromium logs failed requests; the outage tests cause them on purpose.
    if (m.type() === "error" && !/^Failed to load resource|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE/.test(m.text())) errors.push(m.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => window.loaded, null, { timeout: 20_000 });
  return { page, errors };
}

/** Shows the row of `messageId` (the search box narrows the virtual table to it). */
async function row(page, messageId) {
  await page.getByLabel("Find").fill(messageId);
  const locator = page.locator(`#flow-rows .vrow[data-message-id="${messageId}"]:not([hidden])`);
  await locator.waitFor({ timeout: 10_000 });
  return locator;
}

test("the Deployment source: a real Python Dramatiq deployment in headless Chromium", { skip, timeout: 300_000 }, async (t) => {
  mkdirSync(outDir, { recursive: true });
  const redis = await startRedis();
  const app = { url: redis.url, queue: "default" };
  let worker = null;
  let gateway = await startGatewayBin(["--redis", redis.url, "--token", TOKEN, "--poll-interval", "200"]);
  const browser = await launchChromium();
  const pages = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const opened = await openPage(context, `${gateway.url}/`);
    pages.push(opened);
    const { page } = opened;

    await t.test("without the token the page says so; with it the deployment is live", async () => {
      await page.waitForSelector('#source-status[data-kind="error"]');
      assert.match(await page.textContent("#source-status"), /Deployment · this gateway — down: the gateway wants a token/);
      assert.equal(await page.isVisible("#watch-form"), false, "the watch list's cards give way");
      assert.equal(await page.getByLabel("Deployment (results gateway)").isChecked(), true);
      await page.getByLabel("Token").fill(TOKEN);
      await page.getByRole("button", { name: "Apply" }).click();
      await page.waitForURL(/\?source=deployment$/);
      await page.waitForFunction(() => window.loaded);
      await page.waitForSelector('#source-status[data-kind="ok"]');
      await page.waitForFunction(() => /live$/.test(document.querySelector("#source-status").textContent));
    });

    await t.test("every state appears, with the right result or exception beside each", async () => {
      await page.evaluate(() => {
        window.seen = {};
        window.dashboard.deployment.stream.onRecord = (r) => ((window.seen[r.messageId] ??= []).push(r.state));
      });
      const send = async (specs, options = app) =>
        (await runPython("produce.py", ["send", ...specs.map((spec) => JSON.stringify(spec))], options)).map(decode);
      const [slow, ...rest] = await send([
        { actor: "slow", args: [3000] },
        { actor: "add", args: [1, 2], count: 5 },
        { actor: "fail", args: ["boom"] },
        { actor: "retry_once", args: [`k-${Date.now()}`] },
        { actor: "add", args: [10, 20], delay: 3000 },
        { actor: "record", args: ["tag"] },
      ]);
      const adds = rest.slice(0, 5);
      const [fail, retried, later, plain] = rest.slice(5);
      // A queue no worker consumes: it stays queued.
      const [parked] = await send([{ actor: "add", args: [0, 0] }], { ...app, queue: "nightly" });
      // The gateway sees messages that last at least one poll: the backlog waits for the
      // worker, which starts now (a message sent and done between two polls leaves no trace
      // in Redis but its result, under a key that cannot be reversed).
      await page.waitForFunction((id) => window.dashboard.deployment.stream.records.get(id), plain.message_id, { timeout: 20_000 });
      worker = await startPythonWorker({ ...app, threads: 4 });

      const finalState = (id, state) =>
        page.waitForFunction(([id, state]) => window.dashboard.deployment.stream.records.get(id)?.state === state, [id, state], { timeout: 30_000 });
      await finalState(parked.message_id, "queued");
      for (const m of adds) await finalState(m.message_id, "done");
      await finalState(fail.message_id, "dead-lettered");
      await page.waitForFunction((id) => window.dashboard.deployment.stream.records.get(id)?.result?.exception, fail.message_id, { timeout: 20_000 });
      await finalState(retried.message_id, "done");
      await finalState(plain.message_id, "done");
      await finalState(later.message_id, "done");
      await finalState(slow.message_id, "done");

      const seen = await page.evaluate(() => window.seen);
      assert.ok(seen[slow.message_id].includes("in-progress"), "the slow one was seen in progress");
      assert.ok(seen[later.message_id].includes("delayed"), "the delayed one was seen delayed");
      assert.ok(seen[fail.message_id].includes("dead-lettered"));
      console.log(`# states seen: ${JSON.stringify(Object.fromEntries([slow, adds[0], fail, retried, later, plain, parked].map((m) => [m.actor_name, seen[m.message_id]])))}`);
      const records = await page.evaluate(() => Object.fromEntries([...window.dashboard.deployment.stream.records].map(([k, r]) => [k, r])));
      assert.equal(records[adds[0].message_id].result.json, "3");
      assert.equal(records[slow.message_id].result.json, "3000");
      assert.equal(records[retried.message_id].result.json, "2");
      assert.equal(records[later.message_id].result.json, "30");
      assert.equal(records[plain.message_id].result, null, "record stores no result");
      assert.deepEqual(records[fail.message_id].result.exception, { type: "AppError", message: "boom" });
      assert.equal(records[parked.message_id].state, "queued");
      // The result keys are the package's (the same bytes the Python side stored, via /kv).
      const kv = await page.evaluate(async ([key, token]) => {
        const res = await fetch(`/kv/${key}`, { headers: { authorization: `Bearer ${token}` } });
        return [res.status, await res.text()];
      }, [records[adds[0].message_id].key, TOKEN]);
      assert.deepEqual(kv, [200, "3"]);

      // The rows: the result or the exception beside each.
      assert.match(await (await row(page, adds[0].message_id)).locator(".result").textContent(), /^3$/);
      const failRow = await row(page, fail.message_id);
      assert.equal(await failRow.getAttribute("data-state"), "dead-lettered");
      assert.equal(await failRow.locator(".result").textContent(), "AppError: boom");
      await failRow.click();
      await page.waitForSelector("#flow-detail:not([hidden]) .exc-type");
      assert.equal(await page.textContent("#flow-detail .exc-type"), "AppError");
      assert.equal(await (await row(page, plain.message_id)).locator(".result").textContent(), "no result stored");
      assert.equal(await (await row(page, parked.message_id)).getAttribute("data-state"), "queued");
      const retriedRow = await row(page, retried.message_id);
      await retriedRow.click();
      await page.waitForFunction(() => /"args"/.test(document.querySelector("#flow-detail-body").textContent));
      await page.getByLabel("Find").fill("");

      // Queues and workers.
      await page.waitForSelector('#queues tr[data-queue="nightly"]');
      assert.deepEqual(await page.$$eval('#queues tr[data-queue="nightly"] td', (tds) => tds.map((td) => td.textContent)), ["1", "0", "0", "0"]);
      assert.equal(await page.textContent('#queues tr[data-queue="default"] td:nth-of-type(4)'), "1", "one dead letter");
      assert.ok(Number(await page.textContent("#workers-count")) >= 1);
      await page.getByRole("button", { name: "Close" }).click();
      await page.screenshot({ path: `${outDir}deployment.png`, fullPage: true });
      // Every control has a label.
      const unlabelled = await page.$$eval("input, select, textarea, button", (els) =>
        els.filter((e) => e.offsetParent !== null && !(e.labels?.length || e.getAttribute("aria-label") || (e.tagName === "BUTTON" && e.textContent.trim())))
          .map((e) => e.outerHTML));
      assert.deepEqual(unlabelled, []);
    });

    await t.test("10 000 messages stream through the virtualised table (frame figures for the bench)", async () => {
      await worker?.stop();
      worker = null;
      const client = await createClient({ url: redis.url }).connect();
      const broker = new HandBroker(client);
      const backend = new RedisBackend(client);
      try {
        const N = 10_000;
        const messages = Array.from({ length: N }, (_, i) => dict("bulk", "square", [i]));
        const rids = [];
        for (let i = 0; i < N; i += 500) rids.push(...(await Promise.all(messages.slice(i, i + 500).map((m) => broker.enqueue(m)))));
        await page.waitForFunction((n) => window.dashboard.deployment.stream.records.size >= n, N, { timeout: 60_000 });
        await page.evaluate(() => window.dashboard.deployment.frameStats.start());
        // Chromium's own record of every task on the page's main thread, with the CPU time
        // each took (thread time: what the page did, not how long the machine kept it
        // waiting).
        await browser.startTracing(page, { categories: ["toplevel"] });
        // Workers take them in batches, results land, acks follow: every state change streams in.
        const started = Date.now();
        for (let i = 0; i < N; i += 250) {
          const batch = messages.slice(i, i + 250);
          await Promise.all(batch.map(() => broker.fetch("bulk-worker", "bulk")));
          await Promise.all(batch.map((m, j) =>
            backend.storeResult({ queueName: "bulk", actorName: "square", messageId: m.message_id }, { n: i + j, square: (i + j) ** 2 })
              .then(() => broker.ack("bulk-worker", "bulk", rids[i + j]))));
          if (i === N / 2) await page.mouse.wheel(0, 40_000); // scroll while they stream
          await new Promise((r) => setTimeout(r, 20));
        }
        await page.waitForFunction(
          (n) => [...window.dashboard.deployment.stream.records.values()].filter((r) => r.queue === "bulk" && r.state === "done" && r.result).length === n,
          N, { timeout: 120_000, polling: 500 });
        const streamedMs = Date.now() - started;
        await page.waitForTimeout(300);
        const trace = JSON.parse(String(await browser.stopTracing()));
        const threads = new Map(trace.traceEvents.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => [`${e.pid}:${e.tid}`, e.args.name]));
        const tasks = trace.traceEvents.filter((e) => e.ph === "X" && /(^|::)RunTask$/.test(e.name) && threads.get(`${e.pid}:${e.tid}`) === "CrRendererMain");
        const cpuMs = tasks.map((e) => (e.tdur ?? e.dur) / 1000).sort((a, b) => a - b);
        const frames = await page.evaluate(() => {
          const s = window.dashboard.deployment.frameStats;
          s.stop();
          const sorted = [...s.gaps].sort((a, b) => a - b);
          return { max: s.max, count: s.count, over50: s.over50, longest: s.longest, long: s.long, p99: sorted[Math.floor(sorted.length * 0.99)] ?? 0 };
        });
        console.log(`# long animation frames: ${JSON.stringify(frames.long)}`);
        const domRows = await page.$$eval("#flow-rows .vrow", (rows) => rows.length);
        const load = loadavg()[0] / cpus().length;
        const figure = {
          measuredAt: new Date().toISOString(),
          messages: N, streamedMs, frames: frames.count, maxFrameGapMs: Math.round(frames.max * 10) / 10,
          p99FrameGapMs: Math.round(frames.p99 * 10) / 10, framesOver50ms: frames.over50,
          longestAnimationFrameMs: Math.round(frames.longest), domRows, loadPerCore: Math.round(load * 100) / 100,
          mainThreadTasks: cpuMs.length, longestTaskCpuMs: Math.round((cpuMs.at(-1) ?? 0) * 10) / 10,
          tasksOver50msCpu: cpuMs.filter((ms) => ms > 50).length,
        };
        // The figure for the bench table (bench/run.mjs reads this file): timing is the
        // benchmark's to judge, the test only keeps a generous sanity bound.
        writeFileSync(`${outDir}deployment-frames.json`, `${JSON.stringify(figure, null, 2)}\n`);
        console.log(`# 10 000 messages: ${JSON.stringify(figure)}`);
        assert.ok(domRows < 120, `only the rows in view are in the DOM (${domRows})`);
        assert.ok(frames.count > 10, "frames were measured");
        // The 50 ms target is the bench table's (bench/results.md, from the file above);
        // here only a bound no healthy run comes near: a main-thread task of half a second
        // of CPU means the table is not virtualised or re-renders everything per event.
        assert.ok(cpuMs.length > 100, "the trace recorded the page's tasks");
        assert.ok(figure.longestTaskCpuMs < 500, `longest main-thread task: ${figure.longestTaskCpuMs} ms of CPU`);
        await page.screenshot({ path: `${outDir}deployment-10000.png` });
      } finally {
        await client.quit();
      }
    });

    await t.test("the page says when the source is down and recovers by itself", async () => {
      await redis.stop();
      await page.waitForFunction(() => /down: Redis/.test(document.querySelector("#source-status").textContent), null, { timeout: 20_000 });
      assert.equal(await page.getAttribute("#source-status", "data-kind"), "error");
      await redis.start();
      await page.waitForFunction(() => /live$/.test(document.querySelector("#source-status").textContent), null, { timeout: 30_000 });
      // The gateway itself goes away and comes back on the same port.
      const port = new URL(gateway.url).port;
      await gateway.stop();
      await page.waitForFunction(() => /down/.test(document.querySelector("#source-status").textContent), null, { timeout: 60_000 });
      gateway = await startGatewayBin(["--redis", redis.url, "--token", TOKEN, "--poll-interval", "200", "--port", port]);
      await page.waitForFunction(() => /live$/.test(document.querySelector("#source-status").textContent), null, { timeout: 30_000 });
      // And follows the deployment again.
      const client = await createClient({ url: redis.url }).connect();
      const m = dict("after", "add", [1, 1]);
      await new HandBroker(client).enqueue(m);
      await client.quit();
      await page.waitForFunction((id) => window.dashboard.deployment.stream.records.get(id)?.state === "queued", m.message_id, { timeout: 20_000 });
    });

    await t.test("the HTTP source reads results through the gateway's /kv with the token", async () => {
      await page.getByLabel("HTTP endpoint").check();
      await page.getByLabel("Endpoint", { exact: true }).fill("/kv");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.waitForURL(/\?source=http&endpoint=%2Fkv$/);
      await page.waitForFunction(() => window.loaded && window.dashboard.watchlist);
      const client = await createClient({ url: redis.url }).connect();
      const message = { queueName: "default", actorName: "add", messageId: crypto.randomUUID() };
      try {
        await page.getByRole("textbox", { name: "Messages", exact: true }).fill(`default add ${message.messageId}`);
        await page.getByRole("button", { name: "Watch", exact: true }).click();
        await page.waitForSelector(`tr[data-message-id="${message.messageId}"][data-state="waiting"]`);
        await new RedisBackend(client).storeResult(message, { via: "gateway" });
        await page.waitForSelector(`tr[data-message-id="${message.messageId}"][data-state="done"]`, { timeout: 20_000 });
        assert.match(await page.textContent(`tr[data-message-id="${message.messageId}"] .j-preview`), /"via": "gateway"/);
      } finally {
        await client.quit();
      }
    });

    for (const { errors } of pages) assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
    await worker?.kill();
    await gateway.stop();
    await redis.stop();
  }
});
