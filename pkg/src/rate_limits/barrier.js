// Dramatiq's distributed `Barrier`: `create(parties)`, then each party `wait`s.
import { BarrierCore } from "../../dist/dramatiq_results.js";
import { checkOptions } from "../internal/options.js";
import { checkKey, coreOf } from "./backends.js";

const WHAT = "Barrier";

/** A barrier under `key` (its event list under `<key>@events`), both living `ttl` ms
 * (default 900 000). Use a fresh key (a UUID) per barrier, as Dramatiq advises. */
export class Barrier {
  #core;

  constructor(backend, key, options) {
    const { ttl = 900_000 } = checkOptions(`new ${WHAT}()`, options, { ttl: "count" });
    this.#core = new BarrierCore(coreOf(backend, WHAT), checkKey(key, WHAT), ttl);
    /** The backend given to the constructor. */
    this.backend = backend;
  }

  /** The counter's key. */
  get key() {
    return this.#core.key;
  }

  /** The event list's key (`<key>@events`; Dramatiq's `key_events`). */
  get keyEvents() {
    return this.#core.eventsKey;
  }

  /** The keys' TTL in ms. */
  get ttl() {
    return this.#core.ttl;
  }

  /** Creates the barrier for `parties` (a positive integer): whether it was created (false
   * if it already exists). */
  async create(parties) {
    if (typeof parties !== "number") throw new TypeError(`${WHAT}.create: parties must be a number`);
    return this.#core.create(parties);
  }

  /** Arrives at the barrier: true once every party has. With `block` (default true), waits
   * up to `timeout` ms (default: no limit) for the last party; the last party never waits. */
  async wait(options) {
    const { block = true, timeout } = checkOptions(`${WHAT}.wait()`, options, { block: "boolean", timeout: "ms?" });
    // No limit: Infinity and null say it as undefined does.
    return this.#core.wait(block, timeout === null || timeout === Infinity ? undefined : timeout);
  }
}
