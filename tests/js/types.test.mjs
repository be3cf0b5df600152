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

// The declarations compile (skipLibCheck off) against an older standard library than ours:
// ES2018 (the first with async iterators, which iterResults returns) with no DOM, and Vite 5's
// template's ES2020 + DOM. A name from a newer lib (ES2022's ErrorOptions, say) fails it.
test("index.d.ts compiles with lib ES2018, and with ES2020 + DOM (skipLibCheck off)", () => {
  const dir = mkdtempSync(join(tmpdir(), "oldlib-"));
  try {
    writeFileSync(join(dir, "use.ts"), `import { StubBackend, Message } from "${root}pkg/src/index.js";\nexport const read = (): Promise<unknown> => new StubBackend().getResult(new Message({ actorName: "a" }));\n`);
    const problems = [];
    for (const lib of [["ES2018"], ["ES2020", "DOM", "DOM.Iterable"]]) {
      const config = {
        compilerOptions: { noEmit: true, strict: true, skipLibCheck: false, target: "ES2018", lib, module: "ESNext", moduleResolution: "Bundler", types: [] },
        files: [join(dir, "use.ts")],
      };
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config));
      try {
        execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", join(dir, "tsconfig.json")], { cwd: root, encoding: "utf8" });
      } catch (e) {
        problems.push(`lib ${lib}: ${e.stdout}${e.stderr}`);
      }
    }
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
