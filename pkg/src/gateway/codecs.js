// The gateway's codecs, from the package itself: messages and result values in Dramatiq's
// JSON (NaN and big integers included) and stored result bytes read by the package's own
// decode path, so the gateway never interprets Dramatiq's bytes itself. Host-neutral: the
// host entry hands in its build's `{ JSONEncoder, StubBackend }`.

/**
 * The gateway's `decodeMessage`, `encode` and `decodeResult`, from the package's own codec
 * (`JSONEncoder`: Dramatiq's JSON, NaN and big integers included) and decode path, for the
 * host entry that hands in its `{ JSONEncoder, StubBackend }`.
 */
export function packageCodecs({ JSONEncoder, StubBackend }) {
  const encoder = new JSONEncoder();
  const utf8 = new TextEncoder();
  const textOf = new TextDecoder();
  return {
    decodeMessage: (body) => encoder.decode(utf8.encode(body)),
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
