// Shared by the broker tests (redis-broker, rabbitmq-broker, python-broker): the broker
// vectors, a recording logger, polling for outcomes with no result to block on, and the
// "Python sends, the JS worker runs" scenario both network brokers pass.
import { readFileSync } from "node:fs";
import { JSONEncoder, Results, actor, defaultMiddleware } from "dramatiq-results";
import { sleep } from "./helpers.mjs";
import { runPython } from "./pyworker.mjs";

// Python's JSON (NaN, big integers): read with Dramatiq's decoder.
const encoder = new JSONEncoder();
/** What a real Dramatiq 2.2.1 RedisBroker writes (tests/fixtures/broker-vectors.json). */
export const brokerVectors = encoder.decode(readFileSync(new URL("../fixtures/broker-vectors.json", import.meta.url)));

/** A logger that keeps every line (and echoes nothing): what the broker or worker said, to assert on. */
export function recordingLogger() {
  const lines = [];
  const keep = (level) => (msg, error) => lines.push(`${level} ${msg}${error ? ` | ${error.message ?? error}` : ""}`);
  return { lines, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

/** Dramatiq's default middleware, with results stored in `backend`. */
export function middlewareWith(backend) {
  return [...defaultMiddleware(), new Results({ backend })];
}

/** Waits until `check()` is truthy (`ms` at most), for outcomes with no result to block on. */
export async function eventually(check, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await sleep(50);
  }
}

// Specs are read by Python's json module: NaN and big integers are fine there.
export const echoSpec =
  '{"actor":"echo","args":[NaN,1180591620717411303424,"h\\u00e9 \\u2713 \\ud83d\\ude00",{"a":[1,{"b":null}],"c":-0.5}],"kwargs":{"k":[true,false]}}';
// What the echo actor returned, as Dramatiq's encoder (json.dumps) writes it.
export const echoed =
  '{"value":{"args":[NaN,1180591620717411303424,"h\\u00e9 \\u2713 \\ud83d\\ude00",{"a":[1,{"b":null}],"c":-0.5}],"kwargs":{"k":[true,false]}}}';

/**
 * The JS side of "Python sends, the JS worker runs": actors named as tests/py/broker_app.py
 * names them (`add`, `echo`, `fail`, `retry_once`, `echo_retry`), declared with `opts` (`broker`,
 * `queueName`, `storeResults`). A JS actor receives Python's kwargs as a last object argument.
 */
export function declarePythonAppActors(opts) {
  class AppError extends Error {}
  AppError.prototype.name = "AppError";
  const attempts = new Map();
  actor((x, y = 0) => x + (typeof y === "object" ? y.y : y), { ...opts, actorName: "add" });
  actor((...a) => ({ args: a.slice(0, -1), kwargs: a.at(-1) }), { ...opts, actorName: "echo" });
  actor((msg) => {
    throw new AppError(msg);
  }, { ...opts, actorName: "fail", maxRetries: 0 });
  actor((key) => {
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    if (n === 1) throw new AppError(`first attempt for ${key}`);
    return n;
  }, { ...opts, actorName: "retry_once", maxRetries: 3, minBackoff: 100, maxBackoff: 200 });
  actor((tag, value) => {
    const n = (attempts.get(tag) ?? 0) + 1;
    attempts.set(tag, n);
    if (n === 1) throw new AppError(`first attempt for ${tag}`);
    return value;
  }, { ...opts, actorName: "echo_retry", maxRetries: 3, minBackoff: 100, maxBackoff: 200 });
}

/**
 * Python's producer (tests/py/produce.py, over `conn`) sends values, unusual arguments, a
 * failure, a retry, a delay, a pipeline and a group, then reads every result with Python's
 * get_result (`timeout` ms). `{ sent, got }`: the sent message lines, the results read;
 * `got` must equal `pythonSendsExpected`, and `sent[3]` is the failing one.
 */
export async function pythonSends(conn, timeout) {
  const sent = await runPython("produce.py", [
    "send",
    '{"actor":"add","args":[1,2]}',
    '{"actor":"add","args":[40],"kwargs":{"y":2}}',
    echoSpec,
    '{"actor":"fail","args":["boom \\u2622"]}',
    '{"actor":"retry_once","args":["py"]}',
    '{"actor":"add","args":[5,5],"delay":300}',
    // Lone surrogates (Python's surrogateescape), which the retried message must carry.
    '{"actor":"echo_retry","args":["lone","caf\\udce9 \\ud800"]}',
  ], conn);
  const pipe = await runPython("produce.py", ["pipeline", '{"actor":"add","args":[1,2]}', '{"actor":"add","args":[10]}', '{"actor":"add","args":[100]}'], conn);
  const grp = await runPython("produce.py", ["group", '{"actor":"add","args":[1,1]}', '{"actor":"add","args":[2,2]}'], conn);
  const got = await runPython("produce.py", ["results", "--timeout", String(timeout)], {
    ...conn,
    input: [...sent, pipe.at(-1), ...grp].join("\n"),
  });
  return { sent, got };
}

/** The results `pythonSends` reads back, in order. */
export const pythonSendsExpected = [
  '{"value":3}',
  '{"value":42}',
  echoed,
  '{"failure":{"type":"AppError","msg":"boom \\u2622"}}',
  '{"value":2}',
  '{"value":10}',
  '{"value":"caf\\udce9 \\ud800"}',
  '{"value":113}',
  '{"value":2}',
  '{"value":4}',
];

/** How many times each item of `list` occurs: `distinct`, and `doubled`, those more than once. */
export function tally(list) {
  const counts = new Map();
  for (const x of list) counts.set(x, (counts.get(x) ?? 0) + 1);
  return { distinct: counts.size, doubled: [...counts].filter(([, n]) => n > 1).map(([x]) => x) };
}
