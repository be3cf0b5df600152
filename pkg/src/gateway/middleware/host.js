// DNS rebinding: a page from `evil.example`, its name re-pointed at 127.0.0.1, calls the
// gateway as its own origin, and the browser sends no credentials a token-less gateway
// would check. So a gateway without a token serves only requests whose `Host` names the
// machine itself (a loopback name or address) or a host it was told to expect.

/** Whether `hostname` (as in a URL: IPv6 in brackets) names the loopback interface. */
export function isLoopbackName(hostname) {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (/^127(\.\d{1,3}){3}$/.test(name)) return true;
  return name === "[::1]" || /^\[::ffff:127(\.\d{1,3}){3}\]$/.test(name) || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(name);
}

/** The host name of a `Host` header (no port; IPv6 kept in brackets), or null. */
export function hostnameOf(header) {
  if (!header || header.length > 300) return null;
  try {
    return new URL(`http://${header}/`).hostname;
  } catch {
    return null;
  }
}

/**
 * Answers 421 to a request whose `Host` is neither a loopback name nor one of `hosts`.
 * @param {{ hosts?: string[] }} o the host names (or addresses) the gateway also answers to
 */
export function checkHost({ hosts = [] } = {}) {
  const allowed = new Set(hosts.map((h) => hostnameOf(h.includes(":") && !h.startsWith("[") ? `[${h}]` : h)).filter(Boolean));
  return async (c, next) => {
    const name = hostnameOf(c.req.header("host") ?? new URL(c.req.url).host);
    if (name === null || !(isLoopbackName(name) || allowed.has(name))) {
      return c.body(JSON.stringify({ error: "this gateway has no token and answers only to its own host names (DNS rebinding)" }), 421, {
        "content-type": "application/json; charset=utf-8",
      });
    }
    await next();
  };
}
