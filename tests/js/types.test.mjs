// The TypeScript declarations accept real usage and reject misuse (tsc over tests/types/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

test("index.d.ts type-checks real usage under strict TypeScript", () => {
  let output = "";
  try {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tests/types"], { cwd: root, encoding: "utf8" });
  } catch (e) {
    output = `${e.stdout}${e.stderr}`;
  }
  assert.equal(output, "", output);
});
