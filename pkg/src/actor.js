// Actors (Dramatiq's `Actor` and `@actor`): a JS function workers run on messages, or a
// remote actor, declared by name, whose code runs elsewhere (a Python worker).
import { ActorSpec, Message, duplicateActorMessage, snakeCase } from "../dist/dramatiq_results.js";
import { sendOwned } from "./brokers/broker.js";
import { getBroker } from "./brokers/global.js";
import { describeValue } from "./internal/describe.js";
import { readOptions } from "./internal/options.js";
import { kSpec } from "./internal/symbols.js";

function snakeKeys(options) {
  const out = {};
  for (const [k, v] of Object.entries(options)) {
    // Defined, not assigned: an option named `__proto__` is an option (Python sends it),
    // not the object's prototype.
    if (v !== undefined) Object.defineProperty(out, snakeCase(k), { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

// The options naming an actor to send a callback to.
const CALLBACK_OPTIONS = ["on_success", "on_failure", "on_retry_exhausted"];

/**
 * `options` (snake_case) with every callback option given as an `Actor` replaced by its
 * name, as Python's `message_with_options` does; `on_success` / `on_failure` that are
 * neither a name nor an `Actor` are a TypeError there, and here.
 */
function callbackNames(options) {
  for (const name of CALLBACK_OPTIONS) {
    const value = options[name];
    if (value instanceof Actor) options[name] = value.actorName;
    else if (name !== "on_retry_exhausted" && value !== undefined && value !== null && typeof value !== "string") {
      throw new TypeError(`${name} value must be an Actor or an actor's name`);
    }
  }
  return options;
}

/**
 * A JS function run by workers on messages (Dramatiq's `Actor`), or, declared with a name
 * instead of a function, a *remote* actor: one whose code lives elsewhere (a Python
 * worker). A remote actor sends messages like any other; no JS worker runs it.
 */
export class Actor {
  constructor(fn, given) {
    let { actorName, queueName = "default", priority = 0, broker, ...options } = readOptions("actor()", given);
    let remote = false;
    if (typeof fn === "string") {
      if (fn === "") throw new TypeError("a remote actor needs a non-empty name");
      actorName = actorName ?? fn;
      fn = undefined;
      remote = true;
    } else if (typeof fn !== "function") {
      throw new TypeError("an actor needs a function, or the name of an actor whose code lives elsewhere");
    }
    for (const [option, value] of [["actorName", actorName], ["queueName", queueName]]) {
      if (value !== undefined && typeof value !== "string") {
        throw new TypeError(`actor(): option ${option} must be a string, got ${describeValue(value)}`);
      }
    }
    const name = actorName ?? fn?.name;
    /** The broker the actor is declared on. */
    this.broker = broker ?? getBroker();
    if (this.broker.actors.has(name)) {
      // Python's `Actor` raises ValueError here: a second declaration would silently take
      // the first one's messages.
      throw new TypeError(duplicateActorMessage(String(name)));
    }
    if (actorName === undefined && fn.name) {
      // The Python side finds actors by name, and minifiers rename functions.
      this.broker.logger.warn(
        `actor "${fn.name}" is named after its function: pass { actorName: "${fn.name}" } so a minifier cannot rename it`,
      );
    }
    for (const key of Object.keys(options)) {
      if (options[key] instanceof Actor && CALLBACK_OPTIONS.includes(snakeCase(key))) {
        options = { ...options, [key]: options[key].actorName };
      }
    }
    this[kSpec] = new ActorSpec(name ?? "", queueName, options, [...this.broker.actorOptions]);
    /** The function (undefined for a remote actor). */
    this.fn = fn;
    /** Whether the actor's code lives elsewhere: declared by name, sent to, never run here. */
    this.remote = remote;
    /** The actor's name (its function's name unless `actorName` is given). */
    this.actorName = this[kSpec].actorName;
    /** The actor's queue. */
    this.queueName = queueName;
    /** Lower runs first among the messages a worker holds (what it prefetched), on every broker. */
    this.priority = priority;
    /** The actor's options, snake_case, functions included (`retry_when`, `throws`). */
    this.options = snakeKeys(options);
    this.broker.declareActor(this);
  }

  /** A message for this actor, not sent (for pipelines and groups). */
  message(...args) {
    return this.messageWithOptions({ args });
  }

  /**
   * A message with options (camelCase or snake_case names; stored snake_case), not sent.
   * `onSuccess`, `onFailure` and `onRetryExhausted` take an actor's name or the `Actor`
   * (sent as its name).
   */
  messageWithOptions(given) {
    const { args = [], kwargs = {}, ...options } = readOptions("messageWithOptions()", given);
    return new Message({
      queueName: this.queueName,
      actorName: this.actorName,
      args,
      kwargs,
      options: callbackNames(snakeKeys(options)),
    });
  }

  /** Sends a message with these arguments; returns the `Message`. */
  send(...args) {
    return this.sendWithOptions({ args });
  }

  /** Sends a message with `{ args, kwargs, delay, ...options }`; returns the enqueued `Message`. */
  sendWithOptions(given) {
    const { args = [], kwargs = {}, delay, ...options } = readOptions("sendWithOptions()", given);
    return sendOwned(this.broker, this.messageWithOptions({ args, kwargs, ...options }), { delay });
  }

  /** Runs the function directly, in this process, without a message. */
  call(...args) {
    if (this.remote) {
      throw new TypeError(`Actor '${this.actorName}' is remote: its code runs elsewhere; send it a message instead.`);
    }
    return this.fn(...args);
  }

  /** Python's `str(actor)`: `Actor(<actor name>)`. */
  toString() {
    return `Actor(${this.actorName})`;
  }
}

/**
 * Declares `fn` as an actor on the global broker (or `options.broker`). Options:
 * `actorName`, `queueName`, `priority`, and any option the broker's middleware declare
 * (`storeResults`, `resultTtl`, `maxRetries`, `minBackoff`, `maxBackoff`, `retryWhen`,
 * `throws`, `onRetryExhausted`, `maxAge`, `timeLimit`, `notifyShutdown`, `onSuccess`,
 * `onFailure`, `pipeIgnore`); others are rejected. A name already declared on the broker
 * is a TypeError (Python's ValueError). With a string instead of a function, declares a
 * remote actor of that name (its code lives elsewhere).
 */
export function actor(fn, options) {
  if (typeof fn !== "function" && typeof options === "function") [fn, options] = [options, fn];
  return new Actor(fn, options);
}
