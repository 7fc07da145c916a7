//! Journey: a visitor fires 100 concurrent `getAccessToken()` calls from the
//! page. From a cold cache they cost exactly one request to the token route;
//! from a warm one, none.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { openDemo } from '../support/demo.mjs';

/** Long-lived tokens, so no renewal can add a request during the burst. */
const ENV = { DEV_TOKEN_TTL_SECS: '600' };

let demo, backend, browser, page, errors, traffic;

before(async () => {
  demo = await openDemo({ env: ENV });
  ({ backend, browser, page, errors, traffic } = demo);
  await page.goto(backend.url);
  await page.waitForFunction(() => document.getElementById('token-status').dataset.state === 'fresh');
});

after(async () => {
  await demo?.close();
});

/** Fires the burst from the page's form and returns what the page and the network saw. */
async function fireBurst({ cold }) {
  await page.getByLabel('Concurrent calls').fill('100');
  await page.getByLabel('Start with an empty cache').setChecked(cold);
  const requestsBefore = traffic.requests.length;
  const hitsBefore = Number(await page.locator('#token-hits').textContent());
  await page.evaluate(() => { document.getElementById('burst-result').dataset.state = 'idle'; });
  await page.getByRole('button', { name: 'Fire calls' }).click();
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('burst-result').dataset.state));
  await traffic.settle();
  return {
    requests: traffic.requests.length - requestsBefore,
    hits: Number(await page.locator('#token-hits').textContent()) - hitsBefore,
    result: await page.locator('#burst-result').textContent(),
    reported: await page.locator('#burst-result').getAttribute('data-requests'),
  };
}

/** Cold cache: 100 callers share one request and one token. */
test('cold_burst_of_100_calls_makes_one_request', { timeout: 30_000 }, () => backend.check(async () => {
  const burst = await fireBurst({ cold: true });
  assert.equal(burst.requests, 1, `the token route saw ${burst.requests} requests`);
  assert.equal(burst.reported, '1', `the page counted ${burst.reported} requests`);
  assert.match(burst.result, /^100 calls → 1 network request, 1 distinct token · \d+ ms$/);
  assert.deepEqual(errors, []);
}));

/** Warm cache: 100 callers are answered from memory. */
test('warm_burst_of_100_calls_makes_no_request', { timeout: 30_000 }, () => backend.check(async () => {
  const burst = await fireBurst({ cold: false });
  assert.equal(burst.requests, 0, `the token route saw ${burst.requests} requests`);
  assert.equal(burst.hits, 100, `cache hits went up by ${burst.hits}`);
  assert.match(burst.result, /^100 calls → 0 network requests, 1 distinct token/);
  assert.deepEqual(errors, []);
}));
