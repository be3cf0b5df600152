// The dashboard (www/) end to end in real headless Chromium, served by its own serve
// script: the demo's states and their rendering, filters, two tabs of one origin, a
// thousand watched messages, and the HTTP source reading the script's demo endpoint.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromiumPath, launchChromium } from "./chromium.mjs";
import { startServer } from "../../www/serve.mjs";
import { httpAdapter } from "../../www/http-store.js";

const skip = !chromiumPath && !process.env.CI && "chromium is not installed (scripts/setup --browser)";
const outDir = fileURLToPath(new URL("../../target/test-output/", import.meta.url));

/** Opens the dashboard with `query`; console errors and page errors land in `errors`. */
async function openDashboard(context, origin, query) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    // Chromium logs every 4xx response and failed request; from the result endpoint a 404
    // means "no result yet", and the test cuts it off on purpose once. The page's own
    // handling of both is asserted; its script errors still count.
    const endpoint = /^Failed to load resource/.test(m.text()) && new URL(m.location().url).pathname.startsWith("/kv/");
    if (m.type() === "error" && !endpoint) errors.push(`${m.text()} (${m.location().url})`);
  });
  await page.goto(`${origin}/www/${query}`);
  await page.waitForFunction(() => window.loaded, null, { timeout: 20_000 });
  return { page, errors };
}

/** Every row of the table as `{ state, actor, id, hidden, text }`. */
const rows = (page) =>
  page.$$eval("#messages tbody tr", (trs) =>
    trs.map((r) => ({ state: r.dataset.state, actor: r.dataset.actor, id: r.dataset.messageId, hidden: r.hidden, text: r.textContent })));

/** Waits until the page has `n` rows and none is waiting. */
const settled = (page, n, timeout = 45_000) =>
  page.waitForFunction(
    (n) => {
      const trs = [...document.querySelectorAll("#messages tbody tr")];
      return trs.length === n && trs.every((r) => r.dataset.state !== "waiting");
    },
    n,
    { timeout, polling: 100 },
  );

const uuid = () => crypto.randomUUID();

test("the dashboard in real headless Chromium", { skip, timeout: 240_000 }, async (t) => {
  const server = await startServer();
  const browser = await launchChromium();
  const pages = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const open = async (query) => {
      const opened = await openDashboard(context, server.url, query);
      pages.push(opened);
      return opened.page;
    };

    await t.test("the demo shows every state: results, failures, a timeout and an expiry", async () => {
      const page = await open("?db=e2e-demo");
      assert.match(await page.textContent("#source-status"), /IndexedDB · e2e-demo\/results/);
      await page.getByRole("button", { name: "Run demo" }).click();
      await settled(page, 13);
      const all = await rows(page);
      const by = (actor) => all.filter((r) => r.actor === actor);
      assert.deepEqual(by("nightly_report").map((r) => r.state), ["timed out"], "no worker takes its queue");
      assert.deepEqual(by("issue_token").map((r) => r.state), ["expired"], "its 2.5 s TTL ran out while watched");
      assert.deepEqual(by("divide").map((r) => r.state).sort(), ["done", "failed"]);
      assert.deepEqual(by("charge_card").map((r) => r.state), ["failed"]);
      for (const actor of ["compute_task", "add", "resize_image"]) {
        assert.ok(by(actor).length >= 2 && by(actor).every((r) => r.state === "done"), actor);
      }

      // A failure shows the exception's type and message.
      const failed = page.locator('#messages tr[data-actor="divide"][data-state="failed"]');
      assert.equal(await failed.locator(".exc-type").textContent(), "RangeError");
      assert.equal(await failed.locator(".exc-msg").textContent(), "division by zero");
      assert.match(await page.locator('tr[data-actor="charge_card"] .exception').textContent(), /TypeError.*card declined for order A-1042/);

      // A result is a collapsible JSON view: a one-line preview, the tree on opening.
      const result = page.locator('tr[data-actor="compute_task"] details.json').first();
      assert.match(await result.locator("summary").textContent(), /"computation": \d+/);
      assert.equal(await result.locator(".j-tree").count(), 0, "the tree is built on first open");
      await result.locator("summary").focus();
      await page.keyboard.press("Enter");
      assert.match(await result.locator(".j-tree").textContent(), /inputs/);
      assert.notEqual(await page.locator('tr[data-actor="add"] .j-inline').first().textContent(), "");

      // How long each took, and the plots: one dot per result seen, bars by state.
      const took = await page.$$eval('#messages tr[data-state="done"] td:nth-child(6)', (tds) => tds.map((td) => td.textContent));
      assert.ok(took.every((t) => /^\d+(\.\d+)? (ms|s)$/.test(t)), took.join(", "));
      await page.waitForFunction(() => document.querySelectorAll("#latency-chart circle").length === 12);
      assert.match(await page.getAttribute("#counts-chart svg", "aria-label"), /0 waiting, 9 done, 2 failed, 1 timed out, 1 expired/);
      assert.match(await page.textContent("#summary"), /13 watched · 0 waiting · 9 done · 2 failed/);
      mkdirSync(outDir, { recursive: true });
      await page.screenshot({ path: `${outDir}dashboard.png`, fullPage: true });

      // Timed-out messages can be waited for again.
      await page.getByRole("button", { name: "Wait again for timed out" }).click();
      await page.waitForSelector('tr[data-actor="nightly_report"][data-state="waiting"]');
    });

    await t.test("filters by state, actor and text; every control has a label", async () => {
      const page = pages[0].page;
      const visible = async () => (await rows(page)).filter((r) => !r.hidden);
      // Chips are checkboxes: toggling "done" off hides the done rows.
      await page.getByRole("checkbox", { name: /^done/ }).uncheck();
      assert.ok((await visible()).every((r) => r.state !== "done"));
      assert.ok((await visible()).some((r) => r.state === "failed"));
      await page.getByRole("checkbox", { name: /^done/ }).check();
      await page.getByLabel("Actor").selectOption("divide");
      assert.deepEqual((await visible()).map((r) => r.actor), ["divide", "divide"]);
      await page.getByLabel("Search").fill("zero");
      assert.deepEqual((await visible()).map((r) => r.state), ["failed"]);
      await page.getByLabel("Search").fill("no such text");
      assert.equal((await visible()).length, 0);
      assert.equal(await page.isVisible("#empty"), true, "says that nothing matches");
      await page.getByLabel("Search").fill("");
      await page.getByLabel("Actor").selectOption("");
      assert.equal((await visible()).length, 13);

      const unlabelled = await page.$$eval("input, select, textarea, button", (els) =>
        els.filter((e) => !(e.labels?.length || e.getAttribute("aria-label") || (e.tagName === "BUTTON" && e.textContent.trim())))
          .map((e) => e.outerHTML));
      assert.deepEqual(unlabelled, []);
    });

    await t.test("two tabs: a result stored in one appears in the other", async () => {
      const a = await open("?db=e2e-tabs");
      const b = await open("?db=e2e-tabs");
      const id = uuid();
      await b.getByRole("textbox", { name: "Messages", exact: true }).fill(`default cross_tab ${id}`);
      await b.getByRole("button", { name: "Watch", exact: true }).click();
      await b.waitForSelector(`tr[data-message-id="${id}"][data-state="waiting"]`);
      // Tab A stores the result through the package (the page's import map resolves it).
      await a.evaluate(async (messageId) => {
        const { IndexedDbBackend } = await import("dramatiq-results");
        const backend = new IndexedDbBackend({ dbName: "e2e-tabs" });
        await backend.storeResult({ queueName: "default", actorName: "cross_tab", messageId }, { from: "tab A" });
        backend.close();
      }, id);
      await b.waitForSelector(`tr[data-message-id="${id}"][data-state="done"]`, { timeout: 10_000 });
      assert.match(await b.textContent(`tr[data-message-id="${id}"] .j-preview`), /"from": "tab A"/);

      // The demo's messages, exported from A as a JSON file and loaded into B, reach B too.
      await a.getByRole("button", { name: "Run demo" }).click();
      await a.waitForFunction(() => document.querySelectorAll("#messages tbody tr").length === 13);
      const exported = await a.evaluate(() => window.dashboard.exportJson());
      assert.equal(JSON.parse(exported).length, 13);
      await b.setInputFiles("#watch-file", { name: "from-a.json", mimeType: "application/json", buffer: Buffer.from(exported) });
      await b.waitForFunction(() => /from-a\.json: watching 13 new messages/.test(document.querySelector("#watch-feedback").textContent));
      await settled(a, 13);
      const finished = (await rows(a)).filter((r) => r.state === "done" || r.state === "failed");
      await b.waitForFunction(
        (want) => want.every(({ id, state }) => document.querySelector(`tr[data-message-id="${id}"]`)?.dataset.state === state),
        finished.map(({ id, state }) => ({ id, state })),
        { timeout: 20_000 },
      );
    });

    await t.test("1 000 watched messages: one batched wait, all resolve, the page stays responsive", async () => {
      const page = await open("?db=e2e-load");
      // Count the page's reads at the package's surface: blocking batch waits, non-blocking
      // batch re-reads, and single-message reads.
      await page.evaluate(async () => {
        const { IndexedDbBackend } = await import("dramatiq-results");
        const proto = IndexedDbBackend.prototype;
        const calls = (window.readCalls = { waits: 0, rereads: 0, single: 0 });
        const iter = proto.iterResults;
        proto.iterResults = function (messages, options) {
          if (options?.block === false) calls.rereads++;
          else calls.waits++;
          return iter.call(this, messages, options);
        };
        for (const name of ["getResult", "tryGetResult", "getResults"]) {
          const read = proto[name];
          proto[name] = function (...args) {
            calls.single++;
            return read.apply(this, args);
          };
        }
      });
      const sent = performance.now();
      await page.getByRole("button", { name: "Send 1 000 jobs" }).click();
      await page.waitForFunction(() => window.dashboard.watchlist.entries.length === 1000);
      const started = performance.now();
      assert.equal(await page.evaluate(() => document.querySelectorAll("#messages tbody tr").length), 1000);
      assert.ok(performance.now() - started < 5000, "the page answers while results arrive");
      await settled(page, 1000, 120_000);
      const stats = await page.evaluate(() => window.dashboard.watchlist.stats);
      assert.equal(stats.maxInFlight, 1, "never more than one wait in flight");
      assert.ok(stats.batches <= 3, `the wait restarted only when the list changed (${stats.batches})`);
      const calls = await page.evaluate(() => window.readCalls);
      assert.ok(calls.waits >= 1 && calls.waits <= 3, `one batched wait, not one per message (${JSON.stringify(calls)})`);
      // Single reads: only the store-health probe, one every 2 s while messages wait.
      const probes = Math.ceil((performance.now() - sent) / 2000) + 1;
      assert.ok(calls.single <= probes, `at most one probe per 2 s (${calls.single} > ${probes})`);
      assert.deepEqual(new Set((await rows(page)).map((r) => r.state)), new Set(["done"]));
      assert.match(await page.textContent("#summary"), /1000 watched · 0 waiting · 1000 done/);
      await page.waitForFunction(() => document.querySelectorAll("#latency-chart circle").length === 1000);
      await page.screenshot({ path: `${outDir}dashboard-1000.png` });
      await page.getByLabel("Search").fill("no such text");
      assert.equal((await rows(page)).filter((r) => !r.hidden).length, 0);
      await page.close();
    });

    await t.test("the HTTP source reads the serve script's endpoint through KvBackend", async () => {
      const page = await open("?db=e2e-http");
      const ok = uuid();
      const bad = uuid();
      await page.getByRole("textbox", { name: "Messages", exact: true }).fill(`default edge_task ${ok}\ndefault edge_task ${bad}`);
      await page.getByRole("button", { name: "Watch", exact: true }).click();
      // Switching the source carries the watched messages over.
      await page.getByLabel("HTTP endpoint").check();
      await page.getByLabel("Endpoint", { exact: true }).fill("/kv");
      await page.getByRole("button", { name: "Apply" }).click();
      assert.match(await page.textContent("#source-status"), /HTTP · \/kv/);
      assert.match(page.url(), /\?source=http&endpoint=%2Fkv$/, "the view can be linked");
      await page.waitForSelector(`tr[data-message-id="${ok}"][data-state="waiting"]`);
      await page.waitForSelector(`tr[data-message-id="${bad}"][data-state="waiting"]`);
      // An unreachable endpoint is shown, the messages keep waiting, and it recovers.
      await page.route("**/kv/**", (route) => route.abort());
      await page.waitForSelector('#source-status[data-kind="error"]', { timeout: 30_000 });
      assert.equal((await rows(page)).filter((r) => r.state === "waiting").length, 2);
      await page.unroute("**/kv/**");
      await page.waitForSelector('#source-status[data-kind="ok"]', { timeout: 10_000 });
      // An edge function (here: Node, through the same adapter) stores the results.
      const { KvBackend } = await import("dramatiq-results");
      const backend = new KvBackend(httpAdapter(`${server.url}/kv`));
      await backend.storeResult({ queueName: "default", actorName: "edge_task", messageId: ok }, { via: "http", n: 7 });
      await backend.storeException({ queueName: "default", actorName: "edge_task", messageId: bad }, new Error("upstream 502"));
      await settled(page, 2, 30_000);
      assert.match(await page.textContent(`tr[data-message-id="${ok}"] .j-preview`), /"via": "http"/);
      assert.equal(await page.textContent(`tr[data-message-id="${bad}"][data-state="failed"] .exc-type`), "Error");
      assert.equal(await page.textContent(`tr[data-message-id="${bad}"] .exc-msg`), "upstream 502");
      assert.match(await page.textContent("#source-status"), /live$/);
    });

    for (const { errors } of pages) assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});
