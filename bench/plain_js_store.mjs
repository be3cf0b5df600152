// The plain-JS baseline: written only for comparison, what a JS developer would write without
// caring for Python's bytes: MD5 for the key, JSON.stringify / JSON.parse, a Map with expiry
// times. Async, as a result store's API is. bench/run.mjs measures its throughput;
// bench/startup.mjs copies this file into a package of its own for the start-up floor rows;
// tests/js/hosts/v8_deopt.mjs reads alternately through it and the package.
import { createHash } from "node:crypto";

export class PlainJsStore {
  map = new Map();
  key(m) {
    return createHash("md5").update(`dramatiq-results:${m.queueName}:${m.actorName}:${m.messageId}`).digest("hex");
  }
  async storeResult(m, value, ttl = 600_000) {
    this.map.set(this.key(m), [JSON.stringify(value), Date.now() + ttl]);
  }
  async getResult(m) {
    const entry = this.map.get(this.key(m));
    if (!entry || entry[1] <= Date.now()) throw new Error("missing");
    return JSON.parse(entry[0]);
  }
}
