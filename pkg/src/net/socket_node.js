// A TCP or TLS socket for connectRedis on Node (node:net / node:tls), behind the small
// interface every host's socket driver exports (socket_workerd.js is the other one):
//
//   openSocket({ host, port, tls, servername, connectTimeoutMs, keepAliveMs, noDelay })
//     → Promise<{ write(bytes): Promise<void>, onData(cb), onClose(cb), close(): Promise<void>, unref() }>
//
// - openSocket never throws: a bad option, a refused connection, a TLS failure or the
//   connect timeout rejects the promise with an Error naming the address and the cause.
// - onData(cb) receives every chunk (a Uint8Array) in order; chunks that arrive before a
//   callback is set are kept for it.
// - onClose(cb) is called once, with null when the peer or close() ended the connection,
//   or with the Error that ended it; set after the close, it is called at once (async).
// - write resolves once the bytes are handed to the OS, and rejects (never throws) when the
//   socket is closed or fails.
// - close() ends the connection and resolves when it is closed; calling it twice is fine.
//
// node:net and node:tls are loaded on the first connection, not at import: loading them (and
// the crypto and stream modules they pull in) was ~5 ms of every Node process's start-up,
// paid even by programs that never call connectRedis (bench/notes.md, start-up).

import { SocketEvents } from "./socket_events.js";

let sockets;

/** node:net and node:tls, loaded once. */
async function nodeSockets() {
  sockets ??= Promise.all([import("node:net"), import("node:tls")]).then(([net, tls]) => ({ net, tls }));
  return sockets;
}

/** The address in messages: IPv6 in brackets. */
function where(net, host, port) {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

export async function openSocket(options) {
  const { net, tls } = await nodeSockets();
  return new Promise((resolve, reject) => {
    let socket;
    let timer = null;
    let settled = false;
    const { host, port } = options ?? {};
    const fail = (error) => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      if (socket) socket.destroy();
      if (error instanceof TypeError) return reject(error);
      reject(new Error(`could not connect to Redis at ${where(net, host, port)}: ${error?.message ?? error}`, { cause: error }));
    };
    try {
      if (typeof host !== "string" || host === "" || !Number.isInteger(port) || port <= 0 || port > 65535) {
        throw new TypeError("openSocket needs a host name and a port from 1 to 65535");
      }
      if (options.tls) {
        // SNI carries names only: none for an IP address.
        const servername = options.servername ?? (net.isIP(host) ? undefined : host);
        socket = tls.connect({ host, port, servername, ...(options.tlsOptions ?? {}) });
      } else {
        socket = net.connect({ host, port });
      }
    } catch (error) {
      fail(error);
      return;
    }
    const ms = options.connectTimeoutMs;
    if (typeof ms === "number" && Number.isFinite(ms) && ms >= 0) {
      timer = setTimeout(() => fail(new Error(`connect timed out after ${ms} ms`)), ms);
    }
    socket.once("error", fail);
    socket.once("close", () => fail(new Error("the connection closed while connecting")));
    socket.once(options.tls ? "secureConnect" : "connect", () => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      socket.removeListener("error", fail);
      socket.removeAllListeners("close");
      try {
        socket.setNoDelay(options.noDelay ?? true);
        socket.setKeepAlive(true, options.keepAliveMs ?? 5000);
        resolve(wrap(socket, where(net, host, port)));
      } catch (error) {
        socket.destroy();
        reject(error);
      }
    });
  });
}

/** The connected socket behind the shared interface. */
function wrap(socket, address) {
  const events = new SocketEvents((error) => socket.destroy(error));
  let lastError = null;

  socket.on("data", (chunk) => events.data(chunk));
  socket.on("error", (error) => {
    lastError = new Error(`Redis socket ${address}: ${error.message}`, { cause: error });
  });
  socket.on("close", (hadError) => {
    events.finish(lastError ?? (hadError ? new Error(`Redis socket ${address} closed with an error`) : null));
  });

  return {
    write(bytes) {
      return new Promise((resolve, reject) => {
        if (events.closed || socket.destroyed) {
          reject(events.closeError ?? new Error(`Redis socket ${address} is closed`));
          return;
        }
        try {
          socket.write(bytes, (error) => (error ? reject(error) : resolve()));
        } catch (error) {
          reject(error);
        }
      });
    },
    onData: (cb) => events.onData(cb),
    onClose: (cb) => events.onClose(cb),
    /** Lets the process exit while the socket is open (node-redis's `unref()`). */
    unref() {
      socket.unref();
    },
    close() {
      const closed = events.whenClosed();
      if (!events.closed) socket.destroy();
      return closed;
    },
  };
}
