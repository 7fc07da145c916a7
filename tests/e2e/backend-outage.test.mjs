//! Journey: the services behind the page go away while it is open. When the
//! backend stops, the page says so; when it is back on the same port, the page
//! recovers by itself, without a reload. An authorization-server outage (the
//! backend's 503) gets its own message and recovers the same way.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT } from '../support/backend.mjs';
import { assertNeverHeldExpired } from '../support/token-traffic.mjs';
import { openDemo } from '../support/demo.mjs';

/** Short-lived tokens, so the viewer needs a new one soon after the backend stops. */
const ENV = { DEV_TOKEN_TTL_SECS: '8', TOKEN_MIN_TTL_SECS: '2', TOKEN_REFRESH_WINDOW_MIN_SECS: '3' };
/** The backend's own body for "authorization server down" (backend/src/error.rs). */
const UPSTREAM_DOWN = {
  status: 503,
  headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Retry-After': '1' },
  body: JSON.stringify({
    error: 'upstream_unavailable',
    error_description: 'the authorization server is unavailable and no valid token is cached; try again shortly',
  }),
};

let demo, backend, browser, page, errors, traffic;

before(async () => {
  demo = await openDemo({ env: ENV });
  ({ backend, browser, page, errors, traffic } = demo);
  await page.goto(`${backend.url}/?leeway=2`);
  await page.waitForFunction(() => document.getElementById('viewport').dataset.state === 'authorized');
  // Survives only if the page is never reloaded.
  await page.evaluate(() => { window.__sameDocument = true; });
});

after(async () => {
  await demo?.close();
});

/** Failed loads of the token route are expected while it is down; anything else is a bug. */
const unexpected = () => errors.filter((e) => !/^console: Failed to load resource/.test(e));

const pageState = () => page.evaluate(() => ({
  alert: document.getElementById('alert').hidden ? null : document.getElementById('alert-title').textContent,
  token: document.getElementById('token-status').dataset.state,
  viewer: document.getElementById('viewer-badge').dataset.state,
  lastError: document.getElementById('token-error').dataset.code,
  sameDocument: window.__sameDocument === true,
}));

/** Backend stopped, then started again on the same port: error state, then recovery. */
test('page_recovers_after_the_backend_restarts', { timeout: 90_000 }, () => backend.check(async () => {
  const viewerTokensBefore = await page.evaluate(() => window.__viewerTokens.length);
  await backend.stop();

  await page.waitForFunction(
    () => !document.getElementById('alert').hidden && document.getElementById('token-status').dataset.state === 'error',
    null,
    { timeout: 30_000, polling: 100 },
  );
  const down = await pageState();
  assert.equal(down.alert, 'Can’t reach the token service');
  assert.equal(down.lastError, 'network');
  mkdirSync(join(ROOT, 'tests', 'artifacts'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'tests', 'artifacts', 'demo-offline.png') });

  await backend.start();
  await page.waitForFunction(
    (n) => document.getElementById('alert').hidden
      && document.getElementById('token-status').dataset.state === 'fresh'
      && window.__viewerTokens.length > n
      && document.getElementById('viewport').dataset.state === 'authorized',
    viewerTokensBefore,
    { timeout: 45_000, polling: 100 },
  );
  const up = await pageState();
  assert.equal(up.sameDocument, true, 'the page was reloaded');
  assert.equal(up.viewer, 'fresh');

  await traffic.settle();
  const { viewerTokens, panelTokens, now } = await page.evaluate(() => ({
    viewerTokens: window.__viewerTokens, panelTokens: window.__panelTokens, now: Date.now(),
  }));
  assertNeverHeldExpired(panelTokens, traffic, now, 'panel');
  // The viewer keeps its last token through an outage (as the real Viewer does),
  // so only what it was told to use is checked: never past expiry.
  for (const t of viewerTokens) {
    assert.ok(t.receivedAt + t.expiresIn * 1000 <= traffic.expiryOf(t.prefix), `viewer told to use ${t.prefix} past its expiry`);
  }
  assert.deepEqual(unexpected(), []);
}));

/** The authorization server is down (the backend answers 503): its own message, then recovery. */
test('page_explains_an_authorization_server_outage_and_recovers', { timeout: 60_000 }, () => backend.check(async () => {
  await page.route('**/api/token', (route) => route.fulfill(UPSTREAM_DOWN));
  await page.getByRole('button', { name: 'Force refresh' }).click();
  await page.waitForFunction(
    () => document.getElementById('alert-title').textContent === 'The authorization server is unavailable'
      && !document.getElementById('alert').hidden,
    null,
    { timeout: 20_000, polling: 100 },
  );
  const down = await pageState();
  assert.equal(down.token, 'error');
  assert.equal(down.lastError, 'http');

  await page.unroute('**/api/token');
  await page.waitForFunction(
    () => document.getElementById('alert').hidden && document.getElementById('token-status').dataset.state === 'fresh',
    null,
    { timeout: 30_000, polling: 100 },
  );
  assert.equal((await pageState()).sameDocument, true, 'the page was reloaded');
  assert.deepEqual(unexpected(), []);
}));
