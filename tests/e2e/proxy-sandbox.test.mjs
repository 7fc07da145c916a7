//! Journey (issue 18.1): an API behind the proxy serves a user's upload that
//! is an HTML page or an SVG with a script. A signed-in user opens it through
//! `/api/proxy/…`, on the broker's own origin: no script runs, and nothing
//! asks `/api/user/token` for the user's token. By default the active types
//! are downloads; with `inline_active_content = true` they render, sandboxed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { startBackend } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';

const DEADLINE_MS = 15_000;
/** What a stolen-token script does: read the user's token the way our own page does. */
const PAYLOAD = "document.title = 'script ran'; fetch('/api/user/token', { headers: { 'X-Requested-With': 'fetch' } });";
const UPLOADS = {
  '/upload.html': ['text/html; charset=utf-8',
    `<!doctype html><title>upload</title><p id="shown">an uploaded page</p><script>${PAYLOAD}</script>`],
  '/upload.svg': ['image/svg+xml',
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50"><title>upload</title>
<text id="shown" x="0" y="20">an uploaded drawing</text><script>${PAYLOAD}</script></svg>`],
};

let api, dir, backend, browser, context;
/** Every URL the browser asked for, across tabs. */
const requested = [];

before(async () => {
  // The API: serves the uploads as they were stored, with their own types and no CSP.
  api = createServer((req, res) => {
    const upload = UPLOADS[req.url];
    if (!upload) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': upload[0] }).end(upload[1]);
  });
  await new Promise((ok) => api.listen(0, '127.0.0.1', ok));
  const apiUrl = `http://127.0.0.1:${api.address().port}/`;
  dir = mkdtempSync(join(tmpdir(), 'proxy-sandbox-'));
  const config = join(dir, 'apis.toml');
  // The app's token (a navigation has no CSRF header, so `token = "user"` APIs refuse it anyway).
  writeFileSync(config, `[apis.files]\nbase_url = "${apiUrl}"\n\n`
    + `[apis.inline]\nbase_url = "${apiUrl}"\ninline_active_content = true\n`);
  backend = await startBackend({ env: { TOKEN_BACKEND_CONFIG: config } });
  browser = await launchChromium();
  context = await browser.newContext();
  context.on('request', (request) => requested.push(request.url()));
  // Signed in, so a script that ran would get a real user token.
  const page = await context.newPage();
  await page.goto(backend.url);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/authorize');
  await page.locator('#user').fill('alice');
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForFunction(() => document.getElementById('user').dataset.state === 'signed-in', null,
    { timeout: DEADLINE_MS });
  await page.close();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  await new Promise((ok) => (api ? api.close(ok) : ok()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Token requests made since `from` (an index into `requested`). */
const tokenRequestsSince = (from) => requested.slice(from).filter((url) => new URL(url).pathname === '/api/user/token');

/** By default, navigating to an uploaded page or drawing downloads it: nothing renders, nothing runs. */
test('active_uploads_are_downloads_and_run_no_script', { timeout: 60_000 }, () => backend.check(async () => {
  for (const upload of Object.keys(UPLOADS)) {
    const from = requested.length;
    const tab = await context.newPage();
    const [download, navigation] = await Promise.all([
      tab.waitForEvent('download', { timeout: DEADLINE_MS }).catch((e) => e),
      tab.goto(`${backend.url}/api/proxy/files${upload}`).then(() => 'rendered', (e) => e.message),
    ]);
    assert.match(navigation, /Download is starting|ERR_ABORTED/, `${upload} was not a download`);
    assert.equal(download.suggestedFilename?.(), upload.slice(1), `${upload} was not a download: ${download}`);
    await download.cancel();
    assert.notEqual(await tab.title(), 'script ran', upload);
    assert.deepEqual(tokenRequestsSince(from), [], `${upload} asked for the user's token`);
    await tab.close();
  }
}));

/** Opted in to inline, the upload renders, but sandboxed: its script still never runs. */
test('inline_uploads_render_sandboxed_and_run_no_script', { timeout: 60_000 }, () => backend.check(async () => {
  for (const upload of Object.keys(UPLOADS)) {
    const from = requested.length;
    const tab = await context.newPage();
    const response = await tab.goto(`${backend.url}/api/proxy/inline${upload}`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'], /^sandbox; default-src 'none'$/);
    // Rendered (the element is there and shown), so the script had its chance.
    await tab.locator('#shown').waitFor({ timeout: DEADLINE_MS });
    assert.equal(await tab.title(), 'upload', `${upload}: its script ran`);
    assert.deepEqual(tokenRequestsSince(from), [], `${upload} asked for the user's token`);
    await tab.close();
  }
}));
