// The WIT world (wit/*.wit) and the JS API stay in step: every function the component
// exports is a method of the JS backend classes under its camelCase name, and every core
// method of the JS backends has a WIT counterpart, apart from the exceptions listed here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { StubBackend } from "dramatiq-results";

const witDir = new URL("../../wit/", import.meta.url);

/**
 * JS methods with no WIT counterpart, and why. Each must exist, and must not be in the WIT.
 * Accessors (`namespace`, `useNamespacePrefixKeys`, `encoder`, `size`) are not methods: the
 * first two are the WIT's `backend-options` (checked below); a custom encoder and the stub's
 * entry count have no meaning for a component over the host's store.
 */
const JS_ONLY = {
  tryGetResult: "JS idiom returning the Missing sentinel; the WIT get-result reports `missing`",
  getResults: "batch reads under one deadline: not in the component yet",
  iterResults: "an async iterator: no WIT equivalent before component-model streams",
  free: "wasm-bindgen's explicit release of the Rust object",
};

/** Strips `//` comments (doc comments included) so names in prose are not taken for code. */
const code = (text) => text.replace(/\/\/.*$/gm, "");

/** The body of `keyword name { … }` in `text`, braces balanced. */
function block(text, keyword, name) {
  const start = new RegExp(`\\b${keyword}\\s+${name}\\s*\\{`).exec(text);
  if (!start) return undefined;
  let depth = 0;
  for (let i = start.index + start[0].length - 1; i < text.length; i += 1) {
    if (text[i] === "{") depth += 1;
    if (text[i] === "}" && --depth === 0) return text.slice(start.index + start[0].length, i);
  }
  throw new Error(`unbalanced braces in ${keyword} ${name}`);
}

/** The function names (kebab-case) of every interface a world in wit/ exports. */
function exportedFunctions() {
  const files = readdirSync(witDir).filter((f) => f.endsWith(".wit"));
  assert.ok(files.length > 0, "no .wit files in wit/");
  const text = files.map((f) => code(readFileSync(new URL(f, witDir), "utf8"))).join("\n");
  const worlds = [...text.matchAll(/\bworld\s+([a-z][a-z0-9-]*)\s*\{/g)].map((m) => m[1]);
  assert.ok(worlds.length > 0, "no world in wit/");
  const names = [];
  for (const world of worlds) {
    for (const [, iface] of block(text, "world", world).matchAll(/\bexport\s+([a-z][a-z0-9-]*)\s*;/g)) {
      const body = block(text, "interface", iface);
      assert.ok(body, `world ${world} exports ${iface}, which is not defined in wit/`);
      for (const [, name] of body.matchAll(/\b([a-z][a-z0-9-]*)\s*:\s*func\s*\(/g)) names.push(name);
      if (/\bconstructor\s*\(/.test(body)) names.push("constructor");
    }
  }
  return names;
}

const camel = (kebab) => kebab.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

/** The public methods (not accessors, not wasm-bindgen's `__` internals) of a prototype. */
/** The prototype chain of `proto` up to (not including) Object.prototype. */
const chain = (proto) => {
  const out = [];
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) out.push(p);
  return out;
};

/** A property's descriptor wherever on the chain it is defined (the backend classes
 * inherit their methods from `ResultBackend`). */
const descriptor = (proto, name) =>
  chain(proto).map((p) => Object.getOwnPropertyDescriptor(p, name)).find(Boolean);

const methods = (proto) => [
  ...new Set(
    chain(proto).flatMap((p) =>
      Object.getOwnPropertyNames(p).filter((n) => {
        const d = Object.getOwnPropertyDescriptor(p, n);
        return n !== "constructor" && !n.startsWith("__") && typeof d.value === "function";
      }),
    ),
  ),
];

test("the WIT parses into the expected exports", () => {
  const names = exportedFunctions();
  // A floor, so that a parser that finds nothing cannot pass the checks below.
  for (const expected of ["build-message-key", "store-result", "store-exception", "get-result", "delete-result"]) {
    assert.ok(names.includes(expected), `${expected} not found among ${names}`);
  }
  assert.equal(new Set(names).size, names.length, `duplicate names: ${names}`);
});

test("every exported WIT function is a method of the JS backend classes", () => {
  for (const name of exportedFunctions()) {
    if (name === "constructor") continue; // `new StubBackend(options)`
    const js = camel(name);
    assert.equal(typeof StubBackend.prototype[js], "function", `${name} → StubBackend.prototype.${js} is missing`);
  }
});

test("every JS backend method has a WIT counterpart, apart from the listed exceptions", () => {
  const wit = new Set(exportedFunctions().map(camel));
  const js = methods(StubBackend.prototype);
  assert.ok(js.length >= 8, `StubBackend has only ${js}`);
  const missing = js.filter((m) => !wit.has(m) && !(m in JS_ONLY));
  assert.deepEqual(missing, [], "JS backend methods with no WIT function and no listed reason");
  for (const [name, why] of Object.entries(JS_ONLY)) {
    assert.ok(js.includes(name), `listed exception ${name} (${why}) is not a StubBackend method any more`);
    assert.ok(!wit.has(name), `listed exception ${name} is in the WIT now: drop it from the list`);
  }
});

test("the WIT backend options are the JS backend's options", () => {
  const text = code(readFileSync(new URL("results.wit", witDir), "utf8"));
  const record = /\brecord\s+backend-options\s*\{([^}]*)\}/.exec(text);
  assert.ok(record, "record backend-options not found");
  const fields = [...record[1].matchAll(/\b([a-z][a-z0-9-]*)\s*:/g)].map((m) => camel(m[1]));
  assert.deepEqual(fields, ["namespace", "useNamespacePrefixKeys"]);
  const b = new StubBackend({ namespace: "ns", useNamespacePrefixKeys: true });
  for (const field of fields) {
    assert.ok(
      descriptor(StubBackend.prototype, field)?.get,
      `StubBackend has no ${field} getter`,
    );
  }
  assert.deepEqual([b.namespace, b.useNamespacePrefixKeys], ["ns", true]);
});
