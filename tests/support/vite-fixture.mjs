//! The Vite fixture app (tests/fixtures/vite-app) in the browser, however it
//! is served: it must get a token both ways with one request and no errors.
import assert from 'node:assert/strict';

import { collectPageErrors } from './chromium.mjs';
import { maskToken, recordTokenTraffic } from './token-traffic.mjs';

/**
 * Opens the fixture at `url` in a new page of `browser` and asserts what it
 * shows: the token from `getAccessToken()` (masked) and the viewer callback's
 * line, both from the one token request the page made.
 */
export async function expectFixtureGetsToken(browser, url) {
  const page = await browser.newPage();
  const errors = collectPageErrors(page);
  const traffic = recordTokenTraffic(page);
  await page.goto(url);
  await page.waitForFunction(() => ['token', 'viewer'].every((id) => document.getElementById(id).dataset.state !== 'loading'));
  await traffic.settle();

  const token = await page.locator('#token').textContent();
  assert.equal(await page.locator('#token').getAttribute('data-state'), 'ok', `getAccessToken() failed: ${token}`);
  assert.equal(traffic.served.length, 1, `expected one token request, saw ${traffic.requests.length}`);
  assert.equal(token, maskToken(traffic.served[0].token));
  assert.match(await page.locator('#viewer').textContent(), new RegExp(`^${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} for \\d+ s \\(1 request\\)$`));
  assert.deepEqual(errors, [], 'console errors or uncaught exceptions in the Vite app');
}
