/**
 * `dramatiq-results`: Dramatiq's results, brokers, actors and workers for JavaScript, wire
 * compatible with Python Dramatiq 2.2.1. Every entry (`dramatiq-results` and
 * `dramatiq-results/slim`) exports this API. Start with {@link actor}, {@link RedisBroker},
 * {@link RedisBackend} and {@link connectRedis}.
 *
 * @module dramatiq-results
 */
// Public types of dramatiq-results. Hand-written: the wasm glue's generated types say `any`
// for every JS value; these say what the API actually accepts and returns. They need neither
// DOM nor Node types. tests/js/types-exports.test.mjs checks them against the real exports.

// --- loading --------------------------------------------------------------------------

/** What `init()` can load: a URL (or its string), a `Request`-like or `Response`-like object
 * (or a Promise of one), the module's bytes, or a compiled `WebAssembly.Module`. */
export type WasmInput = string | { readonly href: string } | ArrayBuffer | ArrayBufferView | object | PromiseLike<object>;

/**
 * Loads the WebAssembly module once; resolves when the package can be used. The main entry
 * (`"dramatiq-results"`) loads it at import, so there `init()` only reports the outcome;
 * `"dramatiq-results/slim"` loads nothing until `init()` (default: the `.wasm` next to it,
 * fetched: in a browser or a bundle). `fetch` cannot read `file:` URLs, so in Node pass the
 * bytes. A failed load rejects, and every later call throws an error saying why (on `/slim`,
 * until an `init()` with other input succeeds: it may be called again).
 *
 * @example In Node, `/slim` with the bytes of `dramatiq-results/wasm`:
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { createRequire } from "node:module";
 * import { init, StubBackend } from "dramatiq-results/slim";
 *
 * await init(readFileSync(createRequire(import.meta.url).resolve("dramatiq-results/wasm")));
 * const backend = new StubBackend();
 * ```
 */
export function init(input?: WasmInput): Promise<void>;
/** Settles with the outcome of the first load (the entry's own, or the first `init()`). */
export declare const ready: Promise<void>;

/** The part of an `AbortSignal` the package uses (structural: DOM, Node and Workers signals
 * all fit, and no DOM or Node types are needed). */
export interface AbortSignalLike {
  /** Whether it has aborted. */
  readonly aborted: boolean;
  /** Why it aborted (a wait rejects with this). */
  readonly reason?: unknown;
  /** Called once when it aborts. */
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean | undefined }): void;
  /** Stops listening. */
  removeEventListener(type: "abort", listener: () => void): void;
}

declare const resultType: unique symbol;

/** A value as stored: what Python's `json` module reads and writes. Integers beyond
 * ±(2^53 − 1) are `bigint`, so they stay exact. */
export type ResultValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | ResultValue[]
  | { [key: string]: ResultValue };

/** Anything a result key can be derived from: a `Message`, its camelCase identity, or a
 * Python message dict. */
export type MessageLike =
  | Message<unknown>
  | { queueName: string; actorName: string; messageId: string }
  | { queue_name: string; actor_name: string; message_id: string };

/** Options every backend takes (Dramatiq's `namespace`, `use_namespace_prefix_keys`,
 * `encoder`). */
export interface BackendOptions {
  /** Key namespace. Default `"dramatiq-results"`. */
  namespace?: string | undefined;
  /** Store under readable `namespace:queue:actor:id` keys instead of their MD5. Default false. */
  useNamespacePrefixKeys?: boolean | undefined;
  /** The encoder: a `JSONEncoder` (default, native fast path) or any object with
   * `encode(value) → bytes` and `decode(bytes) → value`. */
  encoder?: JSONEncoder | Encoder | undefined;
  /** The largest value read or written, in bytes (default 64 MiB; `Infinity` for no
   * limit). A larger stored value rejects with a `ResultError` of code `RESULT_TOO_LARGE`
   * instead of being decoded; a larger value to store is refused the same way. */
  maxValueBytes?: number | undefined;
}

/** A custom encoder; it must agree with the Python side's. Both methods are synchronous, as
 * Dramatiq's are: `getResults` and `iterResults` hand on what `decode` returns as it is (a
 * Promise would be the value). */
export interface Encoder {
  /** A value to bytes (or text, written as UTF-8), as the Python side's encoder writes it.
   * A throw rejects the store with it. */
  encode(value: unknown): Uint8Array | ArrayBufferLike | ArrayBufferView | string;
  /** Bytes to a value, as the Python side's encoder reads them. A throw rejects the read
   * with a `ResultError` of code `RESULT_STORE` whose `cause` is the error. */
  decode(bytes: Uint8Array): unknown;
}

/** How to read a result. */
export interface GetResultOptions {
  /** Wait for the result instead of rejecting with `ResultMissing`. Default false. */
  block?: boolean | undefined;
  /** Milliseconds to wait when blocking (default 10 000; `Infinity` waits without end).
   * Also bounds how long the store may take to answer a non-blocking read: past it, that
   * read rejects with a `ResultError` of code `RESULT_STORE`. */
  timeout?: number | undefined;
  /** Cancels the wait: the Promise rejects with `signal.reason` and its timer is cleared. */
  signal?: AbortSignalLike | undefined;
}

/**
 * The methods every result backend has (Dramatiq's `ResultBackend`).
 *
 * @example Read a result by its message id, waiting up to 10 s
 * ```ts
 * import { StubBackend, ResultTimeout, ResultFailure } from "dramatiq-results";
 *
 * const backend = new StubBackend(); // or RedisBackend, MemcachedBackend, …: the same methods
 * const message = { queueName: "default", actorName: "add", messageId: "0b4e4c3e-6e57-4a5c-9a39-3c0f1f0e4d21" };
 * try {
 *   const value = await backend.getResult(message, { block: true, timeout: 10_000 });
 *   console.log(value);
 * } catch (err) {
 *   if (err instanceof ResultTimeout) console.log("not ready yet");
 *   else if (err instanceof ResultFailure) console.log(err.exceptionType, err.exceptionValue);
 *   else throw err;
 * }
 * ```
 */
export interface ResultBackend {
  /** The key namespace (Dramatiq's `namespace`, default `"dramatiq-results"`). */
  readonly namespace: string;
  /** Whether keys are readable `namespace:queue:actor:id` rather than their MD5. */
  readonly useNamespacePrefixKeys: boolean;
  /** The `encoder` option as given (a `JSONEncoder` too); undefined when none was
   * (Dramatiq's JSON, the native path). */
  readonly encoder: JSONEncoder | Encoder | undefined;
  /** The store key of the message's result (Dramatiq's `build_message_key`). */
  buildMessageKey(message: MessageLike): string;
  /** The result. Rejects with `ResultMissing` (not blocking), `ResultTimeout` (blocking,
   * deadline passed; a blocking read retries a failing store until then, and the last
   * failure is the `cause`), `ResultFailure` (the actor raised), or another `ResultError`
   * (`RESULT_STORE`: the store failed a read that does not block); with a `TypeError` for a
   * bad argument (a message without its identity, a negative timeout), and with
   * `signal.reason` once aborted. */
  getResult<R>(message: Message<R>, options?: GetResultOptions): Promise<R>;
  /** The same, for a message known only by its identity (a `{ queueName, actorName, messageId }` or a Python dict). */
  getResult(message: MessageLike, options?: GetResultOptions): Promise<ResultValue>;
  /** Like `getResult`, but resolves with `Missing` instead of rejecting with `ResultMissing`
   * (test with `isMissing(value)` or `value === Missing`). */
  tryGetResult<R>(message: Message<R>, options?: GetResultOptions): Promise<R | MissingType>;
  /** The same, for a message known only by its identity. */
  tryGetResult(message: MessageLike, options?: GetResultOptions): Promise<ResultValue | MissingType>;
  /** The stored bytes, undecoded. */
  getResultBytes(message: MessageLike, options?: GetResultOptions): Promise<Uint8Array>;
  /** Stores a return value for `ttlMs` milliseconds: a non-negative integer (else it
   * rejects with a `TypeError`), default 600 000; 0 leaves no result, as Redis's
   * `PEXPIRE k 0` does. `storeResultBytes` and `storeException` take `ttlMs` the same way. */
  storeResult(message: MessageLike, value: unknown, ttlMs?: number): Promise<void>;
  /** Stores bytes as they are (they should be what the encoder writes); a string is stored
   * as its UTF-8. */
  storeResultBytes(message: MessageLike, bytes: Uint8Array | ArrayBufferLike | ArrayBufferView | string, ttlMs?: number): Promise<void>;
  /** Stores an exception in Dramatiq's envelope: type = the error's class name, msg = its message. */
  storeException(message: MessageLike, error: unknown, ttlMs?: number): Promise<void>;
  /** Many results under one deadline (`block` defaults to true here): the values in the
   * order given, or a rejection with the first error to happen. */
  getResults(messages: readonly MessageLike[], options?: GetResultsOptions): Promise<ResultValue[]>;
  /** The same, as an async iterator of outcomes in completion order. */
  iterResults(messages: readonly MessageLike[], options?: GetResultsOptions): ResultStream;
  /** Removes the result (beyond Dramatiq, where results only expire). */
  deleteResult(message: MessageLike): Promise<void>;
  /** Frees the wasm-side object; the backend must not be used afterwards. */
  free(): void;
}

// Each backend class declares what is its own; the shared methods come from `ResultBackend`
// through declaration merging (a class and an interface of the same name).

/**
 * The in-memory backend: each instance has its own results; waiters wake on store.
 *
 * @example Store and read
 * ```ts
 * import { StubBackend, Message } from "dramatiq-results";
 *
 * const backend = new StubBackend();
 * const message = new Message({ queueName: "default", actorName: "add", args: [1, 2] });
 * await backend.storeResult(message, 3);
 * console.log(await backend.getResult(message)); // 3
 * ```
 */
export class StubBackend {
  constructor(options?: BackendOptions);
  /** How many results are held, including expired ones not yet swept. */
  readonly size: number;
}
export interface StubBackend extends ResultBackend {}

/** What `KvBackend` needs from a key-value store. Each method may answer directly or with
 * a Promise; a throw or a rejection becomes a `ResultError` whose `cause` is the error. */
export interface KvAdapter {
  /** The stored value: a string (read as its UTF-8) or bytes (a `Uint8Array`, an
   * `ArrayBuffer` or another view); `null` / `undefined` when absent or expired. Anything
   * else rejects the read with a `ResultError` of code `RESULT_STORE`. */
  get(key: string): unknown;
  /** Stores `value` (a string, or a `Uint8Array` with `valueType: "bytes"` or when the
   * bytes are not UTF-8) to expire after `ttlMs` milliseconds (never 0: a TTL of 0 is a
   * `delete`). */
  put(key: string, value: string | Uint8Array, options: { ttlMs: number }): unknown;
  /** Removes `key`; an absent key is not an error. */
  delete(key: string): unknown;
}

/** Options of `KvBackend`. */
export interface KvBackendOptions extends BackendOptions {
  /** How values reach `put`: `"string"` (default; Dramatiq's JSON is always ASCII) or
   * `"bytes"` (always a `Uint8Array`). */
  valueType?: "string" | "bytes" | undefined;
}

/**
 * Results in any key-value store; blocking reads poll it with Dramatiq's back-off.
 *
 * @example Over an HTTP endpoint that answers `GET <endpoint>/<key>` (the gateway's `/kv`)
 * ```ts
 * import { KvBackend } from "dramatiq-results";
 *
 * const endpoint = "https://results.example.com/kv";
 * const headers = { authorization: "Bearer <the gateway's token>" };
 * const backend = new KvBackend({
 *   async get(key) {
 *     const res = await fetch(`${endpoint}/${encodeURIComponent(key)}`, { headers });
 *     if (res.status === 404) return null;
 *     // Not the stored bytes (a 401 is `{"error":"unauthorized"}`): fail, do not decode it.
 *     if (!res.ok) throw new Error(`GET ${res.url}: HTTP ${res.status}`);
 *     return new Uint8Array(await res.arrayBuffer());
 *   },
 *   put() { throw new Error("read-only"); },
 *   delete() { throw new Error("read-only"); },
 * });
 * ```
 */
export class KvBackend {
  constructor(adapter: KvAdapter, options?: KvBackendOptions);
  /** The adapter given to the constructor. */
  readonly adapter: KvAdapter;
}
export interface KvBackend extends ResultBackend {}

/** The part of a Workers `KVNamespace` binding that `CloudflareKvBackend` uses (structural,
 * so `@cloudflare/workers-types` is not required). */
export interface KvNamespaceLike {
  /** KV's read, as bytes with the key's metadata. */
  getWithMetadata(
    key: string,
    options: { type: "arrayBuffer"; cacheTtl?: number | undefined },
  ): Promise<{ value: unknown; metadata: unknown }>;
  /** KV's write, with its expiry and metadata. */
  put(
    key: string,
    value: string | ArrayBuffer | ArrayBufferView,
    options: { expirationTtl: number; metadata: { expiresAt: number } },
  ): Promise<void>;
  /** KV's delete. */
  delete(key: string): Promise<void>;
}

/** Options of `CloudflareKvBackend`. */
export interface CloudflareKvBackendOptions extends BackendOptions {
  /** Seconds (at least 30) KV may serve a read from its edge cache, passed to every
   * `getWithMetadata`. Cheaper reads, but a cached "absent" can hide a new result that long. */
  cacheTtl?: number | undefined;
}

/** Results in a Cloudflare Workers KV namespace (`env.RESULTS`). KV keeps each result at least
 * 60 s (its minimum `expirationTtl`); the exact expiry is kept in the key's metadata as
 * `{ expiresAt }` and honoured on read. KV is eventually consistent: blocking reads poll.
 *
 * @example In a Worker, with the namespace bound as `RESULTS`
 * ```ts
 * import { CloudflareKvBackend, type KvNamespaceLike } from "dramatiq-results";
 *
 * export default {
 *   async fetch(request: Request, env: { RESULTS: KvNamespaceLike }): Promise<Response> {
 *     const backend = new CloudflareKvBackend(env.RESULTS);
 *     const messageId = new URL(request.url).searchParams.get("id") ?? "";
 *     const value = await backend.getResult({ queueName: "default", actorName: "add", messageId });
 *     return Response.json({ value });
 *   },
 * };
 * ```
 */
export class CloudflareKvBackend {
  constructor(kvNamespace: KvNamespaceLike, options?: CloudflareKvBackendOptions);
  /** The binding given to the constructor. */
  readonly kvNamespace: KvNamespaceLike;
}
export interface CloudflareKvBackend extends ResultBackend {}

/** Options of `IndexedDbBackend`. */
export interface IndexedDbBackendOptions extends BackendOptions {
  /** The database. Default `"dramatiq-results"`. */
  dbName?: string | undefined;
  /** The object store in it (created on first use). Default `"results"`. */
  storeName?: string | undefined;
}

/** Results in IndexedDB, shared by the pages and workers of one origin. Records are
 * `{ key, value, expiresAt }` (epoch ms, indexed); expired ones are never returned. A store
 * wakes waiters in the same page at once and in other pages through a `BroadcastChannel`;
 * waiters poll as well, in case a notice is missed. The database opens on first use. */
export class IndexedDbBackend {
  constructor(options?: IndexedDbBackendOptions);
  /** The IndexedDB database. */
  readonly dbName: string;
  /** Its object store. */
  readonly storeName: string;
  /** Deletes the expired records; resolves with how many. */
  sweep(): Promise<number>;
  /** Closes the connection and the channel (a later call reopens the database). */
  close(): void;
}
export interface IndexedDbBackend extends ResultBackend {}

/** A Redis client `RedisBackend` can drive: node-redis (4 and later, `sendCommand(argv)`),
 * ioredis (`call` / `callBuffer`), or any object with one of these raw-command methods. */
// The arguments are typed `never` on purpose: the package passes strings and `Uint8Array`s
// (Buffers in Node), and real clients declare narrower ones (node-redis: `readonly
// RedisArgument[]`; ioredis: overloads ending in a callback), which any narrower type refuses.
export type RedisClientLike =
  | RedisConnection
  | { sendCommand(argv: never, ...rest: never[]): unknown }
  | { call(command: string, ...args: never[]): unknown }
  | { callBuffer(command: string, ...args: never[]): unknown };

/** Options of `RedisBackend`. */
export interface RedisBackendOptions extends BackendOptions {
  /** A second, dedicated connection for blocking reads. With it, a blocking `getResult` is
   * held by the server (`BLMOVE k k RIGHT LEFT t`, fractional seconds) and resolves the moment
   * the value lands; without it, waiters poll with Dramatiq's back-off. One blocking read at a
   * time uses it (a blocking command holds its connection); concurrent ones poll meanwhile.
   * A long wait is held in rounds of at most 5 s, so an aborted one frees it within 5 s.
   * `client` itself is refused (a `TypeError`): every other command would queue behind. */
  blockingClient?: RedisClientLike | undefined;
  /** Another name for `blockingClient` (which wins when both are given). */
  blockingConnection?: RedisClientLike | undefined;
}

/** Results in Redis, in Dramatiq's layout: a one-element list per key, stored atomically with
 * its TTL in milliseconds (one `EVAL`), read with `LINDEX k 0` (never consuming it). Batch
 * reads (`getResults`, `iterResults`) cost one round trip per 1 000 keys.
 *
 * @example With the package's own client, and a second connection for blocking reads
 * ```ts
 * import { connectRedis, RedisBackend } from "dramatiq-results";
 *
 * const client = await connectRedis("redis://127.0.0.1:6379");
 * const blockingClient = await client.duplicate();
 * const backend = new RedisBackend(client, { blockingClient });
 * const message = { queueName: "default", actorName: "add", messageId: "0b4e4c3e-6e57-4a5c-9a39-3c0f1f0e4d21" };
 * console.log(await backend.getResult(message, { block: true, timeout: 30_000 }));
 * await client.close();
 * await blockingClient.close();
 * ```
 */
export class RedisBackend {
  constructor(client: RedisClientLike, options?: RedisBackendOptions);
  /** The client given to the constructor. */
  readonly client: RedisClientLike;
  /** The `blockingClient` (or `blockingConnection`) option, if given. */
  readonly blockingClient: RedisClientLike | undefined;
}
export interface RedisBackend extends ResultBackend {}

/** Options of `connectRedis` (the URL gives host, port, TLS, user, password and database). */
export interface ConnectRedisOptions {
  /** How long the TCP/TLS connect and the handshake (`AUTH`, `SELECT`, `PING`) may take, in
   * ms (default: the URL's `?connectTimeout=`, else 10 000). */
  connectTimeout?: number | undefined;
  /** How long a command may wait for its reply, in ms; a blocking one gets its own wait on
   * top. Past it the command fails and the connection is replaced by the next command.
   * Default: no limit (blocking reads through a backend still end by their deadline). */
  commandTimeout?: number | undefined;
  /** The largest bulk reply accepted, in bytes (default 64 MiB, as backends); a larger one
   * fails its command only. */
  maxValueBytes?: number | undefined;
  /** The most memory one whole reply may take, in bytes (default 128 MiB, or
   * `maxValueBytes` + 1 MiB when larger); a larger reply fails its command only. The rest of
   * a failed reply is read and dropped; one announcing more than 512 MiB to drop replaces
   * the connection (the commands waiting behind it fail). */
  maxReplyBytes?: number | undefined;
  /** TLS (as `rediss://` does), or, in Node, options for `tls.connect` (`ca`,
   * `rejectUnauthorized`, `servername`, …). Workers verify with the public CAs. */
  tls?: boolean | Record<string, unknown> | undefined;
  /** `CLIENT SETNAME` on connect (as the URL's `?name=`). */
  name?: string | undefined;
}

/** A Redis connection made by `connectRedis`: node-redis's `sendCommand`, so `RedisBackend`,
 * `RedisBroker` and code written for node-redis take it (the backends call it directly, in
 * wasm). A connection that fails (server gone, reply cut, deadline) fails what waits on it
 * with a `ResultError` (`code` `REDIS_CONNECTION`), and the next command opens a new one;
 * a server's error reply rejects with code `REDIS_SERVER` and the server's text as message. */
export interface RedisConnection {
  /** Sends a raw command (name first). Bulk replies are strings (UTF-8), or bytes with
   * `{ returnBuffers: true }` / `{ typeMapping: { 36: Buffer } }`; integers are numbers
   * (BigInts beyond 2^53, never rounded), nil is `null`, arrays are arrays. */
  sendCommand(argv: ReadonlyArray<string | number | Uint8Array>, options?: { returnBuffers?: boolean | undefined; typeMapping?: Record<number, unknown> | undefined }): Promise<any>;
  /** Closes it; what waits, and every later command, fails. In a Worker:
   * `ctx.waitUntil(client.close())`. */
  close(): Promise<void>;
  /** node-redis's names for `close()`. */
  quit(): Promise<void>;
  destroy(): Promise<void>;
  /** Another connection with the same URL and options (e.g. for `blockingClient`). */
  duplicate(): Promise<RedisConnection>;
  /** Node: lets the process exit while the connection is open (node-redis's `unref()`). */
  unref(): void;
  /** `false` once `close()` was called. */
  readonly isOpen: boolean;
  /** Whether a connection is up and past its handshake. */
  readonly isReady: boolean;
}

/** Connects to Redis over the host's TCP: `node:net` / `node:tls` in Node,
 * `cloudflare:sockets` in Workers (browsers have no TCP: it rejects with code
 * `REDIS_UNSUPPORTED`). `url`: `redis://[[user]:password@]host[:port][/db][?protocol=3&name=…]`
 * or `rediss://` for TLS. Resolves once the handshake succeeded; rejects with a
 * `ResultError` of code `REDIS_CONNECTION` saying why (wrong password, not a Redis server,
 * connect timeout: a refusal during the handshake is not `REDIS_SERVER`), or a `TypeError`
 * for a malformed URL or an unknown option. Close it
 * (and each `duplicate()`) with `close()` when done: an open client keeps Node running.
 *
 * @example Connect, use, close
 * ```ts
 * import { connectRedis } from "dramatiq-results";
 *
 * const client = await connectRedis("redis://:password@127.0.0.1:6379/0", { connectTimeout: 5000 });
 * console.log(await client.sendCommand(["PING"])); // PONG
 * await client.close();
 * ```
 */
export function connectRedis(url: string, options?: ConnectRedisOptions): Promise<RedisConnection>;

/** A Memcached client `MemcachedBackend` can drive: memjs, or any object with memjs's
 * methods. `get` may answer `{ value }` (memjs) or the value itself; each method may answer
 * directly or with a Promise. A `getMulti(keys)` method, when present, serves batch reads. */
export interface MemcachedClientLike {
  /** memjs's `get`: `{ value }` or the value itself (a string or bytes), null when absent. */
  get(key: string): unknown;
  /** memjs's `set`, `expires` in seconds (or a Unix time beyond 30 days). */
  set(key: string, value: string | Uint8Array, options: { expires: number }): unknown;
  /** memjs's `delete`. */
  delete(key: string): unknown;
  /** A batch read, when the client has one: memjs's `{ values: { [key]: value } }` or a
   * plain `{ [key]: value }`, an absent key left out. Without it, batch reads send every
   * `get` at once. */
  getMulti?(keys: string[]): unknown;
}

/** Results in Memcached, in Dramatiq's layout: the encoded bytes with flags 0, expiring in
 * whole seconds. Unlike Dramatiq, a sub-second TTL is rounded up to 1 s (not "never"), a TTL
 * over 30 days is sent as a Unix time (not "already expired"), and a TTL of 0 deletes. */
export class MemcachedBackend {
  constructor(client: MemcachedClientLike, options?: BackendOptions);
  /** The client given to the constructor. */
  readonly client: MemcachedClientLike;
}
export interface MemcachedBackend extends ResultBackend {}

/** Fields of a new message; all but `actorName` have defaults. */
export interface MessageFields {
  /** Default `"default"`. */
  queueName?: string | undefined;
  /** The actor's name, as Python knows it. Required. */
  actorName: string;
  /** Default: a new UUID v4. */
  messageId?: string | undefined;
  /** Positional arguments (default none). */
  args?: readonly unknown[] | undefined;
  /** Keyword arguments, for Python actors (default none). */
  kwargs?: Record<string, unknown> | undefined;
  /** Message options, snake_case as on the wire (`eta`, `retries`, …). */
  options?: Record<string, unknown> | undefined;
  /** Milliseconds since the epoch. Default `Date.now()`. A fractional number is kept
   * and written as given (Python keeps a float timestamp too). */
  messageTimestamp?: number | undefined;
}

/** Dramatiq's message wire form (`message.asdict()`). */
export interface MessageDict {
  /** The queue. */
  queue_name: string;
  /** The actor's name. */
  actor_name: string;
  /** Positional arguments. */
  args: ResultValue[];
  /** Keyword arguments. */
  kwargs: { [key: string]: ResultValue };
  /** Message options. */
  options: { [key: string]: ResultValue };
  /** A UUID. */
  message_id: string;
  /** Milliseconds since the epoch, when the message was made. */
  message_timestamp: number;
}

/** A Dramatiq message. `R` is what its actor returns (from `actor()`), so reads of its result
 * are typed; a message built by hand reads as `ResultValue`. */
export class Message<R = ResultValue> {
  /** Type-level only: the actor's result type. */
  declare readonly [resultType]?: R;
  constructor(fields: MessageFields);
  /** Reads a Python message dict (snake_case). */
  static fromDict(dict: Partial<MessageDict> & Pick<MessageDict, "queue_name" | "actor_name" | "message_id">): Message;
  /** Decodes an encoded message, refusing what Python's `Message.decode` refuses (a key
   * that is no message field, a missing `args`, `kwargs` or `options`): where Python raises
   * its `DecodeError`, this throws a `TypeError` saying why, for bytes that are no JSON too
   * (`decodeDict` tells the two apart). */
  static decode(bytes: Uint8Array | ArrayBufferLike | ArrayBufferView | string): Message;
  /** The message dict (snake_case) in these bytes, as Python's `Message.decode` reads it:
   * `DecodeError` for bytes that are no JSON Python reads, a `TypeError` saying why for a
   * dict Python refuses (a key that is no field, a missing `args`, `kwargs` or `options`).
   * Builds no message and checks no types, as Python checks none. */
  static decodeDict(bytes: Uint8Array | ArrayBufferLike | ArrayBufferView | string): Record<string, unknown>;
  /** The queue it goes to (`"default"` unless set). */
  readonly queueName: string;
  /** The actor that runs it, by name. */
  readonly actorName: string;
  /** Its id (a UUID): with the queue and actor, it names the result's key. */
  readonly messageId: string;
  /** When it was made, in milliseconds since the epoch. */
  readonly messageTimestamp: number;
  /** Positional arguments. */
  readonly args: ResultValue[];
  /** Keyword arguments (Python actors; a JS actor gets them as a last object argument). */
  readonly kwargs: { [key: string]: ResultValue };
  /** Message options, snake_case as on the wire. */
  readonly options: { [key: string]: ResultValue };
  /** The snake_case dict Dramatiq enqueues. */
  asDict(): MessageDict;
  /** The bytes Dramatiq's JSONEncoder writes for this message. */
  encode(): Uint8Array;
  /** On a message a network broker's `send` returned (`actor.send()` on a `RedisBroker`):
   * resolves with it once the broker has it, rejects if the write failed. */
  readonly enqueued?: Promise<Message>;
  /** A copy with some fields replaced (Python's `message.copy(**fields)`); `options` are
   * added to the message's own (Python's `{**options, **new}`), not put in their place. */
  copy(changes?: Partial<MessageFields>): Message<R>;
  /** Python's `str(message)`: `actor(1, 'x', k=2)`. */
  toString(): string;
  /** This message's result from `options.backend`; else, once a broker enqueued it
   * (`actor.send()`, `broker.enqueue(message)`, a pipeline or group), that broker's results
   * backend; else the global broker's (`setBroker`). */
  getResult(options?: GetResultOptions & { backend?: ResultBackend | undefined }): Promise<R>;
  /** Frees its WebAssembly memory now (otherwise the garbage collector does). */
  free(): void;
}

/** Dramatiq's `JSONEncoder`: exactly the bytes Python's `json.dumps(x, separators=(",", ":"))` writes. */
export class JSONEncoder {
  constructor();
  /** Throws `TypeError` for values JSON cannot hold (functions, symbols, Maps, typed arrays,
   * cycles). As `JSON.stringify`, it calls `toJSON` and drops an object's `undefined` values;
   * an `undefined` elsewhere is `null`, and NaN and ±Infinity are written as Python writes
   * them (`NaN`, `Infinity`). */
  encode(value: unknown): Uint8Array;
  /** Throws `DecodeError` for bytes Python's `json.loads` would refuse. */
  decode(bytes: Uint8Array | ArrayBufferLike | ArrayBufferView | string): ResultValue;
  readonly isDramatiqJsonEncoder: true;
  free(): void;
}

export interface ResultErrorOptions {
  /** The result key the error is about. */
  messageKey?: string | null | undefined;
  /** A stable code (`RESULT_STORE`, `REDIS_CONNECTION`, …). Default: the class's own
   * (`RESULT_MISSING` for a `ResultMissing`, `RESULT_TIMEOUT`, `RESULT_FAILURE`,
   * `RESULT_DECODE`; `RESULT_ERROR` for a `ResultError`). */
  code?: string | undefined;
  /** What went wrong underneath (the client's error). */
  cause?: unknown;
}

/** Base class of every error about a result (Dramatiq's `ResultError`). */
export class ResultError extends Error {
  constructor(message?: string, options?: ResultErrorOptions);
  /** The store key of the message the error is about, or null. */
  readonly messageKey: string | null;
  /** `RESULT_MISSING`, `RESULT_TIMEOUT`, `RESULT_FAILURE`, `RESULT_DECODE`,
   * `RESULT_MALFORMED`, `RESULT_STORE`, `RESULT_ENCODE`, `RESULT_TOO_LARGE` (over
   * `maxValueBytes`), `RESULT_ABORTED`, `RESULT_BROKER` (a `RedisBroker` command failed),
   * `RATE_LIMIT_BACKEND` (a rate limiter's store failed), `REDIS_CONNECTION`,
   * `REDIS_SERVER` or `REDIS_UNSUPPORTED` (`connectRedis`'s client), or `RESULT_ERROR`. */
  readonly code: string;
}
/** No result is stored (or it expired) and the caller did not block. */
export class ResultMissing extends ResultError {}
/** The caller blocked and the deadline passed with no result stored. */
export class ResultTimeout extends ResultError {}
/** The actor raised. `message` is `actor raised <type>: <msg>`. */
export class ResultFailure extends ResultError {
  constructor(
    message?: string,
    options?: ResultErrorOptions & { exceptionType?: unknown; exceptionValue?: unknown; traceback?: string | null | undefined },
  );
  /** Dramatiq's `orig_exc_type`: the exception's class name (as stored; normally a string). */
  readonly exceptionType: ResultValue;
  /** Dramatiq's `orig_exc_msg`: the exception's message (as stored; normally a string). */
  readonly exceptionValue: ResultValue;
  /** The traceback, when the producer stored one (Python Dramatiq never does). */
  readonly traceback: string | null;
}
/** Stored bytes that Dramatiq's encoder cannot read. */
export class DecodeError extends ResultError {}

/** The type of `Missing`. */
export interface MissingType {
  readonly [Symbol.toStringTag]: "Missing";
  toString(): "Missing";
}
/** The sentinel for "no value" (Dramatiq's `Missing`). */
export declare const Missing: MissingType;
/** Whether `value` is `Missing`; narrows both ways (`value === Missing` narrows only the
 * `true` branch, as `Missing` is an object, not a literal). */
export function isMissing(value: unknown): value is MissingType;

/** Options of `getResults` / `iterResults`. */
export interface GetResultsOptions extends GetResultOptions {
  /** Called as each message finishes, with how many are done and how many there are. */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/** One finished message of `iterResults`. */
export type ResultOutcome<M = MessageLike> =
  | { message: M; value: ResultValue; error?: undefined }
  | { message: M; error: ResultError; value?: undefined };

/** The async iterator `iterResults` returns. */
export interface ResultStream extends AsyncIterableIterator<ResultOutcome> {
  next(): Promise<IteratorResult<ResultOutcome, undefined>>;
  return(): Promise<IteratorResult<ResultOutcome, undefined>>;
}

// --- brokers, actors, workers, middleware, composition --------------------------------

/** Where warnings and errors go. */
export interface Logger {
  /** A warning (a value discarded, a middleware missing). */
  warn(message: string, ...rest: unknown[]): void;
  /** An error that did not stop the worker (a failed hook, a lost connection). */
  error(message: string, ...rest: unknown[]): void;
  /** Information (optional: without it, informational lines are dropped). */
  info?(message: string, ...rest: unknown[]): void;
  /** Dramatiq's debug lines (optional; never sent to `console`, the default, whose `debug`
   * would print them all, as Python's logging shows none unless configured). */
  debug?(message: string, ...rest: unknown[]): void;
}
/** Sets where brokers created afterwards log (default `console`; Dramatiq's logging). */
export function setLogger(logger: Logger): void;
/** Where brokers log by default. */
export function getLogger(): Logger;

/** A message being processed, as middleware hooks see it (Dramatiq's `MessageProxy`). */
export class WorkerMessage {
  /** Wraps `message`, not failed, with no exception (Python's `MessageProxy(message)`): what
   * a worker hands its middleware, and what a middleware's own tests may make. */
  constructor(message: Message<unknown>);
  /** The message itself. */
  message: Message<unknown>;
  /** Whether a middleware or the actor failed it (`fail()`): it is then dead-lettered. */
  failed: boolean;
  /** What the attempt raised, if anything. */
  exception: Error | undefined;
  /** Marks it failed: it will be nacked (dead-lettered) rather than acked. */
  fail(): void;
  /** The queue it came from. */
  readonly queueName: string;
  /** The actor that runs it. */
  readonly actorName: string;
  /** Its id. */
  readonly messageId: string;
  /** When it was made, in milliseconds since the epoch. */
  readonly messageTimestamp: number;
  /** Positional arguments. */
  readonly args: ResultValue[];
  /** Keyword arguments. */
  readonly kwargs: Record<string, ResultValue>;
  /** Message options (`retries`, `eta`, …), snake_case as on the wire. */
  readonly options: Record<string, ResultValue>;
  /** The snake_case dict (Python's `asdict()`), as callbacks receive it. */
  asDict(): MessageDict;
  /** The message's bytes (`message.encode()`, as Python's proxy delegates it). */
  encode(): Uint8Array;
  /** A `Message` copy with `changes` (`message.copy()`, as Python's proxy delegates it). */
  copy(changes?: Partial<MessageFields>): Message;
  /**
   * Aborts when this attempt should stop: past its time limit (reason `TimeLimitExceeded`,
   * at `TimeLimit`'s first check past it) or when its worker stops and `notifyShutdown` is
   * on (reason `Shutdown`).
   */
  readonly signal: AbortSignalLike;
  /** The message's Python `str()`. */
  toString(): string;
}

/** Base class of middleware; every hook is optional and may be async. */
export class Middleware {
  /** The actor options it understands (snake_case): an actor may set only options some
   * middleware of its broker declares. A getter, as at run time: a subclass declares its
   * own with `get actorOptions()`, as the built-in middleware do (a field would be assigned
   * over the getter where TypeScript compiles fields as assignments, and throw). */
  get actorOptions(): Set<string>;
  /** Before the actor runs; throwing `SkipMessage` skips it (another error is logged, and the
   * message runs all the same, as Dramatiq's `emit_before`). */
  beforeProcessMessage?(broker: Broker, message: WorkerMessage): void | Promise<void>;
  /** After the actor ran, with its `result` or its `exception`. */
  afterProcessMessage?(broker: Broker, message: WorkerMessage, outcome: { result?: unknown; exception?: Error | undefined }): void | Promise<void>;
  /** After a message was skipped. */
  afterSkipMessage?(broker: Broker, message: WorkerMessage): void | Promise<void>;
  /** Before a network broker's worker holds a fetched message until its `eta` (Dramatiq's
   * `before_delay_message`); a failure is logged, the message held all the same. A
   * `StubBroker`'s worker holds none (its delay queues wait in the broker). */
  beforeDelayMessage?(broker: Broker, message: WorkerMessage): void | Promise<void>;
  /** Before a processed message is acked. */
  beforeAck?(broker: Broker, message: WorkerMessage): void | Promise<void>;
  /** After a processed message was acked. */
  afterAck?(broker: Broker, message: WorkerMessage): void | Promise<void>;
  /** Before a failed message is nacked (dead-lettered). */
  beforeNack?(broker: Broker, message: WorkerMessage): void | Promise<void>;
  /** After a failed message was nacked. */
  afterNack?(broker: Broker, message: WorkerMessage): void | Promise<void>;
  /** When a worker starts stopping. */
  beforeWorkerShutdown?(broker: Broker, worker: Worker): void | Promise<void>;
  /** Once a worker has stopped. */
  afterWorkerShutdown?(broker: Broker, worker: Worker): void | Promise<void>;
  /** Before a message is enqueued (synchronous): throwing `SkipMessage` refuses the send,
   * which throws it (a network broker's `enqueue` rejects with it; Dramatiq's
   * `MiddlewareError`); another error is logged and the message sent all the same. */
  beforeEnqueue?(broker: Broker, message: Message<unknown>, delay: number | undefined): void;
  /** After a message was enqueued (synchronous). */
  afterEnqueue?(broker: Broker, message: Message<unknown>, delay: number | undefined): void;
  /** Before an actor is declared on the broker (synchronous). */
  beforeDeclareActor?(broker: Broker, actor: Actor<any, any>): void;
  /** After an actor was declared (synchronous). */
  afterDeclareActor?(broker: Broker, actor: Actor<any, any>): void;
  /** Before a queue is first declared, with its canonical name (synchronous). */
  beforeDeclareQueue?(broker: Broker, queueName: string): void;
  /** After a queue was first declared (synchronous). */
  afterDeclareQueue?(broker: Broker, queueName: string): void;
  /** After a queue's delay queue was declared, with the delay queue's name (`<queue>.DQ`;
   * synchronous). */
  afterDeclareDelayQueue?(broker: Broker, delayQueueName: string): void;
}

/** Stores actor results (Dramatiq's `Results`). `resultTtl` 0 or undefined means 600 000 ms. */
export class Results extends Middleware {
  constructor(options: { backend: ResultBackend; storeResults?: boolean | undefined; resultTtl?: number | null | undefined });
  /** Where results are stored. */
  readonly backend: ResultBackend;
  /** Whether actors store results unless they say otherwise (default false, as Dramatiq). */
  readonly storeResults: boolean;
  /** How long a result is kept, in ms, unless the actor says otherwise (default 600 000). */
  readonly resultTtl: number;
}
/** Retries failed messages with back-off (Dramatiq's `Retries`; on by default). */
export class Retries extends Middleware {
  constructor(options?: {
    maxRetries?: number | null | undefined;
    /** The first retry's delay, in whole ms (default 15 000, also for 0 and null, as Python's `min_backoff or …`). */
    minBackoff?: number | null | undefined;
    /** The longest retry delay, in whole ms (default 7 days, also for 0 and null, as Python's `max_backoff or …`). */
    maxBackoff?: number | null | undefined;
    retryWhen?: ((retries: number, error: Error) => boolean) | undefined;
  });
  /** The `retryWhen` option, if given. */
  readonly retryWhen: ((retries: number, error: Error) => boolean) | undefined;
}
/** Skips and fails messages older than `maxAge` ms. */
export class AgeLimit extends Middleware {
  constructor(options?: { maxAge?: number | null | undefined });
  /** Milliseconds; `undefined` leaves it to each actor's `maxAge`. */
  readonly maxAge: number | undefined;
}
/**
 * Fails actors that run past `timeLimit` ms (default 600 000), checked every `interval` ms
 * (default 1 000) as Dramatiq's checker does: at the first check at or past the limit the
 * attempt's `signal` aborts with `TimeLimitExceeded` and the attempt fails with it; an
 * attempt that returns before that check succeeds, as on a Python worker.
 */
export class TimeLimit extends Middleware {
  constructor(options?: { timeLimit?: number | undefined; interval?: number | undefined });
  /** Milliseconds, unless an actor or message sets its own. */
  readonly timeLimit: number;
  /** How often limits are checked, in ms (`0`: at the limit itself). */
  readonly interval: number;
  /** The limit for one message, in ms: its own `time_limit`, its actor's, then `timeLimit`. */
  limitFor(broker: Broker, message: WorkerMessage): number;
}
/** Runs pipelines. */
export class Pipelines extends Middleware {}

/** Options of `GroupCallbacks`. */
export interface GroupCallbacksOptions {
  /** Where group barriers live: a `RedisRateLimiterBackend` on the Redis Python's
   * `GroupCallbacks` uses, to share groups with Python workers. Required. */
  rateLimiterBackend: RedisRateLimiterBackend | MemcachedRateLimiterBackend | StubRateLimiterBackend;
  /** How long a group's barrier lives, in whole ms, 1 or more (default 86 400 000). */
  barrierTtl?: number | undefined;
}

/** Dramatiq's `GroupCallbacks`: a group member that finishes successfully counts down the
 * group's barrier; the one that clears it enqueues the group's completion callbacks. */
export class GroupCallbacks extends Middleware {
  constructor(options: GroupCallbacksOptions);
  /** Where group barriers live. */
  readonly rateLimiterBackend: RedisRateLimiterBackend | MemcachedRateLimiterBackend | StubRateLimiterBackend;
  /** How long a group's barrier lives, in ms. */
  readonly barrierTtl: number;
}

/**
 * Sends `onSuccess` callbacks `(message.asDict(), result)` and `onFailure` callbacks
 * `(message.asDict(), { type, message })` after every failed attempt (Dramatiq's `Callbacks`;
 * on by default).
 */
export class Callbacks extends Middleware {}
/** Options of `new ShutdownNotifications(options)`. */
export interface ShutdownNotificationsOptions {
  /** Whether attempts are aborted when their worker stops, unless the actor or message says (default false). */
  notifyShutdown?: boolean | undefined;
}
/**
 * Aborts the `signal` of a stopping worker's attempts whose `notifyShutdown` is on, with
 * `Shutdown` (Dramatiq's `ShutdownNotifications`; on by default).
 */
export class ShutdownNotifications extends Middleware {
  constructor(options?: ShutdownNotificationsOptions);
  /** Whether attempts are aborted when their worker stops, unless the actor or message says. */
  readonly notifyShutdown: boolean;
  /** Whether `message`'s attempt is aborted when its worker stops. */
  shouldNotify(broker: Broker, message: WorkerMessage): boolean;
}
/** Exposes the message being processed to its actor (Dramatiq's `CurrentMessage`). */
export class CurrentMessage extends Middleware {
  /**
   * Inside an actor: the message it runs for (with `signal`); null outside one or when the
   * broker has no `CurrentMessage`. Throws where the host has no `AsyncLocalStorage`.
   */
  static getCurrentMessage(): WorkerMessage | null;
}
/**
 * Inside an actor, on a broker with the `CurrentMessage` middleware: its attempt's
 * `AbortSignal` (aborted at the time limit or on a notified shutdown); undefined outside an
 * actor or without the middleware. Throws where the host has no `AsyncLocalStorage`.
 */
export function currentSignal(): AbortSignalLike | undefined;
/**
 * Dramatiq's default middleware, as new instances, in its order: `AgeLimit`, `TimeLimit`,
 * `ShutdownNotifications`, `Callbacks`, `Pipelines`, `Retries`. A broker given
 * `{ middleware }` has exactly that list, so spread this into it to keep the defaults.
 *
 * @example The defaults plus results
 * ```ts
 * import { StubBroker, StubBackend, Results, defaultMiddleware } from "dramatiq-results";
 *
 * const broker = new StubBroker({ middleware: [...defaultMiddleware(), new Results({ backend: new StubBackend() })] });
 * ```
 */
export function defaultMiddleware(): Middleware[];

/** Thrown in `beforeProcessMessage` to skip a message (Dramatiq's `SkipMessage`). */
export class SkipMessage extends Error {
  /** Its stable code. */
  readonly code: "SKIP_MESSAGE";
}
/** Thrown by an actor to be retried, after `delay` ms if given (Dramatiq's `Retry`). */
export class Retry extends Error {
  constructor(message?: string, options?: { delay?: number | undefined });
  /** Its stable code. */
  readonly code: "RETRY";
  /** How long to wait before the retry, in ms (else Retries' back-off). */
  readonly delay: number | undefined;
}
/** An actor ran past its time limit (Dramatiq's `TimeLimitExceeded`). */
export class TimeLimitExceeded extends Error {
  /** Its stable code. */
  readonly code: "TIME_LIMIT_EXCEEDED";
}
/** The actor's worker is stopping (Dramatiq's `Shutdown`; its message is empty, as Python's). */
export class Shutdown extends Error {
  constructor(message?: string, options?: { cause?: unknown });
  /** Its stable code. */
  readonly code: "SHUTDOWN";
}
/** No actor of that name is declared on the broker (Dramatiq's `ActorNotFound`). */
export class ActorNotFound extends Error {
  /** Its stable code. */
  readonly code: "ACTOR_NOT_FOUND";
}
/** No queue of that name is declared on the broker (Dramatiq's `QueueNotFound`). */
export class QueueNotFound extends Error {
  /** Its stable code. */
  readonly code: "QUEUE_NOT_FOUND";
}
/** `broker.join(queue, { timeout })` ran out of time (Dramatiq's `QueueJoinTimeout`). */
export class QueueJoinTimeout extends Error {
  /** Its stable code. */
  readonly code: "QUEUE_JOIN_TIMEOUT";
}

/** What every broker shares (Dramatiq's `Broker`): middleware, actors, the results backend. */
export class Broker {
  /** `middleware` (default `defaultMiddleware()`) and `logger` (default `getLogger()`). */
  constructor(options?: { middleware?: Middleware[] | undefined; logger?: Logger | undefined });
  /** Where warnings and errors go. */
  logger: Logger;
  /** The declared actors, by name. */
  readonly actors: Map<string, Actor>;
  /** The middleware, in order (`after*` hooks run in reverse). */
  readonly middleware: Middleware[];
  /** Every actor option its middleware declare (snake_case). */
  readonly actorOptions: Set<string>;
  /** Adds a middleware at the end, or `{ before }` / `{ after }` the first one of a class (a
   * `TypeError` for both at once, as Python asserts, or for a class the broker has none of);
   * it is told of the actors, queues and delay queues declared so far (its `afterDeclare*`
   * hooks). */
  addMiddleware(middleware: Middleware, position?: { before?: (new (...a: any[]) => Middleware) | undefined; after?: (new (...a: any[]) => Middleware) | undefined }): void;
  /** Registers an actor and declares its queue (`actor()` does it). */
  declareActor(actor: Actor<any, any>): void;
  /** The actor of that name; throws `ActorNotFound`. */
  getActor(name: string): Actor;
  /** What `actor.send()`, pipelines and groups call: the enqueued `Message`, at once. */
  send<R>(message: Message<R>, options?: { delay?: number | null | undefined }): Message<R>;
  /** The backend of its `Results` middleware; throws when it has none. */
  getResultsBackend(): ResultBackend;
  /** Runs `before<Signal>` on every middleware, in order; a `SkipMessage` propagates, other errors are logged (as Dramatiq's). */
  emitBefore(signal: string, ...args: unknown[]): Promise<void>;
  /** Runs `after<Signal>` on every middleware, in reverse; errors are logged. */
  emitAfter(signal: string, ...args: unknown[]): Promise<void>;
}

/** The in-memory broker (Dramatiq's `StubBroker`). */
export class StubBroker extends Broker {
  /** `failFastDefault`: `join`'s `failFast` when not given (default true, as Dramatiq's). */
  constructor(options?: { middleware?: Middleware[] | undefined; logger?: Logger | undefined; failFastDefault?: boolean | undefined });
  /** `join`'s `failFast` when not given. */
  failFastDefault: boolean;
  /** Declares a queue (and its delay queue). */
  declareQueue(name: string): void;
  /** The declared queue names, delay queues included (as Dramatiq's `StubBroker`). */
  getDeclaredQueues(): Set<string>;
  /** The declared delay queues (`<queue>.DQ`). */
  getDeclaredDelayQueues(): Set<string>;
  /** Nothing to release for an in-memory broker; kept for Dramatiq's API. */
  close(): void;
  /** Failed messages. */
  readonly deadLetters: WorkerMessage[];
  /** Enqueues; with a delay, returns the copy on `<queue>.DQ` (same result key). */
  enqueue<R>(message: Message<R>, options?: { delay?: number | null | undefined }): Message<R>;
  /**
   * Resolves once the queue and its delay queue are drained; with `failFast` (default
   * `failFastDefault`) rejects then with the exception of its first dead-lettered message.
   */
  join(queueName: string, options?: { timeout?: number | null | undefined; failFast?: boolean | null | undefined }): Promise<void>;
  /** Drops the messages of the queue of that name, as Dramatiq's: that queue only (its
   * delay queue is flushed by its own name, `<queue>.DQ`); throws `QueueNotFound` for an
   * undeclared name. */
  flush(queueName: string): void;
  /** Drops every queue's messages and the dead letters. */
  flushAll(): void;
}

/** Options of `new RedisBroker(client, options)`. */
export interface RedisBrokerOptions {
  /** Key namespace, as Python's `RedisBroker(namespace=…)`. Default (undefined or null) `"dramatiq"`. */
  namespace?: string | null | undefined;
  /** The middleware (default: `defaultMiddleware()`; add `Results` to read results). */
  middleware?: Middleware[] | undefined;
  logger?: Logger | undefined;
  /** A worker silent this long (ms) is dead and its messages go back. Default (undefined or null) 60 000. */
  heartbeatTimeout?: number | null | undefined;
  /** Dead letters are dropped after this long (ms). Default (undefined or null) 7 days. */
  deadMessageTtl?: number | null | undefined;
  /** Calls per million that also run maintenance. Default (undefined or null) 1 000. */
  maintenanceChance?: number | null | undefined;
  /** The most bytes of messages a worker holds per queue (fetched, not yet finished or, if
   * delayed, not yet due), besides Dramatiq's prefetch count. Default 64 MiB. */
  prefetchBytes?: number | undefined;
  /** The largest message, in bytes: a larger send is refused before anything is written
   * (set it under Redis's `proto-max-bulk-len`, which closes the connection of a larger
   * write), a larger one fetched is dead-lettered with the reason logged, never run.
   * Default 64 MiB. */
  maxMessageBytes?: number | undefined;
}

/** A message `RedisBroker.send` or `RabbitmqBroker.send` returned: the write is under way. */
export interface SentMessage<R = ResultValue> extends Message<R> {
  /** Resolves with the message once the broker has it. Rejects if the write failed: on a
   * `RedisBroker` with a `ResultError` (code `RESULT_BROKER`, the client's error as
   * `cause`); on a `RabbitmqBroker` with `ConnectionClosed` once a lost connection's
   * attempts are spent (another error as amqplib gave it). */
  readonly enqueued: Promise<Message>;
}

/**
 * Dramatiq 2.2.1's `RedisBroker`: the same keys and bytes, so JS producers and workers
 * share queues with Python ones. The client is a connected node-redis or ioredis client
 * (or anything with a raw-command method); the broker never closes it.
 *
 * @example Send to a Python actor and read its result
 * ```ts
 * import { connectRedis, RedisBroker, RedisBackend, Results, actor } from "dramatiq-results";
 *
 * const client = await connectRedis("redis://127.0.0.1:6379");
 * const broker = new RedisBroker(client, { middleware: [new Results({ backend: new RedisBackend(client) })] });
 * const add = actor<[number, number], number>("add", { broker, storeResults: true });
 * console.log(await add.send(1, 2).getResult({ block: true, timeout: 10_000 }));
 * await client.close();
 * ```
 */
export class RedisBroker extends Broker {
  constructor(client: RedisClientLike, options?: RedisBrokerOptions);
  /** The Redis client it was given (it never closes it). */
  readonly client: RedisClientLike;
  /** Its key namespace (default `"dramatiq"`, as Python's). */
  readonly namespace: string;
  /** The id this broker heartbeats and holds messages as (Dramatiq's `broker_id`). */
  readonly brokerId: string;
  /** The `prefetchBytes` option, or its default. */
  readonly prefetchBytes: number;
  /** The `maxMessageBytes` option, or its default. */
  readonly maxMessageBytes: number;
  /** Declares a queue (and its delay queue), running the middleware's declare hooks once. */
  declareQueue(name: string): void;
  /** The declared (canonical) queue names, as Dramatiq's `RedisBroker.get_declared_queues`. */
  getDeclaredQueues(): Set<string>;
  /** The declared delay queues (`<queue>.DQ`). */
  getDeclaredDelayQueues(): Set<string>;
  /** Lets the writes under way finish (a `send()` not awaited lands); releases nothing
   * else: the client is the caller's to close, after this. */
  close(): Promise<void>;
  /** Writes `message` (after `delay` ms: on `<queue>.DQ` with `eta`); resolves with the
   * message as enqueued (fresh `redis_message_id`). */
  enqueue<R>(message: Message<R>, options?: { delay?: number | null | undefined }): Promise<Message<R>>;
  /** The message as enqueued at once; `enqueued` says how the write went. */
  send<R>(message: Message<R>, options?: { delay?: number | null | undefined }): SentMessage<R>;
  /** Resolves once the queue holds no message, polling every `interval` ms (default: sooner
   * at first, backing off to 100); rejects with `QueueJoinTimeout` after `timeout` ms
   * (default, and null, no limit, as Python's `timeout=None`). */
  join(queueName: string, options?: { timeout?: number | null | undefined; interval?: number | null | undefined }): Promise<void>;
  /** Drops a queue's messages and dead letters. */
  flush(queueName: string): Promise<void>;
  /** Drops every declared queue's messages and dead letters. */
  flushAll(): Promise<void>;
}

/**
 * The Redis broker's key names under one namespace, exactly as Dramatiq's `RedisBroker`
 * writes them (the package's core is their one home): for code that reads the broker's
 * keys itself, such as the results gateway.
 */
export class RedisBrokerKeys {
  /** Keys under `namespace` (default "dramatiq"). */
  constructor(namespace?: string);
  readonly namespace: string;
  /** The list of ids waiting on `queue` (`ns:q`). */
  queue(queue: string): string;
  /** The hash of `queue`'s message bodies (`ns:q.msgs`). */
  messages(queue: string): string;
  /** The name of `queue`'s delay queue (`q.DQ`: a queue name, not a key). */
  delayQueue(queue: string): string;
  /** The dead-letter zset (`ns:q.XQ`, shared with the delay queue). */
  deadLetters(queue: string): string;
  /** The hash of dead-letter bodies (`ns:q.XQ.msgs`). */
  deadLetterMessages(queue: string): string;
  /** The set of ids `workerId` holds from `queue` (`ns:__acks__.<worker>.q`). */
  acks(workerId: string, queue: string): string;
  /** What every acks set's name starts with (`ns:__acks__.`). */
  acksPrefix(): string;
  /** The zset of worker heartbeats (`ns:__heartbeats__`). */
  heartbeats(): string;
  /** The queue a broker key belongs to, or undefined (heartbeats, keys of other namespaces). */
  queueOf(key: string): string | undefined;
  /**
   * What an operator's requeue of a dead letter enqueues, from its stored bytes: the same
   * message on its canonical queue (no `eta`), a fresh `redis_message_id`, `retries` back at
   * 0 (the Retries middleware's whole budget again). Its `queue_name` and
   * `options.redis_message_id` say where it goes. Throws a `TypeError` for bytes that are
   * not a message.
   */
  reviveDeadLetter(body: Uint8Array): Uint8Array;
  free(): void;
}

/** A `RabbitmqBroker` could not get its connection or channel back (Dramatiq's `ConnectionClosed`). */
export class ConnectionClosed extends Error {
  /** Its stable code. */
  readonly code: "CONNECTION_CLOSED";
}

/** An amqplib connection (its `ChannelModel`), as far as `RabbitmqBroker` uses it. */
export interface AmqplibConnection {
  createChannel(): Promise<unknown>;
  createConfirmChannel(): Promise<unknown>;
  close(): Promise<void>;
  on(event: "close" | "error", listener: (...args: any[]) => void): unknown;
}

/** Options of `new RabbitmqBroker(connection, options)` and `RabbitmqBroker.connect`. */
export interface RabbitmqBrokerOptions {
  /** Wait for RabbitMQ to confirm every publish (Dramatiq's `confirm_delivery`). Default false. */
  confirmDelivery?: boolean | undefined;
  /** `x-max-priority` of the queues (1–255; undefined or null, Python's `None`: none); every
   * broker sharing a queue must agree. */
  maxPriority?: number | null | undefined;
  /** How long dead letters stay on `<q>.XQ`, in whole ms (0: they expire at once). Default
   * (undefined or null) 7 days, Dramatiq's. */
  deadMessageTtl?: number | null | undefined;
  /** The middleware (default: `defaultMiddleware()`; add `Results` to read results). */
  middleware?: Middleware[] | undefined;
  logger?: Logger | undefined;
  /** The most bytes of messages a worker holds per queue (delivered, not yet acked or
   * rejected; delayed ones until due), besides Dramatiq's prefetch count: a queue's
   * consumer is given the prefetch that many bytes hold at the size of its recent
   * deliveries. Default 64 MiB. */
  prefetchBytes?: number | undefined;
  /** The largest message, in bytes: a larger send is refused before anything is published,
   * a larger delivery is dead-lettered (to `<q>.XQ`) with the reason logged, never decoded
   * or run. Default 64 MiB. */
  maxMessageBytes?: number | undefined;
}

/**
 * Dramatiq 2.2.1's `RabbitmqBroker` over amqplib: the same queue arguments and bytes, so JS
 * producers and workers share queues with Python ones. **Node only** (AMQP needs a raw TCP
 * socket; amqplib is built on Node's `net`).
 */
export class RabbitmqBroker extends Broker {
  /** `connection`: an amqplib connection, or a function opening one (then the broker reconnects,
   * and its workers consume on a second connection, which RabbitMQ's memory and disk alarms do
   * not block, as Python's consumers). */
  constructor(connection: AmqplibConnection | (() => Promise<AmqplibConnection>), options?: RabbitmqBrokerOptions);
  /** Connects with amqplib (an optional peer dependency; TCP_NODELAY on, as pika) and reconnects when the connection is lost.
   * Several servers (a list, or one string separated by `;`, as Dramatiq's `url`) are tried in order at every connection. */
  static connect(url: string | readonly string[], options?: RabbitmqBrokerOptions & { socketOptions?: object | undefined }): Promise<RabbitmqBroker>;
  /** Whether each publish waits for RabbitMQ's confirm. */
  readonly confirmDelivery: boolean;
  /** The queues' `x-max-priority`, if any. */
  readonly maxPriority: number | undefined;
  /** The `prefetchBytes` option, or its default. */
  readonly prefetchBytes: number;
  /** The `maxMessageBytes` option, or its default. */
  readonly maxMessageBytes: number;
  /** How long dead letters are kept, in ms (undefined: 7 days, as Dramatiq). */
  readonly deadMessageTtl: number | undefined;
  /** The current amqplib connection, opened again when it was lost (if the broker can). */
  connection(): Promise<AmqplibConnection>;
  /** The amqplib channel publishes and declarations go through. */
  channel(): Promise<unknown>;
  /** Declares a queue (and its delay and dead-letter queues) on first use. */
  declareQueue(name: string): void;
  /** The declared (canonical) queue names. */
  getDeclaredQueues(): Set<string>;
  /** The declared delay queues (`<queue>.DQ`). */
  getDeclaredDelayQueues(): Set<string>;
  /** Declares a queue's three queues on RabbitMQ now (otherwise on first use); a lost
   * connection is tried again once (Dramatiq's `MAX_DECLARE_ATTEMPTS`, 2), then `ConnectionClosed`. */
  ensureQueue(queue: string): Promise<void>;
  /** Publishes `message` (after `delay` ms: on `<queue>.DQ` with `eta`); resolves with the
   * message as sent (with `confirmDelivery`, once RabbitMQ confirmed it). */
  enqueue<R>(message: Message<R>, options?: { delay?: number | null | undefined }): Promise<Message<R>>;
  /** The message as sent, at once; `enqueued` says how the publish went. */
  send<R>(message: Message<R>, options?: { delay?: number | null | undefined }): SentMessage<R>;
  /** `[ready on <q>, on <q>.DQ, on <q>.XQ]`; unacked messages are not counted. */
  getQueueMessageCounts(queue: string): Promise<[number, number, number]>;
  /** Resolves once the queue was seen empty `minSuccesses` times in a row (default 10),
   * `idleTime` ms apart (default 100; Dramatiq's `join`); rejects with `QueueJoinTimeout`
   * after `timeout` ms (default, and null, no limit). */
  join(queueName: string, options?: { timeout?: number | null | undefined; minSuccesses?: number | undefined; idleTime?: number | undefined }): Promise<void>;
  /** Drops a queue's messages, delayed messages and dead letters. */
  flush(queueName: string): Promise<void>;
  /** Drops every declared queue's messages. */
  flushAll(): Promise<void>;
  /** Lets the publishes under way finish (a `send()` not awaited lands), then closes the
   * connection; the broker cannot be used afterwards. */
  close(): Promise<void>;
}

/** Makes `broker` the global broker (Dramatiq's `set_broker`): actors declared without a
 * `broker` use it, and so does `message.getResult()` for a message no broker enqueued. */
export function setBroker<B extends Broker>(broker: B): B;
/** The global broker, of whatever class `setBroker` was given (Dramatiq's `get_broker`); a
 * new `StubBroker` becomes it when none was set, where Python's makes a `RabbitmqBroker` on
 * 127.0.0.1:5672 (a network broker here needs a client the package cannot make on every host). */
export function getBroker(): Broker;

/** Options of `actor()`: names in camelCase (or Dramatiq's snake_case). */
export interface ActorOptions {
  /** The name Python and the broker know it by (default: the function's name, with a warning). */
  actorName?: string | undefined;
  /** Its queue (default `"default"`). */
  queueName?: string | undefined;
  /** Lower runs first among the messages a worker holds (default 0). */
  priority?: number | undefined;
  /** Its broker (default: the global broker, `getBroker()`). */
  broker?: Broker | undefined;
  /** Store what it returns (`Results`; default: the middleware's `storeResults`). */
  storeResults?: boolean | undefined;
  /** How long its results are kept, in ms (`Results`). */
  resultTtl?: number | undefined;
  /** Retries before giving up (`Retries`; default 20; null for no limit). */
  maxRetries?: number | null | undefined;
  /** The first retry's delay, in ms (`Retries`; default 15 000). */
  minBackoff?: number | undefined;
  /** The longest retry delay, in ms (`Retries`; default 7 days). */
  maxBackoff?: number | undefined;
  /** Decides whether to retry, from the retry count and the error (`Retries`). */
  retryWhen?: ((retries: number, error: Error) => boolean) | undefined;
  /** Errors that are expected: not retried, logged without a traceback (`Retries`). */
  throws?: (new (...a: any[]) => Error) | Array<new (...a: any[]) => Error> | undefined;
  /** Messages older than this, in ms, are skipped (`AgeLimit`); null: none for this actor,
   * whatever the middleware's `maxAge` (Python's `max_age=None`). */
  maxAge?: number | null | undefined;
  /** How long an attempt may run, in ms (`TimeLimit`; default 600 000). */
  timeLimit?: number | undefined;
  /** In a pipeline, do not receive the previous result (`Pipelines`). */
  pipeIgnore?: boolean | undefined;
  /** An actor sent `(message.asDict(), result)` after a success (an `Actor` is taken as its name). */
  onSuccess?: string | Actor<any, any> | undefined;
  /** An actor sent `(message.asDict(), { type, message })` after every failed attempt. */
  onFailure?: string | Actor<any, any> | undefined;
  /** An actor sent `(message.asDict(), { retries, max_retries })` when retries run out. */
  onRetryExhausted?: string | Actor<any, any> | undefined;
  /** Whether the attempt's `signal` aborts when its worker stops (`ShutdownNotifications`). */
  notifyShutdown?: boolean | undefined;
  [option: string]: unknown;
}

/** Options of `sendWithOptions` / `messageWithOptions`; others become message options. */
export interface SendOptions {
  /** Positional arguments. */
  args?: unknown[] | undefined;
  /** Keyword arguments (for Python actors). */
  kwargs?: Record<string, unknown> | undefined;
  /** Milliseconds to wait before it runs (on `<queue>.DQ` with an `eta`, as Python); null
   * is none, as Python's `delay=None`. */
  delay?: number | null | undefined;
  [option: string]: unknown;
}

/** Options of `actor()` as typed: the name is required, because the Python side matches
 * actors by name and minifiers rename functions (at run time, a function's own name is used
 * when `actorName` is absent, with a warning). */
export type NamedActorOptions = ActorOptions & { actorName: string };

/** A JS function run by workers (Dramatiq's `Actor`), or a remote actor declared by name. */
export class Actor<A extends unknown[] = unknown[], R = unknown> {
  constructor(fn: (...args: A) => R | Promise<R>, options: NamedActorOptions);
  /** A remote actor: its code lives elsewhere (a Python worker). */
  constructor(name: string, options?: ActorOptions);
  /** The function; undefined for a remote actor. */
  readonly fn: (...args: A) => R | Promise<R>;
  /** Whether the actor's code lives elsewhere (declared by name): sent to, never run here. */
  readonly remote: boolean;
  /** The name Python and the broker know it by. */
  readonly actorName: string;
  /** Its queue. */
  readonly queueName: string;
  /** Lower runs first among the messages a worker holds. */
  readonly priority: number;
  /** The broker it was declared on. */
  readonly broker: Broker;
  /** Its options (snake_case), as its middleware read them. */
  readonly options: Record<string, unknown>;
  /** A message for these arguments, not sent (for pipelines, groups, `broker.enqueue`). */
  message(...args: A): Message<Awaited<R>>;
  /** A message with `args`, `kwargs` and message options, not sent. */
  messageWithOptions(options?: SendOptions): Message<Awaited<R>>;
  /** Sends a message for these arguments; returns it at once (on a network broker, `enqueued` says when it landed). */
  send(...args: A): Message<Awaited<R>>;
  /** Sends with `args`, `kwargs`, `delay` and message options (camelCase, written snake_case). */
  sendWithOptions(options?: SendOptions): Message<Awaited<R>>;
  /** Runs the function here, now, without a broker (Python's `actor(*args)`). */
  call(...args: A): R | Promise<R>;
  /** Python's `str(actor)`: `Actor(<actorName>)`. */
  toString(): string;
}
/**
 * Declares an actor (Dramatiq's `@dramatiq.actor`): `fn` runs in a `Worker` for each message.
 * Name it (`actorName`): Python finds actors by name, and minifiers rename functions. Options
 * are Dramatiq's in camelCase, checked against the broker's middleware. Annotate `fn`'s
 * parameters: `send` and `getResult` are typed from them.
 *
 * @example An actor, a worker, a result
 * ```ts
 * import { StubBroker, StubBackend, Results, Worker, actor } from "dramatiq-results";
 *
 * const broker = new StubBroker({ middleware: [new Results({ backend: new StubBackend() })] });
 * const add = actor((x: number, y: number) => x + y, { broker, actorName: "add", storeResults: true });
 * const worker = new Worker(broker).start();
 * const sum: number = await add.send(1, 2).getResult({ block: true, timeout: 5000 });
 * await worker.stop();
 * ```
 */
export function actor<A extends any[], R>(fn: (...args: A) => R | Promise<R>, options: NamedActorOptions): Actor<A, R>;
/** A remote actor: its code lives elsewhere (a Python worker); `send` works, no JS worker runs it. */
export function actor<A extends unknown[] = unknown[], R = unknown>(name: string, options?: ActorOptions): Actor<A, R>;

/**
 * Runs one actor call for a `Worker` and returns its result or a Promise of it; `signal` is
 * the attempt's (it aborts at the time limit or a shutdown, and the attempt then fails with
 * its reason whatever the executor does). The `dramatiq-results worker` command's executor
 * runs actors on worker threads and terminates a thread when its signal aborts.
 */
export type WorkerExecutor = (
  actor: Actor,
  args: unknown[],
  context: { message: WorkerMessage; signal: AbortSignalLike },
) => unknown;

/**
 * Runs actors for a broker's messages (Dramatiq's `Worker`): `start()`, then `await stop()`
 * to finish the messages in hand (and, on a network broker, put prefetched ones back).
 *
 * @example Stop cleanly on SIGTERM
 * ```ts
 * import { connectRedis, RedisBroker, RedisBackend, Results, Worker, actor, defaultMiddleware } from "dramatiq-results";
 *
 * const client = await connectRedis("redis://127.0.0.1:6379");
 * const broker = new RedisBroker(client, { middleware: [...defaultMiddleware(), new Results({ backend: new RedisBackend(client) })] });
 * actor((x: number) => 2 * x, { broker, actorName: "double", queueName: "js", storeResults: true });
 * const worker = new Worker(broker, { concurrency: 8 }).start();
 * process.once("SIGTERM", async () => {
 *   await worker.stop();
 *   await client.close();
 * });
 * ```
 */
export class Worker {
  /** On a `RedisBroker` or `RabbitmqBroker`, `queues` defaults to the queues of its actors that have code here. */
  constructor(
    broker: StubBroker | RedisBroker | RabbitmqBroker,
    options?: { concurrency?: number | undefined; queues?: Iterable<string> | undefined; executor?: WorkerExecutor | undefined },
  );
  /** What runs actors (undefined: `actor.fn(...args)` in this thread). */
  readonly executor: WorkerExecutor | undefined;
  /** The broker whose messages it runs. */
  readonly broker: StubBroker | RedisBroker | RabbitmqBroker;
  /** How many messages it runs at once (Python's `worker_threads`; default 8; 1 to 65 536, else a RangeError). */
  readonly concurrency: number;
  /** The queues it consumes, or `undefined` for all of the broker's. */
  readonly queues: Set<string> | undefined;
  /** Starts consuming; returns the worker. */
  start(): this;
  /** Pauses it (Python's `Worker.pause()`): no message starts until `resume()`; those
   * running finish. On Redis it fetches no more (heartbeating on); on RabbitMQ its channels
   * hold what is delivered, up to the prefetch. Resumed, what it holds runs by priority. */
  pause(): void;
  /** Resumes a paused worker (Python's `Worker.resume()`). */
  resume(): void;
  /** Whether it is paused. */
  readonly paused: boolean;
  /** Resolves once the messages in hand are processed and acked, or after `timeout` ms
   * (default 600 000, Dramatiq's; `Infinity` for no limit; those still running then are
   * delivered again, unacked). On Redis a failed ack is retried until the server answers,
   * so give a shorter `timeout` to stop during an outage. */
  stop(options?: { timeout?: number | undefined }): Promise<void>;
  /** Resolves once its queues are empty and nothing is in hand, waiting for them one after
   * another; rejects with `QueueJoinTimeout` once one of them took `timeout` ms (default,
   * and null: no limit). */
  join(options?: { timeout?: number | null | undefined }): Promise<void>;
}

/** Options of composition reads. */
export interface CompositionReadOptions extends GetResultOptions {
  backend?: ResultBackend | undefined;
}

/** The result type of a message, pipeline or group. */
export type ResultOf<T> = T extends Message<infer R>
  ? R
  : T extends Pipeline<infer R>
    ? R
    : T extends Group<infer G>
      ? G
      : ResultValue;
type Last<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : T[number];

/** Messages run one after another, each result appended to the next message's arguments.
 * `R` is the last message's result. */
export class Pipeline<R = ResultValue> {
  constructor(children: Array<Message<unknown> | Pipeline<unknown>>, options?: { broker?: Broker | undefined });
  /** The broker it runs on. */
  readonly broker: Broker;
  /** Its messages, in order (a child pipeline's flattened in). */
  readonly messages: Message<unknown>[];
  /** After `run()`: settles when the first step's write does (a network broker's). */
  readonly enqueued: Promise<unknown> | undefined;
  /** How many messages it has. */
  readonly length: number;
  /** Enqueues the first message (each one sends the next when it succeeds); returns the pipeline. */
  run(options?: { delay?: number | null | undefined }): this;
  /** The last message's result (an empty pipeline rejects with a `TypeError`). */
  getResult(options?: CompositionReadOptions): Promise<R>;
  /** Every message's result, in order. */
  getResults(options?: CompositionReadOptions): Promise<unknown[]>;
  /** Whether its last message has a result (a stored failure counts). */
  completed(options?: { backend?: ResultBackend | undefined }): Promise<boolean>;
  /** How many of its messages have a result, counted from the first up to the first
   * without one (a stored failure counts). */
  completedCount(options?: { backend?: ResultBackend | undefined }): Promise<number>;
}
/**
 * Messages run one after the other, each result the next one's last argument (Dramatiq's
 * `pipeline`). Pass `{ broker }` unless the global broker is the one.
 *
 * @example Chain two sends
 * ```ts
 * import { StubBroker, StubBackend, Results, Worker, actor, defaultMiddleware, pipeline } from "dramatiq-results";
 *
 * // A middleware list replaces the defaults, and the next step is sent by `Pipelines` (one of them).
 * const broker = new StubBroker({ middleware: [...defaultMiddleware(), new Results({ backend: new StubBackend() })] });
 * // y is optional: in a pipeline, the previous result comes as the last argument.
 * const add = actor((x: number, y: number = 0) => x + y, { broker, actorName: "add", storeResults: true });
 * const worker = new Worker(broker).start();
 * // add(1, 2), then add(10, 3)
 * console.log(await pipeline([add.message(1, 2), add.message(10)], { broker }).run().getResult({ block: true }));
 * await worker.stop();
 * ```
 */
export function pipeline<const C extends ReadonlyArray<Message<unknown> | Pipeline<unknown>>>(
  children: C,
  options?: { broker?: Broker | undefined },
): Pipeline<ResultOf<Last<C>>>;

/** Messages, pipelines and groups run in parallel. `T` is the tuple of their results. */
export class Group<T extends readonly unknown[] = unknown[]> {
  constructor(children: Array<Message<unknown> | Pipeline<unknown> | Group<readonly unknown[]>>, options?: { broker?: Broker | undefined });
  /** The broker it runs on. */
  readonly broker: Broker;
  /** Its children: messages, pipelines, groups. */
  readonly children: Array<Message<unknown> | Pipeline<unknown> | Group<readonly unknown[]>>;
  /** After `run()`: settles when every child's write does (a network broker's). */
  readonly enqueued: Promise<void> | undefined;
  /** How many children it has. */
  readonly length: number;
  /** The completion callbacks added, in order. */
  readonly completionCallbacks: Message<unknown>[];
  /** Adds a message to enqueue once every child has finished successfully (Dramatiq's
   * `add_completion_callback`); `run()` then needs the `GroupCallbacks` middleware. */
  addCompletionCallback(message: Message<unknown>): void;
  /** Enqueues every child. With completion callbacks: first creates Dramatiq's barrier (a
   * fresh UUID, as many parties as children) and marks each child with
   * `group_completion_uuid` / `group_completion_callbacks`. Throws, sending nothing, an
   * `Error` with code `GROUP_CALLBACKS_MISSING` when the broker has no `GroupCallbacks`
   * middleware (Python's `RuntimeError`), a `RangeError` when the group has no children (as
   * Python's `Barrier.create(0)` asserts), and a `TypeError` when it holds a group or an
   * empty pipeline. */
  run(options?: { delay?: number | null | undefined }): this;
  /** Each child's result, in order (a child pipeline's last result, a child group's list). */
  getResults(options?: CompositionReadOptions): Promise<T>;
  /** Waits until every child has a result, under one deadline. */
  wait(options?: { timeout?: number | undefined; signal?: AbortSignalLike | undefined; backend?: ResultBackend | undefined }): Promise<void>;
  /** Whether every child has a result (a stored failure counts). */
  completed(options?: { backend?: ResultBackend | undefined }): Promise<boolean>;
  /** How many children have a result. */
  completedCount(options?: { backend?: ResultBackend | undefined }): Promise<number>;
}
/**
 * Messages, pipelines and groups run in parallel (Dramatiq's `group`); `getResults` reads
 * them all under one deadline.
 */
export function group<const C extends ReadonlyArray<Message<unknown> | Pipeline<unknown> | Group<readonly unknown[]>>>(
  children: C,
  options?: { broker?: Broker | undefined },
): Group<{ -readonly [K in keyof C]: ResultOf<C[K]> }>;


// ---------------------------------------------------------------------------------------
// Rate limits (Dramatiq's `dramatiq.rate_limits`): the same keys, values and TTLs as
// Python's, so JavaScript and Python processes share one limit.

/** Options of `RedisRateLimiterBackend`. */
export interface RedisRateLimiterBackendOptions {
  /** A second connection, for `Barrier.wait` to block on the server (`BRPOPLPUSH`) as
   * Dramatiq's does; without it a blocking wait polls the event list. */
  blockingClient?: RedisClientLike | undefined;
  /** The same as `blockingClient`. */
  blockingConnection?: RedisClientLike | undefined;
}

/** Dramatiq's `RedisBackend` for rate limits, over a node-redis, ioredis or `connectRedis`
 * client. Counters are `SET k v PX ttl` strings, as redis-py writes them; each update is one
 * Lua script (Dramatiq's `WATCH`/`MULTI` loop needs a connection per caller). */
export class RedisRateLimiterBackend {
  constructor(client: RedisClientLike, options?: RedisRateLimiterBackendOptions);
  /** The client given to the constructor. */
  readonly client: RedisClientLike;
}

/** A Memcached client `MemcachedRateLimiterBackend` can drive: memjs, or any object with
 * memjs's methods. */
export interface MemcachedCounterClientLike {
  get(key: string): unknown;
  add(key: string, value: string, options: { expires: number }): unknown;
  increment(key: string, amount: number, options: { initial: number; expires: number }): unknown;
  decrement(key: string, amount: number, options: { initial: number; expires: number }): unknown;
  getMulti?(keys: string[]): unknown;
}

/** Dramatiq's `MemcachedBackend` for rate limits, over memjs. Counters carry pylibmc's flags
 * for an `int`, so Python reads them as numbers. Unlike Dramatiq's, an increment refused
 * for passing the limit is taken back, and a sub-second TTL is 1 s (not "never"). Barrier
 * waits cannot block (as with Dramatiq's). */
export class MemcachedRateLimiterBackend {
  constructor(client: MemcachedCounterClientLike);
  /** The client given to the constructor. */
  readonly client: MemcachedCounterClientLike;
}

/** Dramatiq's `StubBackend` for rate limits: in memory, in this process. */
export class StubRateLimiterBackend {
  constructor();
}

/** Any of the rate-limiter backends. */
export type RateLimiterBackend = RedisRateLimiterBackend | MemcachedRateLimiterBackend | StubRateLimiterBackend;

/** Options of `RateLimiter.acquire`. */
export interface AcquireOptions {
  /** Throw `RateLimitExceeded` (without calling `fn`) when no slot is free (default true);
   * when false, `fn(false)` is called instead. */
  raiseOnFailure?: boolean | undefined;
}

/** What every rate limiter does (Dramatiq's `RateLimiter`). */
export class RateLimiter {
  protected constructor(backend: RateLimiterBackend, core: never);
  /** The backend given to the constructor. */
  readonly backend: RateLimiterBackend;
  /** The key the limit is on. */
  readonly key: string;
  /** The limit. */
  readonly limit: number;
  /** Takes a slot, calls `fn(acquired)` and resolves with what it answers. A
   * `ConcurrentRateLimiter` gives the slot back afterwards (also when `fn` throws); the
   * window and bucket limiters' slots are spent. */
  acquire<T>(fn: (acquired: boolean) => T | PromiseLike<T>, options?: AcquireOptions): Promise<T>;
}

/** Options of `ConcurrentRateLimiter`. */
export interface ConcurrentRateLimiterOptions {
  /** Holders allowed at once, a whole number (default 1: a distributed mutex). */
  limit?: number | undefined;
  /** How long the counter lives after its last change, in whole ms, 1 or more (default 900 000). */
  ttl?: number | undefined;
}

/** At most `limit` holders of `key` at once (Dramatiq's `ConcurrentRateLimiter`). */
export class ConcurrentRateLimiter extends RateLimiter {
  constructor(backend: RateLimiterBackend, key: string, options?: ConcurrentRateLimiterOptions);
  /** The counter's TTL in ms. */
  readonly ttl: number;
}

/** Options of `WindowRateLimiter`. */
export interface WindowRateLimiterOptions {
  /** Acquisitions allowed per window, a whole number (default 1). */
  limit?: number | undefined;
  /** The window, in whole **seconds** (default 1), as Dramatiq's. */
  window?: number | undefined;
}

/** At most `limit` acquisitions over a sliding window of seconds (Dramatiq's
 * `WindowRateLimiter`), counted under `<key>@<unix second>`. */
export class WindowRateLimiter extends RateLimiter {
  constructor(backend: RateLimiterBackend, key: string, options?: WindowRateLimiterOptions);
  /** The window in seconds. */
  readonly window: number;
}

/** Options of `BucketRateLimiter`. */
export interface BucketRateLimiterOptions {
  /** Acquisitions allowed per bucket, a whole number (default 1). */
  limit?: number | undefined;
  /** The bucket, in whole ms (default 1 000). */
  bucket?: number | undefined;
}

/** At most `limit` acquisitions per bucket of time (Dramatiq's `BucketRateLimiter`),
 * counted under `<key>@<bucket start, unix ms>`. */
export class BucketRateLimiter extends RateLimiter {
  constructor(backend: RateLimiterBackend, key: string, options?: BucketRateLimiterOptions);
  /** The bucket in ms. */
  readonly bucket: number;
}

/** Options of `Barrier`. */
export interface BarrierOptions {
  /** How long the barrier's keys live, in whole ms, 1 or more (default 900 000). */
  ttl?: number | undefined;
}

/** Options of `Barrier.wait`. */
export interface BarrierWaitOptions {
  /** Wait for the other parties (default true). */
  block?: boolean | undefined;
  /** How long to wait, in ms (default: no limit). */
  timeout?: number | null | undefined;
}

/** Dramatiq's distributed `Barrier`: the parties still awaited under `key`, an event list
 * under `<key>@events`. */
export class Barrier {
  constructor(backend: RateLimiterBackend, key: string, options?: BarrierOptions);
  /** The backend given to the constructor. */
  readonly backend: RateLimiterBackend;
  /** The counter's key. */
  readonly key: string;
  /** The event list's key (`<key>@events`). */
  readonly keyEvents: string;
  /** The keys' TTL in ms. */
  readonly ttl: number;
  /** Creates the barrier for `parties` (a whole number, 1 or more, else a `RangeError`);
   * false if it already exists. */
  create(parties: number): Promise<boolean>;
  /** Arrives at the barrier; true once every party has. */
  wait(options?: BarrierWaitOptions): Promise<boolean>;
}

/** A rate limiter had no slot (Dramatiq's `RateLimitExceeded`). An actor may throw one too:
 * its worker logs it at debug level, without a stack, as Python's does. */
export class RateLimitExceeded extends Error {
  constructor(message?: string, options?: { key?: string | null | undefined });
  /** Its stable code. */
  readonly code: "RATE_LIMIT_EXCEEDED";
  /** The limiter's key. */
  readonly key: string | null;
}

// Only what is marked `export` above is exported.
export {};
