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
import { leb, wasmReader } from "./wasm-reader.mjs";

const [input, output] = process.argv.slice(2);
const bytes = readFileSync(input);
const r = wasmReader(bytes);

const parts = [bytes.subarray(0, 8)];
let dropped = 0;
for (const { id, start, end } of r.sections()) {
  const name = id === 0 ? r.name() : null;
  if (name !== "target_features") {
    parts.push(bytes.subarray(start, end));
    continue;
  }
  const kept = [];
  for (let count = r.uleb(); count > 0; count--) {
    const prefix = bytes[r.at++];
    const feature = r.name();
    if (feature === "multivalue") dropped++;
    else kept.push([prefix, ...leb(feature.length), ...Buffer.from(feature)]);
  }
  const body = [...leb(name.length), ...Buffer.from(name), ...leb(kept.length), ...kept.flat()];
  parts.push(Buffer.from([0, ...leb(body.length), ...body]));
}
if (r.at !== bytes.length) {
  console.error(`[build] ${input}: a section runs past the end of the module`);
  process.exit(1);
}
writeFileSync(output, Buffer.concat(parts));
if (dropped === 0) console.error(`[build] ${input}: no "multivalue" target feature to drop (fine: nothing to undo)`);
