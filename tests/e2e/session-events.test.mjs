//! Journey (issue 21 item 3): a session ends outside the browser's tabs (a
//! sign-out from another device, an administrator) and every open tab reports
//! it through `onSessionChange` (`source: 'server'`) within 5 s, after which
//! user-token calls reject with `login_required`. The browser holds one event
//! stream for all its tabs, and when the tab holding it closes, another takes
//! it over.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startBackend } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';
import { createPackageSite, openPackagePage } from '../support/package-site.mjs';
import { until } from '../support/wait.mjs';

const EVENTS = '/api/user/session/events';
const LOCK = 'token-wasm:session-events';
/** The bound on telling every tab. */
const TELL_WITHIN_MS = 5_000;

let site, backend, browser;

before(async () => {
  site = createPackageSite();
  backend = await startBackend({ env: { DEV_TOKEN_TTL_SECS: '600' }, publicDir: site.dir });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  site?.remove();
});

/**
 * A new browser context with `count` package pages, signed in through the dev
 * server's page in the first; every tab follows the session and records what
 * `onSessionChange` tells it. `streams` lists the context's event-stream requests.
 */
async function signedInTabs(count, user) {
  const context = await browser.newContext();
  const streams = [];
  context.on('request', (request) => {
    if (new URL(request.url()).pathname === EVENTS) streams.push(request);
  });
  const pages = [];
  for (let i = 0; i < count; i++) {
    const page = await context.newPage();
    await openPackagePage(page, backend.url);
    pages.push(page);
  }
  await pages[0].evaluate(() => window.tw.login({ returnTo: '/?signed-in' }));
  await pages[0].waitForURL((url) => url.pathname === '/authorize');
  await pages[0].locator('#user').fill(user);
  await pages[0].getByRole('button', { name: 'Allow' }).click();
  await pages[0].waitForURL(`${backend.url}/?signed-in`);
  await pages[0].waitForFunction(() => window.ready === true);
  for (const page of pages) {
    const signedIn = await page.evaluate(async () => {
      window.changes = [];
      window.tw.onSessionChange((change) => window.changes.push(change));
      return (await window.tw.getUser())?.name;
    });
    assert.equal(signedIn, user);
  }
  return { context, pages, streams };
}

/** How many tabs hold and wait for the event-stream lock. */
async function lockHolders(page) {
  const { held, pending } = await page.evaluate(() => navigator.locks.query());
  const named = (locks) => locks.filter((l) => l.name === LOCK).length;
  return { held: named(held), pending: named(pending) };
}

/** Signs the browser's session out from outside the browser, with its cookie. */
async function endSessionElsewhere(context) {
  const cookie = (await context.cookies()).find((c) => c.name === 'session');
  assert.ok(cookie, 'the browser has a session cookie');
  const response = await fetch(`${backend.url}/auth/logout`, {
    method: 'POST', headers: { 'X-Requested-With': 'another-device', Cookie: `session=${cookie.value}` },
  });
  assert.ok(response.ok, `sign-out elsewhere: HTTP ${response.status}`);
  await response.body?.cancel();
}

/** Waits until `page` reports the ending from the server, within the bound. */
function untilToldByServer(page, name) {
  return until(`${name} reports the ending`, () => page.evaluate(
    () => window.changes.some((c) => c.authenticated === false && c.source === 'server'),
  ), { intervalMs: 50, timeoutMs: TELL_WITHIN_MS });
}

/** What a user-token call in `page` settles with: `'token'` or the error code. */
const userTokenOutcome = (page) => page.evaluate(
  () => window.tw.getUserClient().getAccessToken().then(() => 'token', (e) => e.code),
);

test('an_ending_elsewhere_reaches_every_tab_through_one_stream', { timeout: 60_000 }, () => backend.check(async () => {
  const { context, pages, streams } = await signedInTabs(2, 'alice');
  try {
    assert.deepEqual(await Promise.all(pages.map(userTokenOutcome)), ['token', 'token']);
    // Both tabs take part: one holds the stream, the other waits for the lock.
    await until('one tab leading and one waiting', async () => {
      const { held, pending } = await lockHolders(pages[1]);
      return held === 1 && pending === 1;
    });
    await until('the stream is open', () => streams.length > 0);
    assert.equal(streams.length, 1, 'one event stream for the browser, not one per tab');

    await endSessionElsewhere(context);
    await Promise.all(pages.map((page, i) => untilToldByServer(page, `tab ${i}`)));
    assert.deepEqual(await Promise.all(pages.map(userTokenOutcome)), ['login_required', 'login_required']);
    assert.equal(streams.length, 1, 'no new stream once signed out');
  } finally {
    await context.close();
  }
}));

test('leadership_moves_when_the_leading_tab_closes', { timeout: 60_000 }, () => backend.check(async () => {
  const { context, pages, streams } = await signedInTabs(2, 'bob');
  try {
    await until('the stream is open', () => streams.length > 0);
    const leader = streams[0].frame().page();
    const follower = pages.find((page) => page !== leader);
    await leader.close();
    await until('the remaining tab opens its own stream', () => streams.length === 2);
    assert.equal(streams[1].frame().page(), follower);

    await endSessionElsewhere(context);
    await untilToldByServer(follower, 'the remaining tab');
    assert.equal(await userTokenOutcome(follower), 'login_required');
  } finally {
    await context.close();
  }
}));
