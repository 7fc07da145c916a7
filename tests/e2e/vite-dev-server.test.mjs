//! Journey: a developer runs Vite's dev server (`vite`, not `vite build`) on
//! an app that imports token-wasm by its npm name, installed as a real copy in
//! node_modules the way `npm install` leaves it (so Vite pre-bundles it), with
//! no Vite configuration for the package. The only setting is the app's own
//! proxy of `/api` to its backend, as any app with a backend has.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createServer } from 'vite';

import { ROOT, requireBuilt, startBackend } from '../support/backend.mjs';
import { collectPageErrors, launchChromium } from '../support/chromium.mjs';
import { maskToken, recordTokenTraffic } from '../support/token-traffic.mjs';

const FIXTURE = join(ROOT, 'tests', 'fixtures', 'vite-app');
const PACKAGE = join(ROOT, 'token-wasm', 'pkg');

let app, backend, vite, browser;

before(async () => {
  requireBuilt();
  assert.ok(existsSync(join(PACKAGE, 'package.json')), `${PACKAGE} is missing: run \`npm run build\` first`);
  // A copy of the fixture app with the package copied (not linked) into its
  // node_modules: Vite treats linked packages as source and would not
  // pre-bundle them, which is the case that breaks wasm packages.
  app = mkdtempSync(join(tmpdir(), 'token-wasm-vite-dev-'));
  for (const file of ['index.html', 'main.js', 'package.json']) cpSync(join(FIXTURE, file), join(app, file));
  mkdirSync(join(app, 'node_modules'));
  cpSync(PACKAGE, join(app, 'node_modules', 'token-wasm'), { recursive: true, dereference: true });

  backend = await startBackend();
  vite = await createServer({
    root: app,
    configFile: false,
    logLevel: 'error',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, proxy: { '/api': backend.url } },
  });
  await vite.listen();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await vite?.close();
  await backend?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

/** The app served by `vite` (dev) gets a token both ways, with one request. */
test('vite_dev_server_serves_an_app_that_imports_token_wasm', { timeout: 60_000 }, async () => {
  await backend.check(async () => {
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    const traffic = recordTokenTraffic(page);
    await page.goto(vite.resolvedUrls.local[0]);
    await page.waitForFunction(() => ['token', 'viewer'].every((id) => document.getElementById(id).dataset.state !== 'loading'));
    await traffic.settle();

    const token = await page.locator('#token').textContent();
    assert.equal(await page.locator('#token').getAttribute('data-state'), 'ok', `getAccessToken() failed: ${token}`);
    assert.equal(traffic.served.length, 1, `expected one token request, saw ${traffic.requests.length}`);
    assert.equal(token, maskToken(traffic.served[0].token));
    assert.match(await page.locator('#viewer').textContent(), new RegExp(`^${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} for \\d+ s \\(1 request\\)$`));
    assert.deepEqual(errors, [], 'console errors or uncaught exceptions in the Vite dev app');
    assert.ok(existsSync(join(app, 'node_modules', '.vite', 'deps', 'token-wasm.js')), 'Vite pre-bundled the package');
  });
});
