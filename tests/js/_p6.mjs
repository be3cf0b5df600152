import { StubBroker, StubBackend, Results, Worker, actor, defaultMiddleware, ConcurrentRateLimiter, WindowRateLimiter, BucketRateLimiter, Barrier, StubRateLimiterBackend, RedisRateLimiterBackend, MemcachedRateLimiterBackend, GroupCallbacks, group, Message } from "dramatiq-results";
import { healthy, hostileObjects, thrownValues } from "./hostile.mjs";
const out = (label, v) => console.log(label.padEnd(50), String(v).slice(0, 170));
async function run(label, f) {
  try { const v = await Promise.race([f(), new Promise((r) => setTimeout(() => r("PENDING 2s"), 2000))]); out(label, "ok " + (typeof v === "object" ? JSON.stringify(v) : String(v))); }
  catch (e) { let d; try { d = `${e?.constructor?.name}: ${e?.message}`; } catch { d = "?"; } try { if (e instanceof WebAssembly.RuntimeError) d = "RUNTIME " + d; } catch {} out(label, d); }
  const h = await healthy().catch((e) => "UNHEALTHY " + e.message);
  if (h !== true) { out("!!! after " + label, h); process.exit(1); }
}
const stub = new StubRateLimiterBackend();
const answers = [...hostileObjects(), "str", 5, Buffer.from("x"), [Buffer.from("x"), 5], [[["a"]]], [null], true, -1, 1e300, NaN];
let i = 0;
for (const a of answers) {
  i++;
  const client = { sendCommand: () => a };
  await run(`redis rl answers #${i}`, async () => {
    const b = new RedisRateLimiterBackend(client);
    const r = [];
    for (const L of [ConcurrentRateLimiter, WindowRateLimiter, BucketRateLimiter]) {
      try { r.push(await new L(b, "k", { limit: 2 }).acquire((x) => x, { raiseOnFailure: false })); } catch (e) { r.push(e?.constructor?.name + ":" + String(e?.message).slice(0, 60)); }
    }
    try { r.push(await new Barrier(b, "b").create(2)); r.push(await new Barrier(b, "b").wait({ block: false })); } catch (e) { r.push(e?.constructor?.name + ":" + String(e?.message).slice(0, 60)); }
    return r;
  });
  const mc = { get: () => a, set: () => a, add: () => a, increment: () => a, decrement: () => a, delete: () => a, getMulti: () => a };
  await run(`memcached rl answers #${i}`, async () => {
    const b = new MemcachedRateLimiterBackend(mc);
    const r = [];
    for (const L of [ConcurrentRateLimiter, WindowRateLimiter, BucketRateLimiter]) {
      try { r.push(await new L(b, "k", { limit: 2 }).acquire((x) => x, { raiseOnFailure: false })); } catch (e) { r.push(e?.constructor?.name + ":" + String(e?.message).slice(0, 60)); }
    }
    return r;
  });
}
for (const h of hostileObjects()) {
  i++;
  await run(`new Concurrent(stub, hostile key) #${i}`, () => new ConcurrentRateLimiter(stub, h, { limit: 1 }));
  await run(`new Concurrent(stub, k, hostile) #${i}`, () => new ConcurrentRateLimiter(stub, "k", h));
  await run(`new Concurrent(hostile) #${i}`, () => new ConcurrentRateLimiter(h, "k"));
  await run(`acquire(fn, hostile) #${i}`, () => new ConcurrentRateLimiter(stub, "k" + i).acquire(() => 1, h));
  await run(`new RedisRLB(client, hostile) #${i}`, () => new RedisRateLimiterBackend({ sendCommand() {} }, h));
  await run(`new RedisRLB(hostile) #${i}`, () => new RedisRateLimiterBackend(h));
  await run(`barrier.create(hostile) #${i}`, () => new Barrier(stub, "b" + i).create(h));
  await run(`actor(fn, hostile) #${i}`, () => actor(() => 1, h));
  await run(`sendWithOptions(hostile) #${i}`, () => { const b = new StubBroker(); return actor(() => 1, { actorName: "x", broker: b }).sendWithOptions(h).messageId; });
  await run(`send(hostile arg) #${i}`, () => { const b = new StubBroker(); return actor(() => 1, { actorName: "x", broker: b }).send(h).messageId; });
  await run(`message(hostile).options kw #${i}`, () => { const b = new StubBroker(); return actor(() => 1, { actorName: "x", broker: b }).messageWithOptions({ args: [1], kwargs: h }).messageId; });
  await run(`new GroupCallbacks(hostile) #${i}`, () => new GroupCallbacks(h));
  await run(`group(hostile) #${i}`, () => group(h));
  await run(`group([hostile]) #${i}`, () => group([h]).run());
  await run(`new Worker(b, hostile) #${i}`, () => new Worker(new StubBroker(), h));
  await run(`worker.stop(hostile) #${i}`, () => new Worker(new StubBroker()).stop(h));
  await run(`new StubBroker(hostile) #${i}`, () => new StubBroker(h));
  await run(`broker.addMiddleware(hostile) #${i}`, () => new StubBroker().addMiddleware(h));
}
for (const t of thrownValues()) {
  i++;
  await run(`acquire(fn throws) #${i}`, () => new ConcurrentRateLimiter(stub, "t" + i, { limit: 1 }).acquire(() => { throw t; }));
  await run(`  ...slot released #${i}`, () => new ConcurrentRateLimiter(stub, "t" + i, { limit: 1 }).acquire(() => "again"));
}
