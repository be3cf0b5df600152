/**
 * `dramatiq-results/gateway`: the read-only HTTP gateway over a Dramatiq deployment's Redis
 * that `npx dramatiq-results serve` runs, as a Hono app, and as a Cloudflare Worker.
 *
 * @module dramatiq-results/gateway
 */
// `dramatiq-results/gateway`: the results gateway's Hono app (the default entry, ./app.js)
// and, under the `workerd` condition (./workerd.js), the Cloudflare Worker too. Checked
// against both entries' exports and `createGateway`'s options by
// tests/js/types-gateway.test.mjs.
import type { Context, Hono } from "hono";
import type { RedisBrokerKeys, ResultBackend } from "../index.js";

/** A Redis connection as the gateway uses it: node-redis's raw-command shape. */
export interface RedisCommandClient {
  sendCommand(argv: Array<string | Uint8Array>): Promise<unknown>;
}

/** What `decodeResult` makes of stored result bytes: the value, or the error reading them
 * raised (a `ResultFailure` for a stored exception). */
export interface DecodedResult {
  value?: unknown;
  error?: Error | undefined;
}

/** The event poller's options (`createGateway`'s `events`). */
export interface GatewayEventsOptions {
  /** How often the poller reads the broker (ms, default 500). */
  intervalMs?: number | undefined;
  /** How often it looks for new queues with SCAN (ms, default 5000). */
  discoverEveryMs?: number | undefined;
  /** How often it checks that the results it showed are still stored (ms, default 5000). */
  recheckEveryMs?: number | undefined;
  /** How long after a message left the broker its result is still looked for (ms, default 15 000). */
  resultGraceMs?: number | undefined;
  /** The most ids read per queue and state in one poll (default 10 000). */
  cap?: number | undefined;
  /** How many events are kept for `Last-Event-ID` replays (default 20 000). */
  ringSize?: number | undefined;
  /** How many finished records are kept before the oldest are forgotten (default 20 000). */
  maxFinished?: number | undefined;
  /** SCAN calls over the result keys per poll (default 10). */
  resultScanCalls?: number | undefined;
  /** SCAN's COUNT over the result keys (default 1000). */
  resultScanCount?: number | undefined;
  /** The most bytes of event JSON the event ring keeps (default 64 MiB). */
  ringBytes?: number | undefined;
  /** Past this many bytes of records' JSON, new messages are kept as summaries (default 64 MiB). */
  recordBytes?: number | undefined;
  /** A message (or result value) whose JSON is longer is kept as a summary (default 64 KiB). */
  maxMessageBytes?: number | undefined;
  /** The most messages followed; more are counted, not listed (default 100 000). */
  maxRecords?: number | undefined;
  /** The most results read per poll (messages that left the broker, results looked for or
   * rechecked: more take turns over the next polls; default 1000). */
  resultReads?: number | undefined;
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
  resultsNamespace?: string | undefined;
  /** With a token, every API route needs `Authorization: Bearer <token>` (null: none). */
  token?: string | null | undefined;
  /** The operator's token (at least 16 characters by the hosts' checks): with it the
   * actions exist (requeue, delete, bulk dead-letter actions) and need it; it reads every
   * viewer route too. Without it (or null) the actions answer 405. */
  operatorToken?: string | null | undefined;
  /** The Redis list of the audit log (default "dramatiq-results-gateway:audit:<broker namespace>"). */
  auditKey?: string | undefined;
  /** How the host follows the deployment: it sets `mode` to "keyspace" once subscribed to
   * Redis keyspace notifications (`GET /api/session` says which). */
  follow?: { mode: "polling" | "keyspace" } | undefined;
  /** A RabbitMQ deployment's broker (`serve --amqp`, Node only): queues, dead letters and the
   * actions on them go through it; `redis` then holds the results and the audit log only. */
  amqp?: {
    queueNames: string[];
    counts(): Promise<Array<{ name: string; queued: number | null; delayed: number | null; inProgress: null; deadLettered: number | null; missing?: true | undefined }>>;
    act(queue: string, decide: (item: { message: object; body: string; deadAt: number | null; redelivered: boolean }) => "requeue" | "delete" | null, options?: { max?: number | undefined }): Promise<{ items: object[]; more: boolean }>;
  } | undefined;
  /** An origin whose pages may call the API (CORS); none by default (or null). */
  cors?: string | null | undefined;
  /** Serves the dashboard's files for any other GET. */
  assets?: ((c: Context) => Response | Promise<Response>) | undefined;
  /** Parses a message's JSON text (default `JSON.parse`). */
  decodeMessage?: ((text: string) => Record<string, unknown>) | undefined;
  /** Writes a result value as JSON text. */
  encode?: ((value: unknown) => string) | undefined;
  /** Stored result bytes as the package reads them; with it, and `resultsInRedis`, the
   * poller also finds the results of messages it never saw in the broker. */
  decodeResult?: ((bytes: Uint8Array) => Promise<DecodedResult>) | undefined;
  /** Whether the results live in `redis` (so SCAN can walk them); default false. */
  resultsInRedis?: boolean | undefined;
  /** The event poller's options. */
  events?: GatewayEventsOptions | undefined;
  /** An event stream ends after this long with a `reconnect` event (none by default). */
  maxStreamMs?: number | undefined;
  /** How old a heartbeat may be for its worker to count as alive (ms, default 60 000). */
  heartbeatTimeoutMs?: number | undefined;
  /** A write to an event stream that does not complete in this long drops the viewer (ms, default 30 000). */
  writeTimeoutMs?: number | undefined;
  /** The most event streams open at once; more are answered 503 (default 1000). */
  maxViewers?: number | undefined;
  /** Without a token, the host names a request's `Host` may name beside the loopback ones;
   * any other is answered 421 (DNS rebinding). */
  hosts?: string[] | undefined;
  /** Where the gateway says what its API does not show: a store failure's details (the API
   * names only its kind) and keys skipped for their type (once each). */
  log?: ((message: string) => void) | undefined;
}

/** The gateway's event poller as the app exposes it. */
export interface GatewayPoller {
  start(): void;
  stop(): void;
  readonly head: number;
  readonly running: boolean;
  readonly watchers: number;
  /** When an event stream last opened or closed (ms since the epoch; 0 before the first). */
  readonly lastWatchedAt: number;
}

/** The gateway's Hono app (host-neutral): the read-only API over a Dramatiq deployment. */
export function createGateway(options: GatewayOptions): Hono & { poller: GatewayPoller };

/** The states `/api/messages` pages through, in this order when none is named. */
export const STATES: readonly ["queued", "delayed", "in-progress", "dead-lettered"];

/** The largest page `/api/messages` hands out. */
export const MAX_LIMIT: number;

/** A store (Redis or the results store) failed: the API answers 503. */
export class Unavailable extends Error {
  constructor(cause: unknown);
}

/** Whether two secrets are equal, in time independent of where they differ and of their lengths. */
export function sameSecret(given: string, expected: string): Promise<boolean>;

/** How a backend names result keys: the SCAN pattern of its keys and the message a key names
 * (null for Dramatiq's MD5 keys, which name nothing). */
export interface ResultKeyScheme {
  pattern: string;
  parse(key: string): { queueName: string; actorName: string; messageId: string } | null;
}

/** The result key scheme of `backend` under `namespace`, learnt from the backend itself. */
export function resultKeyScheme(backend: ResultBackend, namespace: string): ResultKeyScheme;

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
