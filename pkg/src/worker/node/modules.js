// How the `worker` command loads the user's modules, in the supervisor, each worker process
// and each thread alike: in order, and with Python's `module:broker` form (the first
// module's export names the broker, or a function that sets it up).
import { setBroker } from "../../../dist/node.js";
import { kProbe } from "../../internal/symbols.js";

/**
 * Imports `urls` in order, calling `onImport(url)` before each (so a failure can say which).
 * With `brokerExport` (the `name` of `tasks.mjs:name`, dots for a path), the first module's
 * export of that name is the broker (made the global one, so the actors' lookups and the
 * threads find it) or a function that sets it up (called, and awaited, as Python calls
 * `module:setup_broker`). Rejects with the import's error, or with a TypeError naming what
 * the export lacks.
 */
export async function importModules(urls, brokerExport, onImport = () => {}) {
  for (const [i, url] of urls.entries()) {
    onImport(url);
    const namespace = await import(url);
    if (i === 0 && brokerExport !== undefined) await useBrokerExport(namespace, brokerExport, url);
  }
}

async function useBrokerExport(namespace, name, url) {
  let value = namespace;
  for (const part of name.split(".")) {
    value = value === null || value === undefined ? undefined : value[part];
    if (value === undefined) throw userError(`${new URL(url).pathname} does not export ${JSON.stringify(name)}`);
  }
  if (typeof value === "function" && typeof value[kProbe] !== "function") {
    await value();
    return;
  }
  if (value === null || typeof value !== "object" || typeof value[kProbe] !== "function") {
    throw userError(`${JSON.stringify(name)} of ${new URL(url).pathname} is not a RedisBroker or RabbitmqBroker, nor a function that sets one up`);
  }
  setBroker(value);
}

/** A TypeError about the command line, without a stack: where it was thrown is ours, not the user's. */
function userError(message) {
  const error = new TypeError(message);
  error.stack = `TypeError: ${message}`;
  return error;
}
