//! Journey: one visitor starts signing in from two tabs of one browser, then
//! finishes in each tab, in the order they were started and the other way
//! round. Both land where they left: the second tab's `/auth/login` sees the
//! first tab's pending sign-in (the login-state cookie's `Path` covers it).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startBackend } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';

let backend, browser;

before(async () => {
  backend = await startBackend();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

/** Opens a tab on `/auth/login?return_to=…`; resolves on the dev sign-in page. */
async function startSignIn(context, returnTo) {
  const page = await context.newPage();
  await page.goto(`${backend.url}/auth/login?return_to=${encodeURIComponent(returnTo)}`);
  await page.waitForURL((url) => url.pathname === '/authorize');
  return page;
}

/** Allows on the tab's sign-in page; resolves with the callback's status and the landing URL. */
async function finishSignIn(page, user) {
  await page.locator('#user').fill(user);
  const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/callback');
  await page.getByRole('button', { name: 'Allow' }).click();
  const status = (await callback).status();
  await page.waitForLoadState();
  return { status, url: page.url() };
}

for (const order of [[0, 1], [1, 0]]) {
  /** Two pending sign-ins in one browser both complete, whichever finishes first. */
  test(`two_tabs_start_sign_in_and_both_complete_${order.join('_then_')}`, { timeout: 30_000 }, () => backend.check(async () => {
    const context = await browser.newContext();
    try {
      const targets = ['/?tab=one', '/?tab=two'];
      const tabs = [await startSignIn(context, targets[0]), await startSignIn(context, targets[1])];
      const pending = (await context.cookies()).find((c) => c.name === 'login_state');
      assert.ok(pending, 'no login-state cookie');
      assert.equal(pending.path, '/auth', 'the cookie must reach /auth/login as well as /auth/callback');
      for (const i of order) {
        const landed = await finishSignIn(tabs[i], `user-${i}`);
        assert.equal(landed.status, 302, `tab ${i}'s callback failed`);
        assert.equal(landed.url, `${backend.url}${targets[i]}`, `tab ${i} did not land where it left`);
      }
      const me = await tabs[0].evaluate(async () => {
        const response = await fetch('/api/user/me', { headers: { 'X-Requested-With': 'fetch' } });
        return { status: response.status, body: await response.json() };
      });
      assert.equal(me.status, 200);
      assert.equal(me.body.sub, `user-${order[1]}`, 'the sign-in completed last holds the session');
      assert.equal((await context.cookies()).find((c) => c.name === 'login_state'), undefined,
        'both sign-ins are spent');
    } finally {
      await context.close();
    }
  }));
}
