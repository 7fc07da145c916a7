// Tests the BUILT package (token-wasm/pkg, from `npm run build`) the way users
// load it: an import map and `<script type="module">` in headless Chromium,
// served with a same-origin token endpoint by a Node server on a free port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };
const PAGE = `<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports":{"token-wasm":"/vendor/token-wasm/index.js"}}</script>
<script type="module">import * as tw from 'token-wasm'; window.tw = tw; window.ready = true;</script>`;

let server, browser, page, origin;
let tokenRequests = 0;
let shortRequests = 0;
let renewRequests = 0;

before(async () => {
  assert.ok(existsSync(join(pkg, 'index.js')), 'run `npm run build` first');
  server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const json = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/') { res.writeHead(200, { 'Content-Type': 'text/html' }); return res.end(PAGE); }
    if (url.pathname === '/api/token') {
      tokenRequests++;
      return json(200, { access_token: `app-token-${tokenRequests}`, token_type: 'Bearer', expires_in: 3600 });
    }
    if (url.pathname === '/api/short') {
      shortRequests++;
      return json(200, { access_token: `short-token-${shortRequests}`, token_type: 'Bearer', expires_in: 45 });
    }
    if (url.pathname === '/api/renew') {
      renewRequests++;
      return json(200, { access_token: `renew-token-${renewRequests}`, token_type: 'Bearer', expires_in: 62 });
    }
    if (url.pathname === '/api/user/token') {
      if (req.headers['x-requested-with'] !== 'token-wasm') return json(400, { error: 'missing_header' });
      return json(401, { error: 'login_required', error_description: 'Sign in first' });
    }
    if (url.pathname === '/api/fail') return json(503, { error: 'upstream_unavailable' });
    if (url.pathname === '/api/echo') return json(200, { authorization: req.headers.authorization ?? null });
    if (url.pathname.startsWith('/vendor/token-wasm/')) {
      const file = normalize(join(pkg, url.pathname.slice('/vendor/token-wasm/'.length)));
      if (file.startsWith(pkg) && existsSync(file)) {
        res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
        return res.end(await readFile(file));
      }
    }
    json(404, { error: 'not_found' });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(origin + '/');
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 }).catch((e) => {
    throw new Error(`module did not load: ${errors.join('; ') || e.message}`);
  });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r()));
});

test('package.json has the contract fields', async () => {
  const manifest = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'));
  assert.equal(manifest.name, 'token-wasm');
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.sideEffects, false);
  // `types` first and `default` last, as resolvers read conditions in order;
  // Node and dev servers get the entry with the wasm inlined.
  assert.deepEqual(Object.keys(manifest.exports['.']), ['types', 'node', 'development', 'default']);
  assert.equal(manifest.exports['.'].node, './embedded.js');
  assert.equal(manifest.exports['.'].default, './index.js');
  assert.equal(manifest.license, 'MIT OR Apache-2.0');
  for (const field of ['repository', 'homepage', 'keywords', 'engines']) assert.ok(manifest[field], field);
  for (const file of ['LICENSE-MIT', 'LICENSE-APACHE', 'embedded.js']) assert.ok(manifest.files.includes(file), file);
  for (const file of manifest.files) assert.ok(existsSync(join(pkg, file)), file);
});

test('getAccessToken() resolves to a cached string without an init call', async () => {
  const r = await page.evaluate(async () => {
    const a = await tw.getAccessToken();
    const p1 = tw.getAccessToken();
    const p2 = tw.getAccessToken();
    const b = await p1;
    return { a, b, samePromise: p1 === p2, state: tw.getState() };
  });
  assert.equal(typeof r.a, 'string');
  assert.match(r.a, /^app-token-\d+$/);
  assert.equal(r.a, r.b);
  assert.ok(r.samePromise, 'a cache hit returns the same resolved promise');
  assert.equal(r.state.status, 'fresh');
  assert.equal(r.state.fetches, 1);
  assert.equal(r.state.cacheHits, 2);
  assert.equal(typeof r.state.expiresAt, 'number');
  assert.ok(!JSON.stringify(r.state).includes(r.a), 'state never contains the token');
  assert.equal(tokenRequests, 1);
});

test('getAccessToken(onReady) follows the Autodesk Viewer contract', async () => {
  const r = await page.evaluate(() => new Promise((resolve) => {
    tw.getAccessToken((token, expires) => resolve({ token, expires, type: typeof expires }));
  }));
  assert.match(r.token, /^app-token-/);
  assert.equal(r.type, 'number');
  assert.ok(Number.isInteger(r.expires) && r.expires > 3500 && r.expires <= 3540, String(r.expires));
});

test('rapid viewer cycles on a 45 s token (leeway 60) make at most one request', async () => {
  // The Viewer asks again as soon as expiresInSeconds runs out; a token told
  // "0" would turn into a request loop against the backend.
  const r = await page.evaluate(async () => {
    const client = new tw.TokenClient({ endpoint: '/api/short', leewaySeconds: 60 });
    const seen = [];
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      await client.getAccessToken((token, expires) => seen.push({ token, expires }));
    }
    return { seen, ms: performance.now() - started };
  });
  assert.equal(r.seen.length, 20);
  assert.ok(r.ms < 5_000, `short window (${r.ms} ms)`);
  assert.ok(r.seen.every((s) => s.token === r.seen[0].token && s.expires >= 21 && s.expires <= 22), JSON.stringify(r.seen[0]));
  assert.ok(shortRequests <= 1, `${shortRequests} requests`);
});

test('a viewer renewing exactly at expiresInSeconds is never told 0', async () => {
  // 62 s tokens with leeway 60 are told 1 s; at renewal < 1 s is left, which
  // used to be handed out as 0 (and the Viewer renews at once on 0).
  const told = await page.evaluate(() => new Promise((done) => {
    const client = new tw.TokenClient({ endpoint: '/api/renew', leewaySeconds: 60 });
    const seen = [];
    const started = performance.now();
    const renew = () => client.getAccessToken((token, expires) => {
      seen.push(expires);
      if (performance.now() - started > 3_500 || seen.length > 50) done(seen);
      else setTimeout(renew, expires * 1000);
    });
    renew();
  }));
  assert.ok(told.every((s) => s >= 1), told.join(', '));
  assert.ok(renewRequests <= told.length + 1, `${renewRequests} requests for ${told.length} renewals`);
});

test('failures are TokenError instances with codes', async () => {
  const r = await page.evaluate(async () => {
    const out = {};
    try { new tw.TokenClient({ endpoint: 42 }); } catch (e) {
      out.options = { isTokenError: e instanceof tw.TokenError, isError: e instanceof Error, name: e.name, code: e.code };
    }
    const user = new tw.TokenClient({ endpoint: '/api/user/token', credentials: 'same-origin' });
    const seen = [];
    const off = user.onError((e) => seen.push(e.code));
    try { await user.getAccessToken(); } catch (e) {
      out.login = { isTokenError: e instanceof tw.TokenError, isError: e instanceof Error, name: e.name,
        code: e.code, status: e.status, error: e.error, message: e.message };
    }
    off();
    try { await user.getAccessToken(); } catch {}
    out.seen = seen;
    const failing = new tw.TokenClient({ endpoint: '/api/fail', retries: 0 });
    try { await failing.getAccessToken(); } catch (e) { out.http = { code: e.code, status: e.status, error: e.error }; }
    out.state = failing.state;
    return out;
  });
  assert.deepEqual(r.options, { isTokenError: true, isError: true, name: 'TokenError', code: 'invalid_options' });
  assert.equal(r.login.isTokenError, true);
  assert.equal(r.login.isError, true);
  assert.equal(r.login.name, 'TokenError');
  assert.equal(r.login.code, 'login_required');
  assert.equal(r.login.status, 401);
  assert.equal(r.login.error, 'login_required');
  assert.match(r.login.message, /Sign in first/);
  assert.deepEqual(r.seen, ['login_required'], 'onError fired once, then unsubscribed');
  assert.deepEqual(r.http, { code: 'http', status: 503, error: 'upstream_unavailable' });
  assert.equal(r.state.status, 'error');
  assert.equal(r.state.lastError.code, 'http');
});

test('bad options throw invalid_options at construction', async () => {
  const r = await page.evaluate(() => {
    const bad = [{ leewaySeconds: -1 }, { leewaySeconds: NaN }, { retries: 1.5 }, { retries: 11 },
      { credentials: 'sometimes' }, { endpoint: '' }, { endpoint: 42 }, { timeoutMs: 0 }, { retryDelayMs: '5' },
      { refreshAhead: 'yes' }, { leeway: 30 }, { headers: { 'bad name': 'x' } }, { headers: 'x' }, 'a string'];
    const codes = bad.map((options) => {
      try { new tw.TokenClient(options); return 'accepted'; } catch (e) {
        return e instanceof tw.TokenError && e.name === 'TokenError' ? e.code : String(e);
      }
    });
    const ok = [undefined, null, {}, { endpoint: '/api/token', leewaySeconds: 0, credentials: 'include',
      headers: [['X-A', '1']], timeoutMs: 1, retries: 10, retryDelayMs: 0, refreshAhead: true }];
    ok.forEach((options) => new tw.TokenClient(options));
    return codes;
  });
  assert.deepEqual(new Set(r), new Set(['invalid_options']), r.join(', '));
});

test('configure() validates synchronously and authorizedFetch signs requests', async () => {
  const r = await page.evaluate(async () => {
    let code = null;
    try { tw.configure({ leewaySeconds: -5 }); } catch (e) { code = e.code; }
    tw.configure({ endpoint: '/api/token', leewaySeconds: 30 });
    const changes = [];
    tw.onTokenChange((token, state) => changes.push({ hasToken: typeof token === 'string', status: state.status }));
    const token = await tw.getAccessToken();
    const res = await tw.authorizedFetch('/api/echo');
    return { code, token, body: await res.json(), changes };
  });
  assert.equal(r.code, 'invalid_options');
  assert.deepEqual(r.body, { authorization: `Bearer ${r.token}` });
  assert.deepEqual(r.changes, [{ hasToken: true, status: 'fresh' }]);
});
