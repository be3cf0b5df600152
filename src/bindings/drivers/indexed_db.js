// IndexedDB's event-based requests as Promises, for src/bindings/indexed_db.rs. Handlers are
// set here in JS rather than as Rust closures: a closure per request would have to be kept
// alive until its event fires (and freed after), which is bookkeeping with nothing to gain.

/** The request's result once it succeeds; its error (a DOMException) if it fails. */
export function settled(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** The results of many requests of one transaction, in order; the first error rejects. */
export function allSettled(requests) {
  return Promise.all(requests.map(settled));
}

/** Resolves when the transaction commits; rejects when it fails or is aborted. */
export function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException("the transaction was aborted", "AbortError"));
  });
}

/**
 * The database an open request opens. `upgrade(db, tx)` runs on `upgradeneeded` (a throw
 * aborts the upgrade). A `blocked` open rejects at once, since another connection that does
 * not close on `versionchange` may hold it forever; should it open later, it is closed.
 * The opened database closes itself on `versionchange`, so it never blocks another page's
 * upgrade (the Rust side reopens on its next transaction).
 */
export function opened(request, upgrade) {
  return new Promise((resolve, reject) => {
    let gaveUp = false;
    request.onupgradeneeded = () => {
      try {
        upgrade(request.result, request.transaction);
      } catch (error) {
        request.transaction?.abort();
        reject(error);
      }
    };
    request.onblocked = () => {
      gaveUp = true;
      reject(new DOMException("opening the database is blocked by another open connection to an older version", "BlockedError"));
    };
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      if (gaveUp) return db.close();
      db.onversionchange = () => db.close();
      resolve(db);
    };
  });
}

/** `globalThis.indexedDB` where the host has it (pages, workers), else undefined. */
export function findIndexedDb() {
  return globalThis.indexedDB;
}

/** Whether the host has BroadcastChannel (pages, workers, Node; not workerd). */
export function hasBroadcastChannel() {
  return typeof globalThis.BroadcastChannel === "function";
}

/** Lets Node exit with the channel open (a no-op in browsers, which have no `unref`). */
export function unref(channel) {
  channel.unref?.();
}

/** `name: message` of an IndexedDB error (a DOMException) or any thrown value. */
export function errorText(error) {
  try {
    return error && typeof error.message === "string" ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "(an error that cannot be printed)";
  }
}
