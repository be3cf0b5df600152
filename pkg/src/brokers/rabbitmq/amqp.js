// What the RabbitMQ broker and its consumer share about amqplib and its errors.
import { ConnectionClosed } from "../../errors.js";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A view of wasm bytes amqplib can send (it wants a Buffer), without a copy. */
export function buffer(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * amqplib, loaded through Node's `require` (`process.getBuiltinModule`, Node ≥ 20.16): no
 * `import("amqplib")` for bundlers to chase in the package's browser and workerd builds,
 * where RabbitMQ cannot run anyway.
 */
export function loadAmqplib() {
  const nodeModule = globalThis.process?.getBuiltinModule?.("node:module");
  if (!nodeModule) {
    throw new Error("RabbitmqBroker.connect runs on Node only: AMQP needs a raw TCP socket (amqplib uses Node's net)");
  }
  try {
    return nodeModule.createRequire(import.meta.url)("amqplib");
  } catch (error) {
    throw new Error("RabbitmqBroker.connect needs the amqplib package: npm install amqplib", { cause: error });
  }
}

export function isChannelModel(value) {
  try {
    return Boolean(value) && typeof value.createChannel === "function" && typeof value.close === "function";
  } catch {
    // A getter that throws, a revoked Proxy: not a connection to use.
    return false;
  }
}

/** Whether `error` is a lost connection or channel (worth a retry on a fresh channel). */
export function isConnectionError(error) {
  // The error may be anything a hostile or buggy client rejected with (a throwing getter,
  // a revoked Proxy): one that cannot be read is not worth a retry.
  try {
    return connectionLost(error);
  } catch {
    return false;
  }
}

function connectionLost(error) {
  if (!error || typeof error !== "object") return false;
  if (error.amqpRetry) return true;
  // RabbitMQ refused this publish itself (over its max_message_size): the same bytes would
  // be refused again.
  if (error.refused) return false;
  if (error instanceof ConnectionClosed) return false;
  // A declaration RabbitMQ refused (406 PRECONDITION_FAILED): retrying cannot help.
  if (error.code === 406) return false;
  const text = `${error.name} ${error.message} ${error.code ?? ""}`;
  return /Channel closed|Connection closed|Channel ended|ECONNREFUSED|ECONNRESET|EPIPE|IllegalOperationError|CONNECTION_FORCED|socket|closed/i.test(
    text,
  );
}
