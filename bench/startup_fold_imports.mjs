// Issue 29 lever, measured and not kept (bench/notes.md, "Start-up, issue 29, second pass"):
// fewer distinct import signatures, because Node 20 (V8 11) compiles one wasm-to-JS wrapper
// per import signature and call kind (arity match or not) when the module is instantiated.
// Rewrites a copy of the package's dist/: every glue import (module "./dramatiq_results_bg.js",
// wasm-bindgen's own `function(arg0, …)`s, which ignore extra arguments) is retyped to the
// longest signature in its group that its parameters are a prefix of (a void result joins the
// externref group and is dropped), through a small adapter function that wasm-opt inlines;
// then each glue function is given as many declared parameters as its new signature, so V8
// calls it through an arity-matching wrapper. Our snippets' imports are left alone (a
// default parameter there would see a padded 0). Run after scripts/build:
//
//   node bench/startup_fold_imports.mjs OUT-DIR     (OUT-DIR gets a copy of pkg/ to import)
import { execFileSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const out = process.argv[2];
if (!out) throw new Error("usage: node bench/startup_fold_imports.mjs OUT-DIR");
const features = ["--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue"];

rmSync(out, { recursive: true, force: true });
cpSync(`${root}pkg`, out, { recursive: true });
const wasm = `${out}/dist/dramatiq_results_bg.wasm`;
const wat = `${out}/folded.wat`;
execFileSync(`${root}node_modules/.bin/wasm-dis`, [wasm, "-o", wat]);
let text = readFileSync(wat, "utf8");
const re = /^ \(import "(\.\/dramatiq_results_bg\.js)" "([^"]+)" \(func (\$\S+)((?: \(param [^)]*\))?)((?: \(result [^)]*\))?)\)\)$/gm;
const imports = [...text.matchAll(re)].map((m) => ({
  line: m[0], module: m[1], name: m[2], fn: m[3],
  params: m[4] ? m[4].trim().slice(7, -1).split(" ") : [],
  result: m[5] ? m[5].trim().slice(8, -1) : "",
}));
const group = (r) => (r === "" ? "externref" : r);
const canon = new Map();
for (const imp of [...imports].sort((a, b) => b.params.length - a.params.length)) {
  const lists = canon.get(group(imp.result)) ?? canon.set(group(imp.result), []).get(group(imp.result));
  imp.canon = lists.find((l) => imp.params.every((p, i) => l[i] === p)) ?? (lists.push(imp.params), imp.params);
}
const pad = { i32: "(i32.const 0)", i64: "(i64.const 0)", f32: "(f32.const 0)", f64: "(f64.const 0)", externref: "(ref.null noextern)" };
const sig = (ps, r) => `${ps.length ? ` (param ${ps.join(" ")})` : ""}${r ? ` (result ${r})` : ""}`;
const adapters = imports.map((imp) => {
  text = text.replace(imp.line, ` (import "${imp.module}" "${imp.name}" (func ${imp.fn}$imp${sig(imp.canon, group(imp.result))}))`);
  const args = imp.params.map((_, i) => ` (local.get ${i})`).join("") + imp.canon.slice(imp.params.length).map((p) => ` ${pad[p]}`).join("");
  const call = `(call ${imp.fn}$imp${args})`;
  return ` (func ${imp.fn}${sig(imp.params, imp.result)}\n  ${imp.result ? call : `(drop ${call})`}\n )`;
});
const end = text.lastIndexOf(")");
writeFileSync(wat, `${text.slice(0, end)}${adapters.join("\n")}\n)\n`);
execFileSync(`${root}node_modules/.bin/wasm-as`, [...features, wat, "-o", wasm]);
execFileSync(`${root}scripts/optimize-wasm`, [wasm]);

const arity = new Map(imports.map((i) => [i.name, i.canon.length]));
for (const file of ["node.js", "workerd.js", "index.js", "node_inline.js", "slim.js", "dramatiq_results.js"]) {
  const path = `${out}/dist/${file}`;
  const js = readFileSync(path, "utf8").replace(/^(\s+)(__wbg_[A-Za-z0-9_]+|__wbindgen_[A-Za-z0-9_]+): function\(([^)]*)\) \{/gm, (whole, indent, name, params) => {
    const have = params ? params.split(",").map((p) => p.trim()) : [];
    const want = arity.get(name) ?? 0;
    if (have.length >= want) return whole;
    const extra = Array.from({ length: want - have.length }, (_, i) => `_pad${have.length + i}`);
    return `${indent}${name}: function(${[...have, ...extra].join(", ")}) {`;
  });
  writeFileSync(path, js);
}
const signatures = new Set(imports.map((i) => `${i.canon.join(",")}->${group(i.result)}`));
console.log(`${imports.length} glue imports folded into ${signatures.size} signatures: ${out}/dist/node.js`);
