// connectRedis in Node (node:net / node:tls) against a real redis-server, a TLS redis-server
// and small fake servers that misbehave on purpose: replies, server errors with the server's
// text, the handshake (password, database, a peer that is not Redis, one that never answers),
// replies cut mid-frame, the server killed mid-read, limits, close(). Every failure is a
// ResultError with its cause, none hangs past its deadline, and the next command works.
// The conformance suite and the Python interop run on connectRedis in redis.test.mjs and
// interop.test.mjs; workerd in connect-redis-workerd.test.mjs.
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { after, before, describe, test } from "node:test";
import * as api from "dramatiq-results";
// The browser entry: the same package with no socket handed over, as in a page.
import { connectRedis as connectWithoutSockets, ResultError as PageResultError } from "../../pkg/dist/index.js";
import { fakeServer, haveRedis, startRedis, startRedisTls } from "./services.mjs";

const { connectRedis, RedisBackend, RedisBroker, Results, Worker, actor, defaultMiddleware, Message, ResultError, ResultTimeout } = api;

if (!haveRedis) throw new Error("redis-server is not installed: run scripts/setup --services");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The ResultError `promise` rejects with (fails if it resolves or rejects otherwise). */
async function failure(promise) {
  const e = await promise.then((v) => assert.fail(`resolved with ${JSON.stringify(v)}`), (e) => e);
  assert.ok(e instanceof ResultError, `a ResultError, got ${e?.stack ?? e}`);
  return e;
}

/** How long `fn` takes, in ms. */
async function timed(fn) {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

/** A fake server that answers PING like Redis and everything else with `other`. */
const redisLike = (other) =>
  fakeServer((argv, socket, n) => {
    if (argv[0] === "PING") socket.write("+PONG\r\n");
    else other(argv, socket, n);
  });

let server;
let client;

before(async () => {
  server = await startRedis();
  client = await connectRedis(server.url);
});

after(async () => {
  await client?.close();
  await server?.stop();
});

describe("connectRedis: commands and replies", () => {
  test("replies come back as node-redis gives them: strings, numbers, null, arrays", async () => {
    assert.equal(await client.sendCommand(["SET", "c:text", "café"]), "OK");
    assert.equal(await client.sendCommand(["GET", "c:text"]), "café");
    assert.equal(await client.sendCommand(["GET", "c:absent"]), null);
    assert.equal(await client.sendCommand(["INCRBY", "c:n", 41]), 41);
    await client.sendCommand(["RPUSH", "c:list", "a", new Uint8Array([0x62])]);
    assert.deepEqual(await client.sendCommand(["LRANGE", "c:list", "0", "-1"]), ["a", "b"]);
    assert.deepEqual(await client.sendCommand(["EVAL", "return {1, 'x', false}", "0"]), [1, "x", null]);
  });

  test("integers beyond 2^53 come back exact, as BigInts, never silently rounded", async () => {
    for (const n of ["-9223372036854775808", "-9223372036854775807", "9223372036854775807", "9007199254740993"]) {
      await client.sendCommand(["SET", "c:int", n]);
      const back = await client.sendCommand(["INCRBY", "c:int", "0"]);
      assert.equal(typeof back, "bigint", n);
      assert.equal(String(back), n);
    }
    await client.sendCommand(["SET", "c:int", "9007199254740991"]);
    assert.equal(await client.sendCommand(["INCRBY", "c:int", "0"]), 9007199254740991);
  });

  test("bytes when asked for, as node-redis is asked: returnBuffers, or typeMapping { 36: Buffer }", async () => {
    const raw = new Uint8Array([0xff, 0x00, 0xfe]);
    await client.sendCommand(["SET", "c:bytes", raw]);
    const plain = await client.sendCommand(["GET", "c:bytes"], { returnBuffers: true });
    assert.ok(plain instanceof Uint8Array && !Buffer.isBuffer(plain));
    assert.deepEqual([...plain], [...raw]);
    const buffer = await client.sendCommand(["GET", "c:bytes"], { typeMapping: { 36: Buffer } });
    assert.ok(Buffer.isBuffer(buffer));
    assert.deepEqual([...buffer], [...raw]);
  });

  test("RESP3 (?protocol=3) and a connection name: the same replies, a map as a flat array", async () => {
    const c = await connectRedis(`${server.url}?protocol=3&name=edge-reader`);
    try {
      assert.equal(await c.sendCommand(["CLIENT", "GETNAME"]), "edge-reader");
      await c.sendCommand(["HSET", "c:hash", "a", "1"]);
      assert.deepEqual(await c.sendCommand(["HGETALL", "c:hash"]), ["a", "1"]);
      const backend = new RedisBackend(c);
      const m = new Message({ actorName: "resp3" });
      await backend.storeResult(m, [1.5, "x"]);
      assert.deepEqual(await backend.getResult(m), [1.5, "x"]);
    } finally {
      await c.close();
    }
  });

  test("pipelined: many commands in flight on one connection answer in order", async () => {
    const replies = await Promise.all(Array.from({ length: 500 }, (_, i) => client.sendCommand(["ECHO", `m${i}`])));
    assert.deepEqual(replies, Array.from({ length: 500 }, (_, i) => `m${i}`));
  });

  test("server errors are ResultErrors (code REDIS_SERVER) with the server's text; the connection stays usable", async () => {
    await client.sendCommand(["SET", "c:string", "x"]);
    const cases = [
      [["LPUSH", "c:string", "y"], /^WRONGTYPE /],
      [["NOSUCHCOMMAND"], /^ERR unknown command/],
      [["EVALSHA", "0123456789012345678901234567890123456789", "0"], /^NOSCRIPT /],
    ];
    for (const [argv, text] of cases) {
      const e = await failure(client.sendCommand(argv));
      assert.equal(e.code, "REDIS_SERVER");
      assert.match(e.message, text);
    }
    assert.equal(await client.sendCommand(["PING"]), "PONG");
  });

  test("through RedisBackend, a server error is a ResultError whose cause carries the server's text", async () => {
    const backend = new RedisBackend(client);
    const m = new Message({ actorName: "typed" });
    await client.sendCommand(["SET", backend.buildMessageKey(m), "not a list"]);
    const e = await failure(backend.getResult(m));
    assert.equal(e.messageKey, backend.buildMessageKey(m));
    assert.match(e.cause.message, /WRONGTYPE/);
  });

  test("bad arguments are TypeErrors", async () => {
    await assert.rejects(client.sendCommand("PING"), TypeError);
    await assert.rejects(client.sendCommand([]), TypeError);
    await assert.rejects(client.sendCommand(["SET", "k", {}]), TypeError);
    // Objects that only inherit from Uint8Array (their intrinsic getters throw): a TypeError,
    // never a throw through wasm, and the module goes on.
    await assert.rejects(client.sendCommand(["SET", "k", Object.create(Uint8Array.prototype)]), TypeError);
    await assert.rejects(client.sendCommand(["SET", "k", new Proxy(new Uint8Array(2), {})]), TypeError);
    assert.equal(await client.sendCommand(["PING"]), "PONG");
    await assert.rejects(connectRedis("http://127.0.0.1"), TypeError);
    await assert.rejects(connectRedis(42), TypeError);
    await assert.rejects(connectRedis(server.url, { connectTimeout: -1 }), TypeError);
    await assert.rejects(connectRedis(server.url, { tls: "yes" }), TypeError);
  });

  test("a Redis client answering a value read with a fake or proxied Uint8Array: a ResultError, and the module goes on", async () => {
    for (const fake of [Object.create(Uint8Array.prototype), new Proxy(new Uint8Array(4 << 20), {})]) {
      const hostile = { sendCommand: async () => fake };
      const backend = new RedisBackend(hostile);
      await assert.rejects(backend.getResult(new Message({ actorName: "a" })), ResultError);
    }
    const m = new Message({ actorName: "a" });
    const backend = new RedisBackend(client);
    await backend.storeResult(m, 7);
    assert.equal(await backend.getResult(m), 7);
  });

  test("without sockets (a browser), connectRedis says so", async () => {
    const e = await connectWithoutSockets(server.url, {}).then(() => assert.fail("resolved"), (err) => err);
    assert.ok(e instanceof PageResultError, String(e));
    assert.equal(e.code, "REDIS_UNSUPPORTED");
    assert.match(e.message, /TCP/);
    // A Node bundle that took the browser entry (Rollup's nodeResolve without the `node`
    // condition) gets this error too: it says how to bundle for Node.
    assert.match(e.message, /exportConditions: \["node"\]/);
  });

  test("maxValueBytes: a larger value fails its command only, and the connection goes on", async () => {
    const small = await connectRedis(server.url, { maxValueBytes: 16 });
    try {
      await small.sendCommand(["SET", "c:big", "x".repeat(100)]);
      const e = await failure(small.sendCommand(["GET", "c:big"]));
      assert.match(e.message, /100 bytes, over the limit of 16/);
      assert.equal(await small.sendCommand(["ECHO", "still here"]), "still here");
      const backend = new RedisBackend(small);
      const m = new Message({ actorName: "big" });
      await backend.storeResult(m, "y".repeat(100));
      assert.match((await failure(backend.getResult(m))).cause.message, /over the limit/);
    } finally {
      await small.close();
    }
  });

  test("the database, user and password come from the URL", async () => {
    const own = await startRedis();
    const admin = await connectRedis(own.url);
    try {
      await admin.sendCommand(["CONFIG", "SET", "requirepass", "s3cr#t"]);
      await admin.sendCommand(["AUTH", "s3cr#t"]);
      const e = await failure(connectRedis(`redis://:wrong@127.0.0.1:${own.port}`));
      assert.equal(e.code, "REDIS_CONNECTION");
      assert.match(e.message, /refused AUTH while connecting: WRONGPASS/);
      const none = await failure(connectRedis(own.url));
      assert.match(none.message, /NOAUTH/);
      const db3 = await connectRedis(`redis://default:s3cr%23t@127.0.0.1:${own.port}/3`);
      await db3.sendCommand(["SET", "where", "three"]);
      await db3.close();
      await admin.sendCommand(["SELECT", "3"]);
      assert.equal(await admin.sendCommand(["GET", "where"]), "three");
    } finally {
      await admin.close();
      await own.stop();
    }
  });
});

describe("connectRedis: large values stay out of wasm memory (issue 25)", () => {
  // Wasm memory never shrinks: a value read into it pins its size for the life of the
  // process. A reply that is one bulk string of 1 MiB or more, to a result read or a
  // sendCommand, is collected in JS memory instead; every byte and error must be the same as
  // through the path that reads it into wasm (a client the package does not recognise).
  const MiB = 1 << 20;
  const pad = "x".repeat(2 * MiB);
  /** The same connection, through the generic path (its replies cross into wasm). */
  const generic = (c) => ({ sendCommand: (argv, options) => c.sendCommand(argv, options) });

  /** What getResult gives (or its error's class, code and message), for comparison. */
  async function outcome(promise) {
    try {
      return { value: await promise };
    } catch (e) {
      return { error: [e?.constructor?.name, e?.code, e?.message] };
    }
  }

  test("getResult, getResultBytes and a blocking getResult of large values: the same values, bytes and errors as the generic path", { timeout: 60_000 }, async () => {
    const blocking = await connectRedis(server.url);
    try {
      const held = new RedisBackend(client, { blockingClient: blocking });
      const reference = new RedisBackend(generic(client));
      const cases = {
        text: JSON.stringify(`é😀 ${pad} "quoted" \\ end`),
        asciiEscapes: `"\\u00e9\\ud83d\\ude00${pad}"`,
        nested: JSON.stringify({ a: [1, 2.5, -0, null, true], s: pad, deep: { x: [pad.slice(0, 10)] } }),
        bigInteger: `{"n":123456789012345678901234567890,"s":"${pad}"}`,
        sixteenDigits: `[1234567890123456,"${pad}"]`,
        nan: `[NaN,Infinity,-Infinity,"${pad}"]`,
        markerLike: `["\\u0000\\u0001n1","${pad}"]`,
        exception: `{"__t":"dramatiq.results.Result","exn":{"type":"ValueError","msg":"${pad}"}}`,
        escapedKey: `{"\\u005f_t":"dramatiq.results.Result","exn":{"type":"E","msg":"${pad}"}}`,
        bom: `\ufeff"${pad}"`,
        notJson: `"${pad}`,
        trailing: `"${pad}" x`,
        deep: "[".repeat(600) + `"${pad}"` + "]".repeat(600),
      };
      // Stored as raw bytes (a Python worker's, or a hostile peer's), not through storeResult.
      const invalidUtf8 = Buffer.concat([Buffer.from('"'), Buffer.alloc(2 * MiB, "x"), Buffer.from([0xff, 0xc0, 0xaf]), Buffer.from('"')]);
      const seen = {};
      const all = { ...Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, Buffer.from(v)])), invalidUtf8 };
      for (const [name, bytes] of Object.entries(all)) {
        const m = new Message({ actorName: "big", messageId: `case-${name}` });
        // The key the backend reads, as its ResultMissing names it.
        const { messageKey: key } = await failure(reference.getResult(m));
        // Stored in the backend's layout (a one-element list), as the bytes are.
        const script = "redis.call('DEL',KEYS[1]) redis.call('LPUSH',KEYS[1],ARGV[1]) return 1";
        await client.sendCommand(["EVAL", script, "1", key, bytes]);
        const [a, b] = [await outcome(held.getResult(m)), await outcome(reference.getResult(m))];
        assert.deepEqual(a, b, `${name}: getResult`);
        seen[name] = a;
        const [ra, rb] = [await held.getResultBytes(m), await reference.getResultBytes(m)];
        assert.ok(Buffer.from(ra).equals(Buffer.from(rb)) && Buffer.from(ra).equals(bytes), `${name}: getResultBytes`);
        // The blocking read (BLMOVE on the dedicated connection) takes the same path.
        const [c, d] = [await outcome(held.getResult(m, { block: true, timeout: 2000 })), await outcome(reference.getResult(m, { block: true, timeout: 2000 }))];
        assert.deepEqual(c, d, `${name}: blocking getResult`);
      }
      // And what they are, so the comparison cannot pass on two equal mistakes.
      assert.equal(seen.text.value, `é😀 ${pad} "quoted" \\ end`);
      assert.equal(seen.bigInteger.value.n, 123456789012345678901234567890n);
      assert.ok(Number.isNaN(seen.nan.value[0]) && seen.nan.value[1] === Infinity);
      assert.equal(seen.markerLike.value[0], "\u0000\u0001n1");
      for (const name of ["exception", "escapedKey"]) assert.equal(seen[name].error[1], "RESULT_FAILURE", name);
      for (const name of ["notJson", "trailing", "invalidUtf8"]) assert.ok(seen[name].error, name);
    } finally {
      await blocking.close();
    }
  });

  test("sendCommand of a large value: text decoded as a small one is (invalid UTF-8 as U+FFFD), bytes exact", async () => {
    // Every kind of invalid sequence, then an ASCII letter, so the text splits cleanly.
    const odd = Buffer.from([0xff, 0x61, 0xc0, 0xaf, 0x62, 0xe0, 0x80, 0x63, 0xed, 0xa0, 0x80, 0x64, 0xf0, 0x9f, 0x98, 0x65, 0xf4, 0x90, 0x80, 0x80, 0x66, 0xef, 0xbb, 0xbf, 0x67, 0xc3, 0xa9, 0x68]);
    const big = Buffer.concat([odd, Buffer.alloc(2 * MiB, "y")]);
    await client.sendCommand(["SET", "c:odd", odd]);
    await client.sendCommand(["SET", "c:big", big]);
    const small = await client.sendCommand(["GET", "c:odd"]);
    assert.equal(await client.sendCommand(["GET", "c:big"]), small + "y".repeat(2 * MiB));
    const bytes = await client.sendCommand(["GET", "c:big"], { returnBuffers: true });
    assert.ok(Buffer.from(bytes).equals(big));
    const typed = await client.sendCommand(["GET", "c:big"], { typeMapping: { 36: Buffer } });
    assert.ok(Buffer.isBuffer(typed) && typed.equals(big));
  });

  test("large values written (storeResult, sendCommand) interleaved with small commands: every byte in order", { timeout: 60_000 }, async () => {
    const reference = new RedisBackend(generic(client));
    const held = new RedisBackend(client);
    const values = [pad + "é😀", { list: [pad, 1.5, 2 ** 60], s: pad.slice(1) }, "small"];
    const messages = values.map((_, i) => new Message({ actorName: "big", messageId: `store-${i}` }));
    // All in one turn: small and large commands share the connection's writes.
    const small = [];
    const writes = [];
    for (let i = 0; i < values.length; i++) {
      small.push(client.sendCommand(["SET", `c:before-${i}`, String(i)]));
      writes.push(held.storeResult(messages[i], values[i]));
      small.push(client.sendCommand(["INCR", `c:count`]));
    }
    const big = Buffer.alloc(3 * MiB, "\r\n\0\xff");
    small.push(client.sendCommand(["SET", "c:raw", big]));
    small.push(client.sendCommand(["GET", "c:before-0"]));
    await Promise.all(writes);
    const answers = await Promise.all(small);
    assert.deepEqual(answers.slice(-2), ["OK", "0"]);
    for (let i = 0; i < values.length; i++) {
      assert.deepEqual(await reference.getResult(messages[i]), values[i]);
      // The bytes the encoder makes of the same value, which never saw a socket.
      const stub = new api.StubBackend();
      await stub.storeResult(messages[i], values[i]);
      assert.ok(Buffer.from(await reference.getResultBytes(messages[i])).equals(Buffer.from(await stub.getResultBytes(messages[i]))), `value ${i}`);
    }
    assert.ok(Buffer.from(await client.sendCommand(["GET", "c:raw"], { returnBuffers: true })).equals(big));
  });

  // The same through the clients users hand in: node-redis and ioredis answer a large value
  // as a Buffer, which stays in JS memory as connectRedis's own held values do.
  for (const kind of ["connectRedis", "node-redis", "ioredis"]) {
    test(`${kind}: a 60 MB value read, then one stored, in a fresh process grow wasm memory by less than 16 MiB`, { timeout: 120_000 }, async () => {
      const { spawn } = await import("node:child_process");
      const child = `
        const memories = [];
        const Real = WebAssembly.Instance;
        WebAssembly.Instance = class extends Real {
          constructor(m, i) { super(m, i); if (this.exports.memory) memories.push(this.exports.memory); }
        };
        const { connectRedis, Message, RedisBackend } = await import("dramatiq-results");
        const [url, kind] = process.argv.slice(1);
        const linear = () => memories.reduce((n, m) => n + m.buffer.byteLength, 0);
        let client, close;
        if (kind === "connectRedis") {
          client = await connectRedis(url);
          close = () => client.close();
        } else if (kind === "node-redis") {
          const { createClient } = await import("redis");
          client = await createClient({ url }).connect();
          close = () => client.quit();
        } else {
          const { Redis } = await import("ioredis");
          client = new Redis(url);
          close = () => client.quit();
        }
        const backend = new RedisBackend(client);
        const m = new Message({ actorName: "big", messageId: "sixty" });
        await backend.getResult(new Message({ actorName: "big", messageId: "warm" }), { block: false }).catch(() => {});
        const before = linear();
        const value = await backend.getResult(m);
        const bytes = await backend.getResultBytes(m);
        const ok = value.length === 60_000_000 && value === "é".repeat(10) + "x".repeat(60_000_000 - 10) && bytes.length === 60_000_002 + 50;
        const read = linear() - before;
        await backend.storeResult(new Message({ actorName: "big", messageId: "stored-" + kind }), "y".repeat(60_000_000));
        console.log(JSON.stringify({ ok, grownBytes: read, storedBytes: linear() - before - read, modules: memories.length }));
        await close();
      `;
      await new RedisBackend(client).storeResult(new Message({ actorName: "big", messageId: "sixty" }), "é".repeat(10) + "x".repeat(60_000_000 - 10));
      const out = await new Promise((resolve, reject) => {
        const p = spawn(process.execPath, ["--input-type=module", "-e", child, server.url, kind], { stdio: ["ignore", "pipe", "inherit"] });
        let text = "";
        p.stdout.on("data", (d) => (text += d));
        p.on("error", reject);
        p.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`the child exited ${code}: ${text}`))));
      });
      const report = JSON.parse(out.trim().split("\n").at(-1));
      assert.equal(report.modules, 1, "the module's memory was found");
      assert.equal(report.ok, true, "the value read back whole");
      // Before: 57 MiB (the value) plus the buffers it grew through.
      assert.ok(report.grownBytes < 16 * MiB, `wasm memory grew by ${report.grownBytes} bytes`);
      // Before: 172 MiB (the value's text, its command and the write buffer).
      assert.ok(report.storedBytes < 16 * MiB, `storing grew wasm memory by ${report.storedBytes} bytes more`);
      const stored = Buffer.from(await new RedisBackend(client).getResultBytes(new Message({ actorName: "big", messageId: `stored-${kind}` })));
      assert.ok(stored.equals(Buffer.from(`"${"y".repeat(60_000_000)}"`)), "the stored value arrived whole");
    });
  }
});

describe("RedisBroker over connectRedis", () => {
  test("a JS producer and a JS worker share a queue; results come back through RedisBackend", { timeout: 30_000 }, async () => {
    const producer = await connectRedis(server.url);
    const consumer = await connectRedis(server.url);
    const blocking = await producer.duplicate();
    try {
      const backend = new RedisBackend(producer, { blockingClient: blocking });
      const middleware = [...defaultMiddleware(), new Results({ backend })];
      const workerBroker = new RedisBroker(consumer, { namespace: "own", middleware });
      actor((x, y) => x * y, { broker: workerBroker, queueName: "q", actorName: "mul", storeResults: true });
      const worker = new Worker(workerBroker, { concurrency: 4 }).start();
      try {
        const sendBroker = new RedisBroker(producer, { namespace: "own" });
        sendBroker.addMiddleware(new Results({ backend }));
        const mul = actor("mul", { broker: sendBroker, queueName: "q", storeResults: true });
        const messages = Array.from({ length: 20 }, (_, i) => mul.send(i, 3));
        const values = await Promise.all(messages.map((m) => m.getResult({ backend, block: true, timeout: 20_000 })));
        assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => i * 3));
      } finally {
        await worker.stop();
      }
    } finally {
      await Promise.all([producer.close(), consumer.close(), blocking.close()]);
    }
  });
});

describe("connectRedis: failures end by their deadline, with their cause, and the next command works", () => {
  test("a peer that is not Redis fails the connect with what it said", async () => {
    const http = createHttpServer((req, res) => res.end("hello"));
    await new Promise((r) => http.listen(0, "127.0.0.1", r));
    try {
      const [e, took] = await timed(() => failure(connectRedis(`redis://127.0.0.1:${http.address().port}`, { connectTimeout: 5000 })));
      assert.equal(e.code, "REDIS_CONNECTION");
      assert.match(e.message, /protocol error: while connecting/);
      assert.ok(took < 5000, `${took} ms`);
    } finally {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    }
  });

  test("a peer that never answers fails the connect at connectTimeout, not before", async () => {
    const silent = await fakeServer(() => {});
    try {
      const [e, took] = await timed(() => failure(connectRedis(silent.url, { connectTimeout: 300 })));
      assert.match(e.message, /connect timed out after 300 ms/);
      assert.ok(took >= 299, `${took} ms`);
    } finally {
      await silent.close();
    }
  });

  test("nothing listening: a clear refusal", async () => {
    const gone = await fakeServer(() => {});
    await gone.close();
    const e = await failure(connectRedis(gone.url));
    assert.match(e.message, /could not connect to Redis at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  test("a reply cut mid-frame by a close fails its command saying so; the next command reconnects", async () => {
    const fake = await redisLike((argv, socket) => {
      if (argv[1] === "cut") {
        socket.write("$10\r\nabc");
        socket.destroy();
      } else socket.write("$2\r\nok\r\n");
    });
    const c = await connectRedis(fake.url);
    try {
      const e = await failure(c.sendCommand(["GET", "cut"]));
      assert.equal(e.code, "REDIS_CONNECTION");
      assert.match(e.message, /closed the connection in the middle of a reply/);
      assert.equal(await c.sendCommand(["GET", "fine"]), "ok");
      assert.equal(fake.connections, 2, "one new connection");
    } finally {
      await c.close();
      await fake.close();
    }
  });

  test("a value announced at $9999999999 and never sent fails its command at once, and the next command works, without commandTimeout", async () => {
    const fake = await redisLike((argv, socket) => {
      if (argv[1] === "huge") socket.write("$9999999999\r\nabc");
      else socket.write("$2\r\nok\r\n");
    });
    const c = await connectRedis(fake.url);
    try {
      const e = await failure(c.sendCommand(["GET", "huge"]));
      assert.match(e.message, /9999999999 bytes, over the limit/);
      // Before the fix the connection went on skipping ten gigabytes that never came, so
      // this hung for ever.
      const next = c.sendCommand(["GET", "fine"]);
      let timer;
      const hung = new Promise((r) => (timer = setTimeout(r, 5000, true)));
      const stalled = await Promise.race([next.then(() => false), hung]);
      clearTimeout(timer);
      assert.equal(stalled, false, "the next command hung");
      assert.equal(await next, "ok");
      assert.equal(fake.connections, 2, "one new connection");
    } finally {
      await c.close();
      await fake.close();
    }
  });

  test("a reply of 130 values of 32 MiB (each under maxValueBytes) fails its command, the process lives, and wasm memory stays bounded", { timeout: 120_000 }, async () => {
    // Wasm memory is counted in `external` (and never given back).
    const wasmMemoryBytes = () => process.memoryUsage().external;
    const value = Buffer.alloc(32 << 20, "x");
    // Answers in order, as Redis does: a command's reply waits for the one before it.
    const inOrder = (answer) => (argv, socket) => (socket.replies = (socket.replies ?? Promise.resolve()).then(() => answer(argv, socket)));
    const fake = await redisLike(inOrder(async (argv, socket) => {
      if (argv[1] !== "many") return socket.write("$2\r\nok\r\n");
      let open = true;
      socket.once("close", () => (open = false));
      const write = (bytes) => (socket.write(bytes) ? undefined : new Promise((r) => socket.once("drain", r).once("close", r)));
      await write("*130\r\n");
      for (let i = 0; i < 130 && open; i++) {
        await write(`$${value.length}\r\n`);
        await write(value);
        await write("\r\n");
      }
    }));
    const before = wasmMemoryBytes();
    const c = await connectRedis(fake.url);
    try {
      const e = await failure(c.sendCommand(["LRANGE", "many", "0", "-1"]));
      assert.match(e.message, /over the limit of \d+ bytes for one reply \(maxReplyBytes\)/);
      // A command sent behind it on the same connection waits while the rest is dropped,
      // and fails once more than 512 MiB were announced to drop: then the connection is
      // replaced, and the next command works.
      const behind = await failure(c.sendCommand(["GET", "fine"]));
      assert.match(behind.message, /abandoned after a reply over the limit/);
      assert.equal(await c.sendCommand(["GET", "fine"]), "ok");
      const grown = wasmMemoryBytes() - before;
      // At most one reply's worth (128 MiB by default) and its last value's buffer; before
      // the fix the process died at 4 GiB.
      assert.ok(grown <= 200 << 20, `wasm memory grew by ${grown} bytes`);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  test("a send that timed out after its write says the message may have been enqueued, with the client's error as cause", async () => {
    // The script call reaches the server, which never answers in time: the message may
    // well be on the queue, so the error must not read as "not sent".
    const fake = await redisLike(() => {});
    const c = await connectRedis(fake.url, { commandTimeout: 200 });
    try {
      const broker = new RedisBroker(c, { middleware: [] });
      const m = new Message({ actorName: "a", queueName: "q" });
      const e = await failure(broker.enqueue(m));
      assert.match(e.message, /may have been enqueued/);
      assert.match(e.message, /timed out after 200 ms/);
      assert.ok(e.cause instanceof Error, `a cause, got ${e.cause}`);
      assert.match(e.cause.message, /timed out after 200 ms/);
      assert.equal(e.cause.code, "REDIS_CONNECTION");
    } finally {
      await c.close();
      await fake.close();
    }
  });

  test("a reply cut mid-frame on a socket left open fails at commandTimeout; the next command reconnects", async () => {
    const fake = await redisLike((argv, socket) => {
      if (argv[1] === "stall") socket.write("$10\r\nabc");
      else socket.write("$2\r\nok\r\n");
    });
    const c = await connectRedis(fake.url, { commandTimeout: 300 });
    try {
      const [e, took] = await timed(() => failure(c.sendCommand(["GET", "stall"])));
      assert.match(e.message, /GET timed out after 300 ms/);
      assert.ok(took >= 299 && took < 2000, `${took} ms`);
      assert.equal(await c.sendCommand(["GET", "fine"]), "ok");
    } finally {
      await c.close();
      await fake.close();
    }
  });

  test("a stalled server cannot hang a blocking getResult past its deadline, even without commandTimeout", async () => {
    const fake = await redisLike((argv, socket) => {
      if (argv[0] !== "BLMOVE") socket.write("$-1\r\n");
    });
    const c = await connectRedis(fake.url);
    const b = await c.duplicate();
    try {
      const backend = new RedisBackend(c, { blockingClient: b });
      const [e, took] = await timed(() => failure(backend.getResult(new Message({ actorName: "stalled" }), { block: true, timeout: 400 })));
      assert.ok(e instanceof ResultTimeout, String(e));
      assert.ok(took >= 399 && took < 1500, `${took} ms`);
    } finally {
      await Promise.all([c.close(), b.close()]);
      await fake.close();
    }
  });

  test("the server killed mid-read fails what waits at once; after a restart, the next command works", async () => {
    const own = await startRedis();
    const c = await connectRedis(own.url);
    try {
      const waiting = failure(c.sendCommand(["BLPOP", "nothing", "10"]));
      await sleep(100);
      const [e, took] = await timed(async () => {
        await own.stop();
        return waiting;
      });
      assert.match(e.message, /server closed the connection|ECONNRESET/);
      assert.ok(took < 2000, `${took} ms`);
      await failure(c.sendCommand(["PING"]));
      await own.start();
      assert.equal(await c.sendCommand(["PING"]), "PONG");
    } finally {
      await c.close();
      await own.stop();
    }
  });

  test("close(): what waits fails, later commands fail saying to reconnect", async () => {
    const c = await connectRedis(server.url);
    assert.equal(c.isOpen, true);
    assert.equal(c.isReady, true);
    const waiting = failure(c.sendCommand(["BLPOP", "nothing", "10"]));
    await sleep(50);
    await c.close();
    assert.match((await waiting).message, /closed by the client/);
    assert.match((await failure(c.sendCommand(["PING"]))).message, /connect again with connectRedis/);
    assert.equal(c.isOpen, false);
    await c.close();
    // node-redis's names for it.
    for (const name of ["quit", "destroy"]) {
      const other = await connectRedis(server.url);
      await other[name]();
      assert.equal(other.isOpen, false, name);
    }
  });
});

describe("connectRedis over TLS (a redis-server with TLS, self-signed certificate)", () => {
  let tls;
  before(async () => {
    tls = await startRedisTls();
  });
  after(async () => {
    await tls?.stop();
  });

  test("rediss:// with the CA trusted: commands and RedisBackend work", async () => {
    const c = await connectRedis(tls.url, { tls: { ca: tls.ca } });
    try {
      assert.equal(await c.sendCommand(["PING"]), "PONG");
      const backend = new RedisBackend(c);
      const m = new Message({ actorName: "tls" });
      await backend.storeResult(m, { secure: true });
      assert.deepEqual(await backend.getResult(m), { secure: true });
    } finally {
      await c.close();
    }
  });

  test("an untrusted certificate, or plain text to the TLS port, fails clearly", async () => {
    assert.match((await failure(connectRedis(tls.url))).message, /self-signed certificate/);
    const plain = await failure(connectRedis(tls.url.replace("rediss:", "redis:"), { connectTimeout: 3000 }));
    assert.match(plain.message, /use rediss:\/\/|timed out/);
  });
});
