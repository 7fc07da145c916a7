//! Journey: a customer bundles token-wasm with Vite. The fixture app imports
//! the package by its npm name; it is built with the root's Vite, served by the
//! backend, and gets a token in the browser (promise and viewer callback forms).
//! The build runs once, before the tests, and each test reads what it needs of
//! it, so either test runs alone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';

import { ROOT, requireBuilt, startBackend } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';
import { expectFixtureGetsToken } from '../support/vite-fixture.mjs';

const APP = join(ROOT, 'tests', 'fixtures', 'vite-app');
const DIST = join(APP, 'dist');
const PACKAGE = join(ROOT, 'token-wasm', 'pkg');
const VITE = join(ROOT, 'node_modules', '.bin', 'vite');

let browser;
/** The one `vite build` of the fixture: its output, or why it failed. */
let build;

/**
 * Installs the fixture's `file:` dependency the way `npm install` does (a
 * symlink into node_modules), without touching the network or a lockfile.
 */
function linkPackage() {
  if (!existsSync(join(PACKAGE, 'package.json'))) {
    throw new Error(`${PACKAGE} is missing: run \`npm run build\` first`);
  }
  const link = join(APP, 'node_modules', 'token-wasm');
  if (existsSync(join(link, 'package.json'))) return;
  mkdirSync(join(APP, 'node_modules'), { recursive: true });
  symlinkSync(relative(join(APP, 'node_modules'), PACKAGE), link, 'dir');
}

before(async () => {
  requireBuilt();
  linkPackage();
  browser = await launchChromium();
  build = await promisify(execFile)(VITE, ['build', '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: APP,
    env: { ...process.env, NO_COLOR: '1' },
  }).then(({ stdout, stderr }) => ({ stdout, stderr }), (error) => ({ error: `vite build failed:\n${error.stdout}\n${error.stderr}` }));
}, { timeout: 60_000 });

after(async () => {
  await browser?.close();
});

/** The build's output; a failed build fails the test that needs it, with Vite's own words. */
function built() {
  if (build.error) throw new Error(build.error);
  return build;
}

/** `vite build` bundles the package and emits its wasm as an asset. */
test('vite_builds_an_app_that_imports_token_wasm', { timeout: 60_000 }, async () => {
  const { stdout, stderr } = built();
  assert.equal(stderr.trim(), '', `vite build warned:\n${stdout}\n${stderr}`);
  const assets = readdirSync(join(DIST, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `no .wasm among the built assets: ${assets.join(', ')}`);
  assert.ok(existsSync(join(DIST, 'index.html')), 'no dist/index.html');
});

/** The built app, served by the backend, gets a token from it in Chromium. */
test('built_vite_app_gets_a_token_in_the_browser', { timeout: 30_000 }, async () => {
  built();
  assert.ok(existsSync(join(DIST, 'index.html')), 'the build step did not produce dist/');
  const backend = await startBackend({ publicDir: DIST });
  try {
    await backend.check(() => expectFixtureGetsToken(browser, backend.url));
  } finally {
    await backend.stop();
  }
});
