// A TCP or TLS socket for connectRedis on Cloudflare Workers (cloudflare:sockets), behind
// the small interface every host's socket driver exports (socket_node.js is the other one):
//
//   openSocket({ host, port, tls, servername, connectTimeoutMs })
//     → Promise<{ write(bytes): Promise<void>, onData(cb), onClose(cb), close(): Promise<void> }>
//
// - openSocket never throws: a refused connection, a TLS failure (`secureTransport: "on"`;
//   workerd sends the host name as SNI itself, so `servername` is not used) or the connect
//   timeout rejects the promise with an Error naming the address and the cause.
// - onData(cb) receives every chunk (a Uint8Array) in order; chunks that arrive before a
//   callback is set are kept for it.
// - onClose(cb) is called once, with null when the peer or close() ended the connection,
//   or with the Error that ended it; set after the close, it is called at once (async).
// - write resolves once the stream accepted the bytes, and rejects when it cannot.
// - close() ends the connection and resolves when it is closed; calling it twice is fine.
import { connect } from "cloudflare:sockets";
import { SocketEvents } from "./socket_events.js";

function where(host, port) {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export async function openSocket(options) {
  const { host, port } = options ?? {};
  if (typeof host !== "string" || host === "" || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new TypeError("openSocket needs a host name and a port from 1 to 65535");
  }
  const address = where(host, port);
  let socket;
  let timer = null;
  try {
    socket = connect({ hostname: host, port }, { secureTransport: options.tls ? "on" : "off", allowHalfOpen: false });
    const ms = options.connectTimeoutMs;
    const opened = socket.opened;
    if (typeof ms === "number" && Number.isFinite(ms) && ms >= 0) {
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connect timed out after ${ms} ms`)), ms);
      });
      await Promise.race([opened, timeout]);
    } else {
      await opened;
    }
  } catch (error) {
    if (socket) socket.close().catch(() => {});
    // workerd reports a server certificate it does not trust only in its own log; the Worker
    // sees "proxy request failed, cannot connect to the specified address", which reads as a
    // network fault. Over TLS, name the other cause.
    const hint = options.tls
      ? " (over TLS, also what a server certificate the runtime does not trust gives: the runtime's log says which; docs/edge.md, TLS)"
      : "";
    throw new Error(`could not connect to Redis at ${address}: ${error?.message ?? error}${hint}`, { cause: error });
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  return wrap(socket, address);
}

/** The connected socket behind the shared interface. */
function wrap(socket, address) {
  const writer = socket.writable.getWriter();
  const reader = socket.readable.getReader();
  const failed = (error) =>
    new Error(`Redis socket ${address}: ${error?.message ?? error}`, { cause: error });
  const events = new SocketEvents((error) => {
    events.finish(failed(error));
    socket.close().catch(() => {});
  });

  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        events.data(value);
      }
      events.finish(null);
    } catch (error) {
      events.finish(failed(error));
    }
    socket.close().catch(() => {});
  })();
  socket.closed.then(
    () => events.finish(null),
    (error) => events.finish(failed(error)),
  );

  return {
    async write(bytes) {
      if (events.closed) throw events.closeError ?? new Error(`Redis socket ${address} is closed`);
      try {
        await writer.write(bytes);
      } catch (error) {
        // A failed write leaves the socket open, and the driver counts on the close to fail
        // the commands waiting on it (redis_socket.rs): without ending it here they waited
        // forever (or to their deadline). workerd refuses a write to a socket another
        // request opened (a client kept in module scope), so say what to do then.
        const failure = failed(error);
        if (/different request/.test(failure.message)) {
          failure.message += " A connectRedis client belongs to the request that connected it: connect in each request (docs/edge.md).";
        }
        events.finish(failure);
        try {
          socket.close().catch(() => {});
        } catch {
          // Not ours to close from this request either: dropped with the other request.
        }
        throw failure;
      }
    },
    onData: (cb) => events.onData(cb),
    onClose: (cb) => events.onClose(cb),
    async close() {
      if (events.closed) return;
      const done = events.whenClosed();
      try {
        await socket.close();
      } catch {
        // Already closing: the close below settles it.
      }
      events.finish(null);
      await done;
    },
  };
}
