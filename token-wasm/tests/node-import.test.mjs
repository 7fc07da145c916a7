// Imports the BUILT package (token-wasm/pkg, from `npm run build`) by its npm
// name in plain Node, as server-side rendering and unit-test runners do: the
// import must not throw, a relative endpoint (no page to resolve it against)
// must reject with a TokenError saying so, and an absolute endpoint must work
// over Node's global fetch. Each scenario runs in a fresh `node` process from
// a directory whose node_modules holds the package, and that process must
// exit by itself (nothing left holding the event loop).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');
let server, origin, app;
let tokenRequests = 0;

before(async () => {
  assert.ok(existsSync(join(pkg, 'package.json')), 'run `npm run build` first');
  app = mkdtempSync(join(tmpdir(), 'token-wasm-node-'));
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(pkg, join(app, 'node_modules', 'token-wasm'), 'dir');
  server = createServer((req, res) => {
    const json = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/api/token') {
      tokenRequests++;
      return json(200, { access_token: `node-token-${tokenRequests}`, token_type: 'Bearer', expires_in: 3600 });
    }
    if (req.url === '/api/fail') return json(503, { error: 'upstream_unavailable', error_description: 'try later' });
    json(404, { error: 'not_found' });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await new Promise((r) => (server ? server.close(r) : r()));
  if (app) rmSync(app, { recursive: true, force: true });
});

/** Runs `body` (an async ES module body with `tw` and `ORIGIN` in scope) in a fresh Node; returns what it printed as JSON. */
async function inNode(body) {
  // Imports in `body` are hoisted by the module syntax, so they may come after these lines.
  const source = `import * as tw from 'token-wasm';\nconst ORIGIN = ${JSON.stringify(origin)};\n${body}`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', source], {
    cwd: app,
    timeout: 20_000,
  }).catch((error) => { throw new Error(`node exited with ${error.code}:\n${error.stdout}\n${error.stderr}`); });
  return JSON.parse(stdout);
}

test('import succeeds in Node and exposes the API', async () => {
  const r = await inNode(`console.log(JSON.stringify(Object.keys(tw).sort()));`);
  assert.deepEqual(r, ['TokenClient', 'TokenError', 'authorizedFetch', 'clear', 'configure', 'configureSession',
    'getAccessToken', 'getDefaultClient', 'getSessionRoutes', 'getState', 'getUser', 'getUserClient',
    'isAuthenticated', 'login', 'loginUrl', 'logout', 'onError', 'onSessionChange', 'onTokenChange']);
});

/** Printed and inspected, the error says what it is, not the minifier's name for its class. */
test('a TokenError prints as TokenError', async () => {
  const r = await inNode(`
    import { inspect } from 'node:util';
    const error = new tw.TokenError('boom', 'http', { status: 503 });
    console.log(JSON.stringify({ inspected: inspect(error), constructorName: tw.TokenError.name, text: String(error) }));`);
  assert.match(r.inspected, /^TokenError: boom\n/);
  assert.equal(r.constructorName, 'TokenError');
  assert.equal(r.text, 'TokenError: boom');
});

/** Sign-in navigates, which only a browser page can: elsewhere it is a TokenError like the other calls. */
test('login() outside a browser throws a TokenError', async () => {
  const r = await inNode(`
    const out = {};
    try { tw.login(); out.login = 'navigated'; } catch (e) {
      out.login = { isTokenError: e instanceof tw.TokenError, code: e.code, message: e.message };
    }
    out.url = tw.loginUrl({ returnTo: '/projects?id=1' });
    console.log(JSON.stringify(out));`);
  assert.equal(r.login.isTokenError, true);
  assert.equal(r.login.code, 'invalid_options');
  assert.match(r.login.message, /browser page/);
  assert.equal(r.url, '/auth/login?return_to=%2Fprojects%3Fid%3D1');
});

test('a relative endpoint rejects with a TokenError that says why', async () => {
  const r = await inNode(`
    const out = {};
    try { await tw.getAccessToken(); out.outcome = 'resolved'; } catch (e) {
      out.outcome = { isTokenError: e instanceof tw.TokenError, isError: e instanceof Error, code: e.code, message: e.message };
    }
    // The viewer form stops too: retrying cannot make the endpoint absolute.
    try { await tw.getAccessToken(() => {}); out.viewer = 'resolved'; } catch (e) { out.viewer = e.code; }
    console.log(JSON.stringify(out));`);
  assert.equal(r.outcome.isTokenError, true);
  assert.equal(r.outcome.isError, true);
  assert.equal(r.outcome.code, 'invalid_options');
  assert.match(r.outcome.message, /\/api\/token/);
  assert.match(r.outcome.message, /absolute URL/);
  assert.equal(r.viewer, 'invalid_options');
});

test('an absolute endpoint works through the global fetch, both forms, with one request', async () => {
  const before = tokenRequests;
  const r = await inNode(`
    tw.configure({ endpoint: ORIGIN + '/api/token' });
    const token = await tw.getAccessToken();
    const viewer = await new Promise((done) => tw.getAccessToken((t, s) => done({ t, s })));
    const failing = new tw.TokenClient({ endpoint: ORIGIN + '/api/fail', retries: 0 });
    let http;
    try { await failing.getAccessToken(); } catch (e) {
      http = { isTokenError: e instanceof tw.TokenError, code: e.code, status: e.status, error: e.error, message: e.message };
    }
    console.log(JSON.stringify({ token, viewer, http, state: tw.getState() }));`);
  assert.match(r.token, /^node-token-\d+$/);
  assert.equal(r.viewer.t, r.token);
  assert.ok(r.viewer.s > 3500 && r.viewer.s <= 3540, String(r.viewer.s));
  assert.deepEqual(r.http, { isTokenError: true, code: 'http', status: 503, error: 'upstream_unavailable',
    message: 'Token endpoint answered with an error (HTTP 503): try later' });
  assert.equal(r.state.status, 'fresh');
  assert.equal(r.state.fetches, 1);
  assert.equal(tokenRequests - before, 1);
});
