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
import { launchChromium } from '../support/chromium.mjs';
import { expectFixtureGetsToken } from '../support/vite-fixture.mjs';

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
  await backend.check(() => expectFixtureGetsToken(browser, vite.resolvedUrls.local[0]));
  assert.ok(existsSync(join(app, 'node_modules', '.vite', 'deps', 'token-wasm.js')), 'Vite pre-bundled the package');
});
