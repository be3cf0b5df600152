// Pipelines and groups (Dramatiq's `pipeline` and `group`), reading results under one
// shared deadline and counting a stored failure as finished (Dramatiq throws there, and
// counts a nested group that never ran as complete: both bugs are not repeated here).
import { GroupCompletion, Message, pipeTo, pipelineRunDelay } from "../dist/dramatiq_results.js";
import { ResultFailure, ResultMissing } from "./errors.js";
import { checkOptions } from "./internal/options.js";
import { sendOn } from "./brokers/broker.js";
import { getBroker } from "./brokers/global.js";
import { GroupCallbacks } from "./middleware/group_callbacks.js";
import { Barrier } from "./rate_limits/barrier.js";

const DEFAULT_TIMEOUT = 10000;

function backendOf(composition, options) {
  return options.backend ?? composition.broker.getResultsBackend();
}

/** Whether `message` has a stored outcome (a value or a failure), without waiting. */
async function finished(backend, message) {
  try {
    await backend.getResult(message, { block: false });
    return true;
  } catch (error) {
    if (error instanceof ResultFailure) return true;
    if (error instanceof ResultMissing) return false;
    throw error;
  }
}

/** `{ deadline }` for a timeout: one instant shared by every read of a composition. */
function deadlineOf({ timeout }) {
  const ms = timeout ?? DEFAULT_TIMEOUT;
  if (typeof ms !== "number" || !(ms >= 0)) throw new TypeError("timeout must be a non-negative number of ms");
  return performance.now() + ms;
}

function left(deadline) {
  return Math.max(0, deadline - performance.now());
}

/**
 * The Promise saying whether a sent message landed: a network broker's `message.enqueued`
 * (already handled, so never an unhandled rejection), or at once for an in-memory broker.
 */
function settled(message) {
  return message?.enqueued ?? Promise.resolve();
}

/** Runs `read` once `composition` was enqueued (rejecting as its enqueue did). */
function afterEnqueued(composition, read) {
  return composition.enqueued ? composition.enqueued.then(read) : read();
}

/** A chain of messages, each step's result appended to the next step's arguments. */
export class Pipeline {
  constructor(children, options) {
    const { broker } = checkOptions("pipeline()", options, { broker: "object" });
    if (!Array.isArray(children) && !(children?.[Symbol.iterator])) throw new TypeError("pipeline needs a list of messages");
    const messages = [];
    for (const child of children) {
      // A nested pipeline's steps as they are, as Python's `message.copy()` of each: every
      // step but the outer last is linked again below, and a nested last step has no link.
      if (child instanceof Pipeline) messages.push(...child.messages);
      else if (child instanceof Message) messages.push(child);
      else throw new TypeError("pipeline children must be Messages or pipelines");
    }
    for (let i = messages.length - 2; i >= 0; i--) messages[i] = pipeTo(messages[i], messages[i + 1]);
    /** The broker it runs on. */
    this.broker = broker ?? getBroker();
    /** Set by `run()`: settles when the write does. */
    this.enqueued = undefined;
    /** The linked messages, first to last. */
    this.messages = messages;
  }

  /** How many steps. */
  get length() {
    return this.messages.length;
  }

  /**
   * Enqueues the first step; returns this pipeline. `enqueued` then resolves once a network
   * broker has the message (and rejects if it could not). The delay is Dramatiq's: the
   * larger of `delay` and the first step's own `delay` option, and none when that is 0.
   */
  run(options) {
    const { delay } = checkOptions("pipeline.run()", options, { delay: "any" });
    if (this.messages.length > 0) {
      const first = this.messages[0];
      // A delay that is no number is left for the broker to refuse, as before.
      const ms = delay == null || typeof delay === "number" ? pipelineRunDelay(first, delay ?? undefined) : delay;
      this.enqueued = settled(sendOn(this.broker, first, { delay: ms }));
    }
    return this;
  }

  /** The last step's result: `{ block, timeout, signal, backend }`. */
  getResult(options = {}) {
    try {
      const last = this.messages[this.messages.length - 1];
      if (!last) return Promise.reject(new TypeError("an empty pipeline has no result"));
      const backend = backendOf(this, options);
      return afterEnqueued(this, () => backend.getResult(last, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Every step's result, in order, under one deadline; rejects with the first error. */
  async getResults(options = {}) {
    const { block = false, signal } = options;
    const backend = backendOf(this, options);
    await this.enqueued;
    return backend.getResults(this.messages, { block, timeout: options.timeout ?? DEFAULT_TIMEOUT, signal });
  }

  /** How many leading steps have finished (a stored failure counts as finished). */
  async completedCount(options = {}) {
    const backend = backendOf(this, options);
    let count = 0;
    for (const m of this.messages) {
      if (!(await finished(backend, m))) break;
      count += 1;
    }
    return count;
  }

  /** Whether the last step has finished. */
  async completed(options = {}) {
    const last = this.messages[this.messages.length - 1];
    return last === undefined || finished(backendOf(this, options), last);
  }
}

/** Builds a pipeline of `children` (Messages and pipelines). */
export function pipeline(children, options) {
  return new Pipeline(children, options);
}

/** Messages, pipelines and groups that run in parallel. */
export class Group {
  constructor(children, options) {
    const { broker } = checkOptions("group()", options, { broker: "object" });
    /** The children. */
    this.children = [...children];
    for (const c of this.children) {
      if (!(c instanceof Message || c instanceof Pipeline || c instanceof Group)) {
        throw new TypeError("group children must be Messages, pipelines or groups");
      }
    }
    /** The broker it runs on. */
    this.broker = broker ?? getBroker();
    /** Set by `run()`: settles when every child's write does. */
    this.enqueued = undefined;
    /** The completion callbacks (`addCompletionCallback`), in order. */
    this.completionCallbacks = [];
  }

  /**
   * Adds `message` to enqueue once every child has finished successfully (Dramatiq's
   * `add_completion_callback`). Needs the `GroupCallbacks` middleware on the broker:
   * without it, `run()` throws.
   */
  addCompletionCallback(message) {
    if (!(message instanceof Message)) throw new TypeError("addCompletionCallback(message): message must be a Message");
    this.completionCallbacks.push(message);
  }

  /** How many children. */
  get length() {
    return this.children.length;
  }

  /** Enqueues every child (after `delay` ms); returns this group. */
  run(options) {
    const { delay } = checkOptions("group.run()", options, { delay: "any" });
    const send = (children) => {
      const writes = [];
      for (const c of children) {
        if (c instanceof Message) writes.push(settled(sendOn(this.broker, c, { delay })));
        else writes.push(c.run({ delay }).enqueued);
      }
      return Promise.all(writes);
    };
    if (this.completionCallbacks.length > 0) {
      // Dramatiq's order: the barrier (a fresh id per run) exists before any child does.
      const { barrier, children } = this.#withCompletion();
      this.enqueued = barrier.create(children.length).then(() => send(children)).then(() => undefined);
    } else {
      this.enqueued = send(this.children).then(() => undefined);
    }
    // Handled here (a network broker logs each failure); awaiting `enqueued` still rejects.
    this.enqueued.catch(() => {});
    return this;
  }

  /** The barrier and the marked children of a run with completion callbacks. */
  #withCompletion() {
    const middleware = this.broker.middleware.find((m) => m instanceof GroupCallbacks);
    if (middleware === undefined) {
      const error = new Error(
        "GroupCallbacks middleware not found! Did you forget to set it up? It is required if you want to use group callbacks.",
      );
      error.code = "GROUP_CALLBACKS_MISSING";
      throw error;
    }
    if (this.children.length === 0) {
      // Python's `Barrier.create(0)` asserts in `run()`: no barrier, nothing sent.
      throw new RangeError("a group with completion callbacks has no children: its barrier needs at least one party");
    }
    const completion = new GroupCompletion();
    const uuid = completion.uuid;
    try {
      for (const callback of this.completionCallbacks) completion.add(callback);
      const children = this.children.map((c) => {
        if (c instanceof Group) throw new TypeError("a group with completion callbacks cannot hold groups (nor can Dramatiq's)");
        if (c instanceof Pipeline) {
          if (c.messages.length === 0) throw new TypeError("a group with completion callbacks cannot hold an empty pipeline");
          const steps = [...c.messages.slice(0, -1), completion.mark(c.messages[c.messages.length - 1])];
          return new Pipeline(steps, { broker: c.broker });
        }
        return completion.mark(c);
      });
      const barrier = new Barrier(middleware.rateLimiterBackend, uuid, { ttl: middleware.barrierTtl });
      return { barrier, children };
    } finally {
      completion.free();
    }
  }

  /**
   * One result per child, in child order (a nested group gives its list, a pipeline its
   * last step's result), under one deadline; rejects with the first error.
   */
  async getResults(options = {}) {
    const deadline = deadlineOf(options);
    await this.enqueued;
    return this.#results(options, deadline);
  }

  async #results(options, deadline) {
    const { block = false, signal } = options;
    const backend = backendOf(this, options);
    const out = new Array(this.children.length);
    const messages = [];
    const slots = [];
    const others = [];
    this.children.forEach((c, i) => {
      if (c instanceof Message) {
        messages.push(c);
        slots.push(i);
      } else if (c instanceof Pipeline) {
        const last = c.messages[c.messages.length - 1];
        messages.push(last);
        slots.push(i);
      } else {
        others.push([i, c.#results({ ...options, backend: options.backend }, deadline).then((v) => (out[i] = v))]);
      }
    });
    if (!block) return this.#inChildOrder(backend, messages, slots, others, out, signal);
    const values = backend.getResults(messages, { block, timeout: left(deadline), signal }).then((vs) => {
      vs.forEach((v, j) => (out[slots[j]] = v));
    });
    await Promise.all([values, ...others.map(([, p]) => p)]);
    return out;
  }

  /**
   * Without blocking, every child's outcome is known at once, so the error reported is the
   * first in child order (a missing result ahead of a stored failure, a nested group's
   * error ahead of a later message's), as Dramatiq's `get_results()` raises it: it reads
   * the children one by one. Not which read happened to settle first.
   */
  async #inChildOrder(backend, messages, slots, others, out, signal) {
    const errors = new Map();
    const reads = backend.getResults(messages, { block: false, signal }).then(
      (vs) => vs.forEach((v, j) => (out[slots[j]] = v)),
      (error) => {
        // A non-blocking read settles its messages in list order, so this is the first
        // failing one's error; its key says which child that is.
        const key = error?.messageKey;
        const j = key == null ? -1 : messages.findIndex((m) => backend.buildMessageKey(m) === key);
        if (j < 0) throw error;
        errors.set(slots[j], error);
      },
    );
    const nested = others.map(([slot, p]) => p.catch((error) => void errors.set(slot, error)));
    await Promise.all([reads, ...nested]);
    if (errors.size > 0) throw errors.get(Math.min(...errors.keys()));
    return out;
  }

  /** Waits for every child to finish (`getResults` with `block: true`); resolves with nothing. */
  async wait({ timeout, signal, backend } = {}) {
    await this.getResults({ block: true, timeout, signal, backend });
  }

  /** How many children have finished (failures count; a nested group when all of it has). */
  async completedCount(options = {}) {
    const backend = backendOf(this, options);
    let count = 0;
    for (const c of this.children) {
      const done =
        c instanceof Message ? await finished(backend, c) : await c.completed({ ...options, backend: options.backend });
      if (done) count += 1;
    }
    return count;
  }

  /** Whether every child has finished. */
  async completed(options = {}) {
    return (await this.completedCount(options)) === this.children.length;
  }
}

/** Builds a group of `children` (Messages, pipelines and groups). */
export function group(children, options) {
  return new Group(children, options);
}
