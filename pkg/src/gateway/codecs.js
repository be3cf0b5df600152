// The gateway's codecs, from the package itself: messages and result values in Dramatiq's
// JSON (NaN and big integers included) and stored result bytes read by the package's own
// decode path, so the gateway never interprets Dramatiq's bytes itself. Host-neutral: the
// host entry hands in its build's `{ JSONEncoder, StubBackend, Message }`.

/** The `code` of `decodeMessage`'s error for JSON that is not a message workers decode. */
export const NOT_A_MESSAGE = "NOT_A_MESSAGE";

/**
 * The gateway's `decodeMessage`, `encode` and `decodeResult`, from the package's own codec
 * (`JSONEncoder`: Dramatiq's JSON, NaN and big integers included) and decode path, for the
 * host entry that hands in its `{ JSONEncoder, StubBackend, Message }`
 * (`Message.decodeDict` also refuses the bodies Python's workers refuse).
 */
export function packageCodecs({ JSONEncoder, StubBackend, Message }) {
  const encoder = new JSONEncoder();
  const utf8 = new TextEncoder();
  const textOf = new TextDecoder();
  return {
    // With `Message`, JSON that no worker runs (a key that is no message field, no `args`:
    // what Python's Message.decode refuses, and so do ours) is no message either, in the
    // same decode: listed as malformed, so the operator can delete it (by its message id
    // nothing would act on it, and a Python worker's acks set can hold it forever).
    decodeMessage: Message
      ? (body) => {
          try {
            return Message.decodeDict(utf8.encode(body));
          } catch (error) {
            if (error instanceof TypeError) throw Object.assign(new TypeError(error.message, { cause: error }), { code: NOT_A_MESSAGE });
            throw error;
          }
        }
      : (body) => encoder.decode(utf8.encode(body)),
    encode: (value) => textOf.decode(encoder.encode(value)),
    decodeResult: resultDecoder(StubBackend),
  };
}

/**
 * `decodeResult` for the gateway: stored bytes read by the package's own decode path
 * (through a `StubBackend`, one read at a time), so the gateway never interprets Dramatiq's
 * bytes or its exception envelope itself.
 */
function resultDecoder(StubBackend) {
  const stub = new StubBackend();
  const identity = { queueName: "gateway", actorName: "decode", messageId: "bytes" };
  let turn = Promise.resolve();
  return (bytes) => {
    const run = turn.then(async () => {
      await stub.storeResultBytes(identity, bytes);
      try {
        return { value: await stub.getResult(identity) };
      } catch (error) {
        return { error };
      }
    });
    turn = run.catch(() => {});
    return run;
  };
}
