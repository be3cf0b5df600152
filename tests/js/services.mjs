// Real servers for the backend tests: Debian's redis-server and memcached, started on free
// loopback ports, each owned by the test file that starts it and stopped by PID.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createConnection, createServer } from "node:net";

/** Whether the server binaries are installed (`scripts/setup --services`). */
export const haveRedis = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].some(existsSync);
export const haveMemcached = ["/usr/bin/memcached", "/usr/local/bin/memcached"].some(existsSync);

/** A TCP port nobody listens on right now. */
export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
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
  constructor(name, argv) {
    this.name = name;
    this.argv = argv;
    this.child = null;
    this.output = "";
  }

  async start() {
    const [cmd, ...args] = this.argv;
    this.child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout.on("data", (d) => (this.output += d));
    this.child.stderr.on("data", (d) => (this.output += d));
    try {
      await listening(this.port, this.child);
    } catch (e) {
      throw new Error(`${this.name} did not start: ${e.message}\n${this.output}`);
    }
    return this;
  }

  /** Kills the process and waits for it to be gone. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
  }
}

/** A fresh redis-server on a free port: no persistence, loopback only. */
export async function startRedis() {
  const port = await freePort();
  const server = new Server("redis-server", [
    "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning",
  ]);
  server.port = port;
  server.url = `redis://127.0.0.1:${port}`;
  return server.start();
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
