// IndexedDbBackend in real headless Chromium (the conformance suite, its own checks, and two
// pages of one origin where a store in one wakes a wait in the other), and in Node over
// fake-indexeddb.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromiumPath, openPage, withChromium } from "./chromium.mjs";
import { conformanceCount } from "./conformance.mjs";

const skip = !chromiumPath && !process.env.CI && "chromium is not installed (scripts/setup --browser)";

test("IndexedDbBackend in real headless Chromium", { skip }, async (t) => {
  await withChromium(async ({ browser, origin }) => {
    const context = await browser.newContext();
    const url = `${origin}/tests/js/hosts/indexed_db.html`;
    const { page, errors } = await openPage(context, url);

    await t.test("the conformance suite and the IndexedDB checks", async () => {
      const { ran, failures } = await page.evaluate(async () => {
        const { collector, defineConformance, check } = window.conformance;
        const { test, run } = collector();
        const dbName = `conformance-${Math.random()}`;
        defineConformance(test, window.api, "IndexedDbBackend", (o) => new window.api.IndexedDbBackend({ dbName, ...o }), { shared: true });
        window.indexedDbChecks(test, window.api, check, `checks-${Math.random()}`);
        return run();
      });
      assert.deepEqual(failures, []);
      assert.equal(ran, conformanceCount() + 9, "every conformance test and the 9 IndexedDB checks");
    });

    await t.test("a store in one page wakes a wait in another page of the origin", async () => {
      const { page: other } = await openPage(context, url);
      const dbName = "two-pages";
      const messageId = "00000000-0000-4000-8000-0000000000aa";
      // The waiting page logs its reads and the channel messages its backend hears, marking
      // reads made while handling a message (before any later timer could run).
      const key = await page.evaluate(({ dbName, messageId }) => {
        const log = (window.log = []);
        let handling = false;
        const get = IDBObjectStore.prototype.get;
        IDBObjectStore.prototype.get = function (...args) {
          log.push({ read: true, handling });
          return get.apply(this, args);
        };
        const onmessage = Object.getOwnPropertyDescriptor(BroadcastChannel.prototype, "onmessage");
        Object.defineProperty(BroadcastChannel.prototype, "onmessage", {
          configurable: true,
          set(fn) {
            onmessage.set.call(this, fn && ((e) => {
              log.push({ message: e.data });
              handling = true;
              setTimeout(() => (handling = false), 0);
              return fn(e);
            }));
          },
          get() {
            return onmessage.get.call(this);
          },
        });
        const backend = new window.api.IndexedDbBackend({ dbName });
        const m = new window.api.Message({ actorName: "cross_page", messageId });
        window.outcome = backend.getResult(m, { block: true, timeout: 60_000 }).then(
          (value) => ({ value }),
          (e) => ({ error: String(e) }),
        );
        return backend.buildMessageKey(m);
      }, { dbName, messageId });
      // Long enough for the waiter's polling to back off to 1–2 s between reads.
      await new Promise((r) => setTimeout(r, 4000));
      await other.evaluate(async ({ dbName, messageId }) => {
        const backend = new window.api.IndexedDbBackend({ dbName });
        await backend.storeResult(new window.api.Message({ actorName: "cross_page", messageId }), "from the other page");
      }, { dbName, messageId });
      assert.deepEqual(await page.evaluate(() => window.outcome), { value: "from the other page" });
      const log = await page.evaluate(() => window.log);
      const reads = log.filter((e) => e.read);
      assert.ok(reads.length >= 3, `the waiter polled meanwhile (${reads.length} reads)`);
      assert.deepEqual(log.filter((e) => "message" in e), [{ message: key }], "heard the other page's write");
      // The read that found the value ran while the message was being handled: the wake,
      // not the next poll, ended the wait.
      const at = log.findIndex((e) => "message" in e);
      assert.deepEqual(log.slice(at + 1), [{ read: true, handling: true }]);
      await other.close();
    });

    await t.test("in a Worker too: a worker's store ends a wait in its page", async () => {
      const outcome = await page.evaluate(async () => {
        const dbName = `worker-${Math.random()}`;
        const messageId = "00000000-0000-4000-8000-0000000000bb";
        const backend = new window.api.IndexedDbBackend({ dbName });
        const waiting = backend.getResult(new window.api.Message({ actorName: "from_worker", messageId }), { block: true, timeout: 30_000 });
        const worker = new Worker("/tests/js/hosts/indexed_db_worker.js", { type: "module" });
        worker.onerror = (e) => console.error(`worker: ${e.message}`);
        await new Promise((resolve) => (worker.onmessage = (e) => e.data === "ready" && resolve()));
        const answered = new Promise((resolve) => (worker.onmessage = (e) => resolve(e.data)));
        worker.postMessage({ dbName, messageId });
        const [value, answer] = await Promise.all([waiting, answered]);
        worker.terminate();
        backend.close();
        return { value, answer };
      });
      assert.deepEqual(outcome, { value: { from: "worker" }, answer: { readBack: { from: "worker" } } });
    });

    await t.test("under a waiter, another page deletes the database (not blocked) and stores again; close() mid-wait; 8 M chars with lone surrogates", async () => {
      const { page: other } = await openPage(context, url);
      const wait = ({ dbName, id, timeout }) => {
        const backend = (window.waitingBackend = new window.api.IndexedDbBackend({ dbName }));
        const started = performance.now();
        window.waited = backend.getResult(new window.api.Message({ actorName: "edge", messageId: id }), { block: true, timeout }).then(
          (value) => ({ value: typeof value === "string" && value.length > 100 ? { length: value.length, same: value === "\ud800x".repeat(1 << 22) } : value, ms: performance.now() - started }),
          (e) => ({ error: e.name, ms: performance.now() - started }),
        );
      };
      const store = async ({ dbName, id, value, huge }) => {
        const backend = new window.api.IndexedDbBackend({ dbName });
        await backend.storeResult(new window.api.Message({ actorName: "edge", messageId: id }), huge ? "\ud800x".repeat(1 << 22) : value);
        backend.close();
      };
      const deleteDb = (dbName) =>
        new Promise((resolve) => {
          const request = indexedDB.deleteDatabase(dbName);
          request.onsuccess = () => resolve("deleted");
          request.onerror = () => resolve(`failed: ${request.error}`);
          request.onblocked = () => resolve("blocked");
        });
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

      await page.evaluate(wait, { dbName: "edge-deleted", id: "e1", timeout: 20_000 });
      await sleep(800);
      assert.equal(await other.evaluate(deleteDb, "edge-deleted"), "deleted");
      await other.evaluate(store, { dbName: "edge-deleted", id: "e1", value: { after: "delete" } });
      assert.deepEqual((await page.evaluate(() => window.waited)).value, { after: "delete" });

      await page.evaluate(wait, { dbName: "edge-closed", id: "e2", timeout: 20_000 });
      await sleep(300);
      await page.evaluate(() => window.waitingBackend.close());
      await other.evaluate(store, { dbName: "edge-closed", id: "e2", value: "after close" });
      assert.equal((await page.evaluate(() => window.waited)).value, "after close");

      await page.evaluate(wait, { dbName: "edge-huge", id: "e3", timeout: 30_000 });
      await other.evaluate(store, { dbName: "edge-huge", id: "e3", huge: true });
      assert.deepEqual((await page.evaluate(() => window.waited)).value, { length: 2 << 22, same: true });

      // Deleted with nobody storing: a ResultTimeout at the deadline, not before.
      await page.evaluate(wait, { dbName: "edge-gone", id: "e4", timeout: 2000 });
      await sleep(300);
      assert.equal(await other.evaluate(deleteDb, "edge-gone"), "deleted");
      const gone = await page.evaluate(() => window.waited);
      assert.equal(gone.error, "ResultTimeout");
      assert.ok(gone.ms >= 1999, `${gone.ms} ms`);
      await page.evaluate(() => window.waitingBackend.close());
      await other.close();
    });

    assert.deepEqual(errors, []);
    await context.close();
  });
});

test("IndexedDbBackend in Node over fake-indexeddb (the suite and the checks)", async () => {
  await import("fake-indexeddb/auto");
  const api = await import("dramatiq-results");
  const { collector, defineConformance, check } = await import("./conformance.mjs");
  const { indexedDbChecks } = await import("./hosts/indexed_db_checks.js");
  const { test: register, run } = collector();
  defineConformance(register, api, "IndexedDbBackend", (o) => new api.IndexedDbBackend({ dbName: "conformance", ...o }), { shared: true });
  indexedDbChecks(register, api, check, "checks");
  const { ran, failures } = await run();
  assert.deepEqual(failures, []);
  assert.equal(ran, conformanceCount() + 9, "every conformance test and the 9 IndexedDB checks");
});
