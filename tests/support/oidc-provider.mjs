//! The real third-party authorization server for journeys:
//! `tests/servers/oidc-provider.mjs` (panva's oidc-provider) as a child
//! process on a free loopback port, and a visitor signing in on its own login
//! and consent pages.
import { createInterface } from 'node:readline';

import { startProcess } from './process.mjs';
import { DEADLINE_MS, until } from './wait.mjs';

/**
 * Starts `tests/servers/oidc-provider.mjs` and resolves once it has printed
 * its description line. Rejects, with its log, if it exits first or says
 * nothing for `DEADLINE_MS`; then nothing is left running.
 *
 * @param {object} [options]
 * @param {number} [options.accessTokenTtl] seconds (`ACCESS_TOKEN_TTL`, default 60)
 * @param {boolean} [options.signIn] serve the code flow (`SIGN_IN=1`): login and
 *   consent pages, PKCE, rotating refresh tokens, revocation, `/test/events`
 * @param {object[]} [options.clients] extra client metadata (`EXTRA_CLIENTS`),
 *   e.g. the broker's `authorization_code` client with its redirect URI
 * @param {Record<string, string>} [options.env] more of the script's variables
 *   (`RESOURCE_SERVER`, `REFRESH_TOKEN_TTL`; see its header)
 * @param {number} [options.logLimit] characters of stderr kept in `log`
 * @returns {Promise<{ issuer: string, tokenEndpoint: string, clients: object,
 *   log: string, stop: () => Promise<void>, events: () => Promise<object> }>}
 *   `clients` are the built-in client-credentials clients (`basic`, `post`,
 *   `special`); `events()` is `GET /test/events` (with `signIn`); `log` reads
 *   the process's stderr so far.
 */
export async function startOidcProvider({ accessTokenTtl = 60, signIn = false, clients = [], env = {}, logLimit } = {}) {
  const proc = startProcess('node', ['tests/servers/oidc-provider.mjs'], {
    ACCESS_TOKEN_TTL: String(accessTokenTtl),
    ...(signIn ? { SIGN_IN: '1' } : {}),
    ...(clients.length ? { EXTRA_CLIENTS: JSON.stringify(clients) } : {}),
    ...env,
  }, logLimit === undefined ? {} : { logLimit });
  let timer;
  const line = await new Promise((ok, fail) => {
    createInterface({ input: proc.child.stdout }).once('line', ok);
    proc.exited.then(() => fail(new Error(`oidc-provider exited:\n${proc.log}`)));
    timer = setTimeout(() => fail(new Error(`oidc-provider did not start within ${DEADLINE_MS} ms:\n${proc.log}`)), DEADLINE_MS);
  }).catch(async (error) => {
    await proc.stop();
    throw error;
  }).finally(() => clearTimeout(timer));
  const described = JSON.parse(line);
  return {
    issuer: described.issuer,
    tokenEndpoint: described.token_endpoint,
    clients: described.clients,
    get log() { return proc.log; },
    stop: proc.stop,
    events: async () => (await fetch(`${described.issuer}/test/events`)).json(),
  };
}

/**
 * Signs in as `login` on oidc-provider's devInteractions pages at `issuer`,
 * where `page` (a Playwright page) has been sent: fills in the login form,
 * then consents when the consent page is shown (it is asked once per client;
 * afterwards the provider redirects straight back). Resolves once the page
 * has left the provider's interaction pages or shows no consent to give.
 *
 * @param {import('playwright-core').Page} page
 * @param {string} issuer e.g. `http://127.0.0.1:PORT`
 * @param {string} login the account (any password is accepted)
 */
export async function signInAtProvider(page, issuer, login) {
  const interaction = `${issuer}/interaction/`;
  await until('the provider\'s login page', () => page.url().startsWith(interaction)).catch(async (error) => {
    throw new Error(`${error.message}; at ${page.url()}:\n${(await page.locator('body').innerText().catch(() => '')).slice(0, 1000)}`);
  });
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.locator('button[type=submit]').click();
  const consent = page.locator('button.login-submit', { hasText: 'Continue' });
  // The page may be navigating while it is counted: that is "not yet", not a failure.
  await until('the consent page or the redirect back', async () =>
    !page.url().startsWith(interaction) || (await consent.count().catch(() => 0)) > 0);
  if (page.url().startsWith(interaction)) await consent.click();
}
