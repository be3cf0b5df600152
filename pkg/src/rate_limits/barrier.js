// Dramatiq's distributed `Barrier`: `create(parties)`, then each party `wait`s.
import { BarrierCore } from "../../dist/dramatiq_results.js";
import { coreOf } from "./backends.js";
import { checkKey, checkOptions, numberOption } from "./options.js";

const WHAT = "Barrier";
const CORE = Symbol("core");

/** A barrier under `key` (its event list under `<key>@events`), both living `ttl` ms
 * (default 900 000). Use a fresh key (a UUID) per barrier, as Dramatiq advises. */
export class Barrier {
  constructor(backend, key, options) {
    const o = checkOptions(options, ["ttl"], `${WHAT} options`);
    const ttl = numberOption(o, "ttl", 900_000, WHAT);
    Object.defineProperty(this, CORE, { value: new BarrierCore(coreOf(backend, WHAT), checkKey(key, WHAT), ttl) });
    /** The backend given to the constructor. */
    this.backend = backend;
  }

  /** The counter's key. */
  get key() {
    return this[CORE].key;
  }

  /** The event list's key (`<key>@events`; Dramatiq's `key_events`). */
  get keyEvents() {
    return this[CORE].eventsKey;
  }

  /** The keys' TTL in ms. */
  get ttl() {
    return this[CORE].ttl;
  }

  /** Creates the barrier for `parties` (a positive integer): whether it was created (false
   * if it already exists). */
  async create(parties) {
    if (typeof parties !== "number") throw new TypeError(`${WHAT}.create: parties must be a number`);
    return this[CORE].create(parties);
  }

  /** Arrives at the barrier: true once every party has. With `block` (default true), waits
   * up to `timeout` ms (default: no limit) for the last party; the last party never waits. */
  async wait(options) {
    const o = checkOptions(options, ["block", "timeout"], `${WHAT}.wait options`);
    const block = o.block ?? true;
    if (typeof block !== "boolean") throw new TypeError(`${WHAT}.wait: block must be a boolean`);
    const timeout = o.timeout ?? undefined;
    if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
      throw new TypeError(`${WHAT}.wait: timeout must be a non-negative number of ms`);
    }
    return this[CORE].wait(block, timeout);
  }
}
