// Cloudflare Workers (workerd) entry: Workers forbid compiling wasm from bytes at run time,
// so the .wasm is imported as a module (wrangler and Miniflare's CompiledWasm rule do this)
// and instantiated at import.
import wasm from "../dist/dramatiq_results_bg.wasm";
import { loadNow, ready, setDefaultInput } from "./wasm/start.js";
import { openSocket } from "./net/socket_workerd.js";
import { setOpenSocket } from "./net/redis_connect.js";
import { Message, StubBackend } from "./api.js";

setDefaultInput(() => wasm);
loadNow(wasm);

// connectRedis opens its sockets with cloudflare:sockets.
setOpenSocket(openSocket);

// One store and get on a private StubBackend while the Worker starts, so the first request
// does not pay for compiling that path (V8 compiles each wasm and JS function on its first
// call): it took ~60% off the first request's CPU in workerd, at the same cost added to the
// start, which Cloudflare overlaps with the TLS handshake (bench/notes.md, start-up). The
// store, the key, the codec and the read are those of every backend. No I/O, no timer, no
// randomness (not allowed while a Worker starts); a failure here changes nothing.
ready.then(() => {
  let backend;
  let message;
  try {
    backend = new StubBackend();
    message = new Message({ actorName: "warm_up", messageId: "warm-up" });
  } catch {
    backend?.free();
    return;
  }
  backend
    .storeResult(message, { warm: [1, "up", 0.5, null, true] })
    .then(() => backend.getResult(message))
    .catch(() => {})
    .finally(() => {
      backend.free();
      message.free();
    });
}, () => {});

export * from "./api.js";
export { init, ready } from "./wasm/start.js";
