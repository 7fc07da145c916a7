//! Journey: the page stays open while dev tokens expire every few seconds. The
//! viewer renews through the callback form, the panel follows, nothing logs an
//! error, and neither ever holds a token past the expiry the backend announced.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertNeverHeldExpired } from '../support/token-traffic.mjs';
import { openDemo } from '../support/demo.mjs';

/** Short-lived tokens: 8 s, refreshed by the backend in their last 3 s, never served under 2 s. */
const ENV = { DEV_TOKEN_TTL_SECS: '8', TOKEN_MIN_TTL_SECS: '2', TOKEN_REFRESH_WINDOW_MIN_SECS: '3' };
/** Distinct tokens the viewer must go through: at least two renewals. */
const TOKENS_TO_SEE = 3;

let demo, backend, browser, page, errors, traffic;

before(async () => {
  demo = await openDemo({ env: ENV });
  ({ backend, browser, page, errors, traffic } = demo);
});

after(async () => {
  await demo?.close();
});

/** Renewal across several token lifetimes never uses an expired token. */
test('viewer_and_panel_renew_without_ever_holding_an_expired_token', { timeout: 60_000 }, () => backend.check(async () => {
  await page.goto(`${backend.url}/?leeway=2`);
  // `load` can fire before app.js has run (the package's wasm start-up is a
  // top-level await), so the log may not exist yet on the first polls.
  await page.waitForFunction(
    (n) => new Set((window.__viewerTokens ?? []).map((t) => t.prefix)).size >= n,
    TOKENS_TO_SEE,
    { timeout: 45_000, polling: 200 },
  );
  const { viewerTokens, panelTokens, now } = await page.evaluate(() => ({
    viewerTokens: window.__viewerTokens,
    panelTokens: window.__panelTokens,
    now: Date.now(),
  }));
  await traffic.settle();

  assert.ok(traffic.served.length >= TOKENS_TO_SEE, `only ${traffic.served.length} tokens served`);
  assert.deepEqual(traffic.failures, [], 'a token request failed');
  assert.equal(traffic.unreadBodies, 0, 'some token responses could not be read');
  assert.equal(traffic.served.length, traffic.requests.length, 'every token request was answered and read');
  const tokens = new Set(traffic.served.map((s) => s.token)).size;
  assert.equal(new Set(traffic.served.map((s) => s.prefix)).size, tokens, 'masked prefixes must tell served tokens apart');

  // What the viewer was told: its authorization window ends before the token does.
  for (const t of viewerTokens) {
    const expiresAt = traffic.expiryOf(t.prefix);
    assert.ok(expiresAt !== undefined, `viewer got ${t.prefix}, never served`);
    // 0 is legitimate: served with no more than the leeway left (the backend's
    // 2 s floor equals the page's 2 s leeway); the viewer then renews after 1 s.
    assert.ok(Number.isInteger(t.expiresIn) && t.expiresIn >= 0, `viewer was handed ${t.prefix} with ${t.expiresIn} s`);
    assert.ok(t.receivedAt + t.expiresIn * 1000 <= expiresAt, `viewer told to use ${t.prefix} past its expiry`);
  }
  // What it actually held, and what the panel showed, until replaced.
  assertNeverHeldExpired(viewerTokens.map((t) => ({ prefix: t.prefix, at: t.receivedAt })), traffic, now, 'viewer');
  assertNeverHeldExpired(panelTokens, traffic, now, 'panel');

  assert.equal(await page.locator('#alert').isVisible(), false, 'error banner shown during renewal');
  assert.equal(await page.locator('#token-error').textContent(), 'None');
  assert.deepEqual(errors, [], 'console errors or uncaught exceptions during renewal');
}));
