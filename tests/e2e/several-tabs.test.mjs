//! Journey: one visitor has the app open in several tabs of one browser (one
//! Chromium context, several pages) against the real `token-backend --dev`.
//! The tabs share one token: a cold burst from all of them costs one request,
//! refresh-ahead costs one request per token, as for a single tab, a token from
//! another tab obeys the leeway and fires `onTokenChange`, a tab closed while
//! holding the lock or a stalled tab does not leave the others waiting, junk
//! on the channel is ignored, and without Web Locks each tab works alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { collectPageErrors } from '../support/chromium.mjs';
import { openPackagePage } from '../support/package-site.mjs';
import { tabsOnPackageSite } from '../support/tabs.mjs';
import { until } from '../support/wait.mjs';

const TABS = 5;

const onPackageSite = tabsOnPackageSite();

/** `count` tabs of one context on the package site, against a backend with `env` (see `withTabs`). */
function inTabs(count, env, body, initScript) {
  return onPackageSite({ count, env, initScript }, body);
}

/** Cold start: 5 tabs × 100 concurrent calls make one request, and all get its token. */
test('cold_burst_of_5_tabs_x_100_calls_makes_one_request', { timeout: 60_000 }, () => inTabs(TABS, { DEV_TOKEN_TTL_SECS: '600' }, async (tabs) => {
  const started = Date.now();
  const answers = await Promise.all(tabs.pages.map((page) => page.evaluate(async () => {
    const tokens = await Promise.all(Array.from({ length: 100 }, () => window.tw.getAccessToken()));
    return { tokens: [...new Set(tokens)], state: window.tw.getState() };
  })));
  const elapsed = Date.now() - started;
  const distinct = new Set(answers.flatMap((a) => a.tokens));
  console.log(`# ${TABS} tabs × 100 cold calls → ${tabs.requests.length} request(s), ${distinct.size} token(s), ${elapsed} ms`);
  assert.equal(tabs.requests.length, 1, `the token route saw ${tabs.requests.length} requests`);
  assert.equal(distinct.size, 1, 'every call of every tab got the same token');
  assert.equal(answers.reduce((n, a) => n + a.state.fetches, 0), 1, 'one tab counts the request; the others adopted its token');
  // Handed over memory to memory: no token is stored where the page could
  // read it later (localStorage holds only the tabs' presence lease, an
  // expiry time and a random writer id: token-wasm/js/lease.js).
  const stored = await tabs.pages[1].evaluate(async () => ({
    local: Object.keys(localStorage),
    lease: localStorage.getItem('token-wasm:open:/api/token'),
    session: sessionStorage.length,
    databases: (await indexedDB.databases()).length,
    cookie: document.cookie,
  }));
  assert.match(stored.lease ?? '', /^\d+ [0-9a-z]+$/, `the presence lease: ${stored.lease}`);
  assert.deepEqual({ ...stored, lease: undefined }, { local: ['token-wasm:open:/api/token'], lease: undefined, session: 0, databases: 0, cookie: '' });
  assert.deepEqual(tabs.errors.flat(), []);
}));

/**
 * A token fetched in one tab reaches another's `onTokenChange` without a
 * request there, and is judged by that tab's own leeway: with a leeway just
 * under the token's life, it stops being handed out a second or so later,
 * and the next call asks the server.
 */
test('token_from_another_tab_fires_onTokenChange_and_obeys_leeway', { timeout: 60_000 }, () => inTabs(2, { DEV_TOKEN_TTL_SECS: '600' }, async (tabs) => {
  const [first, second] = tabs.pages;
  await second.evaluate(() => {
    window.changes = [];
    window.tw.configure({ leewaySeconds: 598 });
    window.tw.onTokenChange((token, state) => window.changes.push({ token, expiresAt: state.expiresAt }));
  });
  const token = await first.evaluate(() => window.tw.getAccessToken());
  await second.waitForFunction(() => window.changes.length > 0);
  const seen = await second.evaluate(async () => ({
    changes: window.changes,
    answer: await window.tw.getAccessToken(),
    state: window.tw.getState(),
  }));
  assert.equal(seen.changes[0].token, token, 'onTokenChange got the other tab\'s token');
  assert.equal(seen.answer, token, 'the second tab answers with it from memory');
  assert.equal(seen.state.fetches, 0);
  assert.equal(tabs.requests.length, 1);

  // Past expiresAt − 598 s the second tab no longer hands it out.
  const { expiresAt } = seen.changes[0];
  await second.waitForFunction((until) => Date.now() > until, expiresAt - 598_000, { polling: 100 });
  const renewed = await second.evaluate(() => window.tw.getAccessToken());
  assert.equal(tabs.requests.length, 2, 'the stale token was not handed out');
  assert.equal(typeof renewed, 'string');
  assert.deepEqual(tabs.errors.flat(), []);
}));

/**
 * The tab that holds the lock closes while its request hangs: the browser
 * releases the lock, and the waiting tab asks the server itself.
 */
test('tab_closed_while_holding_the_lock_does_not_block_the_others', { timeout: 60_000 }, () => inTabs(2, { DEV_TOKEN_TTL_SECS: '600' }, async (tabs) => {
  const [holder, waiter] = tabs.pages;
  // Fault injection: the holder's request never gets an answer.
  let hung;
  const isHung = new Promise((ok) => { hung = ok; });
  await holder.route('**/api/token', () => hung());
  const holderCall = holder.evaluate(() => window.tw.getAccessToken()).catch(() => 'closed');
  await isHung;
  const waiterCall = waiter.evaluate(() => window.tw.getAccessToken());
  // The waiter is queued on the lock, not asking the server.
  await waiter.waitForFunction(async () => (await navigator.locks.query()).pending.length === 1);
  assert.equal(tabs.requests.length, 1);

  await holder.close();
  const token = await waiterCall;
  assert.equal(typeof token, 'string');
  assert.equal(await holderCall, 'closed');
  assert.equal(tabs.requests.length, 2, 'the waiter made the one new request');
  assert.deepEqual(tabs.errors[1], []);
}));

/**
 * A tab that stalls (its main thread busy, as a frozen or hung tab) cannot
 * answer the lock holder's request for tokens: the holder waits at most its
 * bound (1 s), then asks the server itself.
 */
test('stalled_tab_does_not_leave_the_others_waiting', { timeout: 60_000 }, () => inTabs(2, { DEV_TOKEN_TTL_SECS: '600' }, async (tabs) => {
  const [stalled, other] = tabs.pages;
  // The first tab joins the group (its client and presence lock exist), then stalls for 4 s.
  await stalled.evaluate(() => window.tw.getState());
  await other.evaluate(() => {
    window.stalling = new Promise((ok) => { new BroadcastChannel('test-stall').onmessage = ok; });
  });
  const stall = stalled.evaluate(() => {
    const until = Date.now() + 4_000;
    new BroadcastChannel('test-stall').postMessage('stalling');
    while (Date.now() < until);
  });
  const { token, waitedMs } = await other.evaluate(async () => {
    await window.stalling;
    const started = performance.now();
    const token = await window.tw.getAccessToken();
    return { token, waitedMs: performance.now() - started };
  });
  await stall;
  assert.ok(token.startsWith('dev_'));
  assert.equal(tabs.requests.length, 1);
  // The stalled member was counted and waited for, up to the bound, not until it woke.
  assert.ok(waitedMs >= 1_000 && waitedMs < 3_500, `waited ${waitedMs} ms`);
  assert.deepEqual(tabs.errors.flat(), []);
}));

/** Malformed or useless messages on the channel are ignored: the next call asks the server. */
test('malformed_channel_messages_are_ignored', { timeout: 60_000 }, () => inTabs(1, { DEV_TOKEN_TTL_SECS: '600' }, async (tabs) => {
  const [page] = tabs.pages;
  const token = await page.evaluate(async () => {
    window.changes = 0;
    window.tw.onTokenChange(() => { window.changes += 1; });
    const channel = new BroadcastChannel('token-wasm:/api/token');
    const later = Date.now() + 600_000;
    for (const data of [
      'a string', null, { accessToken: 42, expiresAt: later }, { accessToken: 'half' },
      { accessToken: '', expiresAt: later }, { accessToken: 'expired', expiresAt: Date.now() - 1 },
      { accessToken: 'nan', expiresAt: 'soon' },
    ]) channel.postMessage(data);
    // A message posted after these arrives after them: once it is seen, they were all seen.
    const marker = new BroadcastChannel('token-wasm:/api/token');
    const seen = new Promise((ok) => { marker.onmessage = ({ data }) => data === 'last' && ok(); });
    channel.postMessage('last');
    await seen;
    return window.tw.getAccessToken();
  });
  assert.ok(token.startsWith('dev_'), `the page took ${token} from the channel`);
  assert.equal(tabs.requests.length, 1);
  assert.equal(await page.evaluate(() => window.changes), 1, 'only the fetched token was a change');
  assert.deepEqual(tabs.errors.flat(), []);
}));

/** Without Web Locks (an older browser: every page runs without them), each tab works alone, as before. */
test('without_web_locks_each_tab_works_alone', { timeout: 60_000 }, () => inTabs(2, { DEV_TOKEN_TTL_SECS: '600' }, async (tabs) => {
  const tokens = await Promise.all(tabs.pages.map((page) => page.evaluate(async () => {
    const burst = await Promise.all(Array.from({ length: 10 }, () => window.tw.getAccessToken()));
    return new Set(burst).size;
  })));
  assert.deepEqual(tokens, [1, 1], 'each tab still shares one request among its own callers');
  assert.equal(tabs.requests.length, 2, 'one request per tab');
  assert.deepEqual(tabs.errors.flat(), []);
}, () => { delete Navigator.prototype.locks; }));

/**
 * Tabs whose first call comes while their module is still loading: the
 * package sends that request from JS (early.js) only in the tab that takes the
 * endpoint's lock with no other tab open, so 5 cold tabs still make one
 * request, sent before any module was ready; a tab opened afterwards asks the
 * others instead of the server.
 */
test('cold_tabs_calling_while_their_module_loads_make_one_request', { timeout: 60_000 }, () => inTabs(0, { DEV_TOKEN_TTL_SECS: '600' }, async (tabs) => {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  let wasmRequests = 0;
  await tabs.context.route('**/token_wasm_bg.wasm', async (route) => {
    wasmRequests++;
    await held;
    await route.continue();
  });
  const open = async () => {
    const page = await tabs.context.newPage();
    tabs.errors.push(collectPageErrors(page));
    await openPackagePage(page, tabs.backend.url);
    return page;
  };
  try {
    for (let i = 0; i < TABS; i++) {
      const page = await open();
      await page.evaluate(() => { window.first = Promise.all(Array.from({ length: 10 }, () => window.tw.getAccessToken())); });
      tabs.pages.push(page);
    }
    // The lock holder's request is out while every .wasm is still held back.
    await until('the early token request', () => tabs.requests.length === 1, { intervalMs: 10 });
    assert.equal(wasmRequests, TABS, 'every tab is still waiting for its module');
  } finally {
    release();
  }
  const answers = await Promise.all(tabs.pages.map((page) => page.evaluate(async () => [...new Set(await window.first)])));
  assert.deepEqual(answers.map((tokens) => tokens.length), Array(TABS).fill(1));
  assert.equal(new Set(answers.flat()).size, 1, 'every tab got the one token');
  // A tab opened now finds the others and asks them, not the server.
  const late = await open();
  assert.equal(await late.evaluate(() => window.tw.getAccessToken()), answers[0][0]);
  assert.equal(tabs.requests.length, 1, `the token route saw ${tabs.requests.length} requests`);
  assert.deepEqual(tabs.errors.flat(), []);
}));

/** Short-lived tokens: 8 s, refreshed by the backend in their last 3 s, never served under 2 s. */
const SHORT = { DEV_TOKEN_TTL_SECS: '8', TOKEN_MIN_TTL_SECS: '2', TOKEN_REFRESH_WINDOW_MIN_SECS: '3' };
const LIFETIMES = 4;

/** Keeps `tabs` open with refresh-ahead for `LIFETIMES` token lifetimes; returns the tokens each tab held. */
async function keepOpen(tabs, ttlMs) {
  await Promise.all(tabs.pages.map((page) => page.evaluate(() => {
    window.tw.configure({ leewaySeconds: 1, refreshAhead: true });
    window.held = [];
    window.tw.onTokenChange((token) => { if (token && !window.held.includes(token)) window.held.push(token); });
  })));
  await Promise.all(tabs.pages.map((page) => page.evaluate(() => window.tw.getAccessToken())));
  const start = Date.now();
  // Time passes; refresh-ahead renews the tokens meanwhile.
  await tabs.pages[0].waitForFunction((until) => Date.now() > until, start + LIFETIMES * ttlMs, { polling: 500, timeout: 0 });
  return Promise.all(tabs.pages.map((page) => page.evaluate(() => window.held)));
}

/** The tokens the token route answered the requests of `tabs` with, in order. */
function servedTokens(tabs) {
  return Promise.all(tabs.requests.map(async (request) => (await (await request.response()).json()).access_token));
}

/**
 * 5 tabs with refresh-ahead stay open over 4 token lifetimes, side by side
 * with 1 tab alone (each against its own backend): together the 5 make no
 * more requests than the one, never two at once, and every tab holds the
 * same tokens in the same order.
 */
test('5_tabs_with_refresh_ahead_make_the_requests_of_one', { timeout: 120_000 }, () => inTabs(TABS, SHORT, (five) => inTabs(1, SHORT, async (one) => {
  const ttlMs = Number(SHORT.DEV_TOKEN_TTL_SECS) * 1000;
  const [held] = await Promise.all([keepOpen(five, ttlMs), keepOpen(one, ttlMs)]);
  const tokens = new Set(held.flat()).size;
  const [servedToFive, servedToOne] = await Promise.all([servedTokens(five), servedTokens(one)]);
  console.log(`# over ${LIFETIMES} lifetimes of ${ttlMs / 1000} s with refresh-ahead: ${TABS} tabs → ${five.requests.length} requests (${new Set(servedToFive).size} distinct tokens served, ${tokens} held); 1 tab → ${one.requests.length} requests (${new Set(servedToOne).size} distinct)`);
  assert.ok(one.requests.length >= LIFETIMES, `only ${one.requests.length} requests: refresh-ahead did not renew`);
  assert.ok(five.requests.length <= one.requests.length + 1, `${TABS} tabs made ${five.requests.length} requests, 1 tab ${one.requests.length}`);
  assert.ok(tokens >= LIFETIMES, `the tabs went through only ${tokens} tokens`);
  // One request per token: a refresh-ahead request never comes back with
  // the token the tabs already hold (the broker renews its token when the
  // refresh window opens, before the tabs ask).
  for (const [who, served] of [[`${TABS} tabs`, servedToFive], ['1 tab', servedToOne]]) {
    assert.equal(new Set(served).size, served.length, `${who}: a request got a token already served: ${served.map((t) => t.slice(-6))}`);
  }
  for (const [i, tokens] of held.entries()) {
    assert.deepEqual(tokens, held[0], `tab ${i} held other tokens than tab 0`);
  }
  assert.deepEqual([...five.errors.flat(), ...one.errors.flat()], []);
})));
