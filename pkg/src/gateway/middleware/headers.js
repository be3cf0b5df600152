// The headers every answer of the gateway carries, whatever served it (the limits' 405, 413
// and 414 included): no MIME sniffing, no referrer, no framing. And the dashboard page's
// Content-Security-Policy: its own scripts only (the inline import map by its hash), its
// WebAssembly, no plugins, no framing; it may connect anywhere, as a page pointed at another
// gateway does.

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

/** The Content-Security-Policy of an HTML page: its inline scripts allowed by their SHA-256. */
export async function pagePolicy(html) {
  const hashes = [];
  for (const [, body] of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
    hashes.push(`'sha256-${btoa(String.fromCharCode(...digest))}'`);
  }
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(" ")}`.trim(),
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src *",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}
