// The API reference builds (scripts/docs: TypeDoc over pkg/src/index.d.ts and the gateway's
// declarations, the README and the guides of docs/) with no warning: a broken {@link}, a
// relative link to a missing file, or a public type that is used but not exported fails it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

function typedoc(args) {
  return new Promise((resolve) => {
    execFile(`${root}node_modules/.bin/typedoc`, ["--options", "typedoc.json", ...args], { cwd: root, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, output: `${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, "") }),
    );
  });
}

test("scripts/docs builds the reference with no warning (links, paths, exports checked)", { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), "dramatiq-docs-"));
  try {
    const { code, output } = await typedoc(["--out", out]);
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /\[warning\]|\[error\]/, output);
    // Every public class the package exports has its page, and the guides are in.
    const api = readFileSync(`${root}pkg/src/index.d.ts`, "utf8");
    const classes = [...api.matchAll(/^export (?:declare )?(?:abstract )?class (\w+)/gm)].map((m) => m[1]);
    assert.ok(classes.length > 20, `classes found: ${classes}`);
    const missing = classes.filter((c) => !existsSync(join(out, "classes", `index.${c}.html`)));
    assert.deepEqual(missing, []);
    const documents = existsSync(join(out, "documents")) ? readdirSync(join(out, "documents")) : [];
    const guides = readdirSync(`${root}docs`).filter((f) => f.endsWith(".md"));
    assert.equal(documents.length, guides.length, `${documents} for ${guides}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the link check can fail: a guide linking to a missing file, or to a symbol that is not there, is an error", { timeout: 120_000 }, async () => {
  mkdirSync(join(root, "target"), { recursive: true });
  const dir = mkdtempSync(join(root, "target", "docs-bad-"));
  try {
    writeFileSync(join(dir, "bad.md"), "# Bad\n\nSee [the missing guide](./no-such-guide.md) and {@link NoSuchThing}.\n");
    const { code, output } = await typedoc(["--projectDocuments", join(dir, "bad.md"), "--out", join(dir, "out")]);
    assert.notEqual(code, 0, output);
    assert.match(output, /no-such-guide\.md/);
    assert.match(output, /NoSuchThing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
