// Resources stay bounded in long runs: the short versions of bench/soak.mjs's scenarios.
// Each repeats one thing a few hundred times and then counts what is still held (timers,
// waiters, sockets, listeners, Redis connections): a client that left, a wait abandoned, a
// worker stopped must leave nothing behind. Counts, with generous margins; no timing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { getEventListeners } from "node:events";
import { StubBackend } from "dramatiq-results";
import { haveRedis, startRedis } from "./services.mjs";
import { sleep } from "./helpers.mjs";

/** Runs `check` until it stops throwing, for at most `ms`; then throws its last error. */
async function settles(check, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > end) throw error;
      await sleep(100);
    }
  }
}

const skipRedis = !haveRedis && "redis-server is not installed (scripts/setup --services)";

/** Node's count of active resources of `kind` ("Timeout", "TCPSocketWrap", …). */
const active = (kind) => process.getActiveResourcesInfo().filter((r) => r === kind).length;

test("gateway: result waits whose client left release their timer and waiter", { skip: skipRedis, timeout: 60_000 }, async () => {
  const { startGateway } = await import("../../pkg/src/gateway/node.js");
  const redis = await startRedis();
  const token = "viewer-token-for-the-soak-test-0123";
  const gateway = await startGateway({ redis: redis.url, port: 0, token });
  const port = Number(new URL(gateway.url).port);
  try {
    const timersBefore = active("Timeout");
    // 300 clients ask to wait 60 s for a result that never comes, and leave (FIN or RST)
    // at once or a few ms later: before, during or after the gateway's first read.
    const N = 300;
    for (let i = 0; i < N; i += 30) {
      await Promise.all(Array.from({ length: 30 }, async (_, j) => {
        const socket = connect(port, "127.0.0.1");
        socket.on("error", () => {});
        socket.write(`GET /api/results/work/soak/never-${i + j}?timeout=60000 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        await sleep((i + j) % 7);
        if (j % 2) socket.destroy();
        else socket.resetAndDestroy();
      }));
    }
    // Every one of them is gone well before its 60 s: nothing may wait for them.
    await settles(async () => {
      assert.equal(gateway.app.waiter.size, 0, "results still awaited for clients that left");
      assert.ok(active("Timeout") <= timersBefore + 10, `${active("Timeout") - timersBefore} more timers than before`);
    }, 10_000);
    // The waiter still serves a client that stays.
    const res = await fetch(`${gateway.url}/api/results/work/soak/never?timeout=50`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 202);
  } finally {
    await gateway.close();
    await redis.stop();
  }
});

test("actor.send of large messages: wasm memory stays near one message's worth, not one per send", { skip: skipRedis, timeout: 60_000 }, async (t) => {
  // The module's memory, caught as a fresh instance of the package is made in a child
  // process (wasm memory never shrinks: its size is the high-water mark).
  const { spawn } = await import("node:child_process");
  const redis = await startRedis();
  try {
    const script = `
      const memories = [];
      const Real = WebAssembly.Instance;
      WebAssembly.Instance = Object.assign(function Instance(m, i) { const x = new Real(m, i); memories.push(x.exports.memory); return x; }, { prototype: Real.prototype });
      const { RedisBroker, actor, connectRedis } = await import("dramatiq-results");
      const client = await connectRedis(process.argv[1]);
      const broker = new RedisBroker(client, { middleware: [] });
      const big = actor("big", { broker, queueName: "soak-big" });
      const mb = () => memories[0].buffer.byteLength / 1048576;
      const payload = "x".repeat(1 << 20);
      const at = {};
      // One 1 MB message at a time, each awaited and freed (as a careful producer loop
      // writes them: nothing of its own left to the collector).
      for (let i = 1; i <= 500; i++) {
        const sent = big.send(payload + i);
        await sent.enqueued;
        sent.free();
        if (i % 50 === 0) await client.sendCommand(["DEL", "dramatiq:soak-big", "dramatiq:soak-big.msgs"]);
        if (i === 50 || i === 500) at[i] = mb();
      }
      await client.close();
      console.log(JSON.stringify(at));
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, redis.url], { stdio: ["ignore", "pipe", "inherit"], cwd: new URL("../..", import.meta.url).pathname });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    await new Promise((r) => child.once("exit", r));
    const at = JSON.parse(out.trim());
    t.diagnostic(`wasm memory: ${at[50]} MB after 50 sends, ${at[500]} MB after 500`);
    // Each send's message is a copy of the one the actor built: that one, holding its 1 MB
    // of arguments in wasm memory, used to wait for the collector, which does not see wasm
    // memory and let dozens pile up (500 sends: ~20 MB more than after 50).
    assert.ok(at[500] - at[50] < 8, `wasm memory grew from ${at[50]} MB after 50 sends to ${at[500]} MB after 500`);
  } finally {
    await redis.stop();
  }
});

test("waits sharing one AbortSignal add one listener to it, and leave none", { timeout: 30_000 }, async () => {
  // A request's signal handed to every read it makes, a service's shutdown signal handed to
  // all its waits: one listener each made Node warn of a leak past 10 ("Possible
  // EventTarget memory leak detected"), and cost a listener per wait on the signal.
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    const backend = new StubBackend();
    const id = (i) => ({ queueName: "q", actorName: "a", messageId: `shared-${i}` });
    const shared = new AbortController();
    const waits = Array.from({ length: 200 }, (_, i) => backend.getResult(id(i), { block: true, timeout: 60_000, signal: shared.signal }));
    const batch = backend.iterResults([id(0), id(1), id(200)], { timeout: 60_000, signal: shared.signal });
    const first = batch.next();
    await sleep(20);
    assert.equal(getEventListeners(shared.signal, "abort").length, 1);
    for (let i = 0; i < 200; i++) await backend.storeResult(id(i), i, 60_000);
    assert.deepEqual((await Promise.all(waits)).slice(0, 3), [0, 1, 2]);
    assert.equal((await first).value.value, 0);
    await batch.return();
    assert.equal(getEventListeners(shared.signal, "abort").length, 0, "listeners left after every wait ended");
    // The same for waits that end by the signal: each rejects with its reason.
    const late = Array.from({ length: 50 }, (_, i) => backend.getResult(id(1000 + i), { block: true, timeout: 60_000, signal: shared.signal }).catch((e) => e));
    const other = new AbortController();
    const unrelated = backend.getResult(id(2000), { block: true, timeout: 60_000, signal: other.signal }).catch((e) => e);
    await sleep(20);
    shared.abort(new Error("shutting down"));
    assert.ok((await Promise.all(late)).every((e) => e.message === "shutting down"));
    assert.equal(getEventListeners(shared.signal, "abort").length, 0);
    // A signal already aborted rejects at once; another signal's wait goes on.
    await assert.rejects(backend.getResult(id(3000), { block: true, timeout: 60_000, signal: shared.signal }), /shutting down/);
    await backend.storeResult(id(2000), "still", 60_000);
    assert.equal(await unrelated, "still");
    await sleep(10);
    assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning").map((w) => w.message), []);
  } finally {
    process.off("warning", onWarning);
  }
});
