//! Journey: a page's first token, asked for while the package's module is
//! still loading, reaches the app before the module compiles (the compile
//! keeps the page's threads busy for tens of ms), and the module then adopts
//! it without a second request. Real `token-backend --dev`, Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { collectPageErrors } from '../support/chromium.mjs';
import { openPackagePage } from '../support/package-site.mjs';
import { tabsOnPackageSite } from '../support/tabs.mjs';
import { until } from '../support/wait.mjs';

const inTabs = tabsOnPackageSite();

/** Runs in the page first: records 'compile' when WebAssembly compiles a module from the network, in order. */
function recordCompiles() {
  window.events = [];
  for (const name of ['instantiateStreaming', 'compileStreaming']) {
    const original = WebAssembly[name];
    WebAssembly[name] = (...args) => { window.events.push('compile'); return original.apply(WebAssembly, args); };
  }
  const instantiate = WebAssembly.instantiate;
  // A compiled module passed in is not a compile; bytes or a response are.
  WebAssembly.instantiate = (source, ...rest) => {
    if (!(source instanceof WebAssembly.Module)) window.events.push('compile');
    return instantiate.call(WebAssembly, source, ...rest);
  };
}

/**
 * With the token route slower than the `.wasm`, the module is not compiled
 * while the first token is on its way: the token reaches the app first, and
 * the module compiles after and adopts it (one request, `fetches: 1`).
 */
test('first_token_reaches_the_app_before_the_module_compiles', { timeout: 60_000 }, () => inTabs({
  count: 0, env: { DEV_TOKEN_TTL_SECS: '600' }, initScript: recordCompiles,
}, async (tabs) => {
  const { page, answer, deliverModule } = await firstCallWhileTheModuleLoads(tabs);
  try {
    deliverModule();
    // The .wasm and the glue have arrived in the page (the module could compile now).
    await until('the module\'s files in the page', () => page.evaluate(() => {
      const done = performance.getEntriesByType('resource').filter((e) => /token_wasm(_bg\.wasm|\.js)$/.test(e.name) && e.responseEnd > 0);
      return done.length === 2;
    }), { intervalMs: 10 });
    assert.deepEqual(await page.evaluate(() => window.events), [], 'the module compiled while the token was on its way');
  } finally {
    deliverModule();
    answer();
  }
  const token = await page.evaluate(() => window.first);
  assert.ok(token.startsWith('dev_'), token);
  await until('the module', () => page.evaluate(() => window.events.includes('compile')), { intervalMs: 10 });
  assert.deepEqual(await page.evaluate(() => window.events), ['token', 'compile']);
  // The module adopted the early answer: the next calls need no request.
  await until('the module to adopt the token', () => page.evaluate(() => window.tw.getState().status === 'fresh'));
  assert.equal(await page.evaluate(() => window.tw.getAccessToken()), token);
  assert.equal(tabs.requests.length, 1);
  assert.deepEqual(tabs.errors.flat(), []);
}));

/**
 * A token route that does not answer does not hold the module back for the
 * request's whole timeout (10 s here): the module compiles after a bound
 * (3 s, js/loader.js) while the first token is still on its way, and the
 * call still gets the token once the route answers.
 */
test('module_compiles_while_a_slow_first_token_is_still_on_its_way', { timeout: 60_000 }, () => inTabs({
  count: 0, env: { DEV_TOKEN_TTL_SECS: '600' }, initScript: recordCompiles,
}, async (tabs) => {
  const { page, answer, deliverModule } = await firstCallWhileTheModuleLoads(tabs);
  try {
    deliverModule();
    await until('the module to compile', () => page.evaluate(() => window.events.includes('compile')), { intervalMs: 50 });
    assert.deepEqual(await page.evaluate(() => window.events), ['compile'], 'the token was not held back');
  } finally {
    deliverModule();
    answer();
  }
  assert.ok((await page.evaluate(() => window.first)).startsWith('dev_'));
  assert.equal(tabs.requests.length, 1);
  assert.deepEqual(tabs.errors.flat(), []);
}));

/**
 * Opens a tab of `tabs` with the token route's answer and the `.wasm` held
 * back, and makes the first call there (its token in `window.first`, and
 * 'token' in `window.events` when it arrives): `{ page, answer,
 * deliverModule }`, the last two releasing what they hold back.
 */
async function firstCallWhileTheModuleLoads(tabs) {
  const answer = await holdBack(tabs.context, '**/api/token');
  // Until the first call, so that it comes while the module loads.
  const deliverModule = await holdBack(tabs.context, '**/token_wasm_bg.wasm');
  const page = await tabs.context.newPage();
  tabs.errors.push(collectPageErrors(page));
  await openPackagePage(page, tabs.backend.url);
  await page.evaluate(() => {
    window.first = window.tw.getAccessToken().then((token) => { window.events.push('token'); return token; });
  });
  return { page, answer, deliverModule };
}

/** Holds back the requests of `context` to `url` until the returned function is called. */
async function holdBack(context, url) {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await context.route(url, async (route) => {
    await held;
    await route.continue();
  });
  return release;
}
