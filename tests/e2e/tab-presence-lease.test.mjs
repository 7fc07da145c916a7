//! Journey: the first tab of an app asks for its token without waiting for the
//! browser's lock service (the presence lease, token-wasm/js/lease.js), and
//! the lease still sends a tab opened later to the tabs that hold a token, not
//! to the server, also after the tab that wrote it closed; without storage,
//! tabs keep the lock check. Real `token-backend --dev`, one Chromium context
//! per test.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { collectPageErrors } from '../support/chromium.mjs';
import { openPackagePage } from '../support/package-site.mjs';
import { tabsOnPackageSite } from '../support/tabs.mjs';
import { until } from '../support/wait.mjs';

const LEASE = 'token-wasm:open:/api/token';

const onPackageSite = tabsOnPackageSite();

/**
 * Runs in every page: every Web Locks call waits until the page calls
 * `openLocks()`, and `lockAnswers` counts the lock callbacks run (an
 * `ifAvailable` request's included).
 */
function gateWebLocks() {
  let open;
  const gate = new Promise((resolve) => { open = resolve; });
  window.openLocks = open;
  window.lockAnswers = 0;
  const locks = navigator.locks;
  const request = locks.request.bind(locks);
  const query = locks.query.bind(locks);
  locks.request = (name, options, callback) => {
    const run = callback ?? options;
    const counted = (lock) => { window.lockAnswers += 1; return run(lock); };
    return gate.then(() => (callback ? request(name, options, counted) : request(name, counted)));
  };
  locks.query = () => gate.then(query);
}

/** Runs in every page: `lockAnswers` counts the Web Locks callbacks run, holding nothing back. */
function countLockAnswers() {
  window.lockAnswers = 0;
  const locks = navigator.locks;
  const request = locks.request.bind(locks);
  locks.request = (name, options, callback) => {
    const run = callback ?? options;
    const counted = (lock) => { window.lockAnswers += 1; return run(lock); };
    return callback ? request(name, options, counted) : request(name, counted);
  };
}

/** Holds back every `.wasm` of `context` until the returned function is called. */
async function holdModules(context) {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await context.route('**/token_wasm_bg.wasm', async (route) => {
    await held;
    await route.continue();
  });
  return release;
}

/** Opens one more tab of `tabs` on the package site (the entry imported, the module maybe not). */
async function openTab(tabs) {
  const page = await tabs.context.newPage();
  tabs.errors.push(collectPageErrors(page));
  await openPackagePage(page, tabs.backend.url);
  tabs.pages.push(page);
  return page;
}

/**
 * A cold first tab (no tab of the app open) sends its token request while
 * the lock service has not answered anything yet, and its module is still
 * loading: the first token does not wait for the Web Locks round trip.
 */
test('cold_first_tab_sends_its_request_before_any_web_locks_answer', { timeout: 60_000 }, () => inTabs(async (tabs) => {
  const releaseModules = await holdModules(tabs.context);
  const page = await openTab(tabs);
  try {
    await page.evaluate(() => { window.first = window.tw.getAccessToken(); });
    await until('the token request, sent before any Web Locks answer', () => tabs.requests.length === 1, { intervalMs: 10, timeoutMs: 5_000 });
    assert.equal(await page.evaluate(() => window.lockAnswers), 0, 'no lock was granted yet');
  } finally {
    releaseModules();
    await page.evaluate(() => window.openLocks());
  }
  const token = await page.evaluate(() => window.first);
  assert.ok(token.startsWith('dev_'), token);
  assert.match(await page.evaluate((key) => localStorage.getItem(key), LEASE), /^\d+ [0-9a-z]+$/);
  assert.equal(tabs.requests.length, 1);
  assert.deepEqual(tabs.errors.flat(), []);
}, gateWebLocks));

/**
 * A tab opened after another got its token, whose first call comes while
 * its module still loads, sees the other tab's lease, and asks that tab for
 * the token instead of the server: one request for both.
 */
test('tab_opened_after_another_has_its_token_asks_it_not_the_server', { timeout: 60_000 }, () => inTabs(async (tabs) => {
  const first = await openTab(tabs);
  const token = await first.evaluate(() => window.tw.getAccessToken());
  assert.equal(tabs.requests.length, 1);
  await assertLateTabGets(tabs, token);
}, countLockAnswers));

/**
 * When the tab that wrote the lease last closes, it removes the lease and
 * another open tab writes it again at once: a tab opened next still finds
 * the open tab and asks it, not the server.
 */
test('lease_outlives_the_closed_tab_that_wrote_it', { timeout: 60_000 }, () => inTabs(async (tabs) => {
  const [stays, goes] = [await openTab(tabs), await openTab(tabs)];
  const token = await stays.evaluate(() => window.tw.getAccessToken());
  // The second tab's first call comes after the first tab's lease: it writes the lease last.
  assert.equal(await goes.evaluate(() => window.tw.getAccessToken()), token);
  const lease = () => stays.evaluate((key) => localStorage.getItem(key), LEASE);
  const written = await lease();
  await goes.close();
  await until('the lease written again by the tab that stays', async () => {
    const value = await lease();
    return value !== null && value !== written;
  }, { intervalMs: 10 });
  await assertLateTabGets(tabs, token);
}, countLockAnswers));

/**
 * Where localStorage refuses access (disabled storage), cold tabs take the
 * Web Locks path as before: still one request for all of them.
 */
test('without_storage_cold_tabs_still_make_one_request', { timeout: 60_000 }, () => inTabs(async (tabs) => {
  const releaseModules = await holdModules(tabs.context);
  try {
    for (let i = 0; i < 3; i++) {
      const page = await openTab(tabs);
      await page.evaluate(() => { window.first = window.tw.getAccessToken(); });
    }
    await until('the early token request', () => tabs.requests.length === 1, { intervalMs: 10 });
  } finally {
    releaseModules();
  }
  const tokens = await Promise.all(tabs.pages.map((page) => page.evaluate(() => window.first)));
  assert.equal(new Set(tokens).size, 1, 'every tab got the one token');
  assert.equal(tabs.requests.length, 1, `the token route saw ${tabs.requests.length} requests`);
  assert.deepEqual(tabs.errors.flat(), []);
}, () => {
  Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('storage is disabled', 'SecurityError'); } });
}));

/**
 * Opens one more tab of `tabs` with the module held back and makes its first
 * call there: its early request's lock check runs, finds the open tab and
 * leaves the request to the module, which asks that tab. Asserts the call
 * got `token` and the token route still saw one request.
 */
async function assertLateTabGets(tabs, token) {
  const releaseModules = await holdModules(tabs.context);
  const late = await openTab(tabs);
  try {
    await late.evaluate(() => { window.first = window.tw.getAccessToken(); });
    await until('the late tab\'s lock check', () => late.evaluate(() => window.lockAnswers > 0), { intervalMs: 10 });
  } finally {
    releaseModules();
  }
  assert.equal(await late.evaluate(() => window.first), token);
  assert.equal(tabs.requests.length, 1, `the token route saw ${tabs.requests.length} requests`);
  assert.deepEqual(tabs.errors.flat(), []);
}

/** A context with no tab yet against a backend of its own (see `withTabs`), pages run `initScript` first. */
function inTabs(body, initScript) {
  return onPackageSite({ count: 0, env: { DEV_TOKEN_TTL_SECS: '600' }, initScript }, body);
}
