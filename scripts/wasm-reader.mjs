// A cursor over a WebAssembly binary, for the build's and the tests' few reads of its
// sections (the target features, exports' signatures): the format's LEB128 numbers and
// length-prefixed names. Hand-written: the reads are a few lines each, and a parser package
// would be a dependency for them alone.

/** A reader of `bytes` (a Uint8Array) starting after the 8-byte header. */
export function wasmReader(bytes) {
  const r = {
    at: 8,
    /** An unsigned LEB128 number. */
    uleb() {
      let value = 0;
      let shift = 0;
      let byte;
      do {
        byte = bytes[r.at++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte & 0x80);
      return value;
    },
    /** A length-prefixed name (or any byte vector) as text. */
    name() {
      const length = r.uleb();
      const text = new TextDecoder().decode(bytes.subarray(r.at, r.at + length));
      r.at += length;
      return text;
    },
    /** Each section as { id, start, body, end }, the cursor at its body; moves to the next
     * section's start after the caller's turn, whatever the caller read. */
    *sections() {
      while (r.at < bytes.length) {
        const start = r.at;
        const id = bytes[r.at++];
        const size = r.uleb();
        const end = r.at + size;
        yield { id, start, body: r.at, end };
        r.at = end;
      }
    },
  };
  return r;
}

/** `n` as unsigned LEB128 bytes. */
export function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}
