//! Journey: the real broker (not --dev) signs a visitor in through a real
//! OpenID provider (panva's oidc-provider, its own login and consent pages),
//! keeps the user token fresh with rotating refresh tokens, and revokes the
//! refresh token on sign-out. The provider refuses a wrong PKCE verifier, and
//! neither the browser nor the broker's log ever sees the refresh token or the
//! client secret.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { BACKEND_BIN, WWW_DIR, freePort, requireBuilt, untilHealthy } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';
import { recordExchanges } from '../support/exchanges.mjs';
import { signInAtProvider, startOidcProvider } from '../support/oidc-provider.mjs';
import { startProcess } from '../support/process.mjs';
import { DEADLINE_MS, until } from '../support/wait.mjs';

/** oidc-provider's access tokens live 8 s; the broker refreshes in their last 3 s. */
const ACCESS_TOKEN_TTL = 8;
const CLIENT_ID = 'broker-web';
const CLIENT_SECRET = `cs-${randomBytes(24).toString('base64url')}`;
const SESSION_SECRET = randomBytes(36).toString('base64url');

let oidc, broker, browser, context, page, port, issuer, brokerUrl;
/** Every request and response text the browser saw (headers and bodies). */
let exchanges;

/** What happened at the provider (`/test/events`): event counts, refresh tokens, grant errors. */
const events = () => oidc.events();

function basic() {
  return `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;
}

/** `fetch` from the signed-in page, as the demo page's token client does it. */
function pageFetch(path, init = {}) {
  return page.evaluate(async ({ path, init }) => {
    const res = await fetch(path, { ...init, headers: { 'X-Requested-With': 'fetch', ...(init.headers ?? {}) } });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text };
  }, { path, init });
}

before(async () => {
  requireBuilt();
  port = await freePort();
  brokerUrl = `http://127.0.0.1:${port}`;
  const client = {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`${brokerUrl}/auth/callback`],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid offline_access profile',
  };
  oidc = await startOidcProvider({ accessTokenTtl: ACCESS_TOKEN_TTL, signIn: true, clients: [client] });
  ({ issuer } = oidc);

  broker = startProcess(BACKEND_BIN, [], {
    PATH: process.env.PATH,
    NO_COLOR: '1',
    RUST_LOG: 'trace',
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_DIR: WWW_DIR,
    OAUTH_PROVIDER: 'oidc',
    OAUTH_ISSUER: issuer,
    OAUTH_CLIENT_ID: CLIENT_ID,
    OAUTH_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_REDIRECT_URL: `${brokerUrl}/auth/callback`,
    OAUTH_USER_SCOPE: 'openid offline_access profile',
    SESSION_SECRET,
    COOKIE_SECURE: 'false',
    TOKEN_MIN_TTL_SECS: '1',
    TOKEN_REFRESH_WINDOW_MIN_SECS: '3',
  });
  broker.child.stdout.resume();
  await untilHealthy(broker, brokerUrl);

  browser = await launchChromium();
  context = await browser.newContext();
  exchanges = recordExchanges(context);
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  await broker?.stop();
  await oidc?.stop();
});

/** Fails with both servers' logs attached. */
async function check(body) {
  try {
    await body();
  } catch (error) {
    error.message += `\n--- token-backend log (tail) ---\n${broker?.log.slice(-6000)}\n--- oidc-provider log ---\n${oidc?.log.slice(-3000)}`;
    throw error;
  }
}

let firstToken;

/** Sign-in through oidc-provider's real pages lands on the demo page with an HttpOnly session and a user token. */
test('signs_in_through_the_providers_login_and_consent_pages', { timeout: 60_000 }, () => check(async () => {
  await page.goto(`${brokerUrl}/auth/login?return_to=/`);
  await signInAtProvider(page, issuer, 'alice');
  await page.waitForURL(`${brokerUrl}/`, { timeout: DEADLINE_MS });

  const cookies = await context.cookies(brokerUrl);
  const session = cookies.find((c) => c.name === 'session');
  assert.ok(session, `no session cookie: ${JSON.stringify(cookies)}`);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  assert.equal(session.path, '/');
  assert.equal(await page.evaluate(() => document.cookie.includes('session=')), false, 'the page can read the session cookie');

  const token = await pageFetch('/api/user/token');
  assert.equal(token.status, 200, token.text);
  assert.equal(token.json.token_type, 'Bearer');
  assert.ok(token.json.expires_in <= ACCESS_TOKEN_TTL, token.text);
  firstToken = token.json.access_token;
  const me = await pageFetch('/api/user/me');
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.sub, 'alice');

  const { counts, refresh_tokens: saved } = await events();
  assert.equal(counts['grant.success'], 1, 'one code exchange');
  assert.equal(saved.length, 1, 'the code exchange issued one refresh token');
}));

/** After the access token's refresh window opens, the broker refreshes and oidc-provider rotates the refresh token. */
test('refreshes_after_expiry_and_the_refresh_token_rotates', { timeout: 60_000 }, () => check(async () => {
  assert.ok(firstToken, 'signed in');
  // Waits out the real token lifetime: polling makes the broker refresh as soon as it may.
  const renewed = await until('a refreshed user token', async () => {
    const reply = await pageFetch('/api/user/token');
    assert.equal(reply.status, 200, reply.text);
    return reply.json.access_token !== firstToken && reply.json.access_token;
  }, { intervalMs: 500 });
  assert.notEqual(renewed, firstToken);
  const again = await pageFetch('/api/user/token');
  assert.equal(again.json.access_token, renewed, 'one refresh, then the new token is served');

  const { counts, refresh_tokens: all } = await events();
  const tokens = all.filter((t) => t.account === 'alice');
  assert.ok(counts['grant.success'] >= 2, JSON.stringify(counts));
  assert.ok(tokens.length >= 2, `rotation issues a new refresh token: ${JSON.stringify(tokens)}`);
  assert.equal(tokens[0].consumed, true, 'the first refresh token was consumed by the refresh');
  assert.equal(tokens.filter((t) => !t.consumed && !t.destroyed).length, 1, 'exactly one live refresh token');
  const { grant_errors: errors } = await events();
  assert.deepEqual(errors.filter((e) => e.grant_type === 'refresh_token'), [], 'no refresh was rejected (single-flight held)');
}));

/** oidc-provider requires PKCE and rejects a wrong verifier for a code issued to the broker's client. */
test('the_provider_rejects_a_wrong_pkce_verifier', { timeout: 60_000 }, () => check(async () => {
  const other = await browser.newContext();
  try {
    const tab = await other.newPage();
    let captured = null;
    // The code is read off the redirect; the broker itself refuses that callback
    // (400 invalid_state: this context started no sign-in), so the code stays unused.
    tab.on('request', (request) => {
      if (request.url().startsWith(`${brokerUrl}/auth/callback?`)) captured = request.url();
    });
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = (extra) => {
      const url = new URL(`${issuer}/auth`);
      const params = { client_id: CLIENT_ID, response_type: 'code', redirect_uri: `${brokerUrl}/auth/callback`, scope: 'openid', state: 'test-state', ...extra };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return url.href;
    };
    const codeFor = async (extra) => {
      captured = null;
      await tab.goto(authorize(extra));
      if (tab.url().startsWith(`${issuer}/interaction/`)) await signInAtProvider(tab, issuer, 'mallory');
      await until('the provider to redirect to the callback', () => captured).catch(async (error) => {
        throw new Error(`${error.message}; at ${tab.url()}:\n${(await tab.locator('body').innerText().catch(() => '')).slice(0, 800)}`);
      });
      return new URL(captured).searchParams;
    };
    const exchange = (code, codeVerifier) => fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${brokerUrl}/auth/callback`, ...(codeVerifier ? { code_verifier: codeVerifier } : {}) }),
    }).then(async (res) => ({ status: res.status, json: await res.json() }));

    // Without a challenge the authorization request itself is refused.
    const noPkce = await codeFor({});
    assert.equal(noPkce.get('error'), 'invalid_request', noPkce.toString());
    assert.match(noPkce.get('error_description') ?? '', /PKCE/);
    assert.equal(noPkce.get('code'), null);

    const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };
    const wrong = await exchange((await codeFor(pkce)).get('code'), randomBytes(32).toString('base64url'));
    assert.deepEqual([wrong.status, wrong.json.error], [400, 'invalid_grant'], JSON.stringify(wrong.json));
    const missing = await exchange((await codeFor(pkce)).get('code'), null);
    assert.equal(missing.status, 400, JSON.stringify(missing.json));
    const right = await exchange((await codeFor(pkce)).get('code'), verifier);
    assert.equal(right.status, 200, `the right verifier works (control): ${JSON.stringify(right.json)}`);
    const { grant_errors: errors } = await events();
    // oidc-provider's own record: exactly the wrong and the missing verifier failed.
    const codeErrors = errors.filter((e) => e.grant_type === 'authorization_code');
    assert.deepEqual(codeErrors.map((e) => e.error), ['invalid_grant', 'invalid_grant'], JSON.stringify(codeErrors));
  } finally {
    await other.close();
  }
}));

/** Sign-out revokes the live refresh token at oidc-provider, ends the session and clears the cookie. */
test('sign_out_revokes_the_refresh_token', { timeout: 60_000 }, () => check(async () => {
  const before = await events();
  const live = before.refresh_tokens.filter((t) => t.account === 'alice' && !t.consumed && !t.destroyed && t.saved);
  assert.ok(live.length >= 1, 'a refresh token is live before sign-out');
  const out = await pageFetch('/auth/logout', { method: 'POST' });
  // 200: the provider advertises an end-session endpoint (RP-initiated logout, rp-logout.test.mjs).
  assert.equal(out.status, 200, out.text);
  assert.ok(out.json.end_session_url.startsWith(`${issuer}/`), out.text);
  assert.equal((await context.cookies(brokerUrl)).some((c) => c.name === 'session'), false, 'the cookie was cleared');
  const token = await pageFetch('/api/user/token');
  assert.equal(token.status, 401, token.text);
  assert.equal(token.json.error, 'login_required');

  const afterOut = await events();
  // oidc-provider has no success event for revocation; a revoked refresh token is destroyed.
  const destroyed = (counts) => counts['refresh_token.destroyed'] ?? 0;
  assert.ok(destroyed(afterOut.counts) > destroyed(before.counts),
    `no RFC 7009 revocation reached oidc-provider: ${JSON.stringify(afterOut.counts)}`);
  assert.equal(afterOut.refresh_tokens.filter((t) => t.account === 'alice' && !t.consumed && !t.destroyed).length, 0, "none of alice's refresh tokens is live");
  for (const t of live) {
    const now = afterOut.refresh_tokens.find((x) => x.jti === t.jti);
    assert.equal(now.destroyed, true, `refresh token ${t.jti.slice(0, 4)}… still live after sign-out`);
  }
}));

/** No refresh token, client secret or session secret in anything the browser saw or in the broker's trace log. */
test('secrets_stay_out_of_the_browser_and_the_log', { timeout: 30_000 }, () => check(async () => {
  await exchanges.settle();
  const seen = exchanges.texts;
  await broker.stop();
  const { refresh_tokens: tokens } = await events();
  assert.ok(tokens.length >= 2);
  assert.ok(seen.length > 10, `recorded ${seen.length} exchanges`);
  assert.ok(broker.log.includes('TRACE'), 'trace logging was on');
  const secrets = [
    ...tokens.map((t) => ['a refresh token', t.jti]),
    ['the client secret', CLIENT_SECRET],
    ['the session secret', SESSION_SECRET],
  ];
  for (const [what, secret] of secrets) {
    const where = seen.find((text) => text.includes(secret));
    assert.equal(where, undefined, `${what} reached the browser:\n${where?.slice(0, 500)}`);
    assert.equal(broker.log.includes(secret), false, `${what} is in the broker's log`);
  }
}));
