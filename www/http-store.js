// A `KvBackend` adapter over plain HTTP, so the dashboard can read the results an edge
// function (or `www/serve.mjs`'s demo endpoint) exposes. The contract is the smallest an
// endpoint can offer: GET `${endpoint}/${encodeURIComponent(key)}` answers 200 with the
// stored bytes or 404 when absent. PUT (`?ttl=<ms>`) and DELETE are only used when the
// dashboard itself stores results (its demo); a read-only endpoint may refuse them.
// Works in browsers and in Node 18+ (anything with `fetch`).

/** The `{ get, put, delete }` adapter for `new KvBackend(httpAdapter(endpoint))`. */
export function httpAdapter(endpoint, { fetch = globalThis.fetch.bind(globalThis), headers = {} } = {}) {
  const base = String(endpoint).replace(/\/+$/, "");
  const url = (key) => `${base}/${encodeURIComponent(key)}`;
  const refused = (method, key, res) => new Error(`${method} ${url(key)}: HTTP ${res.status}`);
  return {
    async get(key) {
      const res = await fetch(url(key), { headers, cache: "no-store" });
      if (res.status === 404) return null;
      if (!res.ok) throw refused("GET", key, res);
      return new Uint8Array(await res.arrayBuffer());
    },
    async put(key, value, { ttlMs }) {
      const res = await fetch(`${url(key)}?ttl=${ttlMs}`, { method: "PUT", headers, body: value });
      if (!res.ok) throw refused("PUT", key, res);
    },
    async delete(key) {
      const res = await fetch(url(key), { method: "DELETE", headers });
      if (!res.ok && res.status !== 404) throw refused("DELETE", key, res);
    },
  };
}
