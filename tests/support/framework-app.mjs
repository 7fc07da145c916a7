//! The journeys of the framework fixture apps (tests/fixtures/react-app,
//! tests/fixtures/vue-app), which use the package's bindings: each is built
//! once with the root's Vite (the package linked into its node_modules the way
//! `npm install` links a `file:` dependency) into a temporary folder, served by
//! `token-backend --dev`, and driven in Chromium. Both apps show the same
//! elements: `#app-token`, `#user` (`data-state` loading, signed-out or
//! signed-in), `#user-name`, `#user-token`, and the Sign in / Sign out buttons.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build, createLogger } from 'vite';

import { ROOT } from './backend.mjs';
import { collectPageErrors } from './chromium.mjs';
import { maskToken } from './token-traffic.mjs';
import { until } from './wait.mjs';

const PACKAGE = join(ROOT, 'token-wasm', 'pkg');

/** Chromium's console line for the signed-out answer of `/api/user/me` (the session check). */
export const isSignedOutProbe = (line) => /^console: Failed to load resource: the server responded with a status of 401 \(Unauthorized\) \(http:\/\/127\.0\.0\.1:\d+\/api\/user\/me:0\)$/.test(line);
/** The dev sign-in page has no icon of its own, so Chromium asks for /favicon.ico there. */
const isFaviconMiss = (line) => /status of 404 \(Not Found\) \(http:\/\/127\.0\.0\.1:\d+\/favicon\.ico:0\)$/.test(line);

/**
 * Builds tests/fixtures/`name` with its own vite.config.js into a new
 * temporary folder; fails on any Vite warning. Returns `{ dist, remove() }`.
 * `nodeEnv: 'development'` builds what a dev server serves: the frameworks'
 * development builds (React's StrictMode double-mounts only there) and the
 * package's `development` export condition (the wasm inlined).
 */
export async function buildFixtureApp(name, { nodeEnv = 'production' } = {}) {
  const app = join(ROOT, 'tests', 'fixtures', name);
  if (!existsSync(join(PACKAGE, 'package.json'))) throw new Error(`${PACKAGE} is missing: run \`npm run build\` first`);
  const link = join(app, 'node_modules', 'token-wasm');
  if (!existsSync(join(link, 'package.json'))) {
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(relative(join(app, 'node_modules'), PACKAGE), link, 'dir');
  }
  const dist = mkdtempSync(join(tmpdir(), `token-wasm-${name}-`));
  const warnings = [];
  const logger = createLogger('warn');
  logger.warn = (message) => warnings.push(message);
  logger.warnOnce = (message) => warnings.push(message);
  // Vite takes NODE_ENV from the environment (this test file's own process).
  const previous = process.env.NODE_ENV;
  process.env.NODE_ENV = nodeEnv;
  try {
    await build({
      root: app,
      configFile: join(app, 'vite.config.js'),
      customLogger: logger,
      logLevel: 'warn',
      // React's development build with the wasm inlined is over Vite's 500 kB hint, on purpose.
      build: { outDir: dist, emptyOutDir: true, chunkSizeWarningLimit: nodeEnv === 'development' ? 2048 : 500 },
    });
  } finally {
    if (previous === undefined) delete process.env.NODE_ENV; else process.env.NODE_ENV = previous;
  }
  assert.deepEqual(warnings, [], `vite build of ${name} warned`);
  const hasWasmAsset = readdirSync(join(dist, 'assets')).some((f) => f.endsWith('.wasm'));
  assert.equal(hasWasmAsset, nodeEnv === 'production', 'production builds emit the .wasm, development ones inline it');
  return { dist, remove: () => rmSync(dist, { recursive: true, force: true }) };
}

/**
 * Opens the app at `url` in a new page of `browser`, counting requests per
 * path (`count(path)`) and collecting unexpected console errors.
 */
export async function openApp(browser, url) {
  const page = await browser.newPage();
  const paths = [];
  const served = new Map();
  page.on('request', (request) => paths.push(new URL(request.url()).pathname));
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    if (response.status() === 200 && path.endsWith('/token')) {
      response.json().then((body) => served.set(path, [...(served.get(path) ?? []), body.access_token]), () => {});
    }
  });
  const errors = collectPageErrors(page, (line) => isSignedOutProbe(line) || isFaviconMiss(line));
  await page.goto(url);
  return {
    page,
    errors,
    count: (path) => paths.filter((p) => p === path).length,
    /** Masked tokens the route at `path` served, in order. */
    served: (path) => (served.get(path) ?? []).map(maskToken),
    /** Sends one request of the page's own and waits until the browser reports it: every request started before it has been seen. */
    async settle() {
      const seen = page.waitForRequest((request) => new URL(request.url()).pathname === '/healthz');
      await page.evaluate(() => fetch('/healthz').then((r) => r.text()));
      await seen;
    },
  };
}

/** Signed out: the app token shown from one request, one session check, no user-token request. */
export async function expectSignedOutWithAppToken(app) {
  const { page } = app;
  await page.waitForFunction(() => document.getElementById('app-token')?.dataset.state === 'ok'
    && document.getElementById('user')?.dataset.state === 'signed-out');
  await app.settle();
  assert.equal(app.count('/api/token'), 1, 'one app token request under StrictMode / for every component');
  assert.equal(app.count('/api/user/me'), 1, 'one session check');
  assert.equal(app.count('/api/user/token'), 0, 'no user token while signed out');
  assert.deepEqual(app.served('/api/token'), [await page.locator('#app-token').textContent()]);
  assert.deepEqual(app.errors, []);
}

/** Clicks the app's "Sign in", signs in as `user` on the dev authorization server's page and waits until the app shows the user and their token. */
async function signInAtDevServer(page, user) {
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/authorize');
  await page.locator('#user').fill(user);
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForFunction(() => document.getElementById('user')?.dataset.state === 'signed-in'
    && document.getElementById('user-token')?.dataset.state === 'ok');
}

/** Sign in on the dev authorization server's page as `user`; back in the app, their name and their token. */
export async function signInAndOut(app, user = 'alice') {
  const { page } = app;
  await signInAtDevServer(page, user);
  await app.settle();
  assert.equal(await page.locator('#user-name').textContent(), user);
  const shown = await page.locator('#user-token').textContent();
  assert.deepEqual(app.served('/api/user/token'), [shown], 'the user token shown is the one the route served, requested once');
  assert.notEqual(shown, await page.locator('#app-token').textContent());
  assert.equal(app.count('/api/user/me'), 2, 'one session check per page load');
  assert.equal(app.count('/api/token'), 2, 'one app token request per page load');

  // logout() goes through the dev server's end-session endpoint and back (RP-initiated
  // logout): wait for the page to be home again before asking it anything.
  const origin = new URL(page.url()).origin;
  const endSession = page.waitForRequest((request) => new URL(request.url()).pathname === '/end-session');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await endSession;
  await page.waitForURL((url) => url.origin === origin && url.searchParams.has('state'));
  await page.waitForFunction(() => document.getElementById('user')?.dataset.state === 'signed-out');
  await app.settle();
  assert.equal(await page.locator('#user-token').count(), 0, 'the user token is gone');
  assert.equal(app.count('/auth/logout'), 1);
  assert.equal(app.count('/api/user/token'), 1, 'no user token request after sign-out');
  assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 1);
  assert.deepEqual(app.errors, []);
}

/**
 * Signs in as `user`, then ends the session outside the browser (a sign-out
 * from another device, with the browser's cookie): the app shows the user
 * signed out within 5 s, through `useSession`'s own state, fed by the
 * package's event stream; no user-token request follows.
 */
export async function signedOutElsewhere(app, brokerUrl, user = 'carol') {
  const { page } = app;
  const streamsBefore = app.count('/api/user/session/events');
  await signInAtDevServer(page, user);
  await until('the session event stream is open', () => app.count('/api/user/session/events') > streamsBefore);
  const userTokens = app.count('/api/user/token');

  const cookie = (await page.context().cookies()).find((c) => c.name === 'session');
  assert.ok(cookie, 'signed in, the browser has a session cookie');
  const response = await fetch(`${brokerUrl}/auth/logout`, {
    method: 'POST', headers: { 'X-Requested-With': 'another-device', Cookie: `session=${cookie.value}` },
  });
  assert.ok(response.ok, `sign-out elsewhere: HTTP ${response.status}`);
  await response.body?.cancel();
  await page.waitForFunction(() => document.getElementById('user')?.dataset.state === 'signed-out', null,
    { timeout: 5_000 });
  await app.settle();
  assert.equal(await page.locator('#user-token').count(), 0, 'the user token is gone');
  assert.equal(app.count('/api/user/token'), userTokens, 'no user token request after the ending');
  assert.equal(app.count('/api/user/session/events'), streamsBefore + 1, 'one stream, not reopened');
  assert.deepEqual(app.errors, []);
}
