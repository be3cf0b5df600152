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
 * (`Message.pythonRefusal` says which bodies Python's workers refuse).
 */
export function packageCodecs({ JSONEncoder, StubBackend, Message }) {
  const encoder = new JSONEncoder();
  const utf8 = new TextEncoder();
  const textOf = new TextDecoder();
  return {
    decodeMessage: (body) => {
      const bytes = utf8.encode(body);
      const dict = encoder.decode(bytes);
      // JSON that no worker runs (a key that is no message field, no `args`: what Python's
      // Message.decode refuses, and so do ours) is no message either: listed as malformed,
      // so the operator can delete it (DELETE by its message id would find nothing to act
      // on, or a worker's acks set holding it forever).
      const refused = Message?.pythonRefusal(bytes);
      if (refused) throw Object.assign(new TypeError(`not a message Dramatiq's workers decode: ${refused}`), { code: NOT_A_MESSAGE });
      return dict;
    },
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
