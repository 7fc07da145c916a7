//! Journey: an app uses the package's sign-in surface (`login`, `getUser`,
//! `isAuthenticated`, `logout`, `onSessionChange`) against the real
//! `token-backend --dev` and its embedded authorization server's sign-in page,
//! in two tabs of one browser. The session is the truth: the second tab sees
//! the signed-in user without being told, and a sign-out in the first reaches
//! the second without a reload (its user token dropped, its listener called).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startBackend } from '../support/backend.mjs';
import { collectPageErrors, launchChromium } from '../support/chromium.mjs';
import { createPackageSite, openPackagePage } from '../support/package-site.mjs';
import { isFailedLoad, unexpectedErrors as unexpected } from '../support/page-errors.mjs';

let site, backend, browser, context, first, second, errors;

before(async () => {
  site = createPackageSite();
  backend = await startBackend({ env: { DEV_TOKEN_TTL_SECS: '600' }, publicDir: site.dir });
  browser = await launchChromium();
  context = await browser.newContext();
  [first, second] = [await context.newPage(), await context.newPage()];
  errors = [collectPageErrors(first), collectPageErrors(second)];
  for (const page of [first, second]) {
    await openPackagePage(page, backend.url);
  }
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  site?.remove();
});

/** Asking who is signed in while signed out answers 401, which Chromium logs: expected, however often. */
const unexpectedErrors = () => unexpected(errors.flat(), [isFailedLoad(`${backend.url}/api/user/me`, 401)]);

test('signed_out_visitor_is_not_authenticated', () => backend.check(async () => {
  const answer = await first.evaluate(async () => ({
    authenticated: await window.tw.isAuthenticated(),
    user: await window.tw.getUser(),
  }));
  assert.deepEqual(answer, { authenticated: false, user: null });
  assert.deepEqual(unexpectedErrors(), []);
}));

test('login_returns_to_the_page_and_every_tab_sees_the_user', { timeout: 30_000 }, () => backend.check(async () => {
  await first.evaluate(() => window.tw.login({ returnTo: '/?from=login' }));
  await first.waitForURL((url) => url.pathname === '/authorize');
  await first.locator('#user').fill('alice');
  await first.getByRole('button', { name: 'Allow' }).click();
  await first.waitForURL(`${backend.url}/?from=login`);
  await first.waitForFunction(() => window.ready === true);

  const here = await first.evaluate(async () => ({
    authenticated: await window.tw.isAuthenticated(),
    user: await window.tw.getUser(),
  }));
  assert.equal(here.authenticated, true);
  assert.equal(here.user.name, 'alice');
  // The other tab was never told: it asks the backend, which knows the session.
  const there = await second.evaluate(() => window.tw.getUser());
  assert.equal(there.name, 'alice');
  assert.deepEqual(unexpectedErrors(), []);
}));

test('logout_in_one_tab_reaches_the_other_without_a_reload', { timeout: 30_000 }, () => backend.check(async () => {
  await second.evaluate(async () => {
    window.sessionChanges = [];
    window.tw.onSessionChange((change) => window.sessionChanges.push(change));
    window.userToken = await window.tw.getUserClient().getAccessToken();
  });
  assert.equal(await second.evaluate(() => window.tw.getUserClient().getState().status), 'fresh');

  const logout = first.waitForResponse((r) => new URL(r.url()).pathname === '/auth/logout');
  await first.evaluate(() => window.tw.logout());
  const response = await logout;
  assert.equal(response.status(), 204);
  assert.equal(await response.request().headerValue('x-requested-with'), 'token-wasm', 'logout sends the CSRF header');

  await second.waitForFunction(() => window.sessionChanges.length > 0);
  const seen = await second.evaluate(() => ({
    changes: window.sessionChanges,
    status: window.tw.getUserClient().getState().status,
  }));
  assert.deepEqual(seen.changes, [{ authenticated: false, user: null, source: 'other-tab' }]);
  assert.equal(seen.status, 'empty', 'the other tab dropped its user token');
  assert.equal(await second.evaluate(() => window.tw.isAuthenticated()), false);
  assert.equal(await first.evaluate(() => window.tw.isAuthenticated()), false);
  assert.deepEqual(unexpectedErrors(), []);
}));

test('configureSession_rejects_unknown_routes', () => backend.check(async () => {
  const codes = await first.evaluate(() => [{ routes: { signin: '/x' } }, { routes: { login: '' } }].map((options) => {
    try { window.tw.configureSession(options); return 'accepted'; } catch (error) { return error.code; }
  }));
  assert.deepEqual(codes, ['invalid_options', 'invalid_options']);
}));
