// One scenario run unchanged in every host (workerd, Chromium): the package's own entry for
// that host is imported by the caller and passed in. Returns a list of failed checks.
export async function smoke(api) {
  const { StubBackend, Message, JSONEncoder, ResultError, ResultMissing, ResultTimeout, ResultFailure } = api;
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
  };
  const backend = new StubBackend();
  const m = new Message({ queueName: "default", actorName: "add", messageId: "00000000-0000-4000-8000-000000000000" });
  check(backend.buildMessageKey(m) === "d8ac489da7ded05e815a30446be973d6", "Dramatiq's key");
  await backend.storeResult(m, { sum: 3, big: 2n ** 70n, nan: NaN, s: "\u00e9\u{1F600}" });
  const v = await backend.getResult(m);
  check(v.sum === 3 && v.big === 2n ** 70n && Number.isNaN(v.nan) && v.s === "\u00e9\u{1F600}", "round trip");
  const bytes = new TextDecoder().decode(await backend.getResultBytes(m));
  check(bytes === '{"sum":3,"big":1180591620717411303424,"nan":NaN,"s":"\\u00e9\\ud83d\\ude00"}', `bytes ${bytes}`);
  try {
    await backend.getResult(new Message({ actorName: "none" }));
    check(false, "missing rejects");
  } catch (e) {
    check(e instanceof ResultMissing && e instanceof ResultError && e instanceof Error, "ResultMissing class");
  }
  const later = new Message({ actorName: "later" });
  setTimeout(() => backend.storeResult(later, "ok"), 20);
  check((await backend.getResult(later, { block: true, timeout: 5000 })) === "ok", "wake on store");
  const t0 = Date.now();
  try {
    await backend.getResult(new Message({ actorName: "never" }), { block: true, timeout: 100 });
    check(false, "timeout rejects");
  } catch (e) {
    check(e instanceof ResultTimeout, "ResultTimeout class");
    check(Date.now() - t0 >= 99, "not before the deadline");
  }
  const failing = new Message({ actorName: "fails" });
  await backend.storeException(failing, new TypeError("bad"));
  try {
    await backend.getResult(failing);
    check(false, "failure rejects");
  } catch (e) {
    check(e instanceof ResultFailure && e.exceptionType === "TypeError" && e.message === "actor raised TypeError: bad", "ResultFailure");
  }
  const enc = new JSONEncoder();
  check(new TextDecoder().decode(enc.encode([1.5e-7, 1e16])) === "[1.5e-07,1e+16]", "encoder floats");
  // Texts of 256 units and more are checked in a buffer wasm reuses, written through a view
  // the host keeps: ASCII or not, and again after a large value grew wasm memory.
  for (const [i, s] of ["a".repeat(300), "\u00e9".repeat(300), "b".repeat(2_000_000), "c".repeat(300)].entries()) {
    const long = new Message({ actorName: "long", messageId: `long-${i}` });
    await backend.storeResult(long, { s });
    check((await backend.getResult(long)).s === s, `long text ${i}: read`);
    const got = await backend.getResultBytes(long);
    const want = enc.encode({ s });
    check(got.length === want.length && got.every((b, j) => b === want[j]), `long text ${i}: bytes`);
  }
  return failures;
}
