// Usage: node scripts/without-multivalue.mjs in.wasm out.wasm
//
// Drops "multivalue" from the module's `target_features` custom section, so wasm-bindgen
// keeps returning compound values through a return pointer instead of rewriting exports to
// return several values. Why: V8 11 (Node 20) calls an export through one shared (generic)
// wrapper only when it returns at most one value; every distinct multi-value signature gets a
// wrapper compiled by TurboFan when the module is compiled: ~27 of them here, about half of
// `new WebAssembly.Module` on Node 20 (bench/notes.md, start-up). The section says what the
// objects were built with (Rust's std is prebuilt with multivalue on, so a RUSTFLAGS change
// cannot remove it); no code depends on it. Other features (reference-types: externref) stay.
import { readFileSync, writeFileSync } from "node:fs";

const [input, output] = process.argv.slice(2);
const bytes = readFileSync(input);
let at = 8;
const uleb = () => {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
};
const leb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
};

const parts = [bytes.subarray(0, 8)];
let dropped = 0;
while (at < bytes.length) {
  const start = at;
  const id = bytes[at++];
  const size = uleb();
  const end = at + size;
  if (id === 0) {
    const nameLength = uleb();
    const name = bytes.subarray(at, at + nameLength).toString();
    at += nameLength;
    if (name === "target_features") {
      const count = uleb();
      const kept = [];
      for (let i = 0; i < count; i++) {
        const prefix = bytes[at++];
        const length = uleb();
        const feature = bytes.subarray(at, at + length);
        at += length;
        if (feature.toString() === "multivalue") dropped++;
        else kept.push([prefix, ...leb(length), ...feature]);
      }
      const body = [...leb(nameLength), ...Buffer.from(name), ...leb(kept.length), ...kept.flat()];
      parts.push(Buffer.from([0, ...leb(body.length), ...body]));
      at = end;
      continue;
    }
  }
  parts.push(bytes.subarray(start, end));
  at = end;
}
if (at !== bytes.length) {
  console.error(`[build] ${input}: a section runs past the end of the module`);
  process.exit(1);
}
writeFileSync(output, Buffer.concat(parts));
if (dropped === 0) console.error(`[build] ${input}: no "multivalue" target feature to drop (fine: nothing to undo)`);
