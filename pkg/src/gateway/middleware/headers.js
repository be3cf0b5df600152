// The headers every answer of the gateway carries, whatever served it: no MIME sniffing, no
// referrer, no framing.

/** The headers, as the Worker's own handler also sets them on its files. */
export const SECURITY_HEADERS = Object.freeze({
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
});

export function securityHeaders() {
  return async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  };
}
