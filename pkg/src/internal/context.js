// The attempt an actor's code runs in, found from inside the actor without an argument:
// `CurrentMessage.getCurrentMessage()` and `currentSignal()`. Carried by the host's
// `AsyncLocalStorage` (Node, Bun, Deno, and workerd with `nodejs_compat`), found at run
// time rather than imported: the package is bundled for browsers too, where
// `node:async_hooks` does not resolve (and where no such storage exists yet).

let storage; // undefined: not looked for yet; null: this host has none

function findStorage() {
  if (storage !== undefined) return storage;
  let Als = globalThis.AsyncLocalStorage;
  if (typeof Als !== "function") {
    try {
      Als = globalThis.process?.getBuiltinModule?.("node:async_hooks")?.AsyncLocalStorage;
    } catch {
      Als = undefined;
    }
  }
  storage = typeof Als === "function" ? new Als() : null;
  return storage;
}

/**
 * Runs `fn()` with `proxy` (the `WorkerMessage` being processed) as the current attempt.
 * Where the host has no `AsyncLocalStorage` the actor still runs; only the lookups fail.
 */
export function runInAttempt(proxy, fn) {
  const als = findStorage();
  return als ? als.run(proxy, fn) : fn();
}

/** The `WorkerMessage` whose actor is running here, or undefined outside an actor. */
export function currentAttempt() {
  const als = findStorage();
  if (!als) {
    throw new Error(
      "CurrentMessage.getCurrentMessage() and currentSignal() need AsyncLocalStorage, which this host lacks " +
        "(Node, Bun, Deno and Cloudflare Workers with the nodejs_compat flag have it; browsers do not yet)",
    );
  }
  return als.getStore();
}
