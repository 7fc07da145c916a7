//! Journey: sign-out that really signs out (issue 21, item 1). The real broker
//! (not --dev) signs a visitor in through a real OpenID provider (panva's
//! oidc-provider); while the provider's session lives, a new sign-in comes
//! straight back without a password. The package's `logout()` ends the
//! broker's session and navigates to the provider's end-session endpoint
//! (RP-Initiated Logout 1.0); once the user confirms there, the provider's
//! session is gone and the next `/auth/login` shows its login page again.
//! `logout({ endSession: false })` stays on the page and leaves it alive.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { BACKEND_BIN, freePort, requireBuilt, untilHealthy } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';
import { signInAtProvider, startOidcProvider } from '../support/oidc-provider.mjs';
import { createPackageSite } from '../support/package-site.mjs';
import { startProcess } from '../support/process.mjs';
import { DEADLINE_MS, until } from '../support/wait.mjs';

const CLIENT_ID = 'broker-web';
const CLIENT_SECRET = `cs-${randomBytes(24).toString('base64url')}`;
const SCOPE = 'openid offline_access profile';

let oidc, broker, browser, page, site, issuer, brokerUrl;

before(async () => {
  requireBuilt();
  const port = await freePort();
  brokerUrl = `http://127.0.0.1:${port}`;
  const client = {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`${brokerUrl}/auth/callback`],
    post_logout_redirect_uris: [`${brokerUrl}/`],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPE,
  };
  oidc = await startOidcProvider({ signIn: true, clients: [client] });
  ({ issuer } = oidc);
  site = createPackageSite();
  broker = startProcess(BACKEND_BIN, [], {
    PATH: process.env.PATH,
    NO_COLOR: '1',
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_DIR: site.dir,
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: issuer,
    OAUTH_CLIENT_ID: CLIENT_ID,
    OAUTH_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_REDIRECT_URL: `${brokerUrl}/auth/callback`,
    OAUTH_USER_SCOPE: SCOPE,
    SESSION_SECRET: randomBytes(36).toString('base64url'),
    COOKIE_SECURE: 'false',
  });
  broker.child.stdout.resume();
  await untilHealthy(broker, brokerUrl);
  browser = await launchChromium();
  page = await (await browser.newContext()).newPage();
});

after(async () => {
  await browser?.close();
  await broker?.stop();
  await oidc?.stop();
  site?.remove();
});

/** Fails with both servers' logs attached. */
async function check(body) {
  try {
    await body();
  } catch (error) {
    error.message += `\n--- at ${page?.url()}\n--- token-backend log (tail) ---\n${broker?.log.slice(-4000)}\n--- oidc-provider log ---\n${oidc?.log.slice(-3000)}`;
    throw error;
  }
}

/** The package's page at `/`, loaded. */
async function onAppPage() {
  await page.waitForURL((url) => url.origin === brokerUrl && url.pathname === '/', { timeout: DEADLINE_MS });
  await page.waitForFunction(() => window.ready === true);
}

/**
 * `/auth/login`: `'login page'` when the provider asks for the password,
 * `'signed in'` when it sends the browser back without one (its session
 * lives; a consent page, shown again after a sign-out withdrew the grant, is
 * answered on the way).
 */
async function startSignIn() {
  await page.goto(`${brokerUrl}/auth/login?return_to=/`);
  const consent = page.locator('button.login-submit', { hasText: 'Continue' });
  return until('the provider\'s login page or the way back', async () => {
    const url = new URL(page.url());
    if (url.origin === brokerUrl && url.pathname === '/') return 'signed in';
    if (url.origin !== issuer || !url.pathname.startsWith('/interaction/')) return null;
    // The page may be navigating while it is counted: that is "not yet", not a failure.
    if ((await page.locator('input[name=login]').count().catch(() => 0)) > 0) return 'login page';
    if ((await consent.count().catch(() => 0)) > 0) await consent.click().catch(() => {});
    return null;
  });
}

/** While the provider's session lives, signing in again needs no password (the problem item 1 fixes). */
test('the_providers_session_signs_the_user_straight_back_in', { timeout: 60_000 }, () => check(async () => {
  assert.equal(await startSignIn(), 'login page');
  await signInAtProvider(page, issuer, 'alice');
  await onAppPage();
  assert.equal(await page.evaluate(() => window.tw.isAuthenticated()), true);
  assert.equal(await startSignIn(), 'signed in', 'no password asked while the provider session lives');
  await onAppPage();
  assert.equal(await page.evaluate(() => window.tw.isAuthenticated()), true);
}));

/** logout() navigates to the provider's end-session endpoint; after it, the login page shows again. */
test('logout_ends_the_providers_session', { timeout: 60_000 }, () => check(async () => {
  await onAppPage();
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/logout');
  // Not awaited inside the page: the navigation it ends with destroys the page's context.
  await page.evaluate(() => { window.tw.logout(); });
  assert.equal((await answer).status(), 200);
  // Its body (`end_session_url`) is gone with the page; where the page went says the same.
  await page.waitForURL((url) => url.origin === issuer, { timeout: DEADLINE_MS });
  const target = page.url();
  const params = new URL(target).searchParams;
  assert.equal(params.get('client_id'), CLIENT_ID, target);
  assert.equal(params.get('post_logout_redirect_uri'), `${brokerUrl}/`, target);
  assert.ok(params.get('id_token_hint')?.split('.').length === 3, `an ID token as id_token_hint: ${target}`);
  await page.locator('button[name=logout][value=yes]').click();
  await page.waitForURL((url) => url.origin === brokerUrl && url.pathname === '/', { timeout: DEADLINE_MS });
  assert.equal(new URL(page.url()).searchParams.get('state'), new URL(target).searchParams.get('state'));
  await onAppPage();
  assert.equal(await page.evaluate(() => window.tw.isAuthenticated()), false, 'signed out at the broker');
  assert.equal(await startSignIn(), 'login page', 'the provider asks for the password again');
}));

/** logout({ endSession: false }) stays on the page; the provider's session lives on. */
test('logout_with_endSession_false_stays_on_the_page', { timeout: 60_000 }, () => check(async () => {
  await signInAtProvider(page, issuer, 'alice');
  await onAppPage();
  await page.evaluate(() => { window.notReloaded = true; });
  const status = await page.evaluate(async () => {
    await window.tw.logout({ endSession: false });
    return (await fetch('/api/user/me', { headers: { 'X-Requested-With': 'fetch' } })).status;
  });
  assert.equal(status, 401, 'signed out at the broker');
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page stayed');
  const code = await page.evaluate(() => window.tw.logout({ endSession: 'no' }).then(() => 'resolved', (e) => e.code));
  assert.equal(code, 'invalid_options');
  assert.equal(await startSignIn(), 'signed in', 'the provider session lives on');
}));
