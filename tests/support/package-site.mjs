//! A throw-away static site for `token-backend --dev` to serve: one page that
//! loads the built package (www/vendor/token-wasm) and sets `window.tw` to
//! it, then `window.ready`. For journeys about the package itself, apart
//! from the demo page.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { WWW_DIR } from './backend.mjs';

/** The page: an import map and the package, nothing else (an empty favicon, so none is requested). */
const PAGE = `<!doctype html><meta charset="utf-8"><title>app</title><link rel="icon" href="data:,">
<script type="importmap">{"imports":{"token-wasm":"/vendor/token-wasm/index.js"}}</script>
<script type="module">window.tw = await import('token-wasm'); window.ready = true;</script>`;

/** Writes the site to a new temporary folder: `{ dir, remove() }`. */
export function createPackageSite() {
  const dir = mkdtempSync(join(tmpdir(), 'package-site-'));
  cpSync(join(WWW_DIR, 'vendor'), join(dir, 'vendor'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), PAGE);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens the site's page in `page` and waits until the package has loaded. */
export async function openPackagePage(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
}
