#!/usr/bin/env node
// Cost of a cached getAccessToken() call in headless Chromium, in ONE page run,
// next to (a) plain-JS functions returning a cached Promise and (b)
// @auth0/auth0-spa-js getTokenSilently() with a pre-seeded cache; then the
// number of network requests for 1,000 concurrent cold calls.
// Usage: node token-wasm/bench/speed.mjs   (after `npm run build`)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { auth0Esm, AUTH0_VERSION } from './auth0.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');
const auth0File = auth0Esm();
const PAGE = `<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports":{"token-wasm":"/vendor/token-wasm/index.js"}}</script>
<script type="module">
import * as tw from 'token-wasm';
import { Auth0Client } from '/auth0.js';
window.tw = tw; window.Auth0Client = Auth0Client; window.ready = true;
</script>`;

let coldRequests = 0;
const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') { res.writeHead(200, { 'Content-Type': 'text/html' }); return res.end(PAGE); }
  if (url.pathname === '/api/token') {
    if (url.searchParams.get('key') === 'cold') coldRequests++;
    await new Promise((r) => setTimeout(r, 50)); // a realistic round trip, so the burst overlaps
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    return res.end(JSON.stringify({ access_token: 'bench-token-' + 'x'.repeat(800), token_type: 'Bearer', expires_in: 3600 }));
  }
  let file = null;
  if (url.pathname === '/auth0.js') file = auth0File;
  else if (url.pathname.startsWith('/vendor/token-wasm/')) file = normalize(join(pkg, url.pathname.slice(19)));
  if (file && (file === auth0File || file.startsWith(pkg)) && existsSync(file)) {
    res.writeHead(200, { 'Content-Type': extname(file) === '.wasm' ? 'application/wasm' : 'text/javascript' });
    return res.end(await readFile(file));
  }
  res.writeHead(404); res.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(origin + '/');
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });

  const result = await page.evaluate(async ({ rounds, n }) => {
    const { tw, Auth0Client } = window;
    // Subjects, all with a warm cache.
    const cached = Promise.resolve('bench-token');
    const bare = () => cached;
    let until = Date.now() + 3_540_000;
    const checked = () => (until > Date.now() ? cached : Promise.reject(new Error('expired')));
    await tw.getAccessToken();
    const wasm = tw.getAccessToken;
    const auth0 = new Auth0Client({ domain: 'auth.invalid', clientId: 'bench', cacheLocation: 'memory' });
    await auth0.cacheManager.setIdToken('bench', 'id-token', { claims: { __raw: 'id-token', exp: Date.now() / 1000 + 3600 }, user: {} });
    await auth0.cacheManager.set({ client_id: 'bench', audience: 'default', scope: 'openid profile email',
      access_token: 'bench-token', expires_in: 3600, id_token: 'id-token', decodedToken: { claims: { exp: Date.now() / 1000 + 3600 }, user: {} } });
    const a0 = () => auth0.getTokenSilently();
    if ((await a0()) !== 'bench-token') throw new Error('auth0 cache not seeded');

    // "call": synchronous calls in a tight loop (what a render loop pays).
    const callNs = (fn, count) => {
      let sink = null;
      const t0 = performance.now();
      for (let i = 0; i < count; i++) sink = fn();
      const t1 = performance.now();
      if (sink === null) throw new Error('no result');
      return ((t1 - t0) * 1e6) / count;
    };
    // "await": call and await the token, one after the other (what async code pays).
    const awaitNs = async (fn, count) => {
      let sink = null;
      const t0 = performance.now();
      for (let i = 0; i < count; i++) sink = await fn();
      const t1 = performance.now();
      if (typeof sink !== 'string') throw new Error('no token');
      return ((t1 - t0) * 1e6) / count;
    };
    const subjects = { bare, checked, wasm, auth0: a0 };
    const samples = { call: {}, await: {} };
    for (const k of Object.keys(subjects)) { samples.call[k] = []; samples.await[k] = []; }
    for (let r = 0; r < rounds; r++) {
      for (const [k, fn] of Object.entries(subjects)) {
        const count = k === 'auth0' ? n / 20 : n;
        if (k !== 'auth0') samples.call[k].push(callNs(fn, count));
        samples.await[k].push(await awaitNs(fn, count));
      }
    }
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
    const out = { call: {}, await: {} };
    for (const mode of ['call', 'await']) for (const k of Object.keys(samples[mode])) out[mode][k] = median(samples[mode][k]);

    // 1,000 concurrent cold calls on a new client.
    const cold = new tw.TokenClient({ endpoint: '/api/token?key=cold' });
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => cold.getAccessToken()));
    out.coldDistinctTokens = new Set(tokens).size;
    out.coldState = cold.state;
    return out;
  }, { rounds: 9, n: 200_000 });

  const f = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
  console.log(`Chromium ${browser.version()}, medians of 9 rounds (ns per call)\n`);
  console.log('| subject | sync call | call + await |\n|---|---:|---:|');
  console.log(`| plain JS, returns cached Promise (bare floor) | ${f(result.call.bare)} | ${f(result.await.bare)} |`);
  console.log(`| plain JS, expiry check + cached Promise (floor) | ${f(result.call.checked)} | ${f(result.await.checked)} |`);
  console.log(`| token-wasm getAccessToken() (cached) | ${f(result.call.wasm)} | ${f(result.await.wasm)} |`);
  console.log(`| @auth0/auth0-spa-js@${AUTH0_VERSION} getTokenSilently() (cached) | — | ${f(result.await.auth0)} |`);
  console.log(`\nratios (call + await): token-wasm / floor = ${(result.await.wasm / result.await.checked).toFixed(2)}×, ` +
    `/ bare floor = ${(result.await.wasm / result.await.bare).toFixed(2)}×, auth0 / token-wasm = ${(result.await.auth0 / result.await.wasm).toFixed(1)}×`);
  console.log(`ratios (sync call): token-wasm / floor = ${(result.call.wasm / result.call.checked).toFixed(2)}×, / bare floor = ${(result.call.wasm / result.call.bare).toFixed(2)}×`);
  console.log(`\n1,000 concurrent cold calls: ${coldRequests} network request(s), ${result.coldDistinctTokens} distinct token(s), state.fetches = ${result.coldState.fetches}`);
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}
