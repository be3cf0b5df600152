// Every example under examples/ runs against the built package and prints exactly the
// output written at its end (the "// Output:" block), so the examples cannot rot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);
const dir = new URL("../../examples/", import.meta.url);

function expectedOutput(source) {
  const at = source.indexOf("// Output:\n");
  if (at < 0) return null;
  return source
    .slice(at + "// Output:\n".length)
    .split("\n")
    .filter((l) => l.startsWith("//"))
    .map((l) => l.replace(/^\/\/ ?/, ""))
    .join("\n");
}

const examples = readdirSync(dir).filter((f) => f.endsWith(".mjs"));

test("there are examples for every seed usage", () => {
  for (const name of [
    "results_middleware", "stub_backend", "message_results", "errors", "pipeline",
    "batch_collection", "ttl_management", "aggregation_by_id", "conditional_execution", "monitoring",
  ]) {
    assert.ok(examples.includes(`${name}.mjs`), name);
  }
});

for (const file of examples) {
  const source = readFileSync(new URL(file, dir), "utf8");
  const expected = expectedOutput(source);
  if (expected === null) continue; // demo.mjs prints timings and random ids
  test(`examples/${file} prints what it says`, async () => {
    const { stdout } = await run(process.execPath, [new URL(file, dir).pathname], { timeout: 30000 });
    assert.equal(stdout.trimEnd(), expected.trimEnd());
  });
}
