// The half of a socket driver that does not depend on the host (socket_node.js and
// socket_workerd.js share it): chunks that arrive before a reader is set are kept for it, a
// reader that throws tears the connection down, the close is reported once (to a callback set
// before or after it), and every close() waiting is settled when it happens.

export class SocketEvents {
  #onData = null;
  #onClose = null;
  #early = [];
  #waiters = [];
  #abort;

  /** `abort(error)` tears the connection down when the reader throws (the host's way). */
  constructor(abort) {
    this.#abort = abort;
    /** Whether the connection has ended. */
    this.closed = false;
    /** The Error that ended it, or null for a clean close. */
    this.closeError = null;
  }

  /** A chunk from the host: to the reader, or kept until one is set. */
  data(chunk) {
    if (this.#onData === null) {
      this.#early.push(chunk);
      return;
    }
    try {
      this.#onData(chunk);
    } catch (error) {
      // The reader failed: it cannot follow the stream any more.
      this.#abort(error);
    }
  }

  /** The connection ended (with `error`, or null): said once. */
  finish(error) {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const done of this.#waiters.splice(0)) done();
    const cb = this.#onClose;
    this.#onClose = null;
    if (cb) cb(error);
  }

  /** The driver's `onData(cb)`: kept chunks are delivered in a microtask, in order. */
  onData(cb) {
    this.#onData = cb;
    const pending = this.#early;
    this.#early = [];
    if (pending.length === 0) return;
    queueMicrotask(() => {
      try {
        for (const chunk of pending) cb(chunk);
      } catch (error) {
        this.#abort(error);
      }
    });
  }

  /** The driver's `onClose(cb)`: after the close, called at once (in a microtask). */
  onClose(cb) {
    if (this.closed) queueMicrotask(() => cb(this.closeError));
    else this.#onClose = cb;
  }

  /** Resolves when the connection has ended. */
  whenClosed() {
    return this.closed ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}
