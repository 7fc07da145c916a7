//! Journey: a page with a strict Content Security Policy loads the package
//! from the real broker. With the policy the README gives
//! (`script-src 'self' 'wasm-unsafe-eval'`, `connect-src` for the broker) it
//! gets a token; with `script-src 'self'` alone the page still renders, and
//! `getAccessToken()` rejects with the `module_unavailable` TokenError naming
//! `'wasm-unsafe-eval'`.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { WWW_DIR, startBackend } from '../support/backend.mjs';
import { collectPageErrors, launchChromium } from '../support/chromium.mjs';

/** The policy README.md recommends, and the same without the wasm permission. */
const README_POLICY = "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'";
const WITHOUT_WASM = "script-src 'self'; connect-src 'self'";

/** A page under `policy` (a meta tag: the broker's static files carry no CSP header); no inline script. */
const page = (policy) => `<!doctype html><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<link rel="icon" href="data:,"><title>CSP</title>
<p id="rendered">The page rendered.</p><p id="token" data-state="loading">…</p>
<script type="module" src="/app.js"></script>`;
/** Shows the token (its length only) or the TokenError's code and message. */
const APP = `import { getAccessToken } from '/vendor/token-wasm/index.js';
const out = document.getElementById('token');
getAccessToken().then(
  (token) => { out.dataset.state = 'ok'; out.textContent = 'token of ' + token.length + ' characters'; },
  (error) => { out.dataset.state = 'error'; out.dataset.code = error.code; out.textContent = error.message; },
);`;

let site, backend, browser;

before(async () => {
  site = mkdtempSync(join(tmpdir(), 'csp-site-'));
  cpSync(join(WWW_DIR, 'vendor', 'token-wasm'), join(site, 'vendor', 'token-wasm'), { recursive: true });
  writeFileSync(join(site, 'app.js'), APP);
  writeFileSync(join(site, 'allowed.html'), page(README_POLICY));
  writeFileSync(join(site, 'strict.html'), page(WITHOUT_WASM));
  backend = await startBackend({ publicDir: site });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  if (site) rmSync(site, { recursive: true, force: true });
});

/** Opens `path` and waits until the token line settled; returns what it shows and the console errors. */
async function open(path) {
  const tab = await browser.newPage();
  const errors = collectPageErrors(tab);
  await tab.goto(`${backend.url}${path}`);
  await tab.waitForFunction(() => document.getElementById('token').dataset.state !== 'loading');
  const shown = await tab.evaluate(() => {
    const token = document.getElementById('token');
    return { rendered: document.getElementById('rendered').textContent, state: token.dataset.state, code: token.dataset.code, text: token.textContent };
  });
  await tab.close();
  return { ...shown, errors };
}

/** The README's policy: the module compiles and the page gets its token from the broker. */
test('the_readme_policy_lets_the_page_get_a_token', { timeout: 30_000 }, () => backend.check(async () => {
  const r = await open('/allowed.html');
  assert.equal(r.state, 'ok', r.text);
  assert.match(r.text, /^token of \d+ characters$/);
  assert.deepEqual(r.errors, []);
}));

/** Without 'wasm-unsafe-eval' the page renders, and the call says which source expression is missing. */
test('without_wasm_unsafe_eval_the_page_renders_and_the_call_names_it', { timeout: 30_000 }, () => backend.check(async () => {
  const r = await open('/strict.html');
  assert.equal(r.rendered, 'The page rendered.');
  assert.equal(r.state, 'error');
  assert.equal(r.code, 'module_unavailable');
  assert.match(r.text, /Content Security Policy/);
  assert.match(r.text, /'wasm-unsafe-eval'/);
  // Chromium reports the refused compilation itself; nothing else may fail.
  assert.ok(r.errors.every((line) => /WebAssembly|unsafe-eval|Content Security Policy/i.test(line)), r.errors.join('\n'));
}));
