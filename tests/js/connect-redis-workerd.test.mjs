// connectRedis inside real workerd (Miniflare), over cloudflare:sockets to a real
// redis-server on loopback: a real Python Dramatiq worker (tests/py/broker_app.py, on a
// RedisBroker with the Results middleware) runs actors, and a Worker
// (tests/js/hosts/redis_worker.js) reads their results over HTTP requests, one connection
// per request: values, failures, a blocking read that wakes when the value lands, a timeout;
// a Worker sending with RedisBroker (over connectRedis) for the Python worker to run;
// the conformance suite; a dead server, a peer that is not Redis, a wrong password, a reply
// cut mid-frame, a silent peer, then the next request working; and TLS to Debian's
// redis-server built with TLS, its self-signed certificate trusted through
// NODE_EXTRA_CA_CERTS (which Miniflare hands to workerd as a trusted certificate).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JSONEncoder } from "dramatiq-results";
import { conformanceCount } from "./conformance.mjs";
import { havePython, runPython, startPythonWorker } from "./pyworker.mjs";
import { fakeServer, freePort, haveRedis, startRedis, startRedisTls } from "./services.mjs";
import { startWorkerd } from "./workerd.mjs";

if (!haveRedis) throw new Error("redis-server is not installed: run scripts/setup --services");
if (!havePython) throw new Error("no Python Dramatiq: run scripts/setup --python");

const encoder = new JSONEncoder();
const decode = (text) => encoder.decode(new TextEncoder().encode(text));

let redis;
let tls;
let worker;
let mf;

before(async () => {
  [redis, tls] = await Promise.all([startRedis(), startRedisTls()]);
  // Read by Miniflare when it is first imported: workerd then trusts the test's CA.
  process.env.NODE_EXTRA_CA_CERTS = tls.caFile;
  mf = await startWorkerd("tests/js/hosts/redis_worker.js");
  worker = await startPythonWorker({ url: redis.url, queue: "edge" });
});

after(async () => {
  await mf?.dispose();
  await worker?.stop();
  await Promise.all([redis?.stop(), tls?.stop()]);
});

/** POSTs `body` to the Worker's `route`; resolves with its JSON (and the round trip's ms). */
async function call(route, body) {
  const started = performance.now();
  const res = await mf.dispatchFetch(`http://localhost/${route}`, { method: "POST", body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(json.threw, undefined, json.threw);
  return { ...json, roundTripMs: performance.now() - started };
}

/** Enqueues actor calls with Python Dramatiq; resolves with the messages as dicts. */
async function send(...specs) {
  const lines = await runPython("produce.py", ["send", ...specs.map((s) => (typeof s === "string" ? s : JSON.stringify(s)))], { url: redis.url, queue: "edge" });
  return lines.map((l) => JSON.parse(l));
}

test("a Worker reads what a Python Dramatiq worker stored: values and failures", async () => {
  const [add, echo, fail] = await send(
    { actor: "add", args: [40, 2] },
    // Python's JSON: an integer beyond 2^53 stays exact, and comes back as a BigInt.
    '{"actor": "echo", "args": ["caf\\u00e9 \\ud83d\\ude80", [1.5, null]], "kwargs": {"big": 1152921504606846976}}',
    { actor: "fail", args: ["edge says no"] },
  );
  const read = (message) => call("read", { url: redis.url, message, block: true, timeout: 20_000 });
  assert.deepEqual(decode((await read(add)).valueJson), 42);
  assert.deepEqual(decode((await read(echo)).valueJson), { args: ["café \u{1F680}", [1.5, null]], kwargs: { big: 2n ** 60n } });
  const failed = await read(fail);
  assert.equal(failed.error.name, "ResultFailure");
  assert.equal(failed.error.exceptionType, "AppError");
  assert.equal(failed.error.exceptionValue, "edge says no");
  // And without blocking, once it is there.
  assert.deepEqual(decode((await call("read", { url: redis.url, message: add, block: false })).valueJson), 42);
});

test("large values (1 MiB and more) a Worker stores and reads over connectRedis come back whole, held outside wasm or not (non-ASCII)", async () => {
  const values = [{ s: "x".repeat(3 << 20), n: [1, 2.5, null] }, "é😀".repeat(1 << 19), [`"quoted" \\ ${"y".repeat(1 << 20)}`]];
  for (const [i, value] of values.entries()) {
    const message = { queue_name: "edge", actor_name: "big", args: [], kwargs: {}, options: {}, message_id: `big-${i}`, message_timestamp: 0 };
    const stored = await call("store", { url: redis.url, message, value });
    assert.equal(stored.stored, true);
    for (const block of [false, true]) {
      const read = await call("read", { url: redis.url, message, block, timeout: 5000 });
      assert.equal(read.error, undefined, JSON.stringify(read.error));
      assert.deepEqual(decode(read.valueJson), value, `value ${i}, block ${block}`);
    }
  }
});

test("a blocking read in a Worker wakes when the value lands; another times out at its deadline", async () => {
  const [slow] = await send({ actor: "slow", args: [800] });
  const woken = await call("read", { url: redis.url, message: slow, block: true, timeout: 15_000 });
  assert.equal(decode(woken.valueJson), 800);
  assert.ok(woken.ms < 15_000, `${woken.ms} ms`);

  const [slower] = await send({ actor: "slow", args: [3000] });
  const late = await call("read", { url: redis.url, message: slower, block: true, timeout: 300 });
  assert.equal(late.error.name, "ResultTimeout", JSON.stringify(late));
  assert.ok(late.roundTripMs >= 299, `${late.roundTripMs} ms`);
  assert.ok(late.roundTripMs < 3000, `${late.roundTripMs} ms`);
});

test("a Worker sends with RedisBroker over connectRedis, the Python worker runs it, the Worker reads the result", async () => {
  const sent = await call("sendAndRead", { url: redis.url, queue: "edge", actorName: "add", args: [20, 22], timeout: 20_000 });
  assert.equal(sent.error, undefined, JSON.stringify(sent.error));
  assert.equal(decode(sent.valueJson), 42);
  const failed = await call("sendAndRead", { url: redis.url, queue: "edge", actorName: "fail", args: ["from the edge"], timeout: 20_000 });
  assert.equal(failed.error?.name, "ResultFailure", JSON.stringify(failed));
  assert.equal(failed.error.exceptionType, "AppError");
  assert.equal(failed.error.exceptionValue, "from the edge");
});

test("the conformance suite runs in workerd on connectRedis", async () => {
  const { ran, failures } = await call("conformance", { url: redis.url });
  assert.deepEqual(failures, []);
  assert.equal(ran, 2 * conformanceCount());
});

test("no server: a clear ResultError within the connect timeout; the next request works", async () => {
  const dead = `redis://127.0.0.1:${await freePort()}`;
  const [message] = await send({ actor: "add", args: [1, 1] });
  const failed = await call("read", { url: dead, message, block: true, timeout: 1000 });
  assert.equal(failed.error.name, "ResultError");
  assert.equal(failed.error.code, "REDIS_CONNECTION");
  assert.match(failed.error.message, /could not connect to Redis at 127\.0\.0\.1/);
  assert.equal(decode((await call("read", { url: redis.url, message, block: true, timeout: 20_000 })).valueJson), 2);
});

test("misbehaving peers fail a Worker's request clearly, by their deadline; the next request works", async () => {
  const http = await fakeServer((argv, socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
  const wrongPass = await fakeServer((argv, socket) => {
    socket.write(argv[0] === "AUTH" ? "-WRONGPASS invalid username-password pair or user is disabled.\r\n" : "+PONG\r\n");
  });
  const cut = await fakeServer((argv, socket) => {
    if (argv[0] === "PING") socket.write("+PONG\r\n");
    else socket.end("$10\r\nabc");
  });
  const silent = await fakeServer(() => {});
  try {
    const ping = (url, options) => call("command", { url, argv: ["GET", "k"], options });
    const notRedis = await ping(http.url);
    assert.equal(notRedis.error.code, "REDIS_CONNECTION");
    assert.match(notRedis.error.message, /protocol error: while connecting/);
    const refused = await ping(wrongPass.url.replace("redis://", "redis://:nope@"));
    assert.match(refused.error.message, /refused AUTH while connecting: WRONGPASS/);
    const midFrame = await ping(cut.url);
    assert.match(midFrame.error.message, /closed the connection in the middle of a reply/);
    const late = await ping(silent.url, { connectTimeout: 300 });
    assert.match(late.error.message, /connect timed out after 300 ms/);
    assert.ok(late.roundTripMs >= 299 && late.roundTripMs < 3000, `${late.roundTripMs} ms`);
    assert.equal((await call("command", { url: redis.url, argv: ["PING"] })).reply, "PONG");
  } finally {
    await Promise.all([http, wrongPass, cut, silent].map((s) => s.close()));
  }
});

test("the server killed during a Worker's blocking read: waited out to the deadline, then a ResultTimeout with the cause; after a restart, the next request works", async () => {
  const own = await startRedis();
  try {
    const message = { queue_name: "edge", actor_name: "never", message_id: "0b5d7c55-8d2e-4c8e-9f6a-2f5a3e1c9d01", args: [], kwargs: {}, options: {}, message_timestamp: 0 };
    const reading = call("read", { url: own.url, message, block: true, timeout: 3000 });
    // Stopped once the read waits in the server (its BLMOVE seen in CLIENT LIST), not after a
    // fixed 500 ms: a loaded machine that had not connected by then would see a refused
    // connection, not a closed one.
    const blocked = async () => /cmd=blmove/.test(String((await call("command", { url: own.url, argv: ["CLIENT", "LIST"] })).reply));
    for (const until = Date.now() + 2500; !(await blocked()) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
    await own.stop();
    const failed = await reading;
    // The one rule for a store that stops answering mid-wait: retried until the deadline
    // (a restart in time would give the value), then a timeout carrying the last failure.
    assert.equal(failed.error?.name, "ResultTimeout", JSON.stringify(failed));
    assert.match(failed.error.cause, /Redis connection closed/);
    assert.ok(failed.ms >= 2950, `gave up after ${failed.ms} ms of 3000`);
    await own.start();
    const missing = await call("read", { url: own.url, message, block: false });
    assert.equal(missing.error.name, "ResultMissing", JSON.stringify(missing));
  } finally {
    await own.stop();
  }
});

// A connectRedis client kept in module scope and used by a later request: workerd refuses
// the write (the socket belongs to the request that opened it), and the command used to wait
// forever (no commandTimeout) since only a close failed the commands waiting on a socket. Now
// the refused write ends the connection: the command fails at once, saying what to do.
test("a client kept in module scope: a later request's command fails at once saying to connect per request, not hangs", async () => {
  const first = await call("kept", { url: redis.url });
  assert.equal(first.reply, "PONG");
  const second = await call("kept", { url: redis.url });
  assert.equal(second.pending, undefined, `the command still waited after 5 s`);
  assert.equal(second.error?.code, "REDIS_CONNECTION", JSON.stringify(second));
  assert.match(second.error.message, /different request.*A connectRedis client belongs to the request that connected it: connect in each request \(docs\/edge\.md\)/);
  assert.ok(second.ms < 3000, `failed after ${second.ms} ms`);
});

// A rediss:// server whose certificate workerd does not trust (a second self-signed one, not
// in NODE_EXTRA_CA_CERTS): workerd logs the reason, and the Worker only saw "proxy request
// failed, cannot connect to the specified address", which reads as a network fault.
test("TLS to a server whose certificate is not trusted: the error names that cause, not only a failed connect", async () => {
  const untrusted = await startRedisTls();
  try {
    const { error } = await call("command", { url: untrusted.url, argv: ["PING"], options: { connectTimeout: 5000 } });
    assert.equal(error?.code, "REDIS_CONNECTION", JSON.stringify(error));
    assert.match(error.message, /over TLS, also what a server certificate the runtime does not trust gives/);
    // Plain redis:// keeps its message as it was.
    const { error: plain } = await call("command", { url: `redis://127.0.0.1:${await freePort()}`, argv: ["PING"], options: { connectTimeout: 2000 } });
    assert.doesNotMatch(plain.message, /over TLS/);
  } finally {
    await untrusted.stop();
  }
});

test("server errors reach the Worker with the server's text", async () => {
  await call("command", { url: redis.url, argv: ["SET", "edge:string", "x"] });
  const { error } = await call("command", { url: redis.url, argv: ["LPUSH", "edge:string", "y"] });
  assert.equal(error.code, "REDIS_SERVER");
  assert.match(error.message, /^WRONGTYPE /);
});

test("TLS (rediss://) from a Worker, the server's certificate trusted", async () => {
  assert.equal((await call("command", { url: tls.url, argv: ["PING"] })).reply, "PONG");
  const message = { queue_name: "edge", actor_name: "tls", message_id: "6c0f6a3e-1b1b-4f7e-9a55-0a1c2b3d4e5f", args: [], kwargs: {}, options: {}, message_timestamp: 0 };
  assert.equal((await call("store", { url: tls.url, message, value: { over: "tls" } })).stored, true);
  assert.deepEqual(decode((await call("read", { url: tls.url, message, block: false })).valueJson), { over: "tls" });
  const plain = await call("command", { url: tls.url.replace("rediss:", "redis:"), argv: ["PING"], options: { connectTimeout: 2000 } });
  assert.equal(plain.error.code, "REDIS_CONNECTION", JSON.stringify(plain));
});
