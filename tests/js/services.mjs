// Real servers for the backend and broker tests: Debian's redis-server, memcached and
// rabbitmq-server, started on free loopback ports, each owned by the test file that starts
// it and stopped by PID.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";

/** Whether the server binaries are installed (`scripts/setup --services`). */
export const haveRedis = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].some(existsSync);
export const haveMemcached = ["/usr/bin/memcached", "/usr/local/bin/memcached"].some(existsSync);
// The node's own start script, not /usr/sbin's wrapper: that one re-runs it through `su`,
// which resets HOME (so the node would share /var/lib/rabbitmq's cookie and settings).
const rabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";
export const haveRabbitmq = existsSync(rabbitmqServer) && existsSync("/usr/bin/epmd");

/** A TCP port nobody listens on right now. */
export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Whether any process of the group led by `pid` is still there. */
export function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to every process of the group led by `pid`, and waits until none is left. */
export async function killGroup(pid, signal = "SIGKILL", ms = 30_000) {
  try {
    process.kill(-pid, signal);
  } catch {}
  const deadline = Date.now() + ms;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process group ${pid} still alive ${ms} ms after ${signal}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Process groups (and temp dirs) still there when this test process exits — a failed
// assertion, a crash — are killed (removed) then, so nothing outlives its test file.
const leftovers = { pids: new Set(), dirs: new Set() };
process.on("exit", () => {
  for (const pid of leftovers.pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  for (const dir of leftovers.dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Kills process `pid` (with `group`, every process of the group it leads) with SIGKILL if
 * the test process exits before it is gone, also when the test process is ended by SIGINT
 * or SIGTERM (a timeout, Ctrl-C). Returns the function that forgets it (once it is gone).
 */
export function reapOnExit(pid, { group = true } = {}) {
  if (!leftovers.signals) {
    leftovers.signals = true;
    for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(128 + constants.signals[signal]));
  }
  const target = group ? -pid : pid;
  leftovers.pids.add(target);
  return () => leftovers.pids.delete(target);
}

/** Resolves once something accepts connections on `port`; rejects after `ms`. */
async function listening(port, child, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const socket = createConnection({ port, host: "127.0.0.1" });
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A server process on a fixed port, that can be stopped (SIGKILL: the server going away
 * mid-request, as in a crash) and started again on the same port.
 */
class Server {
  /** `options` go to `spawn` (env, cwd, uid, gid); `detached: true` gives the server a
   * process group of its own, killed whole (for servers that start helper processes). */
  constructor(name, argv, options = {}) {
    this.name = name;
    this.argv = argv;
    this.options = options;
    this.child = null;
    this.output = "";
    this.readyMs = 10_000;
  }

  async start() {
    const [cmd, ...args] = this.argv;
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...this.options });
    this.child = child;
    child.once("exit", reapOnExit(child.pid, { group: Boolean(this.options.detached) }));
    child.stdout.on("data", (d) => (this.output += d));
    child.stderr.on("data", (d) => (this.output += d));
    try {
      await listening(this.port, child, this.readyMs);
    } catch (e) {
      await this.kill();
      throw new Error(`${this.name} did not start: ${e.message}\n${this.output}${this.log?.() ?? ""}`);
    }
    return this;
  }

  /** Whether the process (or, if detached, any process of its group) is still there. */
  get running() {
    const child = this.child;
    if (!child) return false;
    if (this.options.detached) return groupAlive(child.pid);
    return child.exitCode === null && child.signalCode === null;
  }

  /** Kills the process (SIGKILL: a crash) and waits for it to be gone. */
  async stop() {
    return this.kill();
  }

  /** SIGKILL (to the whole group if detached), then waits for it to be gone. */
  async kill() {
    const child = this.child;
    if (!this.running) return;
    if (this.options.detached) return killGroup(child.pid, "SIGKILL");
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
  }
}

/** A fresh redis-server on a free port: no persistence, loopback only. `args` are more
 * command-line settings (`["--proto-max-bulk-len", "1mb"]`). */
export async function startRedis({ args = [] } = {}) {
  // A free port can be taken by another process's server between freePort() and our
  // server's bind (other test processes start servers too): then our redis-server exits and
  // the other one answers on the port. So a server counts as ours only when the Redis
  // answering says its process id is our child's; otherwise, another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = new Server("redis-server", [
      "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning", ...args,
    ]);
    server.port = port;
    server.url = `redis://127.0.0.1:${port}`;
    try {
      await server.start();
      const pid = await redisProcessId(port);
      if (pid === server.child.pid && server.running) return server;
      await server.stop();
      if (attempt >= 5) throw new Error(`port ${port}: another process's Redis (pid ${pid}) answers, not ours`);
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

/** The `process_id` a Redis on `port` gives in `INFO server` (raw RESP: no client library). */
function redisProcessId(port) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let text = "";
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no INFO answer on ${port}`))), 5000);
    socket.once("error", (error) => (clearTimeout(timer), reject(error)));
    socket.on("data", (chunk) => {
      text += chunk;
      const found = /process_id:(\d+)/.exec(text);
      if (found) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(found[1]));
      }
    });
    socket.write("INFO server\r\n");
  });
}

/** A fresh memcached on a free port, loopback only. */
export async function startMemcached() {
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ["-u", "root"] : [];
  const server = new Server("memcached", ["memcached", "-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", "-I", "32m", ...user]);
  server.port = port;
  server.address = `127.0.0.1:${port}`;
  return server.start();
}

/**
 * One request on Memcached's text protocol, on a connection of its own, answered with
 * everything up to `END\r\n` (or the first line, for other replies): a way to see what
 * the server holds without the client library under test.
 */
export async function memcachedText(port, line) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (d) => {
      data += d;
      if (/(^|\r\n)(END|STORED|DELETED|NOT_FOUND|ERROR|EN|HD|NF)\r\n$/.test(data) || /^(VA|CLIENT_ERROR|SERVER_ERROR)[^\n]*\r\n[\s\S]*\r\n$/.test(data)) {
        socket.end();
        resolve(data);
      }
    });
    socket.on("error", reject);
    socket.write(line + "\r\n");
  });
}

/** The uid and gid of `user` from /etc/passwd, or null if there is no such user. */
function account(user) {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${user}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A RabbitMQ node of its own: free loopback ports, and its own data, log and config under a
 * temp dir (removed when the test process exits). Run as root, the node runs as the
 * `rabbitmq` user (Debian's RabbitMQ refuses to run as root), so the dir is theirs. An epmd
 * of its own on a free port too: a stray or shared epmd (another test file's node, a node
 * that was SIGKILLed) never meets this one, and stop() leaves no Erlang process behind.
 */
class RabbitmqServer extends Server {
  constructor(port, config = "") {
    const dir = mkdtempSync(join(tmpdir(), "rabbitmq-test-"));
    leftovers.dirs.add(dir);
    const owner = process.getuid?.() === 0 ? account("rabbitmq") : null;
    const env = {
      PATH: process.env.PATH,
      LANG: "C.UTF-8",
      HOME: dir,
      RABBITMQ_NODENAME: `rabbit-test-${port}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
      RABBITMQ_LOG_BASE: join(dir, "log"),
      RABBITMQ_PID_FILE: join(dir, "rabbit.pid"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
      RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq.conf"),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
      RABBITMQ_CONF_ENV_FILE: join(dir, "rabbitmq-env.conf"),
      RABBITMQ_FEATURE_FLAGS_FILE: join(dir, "feature_flags"),
    };
    super("rabbitmq-server", [rabbitmqServer], { env, cwd: dir, detached: true, ...owner });
    this.readyMs = 120_000; // ~7 s idle; several times that on a loaded machine
    this.port = port;
    this.dir = dir;
    this.url = `amqp://guest:guest@127.0.0.1:${port}`;
    this.env = env;
    writeFileSync(env.RABBITMQ_ENABLED_PLUGINS_FILE, "[].\n");
    writeFileSync(env.RABBITMQ_CONF_ENV_FILE, "");
    // A full disk must not block publishers (RabbitMQ's default limit is 50 MB free).
    writeFileSync(env.RABBITMQ_CONFIG_FILE, `disk_free_limit.absolute = 1MB\n${config}`);
    // Its own Erlang cookie, in its own HOME: no other node or CLI can connect to it.
    writeFileSync(join(dir, ".erlang.cookie"), randomBytes(15).toString("hex"), { mode: 0o400 });
    if (owner) {
      for (const f of ["", ".erlang.cookie", "enabled_plugins", "rabbitmq-env.conf", "rabbitmq.conf"]) {
        chownSync(join(dir, f), owner.uid, owner.gid);
      }
    }
  }

  /** The node's log so far (for errors). */
  log() {
    try {
      return `\n--- ${this.env.RABBITMQ_NODENAME}.log ---\n${readFileSync(join(this.env.RABBITMQ_LOG_BASE, `${this.env.RABBITMQ_NODENAME}.log`), "utf8").slice(-4000)}`;
    } catch {
      return "";
    }
  }

  async start() {
    if (!this.epmd?.running) {
      const epmdPort = await freePort();
      this.epmd = new Server("epmd", ["/usr/bin/epmd", "-port", String(epmdPort)], { detached: true });
      this.epmd.port = epmdPort;
      this.options.env.ERL_EPMD_PORT = String(epmdPort);
      this.options.env.RABBITMQ_DIST_PORT ??= String(await freePort());
      await this.epmd.start();
    }
    try {
      return await super.start();
    } catch (e) {
      await this.epmd.stop();
      throw e;
    }
  }

  /** The node's OS pid (from its pid file), or null before it wrote one or if the file
   * is stale (that pid is not in this node's process group). */
  get pid() {
    try {
      const pid = Number(readFileSync(this.env.RABBITMQ_PID_FILE, "utf8").trim());
      // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      return pgrp === this.child?.pid ? pid : null;
    } catch {
      return null;
    }
  }

  // kill() is Server's: SIGKILL to the node's process group (a crash); data stays, and
  // restart() brings it back.

  /** Stops the node gracefully (SIGTERM to its pid), then epmd; data stays. */
  async stop() {
    await this.shutdown();
    await this.epmd?.stop();
  }

  /** SIGTERM to the node (RabbitMQ's graceful shutdown); waits until its processes are
   * gone, SIGKILL after 30 s. */
  async shutdown() {
    if (!this.running) return;
    const pid = this.pid;
    try {
      process.kill(pid ?? -this.child.pid, "SIGTERM");
    } catch {}
    try {
      await killGroup(this.child.pid, 0, 30_000);
    } catch {
      await killGroup(this.child.pid, "SIGKILL");
    }
  }

  /**
   * Runs `rabbitmqctl <args>` against this node (its own cookie, epmd and name) and
   * resolves with its stdout: `ctl("list_queues", "name", "messages_ready")`,
   * `ctl("set_vm_memory_high_watermark", "0.0000001")`, `ctl("set_policy", …)`.
   */
  ctl(...args) {
    const env = { ...this.env, ERL_EPMD_PORT: String(this.epmd.port) };
    return new Promise((resolve, reject) => {
      execFile("/usr/lib/rabbitmq/bin/rabbitmqctl", ["-n", env.RABBITMQ_NODENAME, "-q", ...args], { env, timeout: 60_000, maxBuffer: 256 << 20 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`rabbitmqctl ${args.join(" ")} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }

  /** `{ <queue>: [messages_ready, messages_unacknowledged] }` for the queues whose name
   * starts with `prefix`, as RabbitMQ counts them (`rabbitmqctl list_queues`). */
  async counts(prefix = "") {
    const out = {};
    for (const line of (await this.ctl("list_queues", "name", "messages_ready", "messages_unacknowledged")).split("\n")) {
      const [name, ready, unacked] = line.split("\t");
      if (name?.startsWith(prefix) && /^\d+$/.test(ready ?? "") && /^\d+$/.test(unacked ?? "")) out[name] = [Number(ready), Number(unacked)];
    }
    return out;
  }

  /** Stops the node (if it runs) and starts it again: same port, name and data. */
  async restart() {
    await this.shutdown();
    this.output = "";
    return this.start();
  }
}

/**
 * A fresh RabbitMQ node on a free loopback port (user guest/guest), listening in ~7 s:
 * `{ url, port, dir, stop(), kill(), restart(), output, log() }`. Durable queues and
 * persistent messages survive `restart()` (and `kill()` + `restart()`, once published
 * with confirms). `config` is more of rabbitmq.conf (`"max_message_size = 1048576\n"`).
 */
export async function startRabbitmq({ config = "" } = {}) {
  return new RabbitmqServer(await freePort(), config).start();
}

/**
 * A redis-server speaking only TLS (Debian's is built with it), on a free port, with a
 * self-signed certificate made here by `openssl` for `localhost` and 127.0.0.1. `caFile`
 * and `ca` are that certificate, for clients to trust; clients need no certificate.
 */
export async function startRedisTls() {
  const dir = mkdtempSync(join(tmpdir(), "redis-tls-"));
  leftovers.dirs.add(dir);
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  await new Promise((resolve, reject) => {
    const child = spawn("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key, "-out", cert,
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext", "basicConstraints=critical,CA:TRUE",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`openssl failed: ${err}`))));
  });
  const port = await freePort();
  const server = new Server("redis-server (TLS)", [
    "redis-server", "--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--save", "",
    "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning",
    "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no",
  ]);
  server.port = port;
  server.url = `rediss://localhost:${port}`;
  server.caFile = cert;
  server.ca = readFileSync(cert, "utf8");
  return server.start();
}

/**
 * A fake Redis for failure cases, on a free loopback port: `answer(argv, socket, n)` is
 * called for each command (its arguments as strings; `n` counts the commands of the
 * connection, from 0) and writes what it likes. Resolves with { port, url, connections, close }.
 */
export async function fakeServer(answer) {
  const sockets = new Set();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    let n = 0;
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseCommand(buffer);
        if (!parsed) return;
        buffer = buffer.subarray(parsed.used);
        answer(parsed.argv, socket, n++);
      }
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/** One RESP array of bulk strings from the front of `buf`, or null if incomplete. */
function parseCommand(buf) {
  const line = (at) => {
    const end = buf.indexOf("\r\n", at);
    return end < 0 ? null : [buf.toString("latin1", at + 1, end), end + 2];
  };
  const head = line(0);
  if (!head) return null;
  let [count, at] = head;
  const argv = [];
  for (let i = 0; i < Number(count); i++) {
    const len = line(at);
    if (!len) return null;
    const [n, start] = len;
    if (buf.length < start + Number(n) + 2) return null;
    argv.push(buf.toString("utf8", start, start + Number(n)));
    at = start + Number(n) + 2;
  }
  return { argv, used: at };
}
