//! Journey: a developer runs the app on Vite's dev server, which proxies
//! `/auth` and `/api` to the broker (`PUBLIC_URL` set to Vite's origin), and
//! signs in: the dev sign-in page, back through Vite's proxy to the callback,
//! and the app on Vite's origin sees the user. Vite's string proxy form
//! (`changeOrigin: true`) gets the broker's page naming the settings, not an
//! endless redirect.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createServer } from 'vite';

import { freePort, startBackend } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';

/** A page that asks the broker who is signed in and links to sign-in. */
const INDEX = `<!doctype html><html><head><meta charset="utf-8"><title>vite app</title></head><body>
<a id="sign-in" href="/auth/login?return_to=%2F%3Ffrom%3Dvite">Sign in</a><p id="user">…</p>
<script type="module">
const response = await fetch('/api/user/me', { headers: { 'X-Requested-With': 'fetch' } });
document.getElementById('user').textContent = response.ok ? (await response.json()).sub : 'signed out';
</script></body></html>`;

let app, browser;
const running = [];

before(async () => {
  app = mkdtempSync(join(tmpdir(), 'token-wasm-vite-sign-in-'));
  writeFileSync(join(app, 'index.html'), INDEX);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const stop of running.reverse()) await stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

/**
 * Vite's dev server proxying `/auth` and `/api` to a broker, in `form`
 * (`object`: `{ target }`, `string`: the URL alone); then the broker (`--dev`)
 * with `PUBLIC_URL` set to Vite's origin. Both are stopped after the suite.
 */
async function viteInFrontOfBroker(form) {
  const port = await freePort();
  const target = `http://127.0.0.1:${port}`;
  const rule = form === 'object' ? { target } : target;
  const vite = await createServer({
    root: app,
    configFile: false,
    logLevel: 'error',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, proxy: { '/auth': rule, '/api': rule } },
  });
  await vite.listen();
  running.push(() => vite.close());
  const origin = new URL(vite.resolvedUrls.local[0]).origin;
  const backend = await startBackend({ port, env: { PUBLIC_URL: origin } });
  running.push(() => backend.stop());
  return { origin, backend };
}

/** Through Vite's proxy (object form): sign-in completes on Vite's origin and the app sees the user. */
test('sign_in_through_a_vite_dev_server_proxy', { timeout: 60_000 }, async () => {
  const { origin, backend } = await viteInFrontOfBroker('object');
  await backend.check(async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(origin);
      await page.waitForFunction(() => document.getElementById('user').textContent === 'signed out');
      await page.locator('#sign-in').click();
      await page.waitForURL((url) => url.pathname === '/authorize');
      const params = new URL(page.url()).searchParams;
      assert.equal(params.get('redirect_uri'), `${origin}/auth/callback`, 'the redirect URL is PUBLIC_URL + /auth/callback');
      await page.locator('#user').fill('vite-user');
      const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/callback');
      await page.getByRole('button', { name: 'Allow' }).click();
      assert.equal((await callback).status(), 302);
      await page.waitForFunction(() => document.getElementById('user').textContent === 'vite-user');
      assert.equal(page.url(), `${origin}/?from=vite`, 'back on the app, on Vite\'s origin');
      const cookie = (await context.cookies(origin)).find((c) => c.name === 'session');
      assert.ok(cookie, 'the session cookie is on Vite\'s origin');
    } finally {
      await context.close();
    }
  });
});

/** Vite's string form rewrites the Host: one redirect, then a page naming the settings, never a loop. */
test('vite_string_proxy_gets_a_clear_page_not_a_redirect_loop', { timeout: 60_000 }, async () => {
  const { origin, backend } = await viteInFrontOfBroker('string');
  await backend.check(async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const logins = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/auth/login') logins.push(request.url());
      });
      const response = await page.goto(`${origin}/auth/login?return_to=%2F`);
      assert.equal(response.status(), 421);
      const text = await page.locator('body').textContent();
      for (const words of ['PUBLIC_URL', 'TRUST_FORWARDED_HEADERS', 'changeOrigin']) assert.ok(text.includes(words), text);
      assert.ok(logins.length <= 2, `redirected ${logins.length} times: ${logins.join(', ')}`);
    } finally {
      await context.close();
    }
  });
});
