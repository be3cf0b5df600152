// Messages made only to be sent (actor.send's, a callback's, a pipeline's next step), held
// by no one else once sent. A network broker writes a copy of the message it is given, made
// before `send`/`enqueue` returns, so the original can be freed at once. Otherwise its wasm
// memory (its arguments, or a callback's result: a payload of any size) waits for the
// collector, which does not see wasm memory and lets hundreds of them pile up between two
// collections: a producer sending 1 MB messages one at a time grew its wasm memory (which
// never shrinks) past 130 MB. The stub broker queues the message itself: it is kept.
import { kSendsCopies } from "./symbols.js";

/** Frees `message` when `broker` sent a copy of it (`sent`, what send/enqueue returned). */
export function freeIfCopied(broker, message, sent) {
  if (broker?.[kSendsCopies] === true && sent !== message) message.free();
  return sent;
}
