// The conformance suite (tests/js/conformance.mjs) in Node: the stub, and KvBackend over a
// plain in-memory Map adapter. The same suite runs inside workerd (cloudflare_kv.test.mjs)
// and in Chromium and over fake-indexeddb (indexed_db.test.mjs).
import { test } from "node:test";
import * as api from "dramatiq-results";
import { defineConformance } from "./conformance.mjs";
import { mapAdapter } from "./helpers.mjs";

defineConformance(test, api, "StubBackend", (options) => new api.StubBackend(options));

/** One Map behind every KvBackend made below, with exact TTLs. */
const adapter = mapAdapter();
defineConformance(test, api, "KvBackend", (options) => new api.KvBackend(adapter, options), { shared: true });
