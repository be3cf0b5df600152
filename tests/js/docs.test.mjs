// The API reference builds (scripts/docs: TypeDoc over pkg/src/index.d.ts and the gateway's
// declarations, the README and the guides of docs/) with no warning: a broken {@link}, a
// relative link to a missing file, or a public type that is used but not exported fails it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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
    const pages = readdirSync(join(out, "classes"));
    const missing = classes.filter((c) => !pages.includes(`dramatiq-results.${c}.html`));
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

// TypeDoc checks the links of pkg/README.md and docs/; this checks every document's relative
// links (README.md, CONTRIBUTING.md and the rest too) and the npm README's absolute links into
// the repository (https://github.com/dramatiq-results/dramatiq-results/blob/main/<path>): each
// must name a file that exists here, and no other GitHub repository URL may be used.
test("every relative link, and every link into the repository, names a file that exists", () => {
  const repo = "https://github.com/dramatiq-results/dramatiq-results";
  const docs = ["README.md", "CONTRIBUTING.md", "ARCHITECTURE.md", "SECURITY.md", "pkg/README.md",
    ...readdirSync(`${root}docs`).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const broken = [];
  for (const doc of docs) {
    const text = readFileSync(join(root, doc), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      let path;
      if (target.startsWith(`${repo}/blob/main/`) || target.startsWith(`${repo}/tree/main/`)) path = target.slice(repo.length + 11);
      else if (target === repo || target.startsWith(`${repo}/issues`) || target.startsWith(`${repo}#`)) continue;
      else if (/^https:\/\/github\.com\//.test(target) && doc === "pkg/README.md") { broken.push(`${doc}: ${target} (not ${repo})`); continue; }
      else if (/^[a-z]+:/.test(target) || target.startsWith("#")) continue;
      else path = join(dirname(doc), target);
      path = path.split("#")[0];
      if (!existsSync(join(root, path))) broken.push(`${doc}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
  const pkg = JSON.parse(readFileSync(`${root}pkg/package.json`, "utf8"));
  assert.equal(pkg.repository.url, `git+${repo}.git`);
  assert.equal(pkg.bugs.url, `${repo}/issues`);
  assert.ok(pkg.homepage.startsWith(repo));
});

test("every guide in docs/ is linked from the repository README", () => {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const unlinked = readdirSync(`${root}docs`).filter((f) => f.endsWith(".md") && !readme.includes(`](docs/${f}`));
  assert.deepEqual(unlinked, []);
});
