import type { Hono } from "hono";
import type { RedisBrokerKeys, ResultBackend } from "../index.js";

/** A Redis connection as the gateway uses it: node-redis's raw-command shape. */
export interface RedisCommandClient {
  sendCommand(argv: Array<string | Uint8Array>): Promise<unknown>;
}

/** Options of `createGateway`. */
export interface GatewayOptions {
  /** The broker's Redis. */
  redis: RedisCommandClient;
  /** The package's result backend (`RedisBackend`, `MemcachedBackend`) for keys and decoding. */
  backend: ResultBackend;
  /** The stored bytes of a result key, null when absent (`GET /kv/<key>`). */
  readKey(key: string): Promise<Uint8Array | null>;
  /** The broker's key names: `new RedisBrokerKeys(namespace)` of this package. */
  brokerKeys: RedisBrokerKeys;
  /** The result backend's namespace (default "dramatiq-results"). */
  resultsNamespace?: string;
  /** With a token, every API route needs `Authorization: Bearer <token>`. */
  token?: string;
  /** An origin whose pages may call the API (CORS); none by default. */
  cors?: string;
  /** Serves the dashboard's files for any other GET. */
  assets?: (c: unknown) => Response | Promise<Response>;
  /** Parses a message's JSON text (default `JSON.parse`). */
  decodeMessage?: (text: string) => Record<string, unknown>;
  /** Writes a result value as JSON text. */
  encode?: (value: unknown) => string;
  /** The event poller's options. */
  events?: { intervalMs?: number; discoverEveryMs?: number; recheckEveryMs?: number; resultGraceMs?: number; cap?: number; ringSize?: number; maxFinished?: number };
  /** An event stream ends after this long with a `reconnect` event (none by default). */
  maxStreamMs?: number;
  /** How old a heartbeat may be for its worker to count as alive (ms, default 60 000). */
  heartbeatTimeoutMs?: number;
}

/** The gateway's Hono app (host-neutral): the read-only API over a Dramatiq deployment. */
export function createGateway(options: GatewayOptions): Hono & { poller: GatewayPoller };

/** The gateway's event poller as the app exposes it. */
export interface GatewayPoller {
  start(): void;
  stop(): void;
  readonly head: number;
  readonly running: boolean;
  readonly watchers: number;
}

// Under the `workerd` condition (a Cloudflare Worker) the module also exports the Worker
// itself: `export { default, GatewayObject } from "dramatiq-results/gateway";`.

/** The Durable Object holding the Worker gateway's Redis connection and poller (workerd only). */
export declare class GatewayObject {
  constructor(state: unknown, env: Record<string, unknown>);
  fetch(request: Request): Promise<Response>;
  alarm(): Promise<void>;
}

/** The Worker's handler: the API to the `GATEWAY` Durable Object, files from `ASSETS` (workerd only). */
declare const worker: { fetch(request: Request, env: Record<string, unknown>): Promise<Response> };
export default worker;
