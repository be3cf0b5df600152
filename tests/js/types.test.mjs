// The TypeScript declarations accept real usage and reject misuse (tsc over tests/types/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

test("pkg/src's JavaScript names nothing undefined and imports nothing missing (tsc --checkJs)", () => {
  const config = {
    compilerOptions: { allowJs: true, checkJs: true, noEmit: true, target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: false, skipLibCheck: true, types: [] },
    include: [`${root}pkg/src/**/*.js`],
  };
  const dir = mkdtempSync(join(tmpdir(), "undef-"));
  const file = join(dir, "tsconfig.json");
  writeFileSync(file, JSON.stringify(config));
  let output = "";
  try {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", file], { cwd: root, encoding: "utf8" });
  } catch (e) {
    output = `${e.stdout}${e.stderr}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Undefined names (2304, 2552), missing exports (2305, 2724) and modules (2307), except the
  // host modules and globals these files use on purpose where their host has them.
  const hostOnly = /'(node:[a-z_]+|cloudflare:sockets|Buffer|[^']*\.wasm)'/;
  const problems = output
    .split("\n")
    .filter((line) => line.startsWith("pkg/src/") && /error TS(2304|2552|2305|2307|2724):/.test(line) && !hostOnly.test(line));
  assert.deepEqual(problems, []);
});
