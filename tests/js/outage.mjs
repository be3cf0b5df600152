// The one rule for store errors during a blocking wait, against a real server: the wait
// retries until its deadline, so a server killed mid-wait and back in time yields the
// value, and one that stays down yields a ResultTimeout at the deadline (never before)
// whose cause is the last error.
import assert from "node:assert/strict";
import { Message, ResultTimeout } from "dramatiq-results";
import { sleep } from "./helpers.mjs";

/** Settle grace plus a loaded machine's scheduling slack, in ms. */
const SLACK = 1000;

/** Server killed mid-wait and not restarted: a ResultTimeout at the deadline. */
export async function assertOutageLastsToTheDeadline(server, backend, timeout = 1000) {
  const m = new Message({ actorName: "outage" });
  const started = performance.now();
  const waiting = backend.getResult(m, { block: true, timeout });
  const settled = waiting.then(() => "resolved", (e) => e);
  await sleep(150);
  await server.stop();
  const e = await settled;
  const took = performance.now() - started;
  assert.ok(e instanceof ResultTimeout, `a ResultTimeout: ${String(e)}`);
  assert.equal(e.messageKey, backend.buildMessageKey(m));
  assert.ok(e.cause !== undefined, `the last error as cause: ${e}`);
  assert.ok(took >= timeout - 5, `not before the deadline: ${took.toFixed(0)} ms of ${timeout}`);
  assert.ok(took < timeout + SLACK, `by the deadline: ${took.toFixed(0)} ms of ${timeout}`);
}

/** Server killed mid-wait and restarted before the deadline: the value. `write` stores it
 * (through another connection) once the server is back. */
export async function assertOutageIsWaitedOut(server, backend, write, timeout = 6000) {
  const m = new Message({ actorName: "outage" });
  const waiting = backend.getResult(m, { block: true, timeout });
  const settled = waiting.then((v) => ({ v }), (e) => ({ e }));
  await sleep(150);
  await server.stop();
  await sleep(400);
  await server.start();
  await write(m, "back");
  const { v, e } = await settled;
  assert.equal(e, undefined, `the value, not ${e}: cause ${e?.cause}`);
  assert.equal(v, "back");
}
