// Where a confirmed publish's time goes, one after another, on one RabbitMQ node: raw
// amqplib, our RabbitmqBroker, raw pika and Python Dramatiq's RabbitmqBroker, in
// interleaved rounds (the machine's load drifts between minutes). For the two Node sides,
// each publish is split into "server" (amqplib's publish call to its confirm callback:
// amqplib's framing and write, RabbitMQ, the disk sync for persistent messages) and
// "client" (the confirm callback to the next publish: the caller's loop, Message, the
// broker's own work). bench/notes.md has what it measured.
// Usage: node bench/rabbitmq_confirm_probe.mjs [--n 1000] [--rounds 5] [--transient]
import { spawnSync } from "node:child_process";
import amqplib from "amqplib";
import { Message, RabbitmqBroker, actor } from "dramatiq-results";
import { startRabbitmq } from "../tests/js/services.mjs";
import { arg, median, root } from "./broker_bench.mjs";

const N = arg("n", 1000);
const ROUNDS = arg("rounds", 5);
const MODE = process.argv.includes("--transient") ? 1 : 2;
const python = process.env.PYTHON ?? `${root}target/venv/bin/python`;
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;

/** Wraps `ch.publish` to split each publish into server and client time (µs). */
function split(ch) {
  const times = { client: [], server: [] };
  const publish = ch.publish.bind(ch);
  let confirmed = 0;
  ch.publish = (exchange, key, body, options, callback) => {
    const start = performance.now();
    if (confirmed) times.client.push((start - confirmed) * 1000);
    return publish(exchange, key, body, { ...options, deliveryMode: MODE }, (error) => {
      confirmed = performance.now();
      times.server.push((confirmed - start) * 1000);
      callback(error);
    });
  };
  return times;
}

async function timed(send, times) {
  for (let i = 0; i < 200; i++) await send();
  times.client.length = 0;
  times.server.length = 0;
  const t = performance.now();
  for (let i = 0; i < N; i++) await send();
  const rate = N / ((performance.now() - t) / 1000);
  return { rate, clientUs: mean(times.client), serverUs: mean(times.server), serverMedianUs: median(times.server) };
}

async function raw(url) {
  const conn = await amqplib.connect(url, { noDelay: true });
  try {
    const ch = await conn.createConfirmChannel();
    const times = split(ch);
    const q = `raw-${Math.random().toString(36).slice(2, 10)}`;
    await ch.assertQueue(q, { durable: true, arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${q}.XQ` } });
    const send = () =>
      new Promise((resolve, reject) => {
        const body = Buffer.from(new Message({ queueName: q, actorName: "noop" }).encode());
        ch.publish("", q, body, { mandatory: true }, (e) => (e ? reject(e) : resolve()));
      });
    const out = await timed(send, times);
    await ch.deleteQueue(q);
    return out;
  } finally {
    await conn.close();
  }
}

async function ours(url) {
  const broker = await RabbitmqBroker.connect(url, { confirmDelivery: true });
  try {
    const times = split(await broker.channel());
    const noop = actor("noop", { broker, queueName: `ours-${Math.random().toString(36).slice(2, 10)}` });
    const out = await timed(() => broker.enqueue(noop.message()), times);
    await broker.flush(noop.queueName);
    return out;
  } finally {
    await broker.close();
  }
}

const py = (url, side) => {
  const run = spawnSync(python, [`${root}bench/rabbitmq_confirm_probe.py`, url, side, String(N), String(MODE)], { encoding: "utf8" });
  return { rate: Number(run.stdout) || NaN };
};

const rabbit = await startRabbitmq();
const sides = { "amqplib (raw)": raw, "ours (RabbitmqBroker)": ours, "pika (raw)": (u) => py(u, "pika"), "Python Dramatiq": (u) => py(u, "dramatiq") };
const got = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
try {
  for (let r = 0; r < ROUNDS; r++) {
    const names = Object.keys(sides);
    if (r % 2) names.reverse();
    for (const name of names) got[name].push(await sides[name](rabbit.url));
  }
} finally {
  await rabbit.stop();
}
console.log(`${N} ${MODE === 2 ? "persistent" : "transient"} messages a round, ${ROUNDS} rounds; medians over rounds`);
for (const [name, rounds] of Object.entries(got)) {
  const m = (k) => median(rounds.map((x) => x[k]));
  const rates = rounds.map((x) => Math.round(x.rate)).join(" ");
  const detail = rounds[0].clientUs === undefined ? "" : `  client ${m("clientUs").toFixed(0)} µs, server ${m("serverUs").toFixed(0)} µs (median ${m("serverMedianUs").toFixed(0)})`;
  console.log(`${name.padEnd(22)} ${Math.round(m("rate")).toString().padStart(6)} msg/s  [${rates}]${detail}`);
}
