// A Cloudflare Worker reading (and writing) Dramatiq results in Redis over connectRedis
// (cloudflare:sockets) inside workerd, in the per-request pattern the README shows: connect,
// read, `ctx.waitUntil(client.close())`. Each route answers JSON; the Redis URL comes in the
// request, so one Worker serves the plain and the TLS server.
import * as api from "../../../pkg/src/workerd.js";
import { collector, defineConformance } from "../conformance.mjs";

const { connectRedis, RedisBackend, RedisBroker, Results, actor, Message, JSONEncoder } = api;
const encoder = new JSONEncoder();

/** An error as JSON, with what a caller checks. */
const errorJson = (e) => ({
  name: e?.name,
  code: e?.code,
  message: String(e?.message ?? e),
  cause: e?.cause ? String(e.cause.message ?? e.cause) : undefined,
  exceptionType: e?.exceptionType,
  exceptionValue: e?.exceptionValue,
});

/** The `kept` route's client, shared across requests (which workerd does not allow). */
let keptClient;

const routes = {
  /** One result: { url, message (a dict), block, timeout, poll, abortAfter } → { valueJson }
   * or { error }; `poll`: no blocking connection, so a blocking read polls on the Worker's
   * timers; `abortAfter`: the read's signal aborts after that many ms (as `request.signal`
   * does when the client goes away). */
  async read({ url, message, block, timeout, poll, abortAfter }, ctx) {
    const started = performance.now();
    let client;
    let blocking;
    try {
      client = await connectRedis(url, { connectTimeout: 3000 });
      // A blocking read waits on the server (BLMOVE) on a second connection.
      if (block && !poll) blocking = await client.duplicate();
      const backend = new RedisBackend(client, { blockingClient: blocking });
      const signal = abortAfter === undefined ? undefined : AbortSignal.timeout(abortAfter);
      const value = await backend.getResult(Message.fromDict(message), { block, timeout, signal });
      return { valueJson: new TextDecoder().decode(encoder.encode(value)), ms: performance.now() - started };
    } catch (e) {
      return { error: errorJson(e), ms: performance.now() - started };
    } finally {
      for (const c of [client, blocking]) if (c) ctx.waitUntil(c.close());
    }
  },

  /** Many blocking reads at once on one backend: { url, messages, timeout, poll } →
   * { outcomes: [{ valueJson } or { error }], ms }. */
  async many({ url, messages, timeout, poll }, ctx) {
    const started = performance.now();
    const client = await connectRedis(url, { connectTimeout: 3000 });
    const blocking = poll ? undefined : await client.duplicate();
    try {
      const backend = new RedisBackend(client, { blockingClient: blocking });
      const outcomes = await Promise.all(
        messages.map((m) =>
          backend.getResult(Message.fromDict(m), { block: true, timeout }).then(
            (value) => ({ valueJson: new TextDecoder().decode(encoder.encode(value)), ms: performance.now() - started }),
            (e) => ({ error: errorJson(e), ms: performance.now() - started }),
          ),
        ),
      );
      return { outcomes, ms: performance.now() - started };
    } finally {
      for (const c of [client, blocking]) if (c) ctx.waitUntil(c.close());
    }
  },

  /** Sends `actorName(...args)` to the Python workers with RedisBroker over connectRedis,
   * then reads its result: { url, queue, actorName, args, timeout } → { valueJson } or { error }. */
  async sendAndRead({ url, queue, actorName, args, timeout }, ctx) {
    const client = await connectRedis(url);
    const blocking = await client.duplicate();
    try {
      const backend = new RedisBackend(client, { blockingClient: blocking });
      const broker = new RedisBroker(client);
      broker.addMiddleware(new Results({ backend }));
      const remote = actor(actorName, { broker, queueName: queue, storeResults: true });
      const message = remote.send(...args);
      await message.enqueued;
      const value = await message.getResult({ backend, block: true, timeout });
      return { valueJson: new TextDecoder().decode(encoder.encode(value)), messageId: message.messageId };
    } catch (e) {
      return { error: errorJson(e) };
    } finally {
      ctx.waitUntil(client.close());
      ctx.waitUntil(blocking.close());
    }
  },

  /** Stores a value (the Worker as a producer of results). */
  async store({ url, message, value }, ctx) {
    const client = await connectRedis(url);
    try {
      await new RedisBackend(client).storeResult(Message.fromDict(message), value, 60_000);
      return { stored: true };
    } finally {
      ctx.waitUntil(client.close());
    }
  },

  /** The shared behaviour suite, on connectRedis, with and without a blocking connection. */
  async conformance({ url }) {
    const client = await connectRedis(url);
    const blocking = await client.duplicate();
    try {
      const { test, run } = collector();
      defineConformance(test, api, "RedisBackend (connectRedis in workerd)", (o) => new RedisBackend(client, o), { shared: true });
      defineConformance(test, api, "RedisBackend (connectRedis in workerd, blocking)", (o) => new RedisBackend(client, { ...o, blockingClient: blocking }), {
        shared: true,
      });
      return await run();
    } finally {
      await Promise.all([client.close(), blocking.close()]);
    }
  },

  /** A raw command, on a connection of its own: { url, argv, options } → { reply } or { error }. */
  async command({ url, argv, options }, ctx) {
    let client;
    try {
      client = await connectRedis(url, options);
      return { reply: await client.sendCommand(argv) };
    } catch (e) {
      return { error: errorJson(e) };
    } finally {
      if (client) ctx.waitUntil(client.close());
    }
  },

  /** The mistake edge.md warns of: a client kept in module scope, used by a later request:
   * { url } → { reply } or { error } or { pending } (still unsettled after 5 s), with ms. */
  async kept({ url }) {
    const started = performance.now();
    keptClient ??= await connectRedis(url, { connectTimeout: 3000 });
    const reply = keptClient.sendCommand(["PING"]).then((reply) => ({ reply }), (e) => ({ error: errorJson(e) }));
    const late = new Promise((resolve) => setTimeout(() => resolve({ pending: true }), 5000));
    return { ...(await Promise.race([reply, late])), ms: performance.now() - started };
  },

  /** `n` requests' worth of connect + LINDEX + close, timed inside workerd. */
  async timing({ url, message, n }) {
    const times = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      const client = await connectRedis(url);
      await new RedisBackend(client).getResult(Message.fromDict(message));
      await client.close();
      times.push(performance.now() - started);
    }
    return { times };
  },
};

export default {
  async fetch(request, env, ctx) {
    const route = routes[new URL(request.url).pathname.slice(1)];
    if (!route) return new Response("no such route", { status: 404 });
    try {
      return Response.json(await route(await request.json(), ctx));
    } catch (e) {
      return Response.json({ threw: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
