// The conformance suite (tests/js/conformance.mjs) in Node: the stub, and KvBackend over a
// plain in-memory Map adapter. The same suite runs inside workerd (cloudflare_kv.test.mjs)
// and in Chromium and over fake-indexeddb (indexed_db.test.mjs).
import { test } from "node:test";
import * as api from "dramatiq-results";
import { defineConformance } from "./conformance.mjs";

defineConformance(test, api, "StubBackend", (options) => new api.StubBackend(options));

/** One Map behind every KvBackend made below, with exact TTLs. */
const entries = new Map();
const adapter = {
  get(key) {
    const e = entries.get(key);
    return e && e.expiresAt > Date.now() ? e.value : null;
  },
  async put(key, value, { ttlMs }) {
    entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  },
  async delete(key) {
    entries.delete(key);
  },
};
defineConformance(test, api, "KvBackend", (options) => new api.KvBackend(adapter, options), { shared: true });
