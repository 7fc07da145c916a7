//! Journey: a visitor signs in on the dev authorization server's real sign-in
//! page, sees their name and their own token on the demo page, keeps it renewed
//! across short lifetimes, and signs out; another visitor denies. The session
//! cookie stays HttpOnly, and no refresh token reaches the browser or the log.
//! The signed-in page is captured (docs/screenshot.png with UPDATE_SCREENSHOT=1).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT, startBackend } from '../support/backend.mjs';
import { collectPageErrors, launchChromium } from '../support/chromium.mjs';
import { recordExchanges } from '../support/exchanges.mjs';
import { failedLoadLine, isFaviconMiss, unexpectedErrors as unexpected } from '../support/page-errors.mjs';
import { assertNeverHeldExpired, recordTokenTraffic } from '../support/token-traffic.mjs';
import { until } from '../support/wait.mjs';

/**
 * Short-lived tokens: 8 s, refreshed by the backend in their last 3 s, never
 * served under 2 s. Debug logging, so the log search covers every request line.
 */
const ENV = { DEV_TOKEN_TTL_SECS: '8', TOKEN_MIN_TTL_SECS: '2', TOKEN_REFRESH_WINDOW_MIN_SECS: '3', RUST_LOG: 'debug' };
const USER_TOKEN_ROUTE = '/api/user/token';
/** Distinct user tokens the page must go through: at least two renewals. */
const TOKENS_TO_SEE = 3;
/** The dev server's refresh tokens start with this (its access tokens with `dev_`). */
const REFRESH_TOKEN_MARK = 'devrt_';
const ARTIFACTS = join(ROOT, 'tests', 'artifacts');

let backend, browser, context, page, errors, traffic, exchanges;
/** Console lines the journey causes on purpose (401s from asking while signed out, the Deny page). */
const expectedErrors = [];

before(async () => {
  backend = await startBackend({ env: ENV, logLimit: Infinity });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  page = await context.newPage();
  errors = collectPageErrors(page);
  traffic = recordTokenTraffic(page, USER_TOKEN_ROUTE);
  exchanges = recordExchanges(page);
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

/** Asks the user-token route from the page on purpose (as the package does); its 401 log line is expected. */
async function fetchUserTokenFromPage() {
  const answer = await page.evaluate(async () => {
    const response = await fetch('/api/user/token', { headers: { 'X-Requested-With': 'token-wasm' } });
    return { status: response.status, body: await response.json() };
  });
  if (answer.status === 401) expectedErrors.push(failedLoadLine(`${backend.url}${USER_TOKEN_ROUTE}`, 401));
  return answer;
}

/** Console errors and page errors, minus one occurrence of each expected line (and favicon misses). */
const unexpectedErrors = (lines = errors) => unexpected(lines, [isFaviconMiss, ...expectedErrors]);

const text = (selector) => page.locator(selector).textContent();

/**
 * The page asks the broker who is signed in (`getUser()`: the session is the
 * truth, there is no hint in the page). Signed out, that is exactly one
 * question to `/api/user/me` since `before` and no user-token request; its 401
 * console line is expected, once.
 */
async function assertAskedOnceWhileSignedOut(before) {
  await page.waitForFunction(() => document.getElementById('user').dataset.state === 'signed-out');
  assert.deepEqual(exchanges.paths.slice(before).filter((p) => p.startsWith('/api/user/')), ['/api/user/me'],
    'signed out, the page asks /api/user/me once and never the user-token route');
  const line = failedLoadLine(`${backend.url}/api/user/me`, 401);
  // Chromium logs the line a moment after the answer; if it never comes, the
  // expectation below is simply unused (as before: this wait never failed).
  await until('the 401 console line', () => errors.includes(line), { intervalMs: 50, timeoutMs: 5_000 }).catch(() => {});
  expectedErrors.push(line);
}
const sessionCookie = async () => (await context.cookies(backend.url)).find((c) => c.name === 'session');

/** Signed out, the page says so after one question to the broker, and never asks for a user token. */
test('signed_out_page_shows_not_signed_in_after_one_question', { timeout: 30_000 }, () => backend.check(async () => {
  await page.goto(backend.url);
  await page.waitForFunction(() => document.getElementById('token-prefix').dataset.prefix);
  await assertAskedOnceWhileSignedOut(0);
  assert.equal(await text('#user-name'), 'Not signed in');
  assert.equal(await text('#user-token-status'), 'Not signed in');
  assert.equal(await page.getByRole('region', { name: 'Signed-in user' }).count(), 1);
  const signIn = page.getByRole('link', { name: 'Sign in' });
  assert.equal(await signIn.getAttribute('href'), '/auth/login?return_to=%2F');
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'no Sign out while signed out');
  assert.deepEqual(unexpectedErrors(), []);
}));

/** The real sign-in page as alice: back on the demo, her name and the token the route served. */
test('sign_in_through_the_dev_page_shows_the_user_and_their_token', { timeout: 30_000 }, () => backend.check(async () => {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/authorize');
  assert.notEqual(new URL(page.url()).origin, backend.url, 'the sign-in page is the dev server\'s, not the broker\'s');
  assert.equal(await page.locator('#user').inputValue(), 'dev-user');
  await page.locator('#user').fill('alice');
  const me = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/user/me');
  await page.getByRole('button', { name: 'Allow' }).click();
  assert.equal((await me).status(), 200);
  await page.waitForFunction(() => document.getElementById('user-name').textContent === 'alice'
    && document.getElementById('user-token-prefix').dataset.prefix);
  assert.equal(page.url(), `${backend.url}/`, 'back on the page it left, with nothing added to the address');

  await traffic.settle();
  assert.deepEqual(traffic.failures, [], 'a user-token request failed after sign-in');
  assert.ok(traffic.served.length >= 1, 'the browser received no token from /api/user/token');
  const shown = await text('#user-token-prefix');
  const served = traffic.served.map((s) => s.prefix);
  assert.ok(served.includes(shown), `user panel shows ${shown}, route served ${served.join(', ')}`);
  assert.ok(traffic.served.every((s) => s.token.startsWith('dev_')), 'a served user token is not a dev access token');
  assert.ok(!traffic.served.some((s) => shown.includes(s.token)), 'the panel must not show the whole token');
  assert.notEqual(shown, await text('#token-prefix'), 'the user token is not the app token');
  assert.match(await text('#user-detail'), /^alice@/);
  assert.equal(await text('#user-token-error'), 'None');
  assert.equal(await page.getByRole('link', { name: 'Sign in' }).count(), 0, 'Sign in is hidden once signed in');
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), true);
  assert.deepEqual(unexpectedErrors(), []);
}));

/** The session cookie is HttpOnly and SameSite=Lax; scripts and storage never see it or a token. */
test('session_cookie_is_http_only_and_hidden_from_scripts', () => backend.check(async () => {
  const cookie = await sessionCookie();
  assert.ok(cookie, 'no session cookie after sign-in');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');
  const seenByPage = await page.evaluate(() => ({
    cookie: document.cookie,
    storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
  }));
  assert.ok(!seenByPage.cookie.includes('session=') && !seenByPage.cookie.includes(cookie.value), 'document.cookie shows the session');
  for (const { token } of traffic.served) assert.ok(!seenByPage.storage.includes(token), 'a user token is in web storage');
  assert.ok(!seenByPage.storage.includes('dev_'), `web storage holds a token: ${seenByPage.storage}`);
}));

/** Across several short lifetimes the user token is renewed, never shown past expiry, without errors. */
test('user_token_renews_without_errors_or_expired_use', { timeout: 60_000 }, () => backend.check(async () => {
  await page.waitForFunction(
    (n) => new Set(window.__userTokens.filter((t) => t.prefix).map((t) => t.prefix)).size >= n,
    TOKENS_TO_SEE,
    { timeout: 45_000, polling: 200 },
  );
  const { userTokens, now } = await page.evaluate(() => ({ userTokens: window.__userTokens, now: Date.now() }));
  await traffic.settle();

  assert.deepEqual(traffic.failures, [], 'a user-token request failed during renewal');
  assert.equal(traffic.unreadBodies, 0, 'some user-token responses could not be read');
  assert.ok(new Set(traffic.served.map((s) => s.token)).size >= TOKENS_TO_SEE, 'the route served too few distinct tokens');
  assertNeverHeldExpired(userTokens, traffic, now, 'user panel');
  assert.equal(await text('#user-token-error'), 'None');
  assert.notEqual(await page.locator('#user-token-status').getAttribute('data-state'), 'error');
  assert.equal(await text('#user-name'), 'alice');
  assert.deepEqual(unexpectedErrors(), []);
}));

/** Sign out: the UI says so, the route answers login_required, and the cookie is gone. */
test('sign_out_ends_the_session_and_clears_the_cookie', { timeout: 30_000 }, () => backend.check(async () => {
  const logout = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/logout');
  await page.getByRole('button', { name: 'Sign out' }).click();
  assert.equal((await logout).status(), 204);
  await page.waitForFunction(() => document.getElementById('user-name').textContent === 'Not signed in');
  assert.equal(await text('#user-token-status'), 'Not signed in');
  assert.equal(await text('#user-token-prefix'), '—');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'sign-in', 'focus moves to Sign in');
  assert.equal(await sessionCookie(), undefined, 'the session cookie survived sign-out');

  const answer = await fetchUserTokenFromPage();
  assert.equal(answer.status, 401);
  assert.equal(answer.body.error, 'login_required');
  // A reload stays signed out: one question, no user token.
  const before = exchanges.paths.length;
  await page.reload();
  await page.waitForFunction(() => document.getElementById('token-prefix').dataset.prefix);
  await assertAskedOnceWhileSignedOut(before);
  assert.equal(await text('#user-name'), 'Not signed in');
  assert.deepEqual(unexpectedErrors(), []);
}));

/** Deny on the sign-in page: the "Sign-in cancelled" page, and no session. */
test('deny_shows_sign_in_cancelled_and_makes_no_session', { timeout: 30_000 }, () => backend.check(async () => {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/authorize');
  const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/callback');
  await page.getByRole('button', { name: 'Deny' }).click();
  const cancelled = await callback;
  assert.equal(cancelled.status(), 403);
  // The "Sign-in cancelled" page is a 403: Chromium logs it as a failed load.
  expectedErrors.push(failedLoadLine(cancelled.url(), 403));
  await page.getByRole('heading', { name: 'Sign-in cancelled' }).waitFor();

  const before = exchanges.paths.length;
  await page.getByRole('link', { name: 'Back to the app' }).click();
  await page.waitForFunction(() => document.getElementById('token-prefix')?.dataset.prefix);
  await assertAskedOnceWhileSignedOut(before);
  assert.equal(await text('#user-name'), 'Not signed in');
  const answer = await fetchUserTokenFromPage();
  assert.equal(answer.status, 401);
  assert.equal(answer.body.error, 'login_required');
  assert.deepEqual(unexpectedErrors(), []);
}));

/** Nothing the browser received or sent, and nothing the backend logged, holds a refresh token. */
test('no_refresh_token_reaches_the_browser_or_the_log', () => backend.check(async () => {
  const content = await page.content();
  // getUser() leaves the body of its 401 unread, and Chromium reports such a
  // body to Playwright only once the page lets go of it: leave the page, so
  // every response settles (that body is the route's login_required error).
  await page.goto('about:blank');
  await exchanges.settle();
  const seen = exchanges.texts.join('\n') + content;
  // The search must be able to find tokens at all: access tokens are in there.
  assert.ok(traffic.served.some((s) => seen.includes(s.token)), 'the recorded exchanges hold no served access token');
  assert.ok(exchanges.texts.some((t) => t.startsWith('< 302 ') && t.includes('/auth/callback')), 'the callback was not recorded');
  assert.ok(!seen.includes(REFRESH_TOKEN_MARK), 'a refresh token reached the browser');

  const log = backend.log();
  assert.ok(log.includes('listening on'), 'the backend log is missing its start-up lines');
  assert.ok(log.includes(`path=${USER_TOKEN_ROUTE}`), 'the backend log has no request lines (is RUST_LOG debug?)');
  assert.ok(!log.includes(REFRESH_TOKEN_MARK), 'the backend logged a refresh token');
  for (const { token } of traffic.served) assert.ok(!log.includes(token), 'the backend logged a user access token');
}));

/**
 * Signed in, at 375 px nothing overflows sideways. Saves
 * tests/artifacts/demo-signed-in*.png (and, with UPDATE_SCREENSHOT=1,
 * docs/screenshot.png for the README). A backend of its own with the default
 * 2-minute tokens, so the picture shows a typical page.
 */
test('signed_in_page_fits_a_phone_and_is_captured', { timeout: 40_000 }, async () => {
  const shotBackend = await startBackend();
  // Reduced motion: the model holds still and the meters do not animate.
  const shotContext = await browser.newContext({ viewport: { width: 1280, height: 820 }, reducedMotion: 'reduce' });
  try {
    await shotBackend.check(async () => {
      const shot = await shotContext.newPage();
      const shotErrors = collectPageErrors(shot);
      await shot.goto(shotBackend.url);
      await shot.getByRole('link', { name: 'Sign in' }).click();
      await shot.waitForURL((url) => url.pathname === '/authorize');
      await shot.locator('#user').fill('alice');
      await shot.getByRole('button', { name: 'Allow' }).click();
      await shot.waitForFunction(() => document.getElementById('user-name').textContent === 'alice'
        && document.getElementById('user-token-prefix').dataset.prefix
        && document.getElementById('viewport').dataset.state === 'authorized');
      // Show the burst result in the picture too, with no focus ring.
      await shot.getByRole('button', { name: 'Fire calls' }).click();
      await shot.waitForFunction(() => document.getElementById('burst-result').dataset.state === 'done'
        && document.getElementById('token-status').dataset.state === 'fresh');
      await shot.evaluate(() => document.activeElement?.blur());
      await shot.mouse.move(0, 0);
      mkdirSync(ARTIFACTS, { recursive: true });
      await shot.screenshot({ path: join(ARTIFACTS, 'demo-signed-in.png'), fullPage: true });
      if (process.env.UPDATE_SCREENSHOT) copyFileSync(join(ARTIFACTS, 'demo-signed-in.png'), join(ROOT, 'docs', 'screenshot.png'));

      await shot.setViewportSize({ width: 375, height: 812 });
      const widths = await shot.evaluate(() => ({ page: document.documentElement.scrollWidth, view: innerWidth }));
      assert.ok(widths.page <= widths.view, `page is ${widths.page} px wide in a ${widths.view} px viewport`);
      await shot.screenshot({ path: join(ARTIFACTS, 'demo-signed-in-375.png'), fullPage: true });
      // The page opened signed out, so it asked /api/user/me once: a 401.
      expectedErrors.push(failedLoadLine(`${shotBackend.url}/api/user/me`, 401));
      assert.deepEqual(unexpectedErrors(shotErrors), []);
    });
  } finally {
    await shotContext.close();
    await shotBackend.stop();
  }
});
