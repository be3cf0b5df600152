// Helpers for the gateway tests: the gateway started by its own bin as a child process, a
// Server-Sent Events reader over fetch, and a hand-driven Dramatiq Redis broker that writes
// the keys the way dispatch.lua does (enqueue, fetch, ack, nack), for tests that need exact
// control over when a message moves.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const bin = fileURLToPath(new URL("../../pkg/bin/dramatiq-results.js", import.meta.url));

/**
 * Runs `dramatiq-results serve …args` and resolves with `{ url, child, output(), stop() }`
 * once it prints its URL; rejects with its output when it exits first.
 */
export function startGatewayBin(args, { env = {}, command = [process.execPath, bin], cwd } = {}) {
  const [file, ...pre] = command;
  const child = spawn(file, [...pre, "serve", "--port", "0", ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: `npx` runs the gateway as a grandchild
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const handle = {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid, "SIGTERM"); // the group this helper started
      } catch {
        child.kill("SIGTERM");
      }
      await gone;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
      reject(new Error(`no URL after 20 s:\n${output}`));
    }, 20_000);
    child.stdout.on("data", () => {
      const m = /gateway on (http:\/\/\S+?)\/?(\s|$)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ ...handle, url: m[1] });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`gateway exited with ${code}:\n${output}`), { code, output }));
    });
  });
}

/**
 * Reads `url` as an event stream (fetch, so it can send headers). `events` collects
 * `{ id, event, data }` (data parsed as JSON); `until(pred, ms)` waits for an event matching
 * `pred`; `close()` aborts.
 */
export async function openEvents(url, headers = {}) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const events = [];
  const waiters = new Set();
  const stream = { res, events, lastId: null };
  if (!res.ok) return { ...stream, close: () => controller.abort(), until: () => Promise.reject(new Error(`HTTP ${res.status}`)) };
  (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e = { id: null, event: "message", data: "" };
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const [, field, value] = /^([^:]*):? ?(.*)$/.exec(line);
            if (field === "id") e.id = Number(value);
            else if (field === "event") e.event = value;
            else if (field === "data") e.data += value;
          }
          if (!block.split("\n").some((l) => !l.startsWith(":"))) continue;
          e.data = e.data ? JSON.parse(e.data) : null;
          if (e.id !== null) stream.lastId = e.id;
          events.push(e);
          for (const w of waiters) w();
        }
      }
    } catch {
      // aborted
    }
    stream.ended = true;
    for (const w of waiters) w();
  })();
  stream.close = () => controller.abort();
  stream.until = (pred, ms = 15_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(pred);
        if (found) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        } else if (stream.ended) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`stream ended; events: ${events.map((e) => e.event).join(",")}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching event in ${ms} ms; got ${events.map((e) => `${e.event}#${e.id}`).join(",")}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return stream;
}

/**
 * A hand-driven RedisBroker peer: the same keys and moves as Dramatiq's dispatch.lua, one
 * command at a time through a node-redis client (written for these tests; no Lua copied).
 */
export class HandBroker {
  constructor(client, namespace = "dramatiq") {
    this.client = client;
    this.ns = namespace;
  }

  /** Enqueues a message dict (a fresh redis_message_id), as `broker.enqueue(message, delay)`. */
  async enqueue(message, { delay } = {}) {
    const rid = crypto.randomUUID();
    const queue = delay === undefined ? message.queue_name : `${message.queue_name}.DQ`;
    const options = { ...message.options, redis_message_id: rid, ...(delay === undefined ? {} : { eta: Date.now() + delay }) };
    const body = JSON.stringify({ ...message, queue_name: queue, options });
    await this.client.hSet(`${this.ns}:${queue}.msgs`, rid, body);
    await this.client.rPush(`${this.ns}:${queue}`, rid);
    return rid;
  }

  /** A worker takes the first waiting message of `queue` (LPOP into its acks set). */
  async fetch(worker, queue) {
    await this.heartbeat(worker);
    const rid = await this.client.lPop(`${this.ns}:${queue}`);
    if (rid) await this.client.sAdd(`${this.ns}:__acks__.${worker}.${queue}`, rid);
    return rid;
  }

  async ack(worker, queue, rid) {
    if (await this.client.sRem(`${this.ns}:__acks__.${worker}.${queue}`, rid)) await this.client.hDel(`${this.ns}:${queue}.msgs`, rid);
  }

  async nack(worker, queue, rid) {
    if (!(await this.client.sRem(`${this.ns}:__acks__.${worker}.${queue}`, rid))) return;
    const body = await this.client.hGet(`${this.ns}:${queue}.msgs`, rid);
    await this.client.zAdd(`${this.ns}:${queue}.XQ`, { score: Date.now(), value: rid });
    await this.client.hSet(`${this.ns}:${queue}.XQ.msgs`, rid, body);
    await this.client.hDel(`${this.ns}:${queue}.msgs`, rid);
  }

  async heartbeat(worker) {
    await this.client.zAdd(`${this.ns}:__heartbeats__`, { score: Date.now(), value: worker });
  }
}

/** A Dramatiq message dict. */
export const dict = (queue, actor, args = [], extra = {}) => ({
  queue_name: queue,
  actor_name: actor,
  args,
  kwargs: {},
  options: {},
  message_id: crypto.randomUUID(),
  message_timestamp: Date.now(),
  ...extra,
});

/** Polls `fn` until it answers truthy (generous deadline: the machine is shared). */
export async function eventually(fn, ms = 60_000, what = "condition") {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}
