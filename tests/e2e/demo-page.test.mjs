//! Journey: a visitor opens the demo page. It loads without console errors,
//! shows the token the backend served (masked), lays out at phone width, is
//! usable from the keyboard, and a screenshot is kept as an artifact.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT } from '../support/backend.mjs';
import { maskToken } from '../support/token-traffic.mjs';
import { openDemo } from '../support/demo.mjs';

const ARTIFACTS = join(ROOT, 'tests', 'artifacts');

let demo, backend, browser, page, errors, traffic;

before(async () => {
  demo = await openDemo({ viewport: { width: 1280, height: 820 } });
  ({ backend, browser, page, errors, traffic } = demo);
});

after(async () => {
  await demo?.close();
});

/** The page shows a token from the backend and nothing went to the console. */
test('page_loads_without_errors_and_shows_the_served_token', { timeout: 30_000 }, () => backend.check(async () => {
  await page.goto(backend.url);
  await page.waitForFunction(() => document.getElementById('token-prefix').dataset.prefix
    && document.getElementById('viewport').dataset.state === 'authorized');
  await traffic.settle();

  assert.ok(traffic.served.length >= 1, 'the browser received no token from /api/token');
  const served = traffic.served.map((s) => maskToken(s.token));
  const shown = await page.locator('#token-prefix').textContent();
  assert.ok(served.includes(shown), `panel shows ${shown}, backend served ${served.join(', ')}`);
  assert.ok(!shown.includes(traffic.served[0].token), 'the panel must not show the whole token');
  const viewerPrefix = await page.locator('#viewport').getAttribute('data-token-prefix');
  assert.ok(served.includes(viewerPrefix), `viewer holds ${viewerPrefix}, backend served ${served.join(', ')}`);
  assert.equal(await page.locator('#token-status').textContent(), 'Fresh');
  assert.equal(await page.locator('#alert').isVisible(), false, 'no error banner on a healthy load');
  assert.deepEqual(errors, [], 'console errors or uncaught exceptions on load');
}));

/** Landmarks, labels and live regions are there for assistive technology. */
test('page_exposes_landmarks_labels_and_live_status', () => backend.check(async () => {
  for (const role of ['banner', 'main', 'contentinfo']) {
    assert.equal(await page.getByRole(role).count(), 1, `one ${role} landmark`);
  }
  assert.equal(await page.getByRole('region', { name: 'Viewer' }).count(), 1);
  assert.equal(await page.getByRole('region', { name: 'Token' }).count(), 1);
  assert.equal(await page.getByLabel('Concurrent calls').inputValue(), '100');
  assert.equal(await page.locator('#token-status').getAttribute('aria-live'), 'polite');
  assert.equal(await page.locator('#burst-result').getAttribute('role'), 'status');
}));

/** Keyboard only: Tab to "Force refresh" and press Enter: a new request goes out. */
test('force_refresh_works_from_the_keyboard', { timeout: 30_000 }, () => backend.check(async () => {
  const before = traffic.requests.length;
  const fetches = Number(await page.locator('#token-fetches').textContent());
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.id === 'refresh')) break;
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'refresh', 'Force refresh is reachable with Tab');
  const response = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/token');
  await page.keyboard.press('Enter');
  assert.equal((await response).status(), 200);
  await page.waitForFunction((n) => Number(document.getElementById('token-fetches').textContent) > n, fetches);
  assert.ok(traffic.requests.length > before, 'Force refresh sent no request');
  assert.deepEqual(errors, []);
}));

/**
 * At 375 px nothing overflows sideways. Saves tests/artifacts/demo.png (the
 * README's docs/screenshot.png is the signed-in page, from sign-in.test.mjs).
 */
test('page_fits_a_phone_and_is_captured', { timeout: 30_000 }, () => backend.check(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Show the burst result in the picture, with no focus ring.
  await page.getByRole('button', { name: 'Fire calls' }).click();
  await page.waitForFunction(() => document.getElementById('burst-result').dataset.state === 'done'
    && document.getElementById('token-status').dataset.state === 'fresh');
  await page.evaluate(() => document.activeElement?.blur());
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(ARTIFACTS, 'demo.png') });

  await page.setViewportSize({ width: 375, height: 812 });
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: innerWidth }));
  assert.ok(widths.page <= widths.view, `page is ${widths.page} px wide in a ${widths.view} px viewport`);
  await page.screenshot({ path: join(ARTIFACTS, 'demo-375.png'), fullPage: true });
  assert.deepEqual(errors, []);
}));
