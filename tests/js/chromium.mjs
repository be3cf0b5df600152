// Real headless Chromium for the JS tests: the repository served read-only on 127.0.0.1 and
// Debian's chromium driven by playwright-core. Everything is closed in `finally`.
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const types = { ".js": "text/javascript", ".mjs": "text/javascript", ".html": "text/html", ".wasm": "application/wasm", ".json": "application/json" };

/** The Chromium binary, if installed (`scripts/setup --browser`). */
export const chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

/** Launches headless Chromium (the system binary, no download); the caller closes it. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: chromiumPath ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Serves `dir` (the repository by default) read-only on 127.0.0.1, `index.html` for a
 * folder; resolves with its origin and a close function. */
export async function serveStatic(dir = root) {
  const server = createServer((req, res) => {
    let path = normalize(join(dir, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    if (path.endsWith("/")) path = join(path, "index.html");
    if (!path.startsWith(dir) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
    res.end(readFileSync(path));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** Runs `fn({ browser, origin })` with the repository served at `origin`; closes both after. */
export async function withChromium(fn) {
  const { origin, close } = await serveStatic();
  try {
    const browser = await launchChromium();
    try {
      return await fn({ browser, origin });
    } finally {
      await browser.close();
    }
  } finally {
    close();
  }
}

/** Opens `path` in a new page of `context` and waits for `window.loaded`; page errors are
 * collected in the returned `errors`. */
export async function openPage(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(url);
  await page.waitForFunction(() => window.loaded, null, { timeout: 20_000 });
  return { page, errors };
}
