// Which way the host's timers are shared.

/** Whether each sleep needs a host timer of its own: in workerd (Cloudflare Workers) a
 * timer's callback runs inside the request that set it, and what it wakes does its I/O there,
 * where another request's socket cannot be used; elsewhere one timer serves every sleep. */
export function timerPerSleep() {
  try {
    return globalThis.navigator?.userAgent === "Cloudflare-Workers";
  } catch {
    return false;
  }
}
