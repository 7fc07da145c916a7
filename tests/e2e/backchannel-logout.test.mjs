//! Journey: the user signs out at the provider, and the broker hears of it
//! (issue 21, item 2; OpenID Connect Back-Channel Logout 1.0). Two replicas of
//! the real broker share a real redis-server; alice and bob sign in through
//! Chromium at the real oidc-provider; alice then ends her session on the
//! provider's own logout page. The provider posts a logout token to replica B,
//! and within 5 s neither replica serves alice's session, both of her open
//! tabs report the sign-out (through the session event stream of item 3),
//! while bob's session lives on.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { BACKEND_BIN, freePort, requireBuilt, untilHealthy } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';
import { signInAtProvider, startOidcProvider } from '../support/oidc-provider.mjs';
import { createPackageSite, openPackagePage } from '../support/package-site.mjs';
import { startProcess } from '../support/process.mjs';
import { DEADLINE_MS, until } from '../support/wait.mjs';

const CLIENT_ID = 'broker-web';
const CLIENT_SECRET = `cs-${randomBytes(24).toString('base64url')}`;
const SCOPE = 'openid offline_access profile';
/** How soon every replica must refuse the ended session (the issue's bound). */
const LOGOUT_WITHIN_MS = 5_000;

let redis, oidc, replicas = [], browser, site, issuer, urls;

before(async () => {
  requireBuilt();
  const [redisPort, portA, portB] = [await freePort(), await freePort(), await freePort()];
  urls = [portA, portB].map((port) => `http://127.0.0.1:${port}`);
  redis = startProcess('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {});
  redis.child.stdout.resume();
  oidc = await startOidcProvider({
    signIn: true,
    env: { BACKCHANNEL_LOGOUT: '1' },
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${urls[0]}/auth/callback`],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
      // The registration the README shows.
      backchannel_logout_uri: `${urls[1]}/auth/backchannel-logout`,
      backchannel_logout_session_required: true,
    }],
  });
  ({ issuer } = oidc);
  site = createPackageSite();
  const sessionSecret = randomBytes(36).toString('base64url');
  replicas = urls.map((url) => startProcess(BACKEND_BIN, [], {
    PATH: process.env.PATH,
    NO_COLOR: '1',
    BIND_ADDR: new URL(url).host,
    PUBLIC_DIR: site.dir,
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: issuer,
    OAUTH_CLIENT_ID: CLIENT_ID,
    OAUTH_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_REDIRECT_URL: `${urls[0]}/auth/callback`,
    OAUTH_USER_SCOPE: SCOPE,
    SESSION_SECRET: sessionSecret,
    COOKIE_SECURE: 'false',
    REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
  }));
  for (const [i, replica] of replicas.entries()) {
    replica.child.stdout.resume();
    await untilHealthy(replica, urls[i]);
  }
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const replica of replicas) await replica.stop();
  await oidc?.stop();
  await redis?.stop();
  site?.remove();
});

/** Fails with every server's log attached. */
async function check(body) {
  try {
    await body();
  } catch (error) {
    error.message += replicas.map((r, i) => `\n--- replica ${'AB'[i]} log (tail) ---\n${r.log.slice(-3000)}`).join('')
      + `\n--- oidc-provider log ---\n${oidc?.log.slice(-2000)}`;
    throw error;
  }
}

/** A new browser context signed in as `user` through replica A; returns its page. */
async function signIn(user) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${urls[0]}/auth/login?return_to=/`);
  await signInAtProvider(page, issuer, user);
  await page.waitForURL(`${urls[0]}/`, { timeout: DEADLINE_MS });
  return page;
}

/** Two tabs of `page`'s browser on the package page, each recording what `onSessionChange` tells it. */
async function followingTabs(page) {
  const tabs = [page, await page.context().newPage()];
  for (const tab of tabs) {
    await openPackagePage(tab, `${urls[0]}/`);
    const user = await tab.evaluate(async () => {
      window.changes = [];
      window.tw.onSessionChange((change) => window.changes.push(change));
      return (await window.tw.getUser())?.name;
    });
    assert.equal(user, 'alice');
  }
  return tabs;
}

/** `/api/user/token`'s status on replica `i` for the session cookie of `page`'s browser. */
async function userTokenStatus(page, i) {
  const cookies = await page.context().cookies(urls[i]);
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const answer = await fetch(`${urls[i]}/api/user/token`, { headers: { cookie, 'x-requested-with': 'fetch' } });
  return answer.status;
}

test('signing_out_at_the_provider_ends_the_session_on_every_replica', { timeout: 90_000 }, () => check(async () => {
  const alice = await signIn('alice');
  const bob = await signIn('bob');
  const tabs = await followingTabs(alice);
  for (const i of [0, 1]) {
    assert.equal(await userTokenStatus(alice, i), 200, `alice on replica ${'AB'[i]}`);
    assert.equal(await userTokenStatus(bob, i), 200, `bob on replica ${'AB'[i]}`);
  }

  // Alice signs out on the provider's own page, not through the broker.
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const atProvider = await alice.context().newPage();
  await atProvider.goto(metadata.end_session_endpoint);
  await atProvider.locator('button[name=logout][value=yes]').click();
  await until('the provider\'s signed-out page', () => new URL(atProvider.url()).pathname.includes('/session/end/success'));
  const ended = Date.now();

  for (const i of [0, 1]) {
    await until(`alice signed out on replica ${'AB'[i]}`, async () => (await userTokenStatus(alice, i)) === 401, { intervalMs: 50, timeoutMs: LOGOUT_WITHIN_MS });
  }
  for (const [i, tab] of tabs.entries()) {
    await until(`tab ${i} reports the sign-out`, () => tab.evaluate(
      () => window.changes.some((c) => c.authenticated === false && c.source === 'server'),
    ), { intervalMs: 50, timeoutMs: LOGOUT_WITHIN_MS });
  }
  assert.ok(Date.now() - ended <= LOGOUT_WITHIN_MS, `within ${LOGOUT_WITHIN_MS} ms`);
  for (const i of [0, 1]) assert.equal(await userTokenStatus(bob, i), 200, `bob still signed in on replica ${'AB'[i]}`);
  const events = await oidc.events();
  assert.equal(events.counts['backchannel.success'], 1, JSON.stringify(events.counts));
}));
