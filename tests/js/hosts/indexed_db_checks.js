// IndexedDbBackend's own behaviour, beyond the shared suite: the records it writes, sweep,
// records of the wrong shape, no IndexedDB at all, several stores in one database. Runs in
// a real Chromium page and in Node over fake-indexeddb; like the suite it imports nothing.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves an IndexedDB request. */
function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Runs `fn(objectStore)` in a raw transaction of its own and returns what it resolves to. */
async function raw(dbName, storeName, mode, fn) {
  const db = await done(indexedDB.open(dbName));
  try {
    const store = db.transaction(storeName, mode).objectStore(storeName);
    return await fn(store, db);
  } finally {
    db.close();
  }
}

/** Registers the checks with `test(name, fn)`; `dbName` must be fresh. */
export function indexedDbChecks(test, api, check, dbName) {
  const { IndexedDbBackend, Message, ResultError, ResultMissing } = api;
  const t = (what, fn) => test(`IndexedDbBackend: ${what}`, fn);

  t("stores { key, value, expiresAt } records keyed by key, with an expiresAt index", async () => {
    const backend = new IndexedDbBackend({ dbName, storeName: "shape" });
    const m = new Message({ actorName: "shape" });
    const before = Date.now();
    await backend.storeResult(m, { a: 1 }, 5000);
    const key = backend.buildMessageKey(m);
    const [record, keyPath, indexes] = await raw(dbName, "shape", "readonly", async (store) => [
      await done(store.get(key)),
      store.keyPath,
      [...store.indexNames],
    ]);
    check.equal([record.key, record.value, keyPath, indexes], [key, '{"a":1}', "key", ["expiresAt"]], "record");
    check.ok(record.expiresAt >= before + 5000 && record.expiresAt <= Date.now() + 5000, `expiresAt ${record.expiresAt}`);
    check.equal([backend.dbName, backend.storeName], [dbName, "shape"], "names");
    backend.close();
  });

  t("expired records are never returned, and sweep() deletes them and says how many", async () => {
    const backend = new IndexedDbBackend({ dbName, storeName: "sweep" });
    const short = [1, 2, 3].map((i) => new Message({ actorName: `short${i}` }));
    const kept = new Message({ actorName: "kept" });
    for (const m of short) await backend.storeResult(m, "brief", 100);
    await backend.storeResult(kept, "kept", 60_000);
    await sleep(200);
    for (const m of short) await check.rejects(backend.getResult(m), ResultMissing, "expired");
    check.equal(await raw(dbName, "sweep", "readonly", (s) => done(s.count())), 4, "still held before the sweep");
    check.equal(await backend.sweep(), 3, "swept");
    check.equal(await raw(dbName, "sweep", "readonly", (s) => done(s.count())), 1, "held after the sweep");
    check.equal(await backend.sweep(), 0, "nothing left to sweep");
    check.equal(await backend.getResult(kept), "kept", "live record kept");
    backend.close();
  });

  t("a record of the wrong shape is a ResultError with a TypeError cause, not a crash", async () => {
    const backend = new IndexedDbBackend({ dbName, storeName: "shapes" });
    await backend.storeResult(new Message({ actorName: "first" }), 1); // creates the store
    const bad = [
      { value: 42, expiresAt: Date.now() + 60_000 },
      { value: "1" },
      { value: "1", expiresAt: "tomorrow" },
    ];
    for (const [i, fields] of bad.entries()) {
      const m = new Message({ actorName: `bad${i}` });
      const key = backend.buildMessageKey(m);
      await raw(dbName, "shapes", "readwrite", (s) => done(s.put({ key, ...fields })));
      const e = await check.rejects(backend.getResult(m), ResultError, `record ${i}`);
      check.ok(!(e instanceof ResultMissing) && e.cause instanceof TypeError, `record ${i}: ${e} / ${e.cause}`);
    }
    const ok = new Message({ actorName: "fine" });
    await backend.storeResult(ok, "fine");
    check.equal(await backend.getResult(ok), "fine", "still works");
    backend.close();
  });

  t("without IndexedDB every operation is a ResultError saying so", async () => {
    const backend = new IndexedDbBackend({ dbName, storeName: "none" });
    const saved = Object.getOwnPropertyDescriptor(globalThis, "indexedDB");
    Object.defineProperty(globalThis, "indexedDB", { value: undefined, configurable: true, writable: true });
    try {
      const e = await check.rejects(backend.getResult(new Message({ actorName: "x" })), ResultError, "get");
      check.ok(/IndexedDB is not available/.test(e.message) && e.cause instanceof Error, e.message);
      await check.rejects(backend.storeResult(new Message({ actorName: "x" }), 1), ResultError, "store");
      await check.rejects(backend.sweep(), ResultError, "sweep");
    } finally {
      if (saved) Object.defineProperty(globalThis, "indexedDB", saved);
      else delete globalThis.indexedDB;
    }
    // The failure is not remembered: with IndexedDB back, the same backend works.
    const m = new Message({ actorName: "back" });
    await backend.storeResult(m, "back");
    check.equal(await backend.getResult(m), "back", "after IndexedDB is back");
    backend.close();
  });

  t("several object stores in one database (a store added later upgrades it)", async () => {
    const one = new IndexedDbBackend({ dbName, storeName: "one" });
    const m = new Message({ actorName: "multi" });
    await one.storeResult(m, "one");
    const two = new IndexedDbBackend({ dbName, storeName: "two" });
    await two.storeResult(m, "two");
    // `one`'s connection was closed by the upgrade; it reopens.
    check.equal([await one.getResult(m), await two.getResult(m)], ["one", "two"], "separate stores");
    one.close();
    two.close();
  });

  t("another instance's store wakes a waiter (same page, over the channel)", async () => {
    const waiter = new IndexedDbBackend({ dbName, storeName: "wake" });
    const writer = new IndexedDbBackend({ dbName, storeName: "wake" });
    const m = new Message({ actorName: "wake" });
    const stored = sleep(100).then(() => writer.storeResult(m, "woken"));
    check.equal(await waiter.getResult(m, { block: true, timeout: 10_000 }), "woken", "waited");
    await stored;
    waiter.close();
    writer.close();
  });

  t("a freed or closed backend stops listening; a closed one still works by polling", async () => {
    const freed = new IndexedDbBackend({ dbName, storeName: "freed" });
    const closed = new IndexedDbBackend({ dbName, storeName: "freed" });
    const writer = new IndexedDbBackend({ dbName, storeName: "freed" });
    const m = new Message({ actorName: "freed" });
    await writer.storeResult(m, "first");
    freed.free();
    closed.close();
    // Announcements now reach no handler of theirs (a freed one would throw in the page).
    await writer.storeResult(m, "second");
    await sleep(50);
    check.equal(await closed.getResult(m, { block: true, timeout: 5000 }), "second", "reopened by the read");
    writer.close();
    closed.close();
  });

  t("an upgrade blocked by another connection is a ResultError; it works once that closes", async () => {
    const name = `${dbName}-blocked`;
    const first = new IndexedDbBackend({ dbName: name, storeName: "a" });
    await first.storeResult(new Message({ actorName: "a" }), 1); // version 1, store "a"
    first.close();
    const holder = await done(indexedDB.open(name)); // ignores versionchange: stays open
    const second = new IndexedDbBackend({ dbName: name, storeName: "b" }); // needs version 2
    const m = new Message({ actorName: "b" });
    try {
      const e = await check.rejects(second.storeResult(m, 1), ResultError, "blocked");
      check.ok(/blocked/i.test(e.message) && e.cause instanceof Error, e.message);
    } finally {
      holder.close();
    }
    await second.storeResult(m, 2);
    check.equal(await second.getResult(m), 2, "after the other connection closed");
    second.close();
  });

  t("bad options are TypeErrors", async () => {
    for (const options of [{ dbName: "" }, { storeName: 5 }, "db"]) {
      let thrown;
      try {
        new IndexedDbBackend(options);
      } catch (e) {
        thrown = e;
      }
      check.ok(thrown instanceof TypeError, `TypeError for ${JSON.stringify(options)}`);
    }
  });
}
