//! Journey: the demo page on the package's sign-in surface, where the session
//! is the truth. Two tabs of one browser on the demo: a sign-in in one reaches
//! the other, and a sign-out in the first signs the second out without a
//! reload, its user token dropped. And on a second replica (another port, the
//! same Redis and SESSION_SECRET, one upstream), the demo shows the user who
//! signed in on the first.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';

import { BACKEND_BIN, WWW_DIR, freePort, requireBuilt, startBackend } from '../support/backend.mjs';
import { collectPageErrors, launchChromium } from '../support/chromium.mjs';
import { signInAtProvider, startOidcProvider } from '../support/oidc-provider.mjs';
import { isFailedLoad, isFaviconMiss, isProviderFontMiss, unexpectedErrors } from '../support/page-errors.mjs';
import { startProcess as startHelper } from '../support/process.mjs';
import { DEADLINE_MS, until } from '../support/wait.mjs';

/** What to stop at the end, last started first. */
const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The 401 of asking `/api/user/me` at `origin` while signed out, however often. */
const signedOutProbe = (origin) => isFailedLoad(`${origin}/api/user/me`, 401);

const userState = (page) => page.locator('#user').getAttribute('data-state');

/** Waits until the page's user card says `state` (and, when signed in, shows a user token). */
function waitForUser(page, state, name) {
  return page.waitForFunction(({ state, name }) => {
    const card = document.getElementById('user');
    if (card.dataset.state !== state) return false;
    if (name !== undefined && document.getElementById('user-name').textContent !== name) return false;
    return state !== 'signed-in' || document.getElementById('user-token-prefix').dataset.prefix !== '';
  }, { state, name }, { timeout: DEADLINE_MS });
}

/** Sign-in through the `--dev` authorization server's page, as `login`. */
async function signInAtDevServer(page, login) {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/authorize');
  await page.locator('#user').fill(login);
  await page.getByRole('button', { name: 'Allow' }).click();
}

/** Two tabs, one session: sign-in reaches the other tab, and so does sign-out, without a reload. */
test('sign_out_in_one_tab_signs_the_other_out_without_a_reload', { timeout: 60_000 }, async () => {
  const backend = await startBackend({ env: { DEV_TOKEN_TTL_SECS: '600' } });
  cleanups.push(() => backend.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const context = await browser.newContext();
  const [first, second] = [await context.newPage(), await context.newPage()];
  const errors = [collectPageErrors(first), collectPageErrors(second)];

  await backend.check(async () => {
    for (const page of [first, second]) {
      await page.goto(backend.url);
      await waitForUser(page, 'signed-out');
    }

    await signInAtDevServer(first, 'alice');
    await waitForUser(first, 'signed-in', 'alice');
    // The second tab was not reloaded: it learnt of the sign-in from the package.
    await waitForUser(second, 'signed-in', 'alice');
    assert.match(await second.locator('#user-detail').textContent(), /^alice@/);

    // A marker that a reload or navigation would wipe.
    await second.evaluate(() => { window.__notReloaded = true; });
    const logout = first.waitForResponse((r) => new URL(r.url()).pathname === '/auth/logout');
    await first.getByRole('button', { name: 'Sign out' }).click();
    assert.equal((await logout).status(), 204);
    await waitForUser(first, 'signed-out');

    await waitForUser(second, 'signed-out');
    assert.equal(await second.evaluate(() => window.__notReloaded), true, 'the second tab was reloaded');
    assert.equal(await second.locator('#user-name').textContent(), 'Not signed in');
    assert.equal(await second.locator('#user-token-status').textContent(), 'Not signed in');
    assert.equal(await second.locator('#user-token-prefix').textContent(), '—', 'the second tab still shows a user token');
    assert.equal(await second.locator('#user-token-expiry').textContent(), '—');
    assert.equal(await second.getByRole('link', { name: 'Sign in' }).isVisible(), true);
    assert.equal(await second.getByRole('button', { name: 'Sign out' }).count(), 0);
    const lastShown = await second.evaluate(() => window.__userTokens.at(-1));
    assert.equal(lastShown.prefix, null, 'the second tab\'s last shown user token was not cleared');
    assert.deepEqual(unexpectedErrors(errors.flat(), [signedOutProbe(backend.url), isFaviconMiss]), []);
  });
});

// ─── A second replica ─────────────────────────────────────────────────────────

/** A helper process, stopped when the file's tests end. */
function startProcess(command, args, env) {
  const proc = startHelper(command, args, env, { logLimit: 20_000 });
  cleanups.push(proc.stop);
  return proc;
}

/**
 * Replicas share one authorization server, so not `--dev` (each `--dev` has
 * its own): oidc-provider as the upstream, a real redis-server for the
 * sessions, and both replicas with one client, SESSION_SECRET and
 * OAUTH_REDIRECT_URL (replica A's), as in the README's "Running several replicas".
 */
test('demo_on_a_second_replica_shows_the_user_signed_in_on_the_first', { timeout: 90_000 }, async () => {
  requireBuilt();
  const [redisPort, portA, portB] = [await freePort(), await freePort(), await freePort()];
  const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
  assert.notEqual(portA, portB);
  const clientSecret = `cs-${randomBytes(24).toString('base64url')}`;
  const sessionSecret = randomBytes(36).toString('base64url');

  const redis = startProcess('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {});
  redis.child.stdout.resume();

  const oidc = await startOidcProvider({
    accessTokenTtl: 600,
    signIn: true,
    clients: [{
      client_id: 'replicas',
      client_secret: clientSecret,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [`${urlA}/auth/callback`],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access profile data:read',
    }],
    logLimit: 20_000,
  });
  cleanups.push(oidc.stop);
  const { issuer } = oidc;

  const replicas = [portA, portB].map((port) => startProcess(BACKEND_BIN, [], {
    NO_COLOR: '1',
    RUST_LOG: 'info',
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_DIR: WWW_DIR,
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: issuer,
    OAUTH_CLIENT_ID: 'replicas',
    OAUTH_CLIENT_SECRET: clientSecret,
    OAUTH_SCOPE: 'data:read',
    OAUTH_REDIRECT_URL: `${urlA}/auth/callback`,
    OAUTH_USER_SCOPE: 'openid offline_access profile',
    SESSION_SECRET: sessionSecret,
    COOKIE_SECURE: 'false',
    REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
  }));
  for (const replica of replicas) replica.child.stdout.resume();

  const check = async (body) => {
    try {
      await body();
    } catch (error) {
      error.message += replicas.map((r, i) => `\n--- replica ${'AB'[i]} log (tail) ---\n${r.log.slice(-4000)}`).join('')
        + `\n--- oidc-provider log ---\n${oidc.log.slice(-2000)}\n--- redis-server log ---\n${redis.log.slice(-1000)}`;
      throw error;
    }
  };

  await check(async () => {
    for (const url of [urlA, urlB]) {
      // Not listening yet is "not ready", not a failure.
      await until(`${url}/readyz`, () => fetch(`${url}/readyz`).then((r) => r.ok, () => false), { intervalMs: 50 });
    }
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = collectPageErrors(page);

    await page.goto(urlA);
    await waitForUser(page, 'signed-out');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await signInAtProvider(page, issuer, 'bob');
    await page.waitForURL(`${urlA}/`);
    await waitForUser(page, 'signed-in', 'bob');

    // Replica B: another port, so another origin for storage and channels; the
    // browser sends it the same cookie, and B finds the session in Redis.
    const onB = await context.newPage();
    const errorsOnB = collectPageErrors(onB);
    const me = onB.waitForResponse((r) => r.url() === `${urlB}/api/user/me`);
    await onB.goto(urlB);
    assert.equal((await me).status(), 200, 'replica B does not know the session');
    await waitForUser(onB, 'signed-in', 'bob');
    assert.equal(await onB.getByRole('button', { name: 'Sign out' }).isVisible(), true);
    assert.equal(await onB.locator('#user-token-error').textContent(), 'None');
    assert.equal(await userState(page), 'signed-in');
    assert.deepEqual(unexpectedErrors([...errors, ...errorsOnB], [signedOutProbe(urlA), signedOutProbe(urlB), isFaviconMiss, isProviderFontMiss]), []);
  });
});
