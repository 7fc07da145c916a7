// The early first token (token-wasm/js/answer.js) is judged in JS as well as
// in the wasm (token-wasm/src/http.rs `read_response`): the JS hands a token
// to callers before the module is ready. This checks, on a table of token
// endpoint answers, that the two agree: every token the JS hands out is one
// the module accepts (the same token), and every answer the module refuses
// is left by the JS to the module (which maps it to its `TokenError`). The
// wasm side runs in the BUILT package (token-wasm/pkg, `npm run build`), in
// Node, against a real HTTP server serving each answer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEarlyToken } from '../js/answer.js';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');
const good = { access_token: 'tok', token_type: 'Bearer', expires_in: 3600 };
const json = (body) => JSON.stringify(body);

/**
 * `[what, status, body text, JS verdict, module verdict]`: a verdict is
 * 'token' or the module's error code; the JS's is 'token' or 'module' (left
 * to the module). The module's default leeway is 60 s.
 */
const ANSWERS = [
  ['good', 200, json(good), 'token', 'token'],
  ['good, fractional lifetime', 200, json({ ...good, expires_in: 61.5 }), 'token', 'token'],
  ['good, extra fields', 200, json({ ...good, scope: 'a b', refresh_token: null }), 'token', 'token'],
  ['lifetime within the leeway (doubtful: the module halves the leeway)', 200, json({ ...good, expires_in: 30 }), 'module', 'token'],
  ['lifetime exactly the leeway', 200, json({ ...good, expires_in: 60 }), 'module', 'token'],
  ['expired (expires_in 0)', 200, json({ ...good, expires_in: 0 }), 'module', 'token'],
  ['another 2xx status', 201, json(good), 'module', 'token'],
  ['no access_token', 200, json({ token_type: 'Bearer', expires_in: 3600 }), 'module', 'invalid_response'],
  ['empty access_token', 200, json({ ...good, access_token: '' }), 'module', 'invalid_response'],
  ['access_token a number', 200, json({ ...good, access_token: 42 }), 'module', 'invalid_response'],
  ['access_token an object', 200, json({ ...good, access_token: { value: 'tok' } }), 'module', 'invalid_response'],
  ['no expires_in', 200, json({ access_token: 'tok', token_type: 'Bearer' }), 'module', 'invalid_response'],
  ['expires_in a string', 200, json({ ...good, expires_in: '3600' }), 'module', 'invalid_response'],
  ['expires_in null', 200, json({ ...good, expires_in: null }), 'module', 'invalid_response'],
  ['expires_in negative', 200, json({ ...good, expires_in: -5 }), 'module', 'invalid_response'],
  ['not JSON', 200, 'access_token=tok&expires_in=3600', 'module', 'invalid_response'],
  ['empty body', 200, '', 'module', 'invalid_response'],
  ['JSON null', 200, 'null', 'module', 'invalid_response'],
  ['JSON string', 200, json('tok'), 'module', 'invalid_response'],
  ['JSON array', 200, json([good]), 'module', 'invalid_response'],
  ['401', 401, json({ error: 'login_required' }), 'module', 'login_required'],
  ['401 with a token body', 401, json(good), 'module', 'login_required'],
  ['403', 403, json({ error: 'forbidden' }), 'module', 'http'],
  ['500 with a token body', 500, json(good), 'module', 'http'],
  ['503', 503, json({ error: 'upstream_unavailable' }), 'module', 'http'],
];

let server, origin, tw;

before(async () => {
  assert.ok(existsSync(join(pkg, 'embedded.js')), 'run `npm run build` first');
  server = createServer((req, res) => {
    const [, status, text] = ANSWERS[Number(req.url.split('/').pop())] ?? ['', 404, ''];
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(text);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${server.address().port}`;
  tw = await import(join(pkg, 'embedded.js'));
  // Until the module is ready, a client's first call would be answered by
  // the JS; `getState()` turns fresh only once the module stored a token.
  const warm = new tw.TokenClient({ endpoint: `${origin}/0`, shareAcrossTabs: false });
  await warm.getAccessToken();
  while (warm.getState().status !== 'fresh') await new Promise((r) => setImmediate(r));
});

after(() => new Promise((r) => { server?.closeAllConnections(); return server ? server.close(r) : r(); }));

/** What the module makes of answer `i`: 'token' (and the token) or the rejection's code. */
async function moduleVerdict(i) {
  const client = new tw.TokenClient({ endpoint: `${origin}/${i}`, retries: 0, shareAcrossTabs: false });
  return client.getAccessToken().then((token) => ({ verdict: 'token', token }), (e) => ({ verdict: e.code }));
}

for (const [i, [what, status, text, expectedJs, expectedModule]] of ANSWERS.entries()) {
  /** The JS hands out only what the module accepts, and the same token. */
  test(`JS and module agree: ${what}`, async () => {
    const early = readEarlyToken({ status, retryAfter: null, text }, 60_000);
    const module = await moduleVerdict(i);
    assert.equal(module.verdict, expectedModule, 'the module');
    assert.equal(early ? 'token' : 'module', expectedJs, 'the JS');
    if (early) {
      assert.equal(module.verdict, 'token', 'a token the JS hands out is one the module accepts');
      assert.equal(early.accessToken, module.token);
      assert.equal(early.expiresIn, JSON.parse(text).expires_in);
    }
  });
}

/** The leeway decides what the JS hands out, as it decides what the module caches as fresh. */
test('the JS hands out only tokens that outlive the leeway', () => {
  const answer = (expiresIn) => ({ status: 200, text: json({ ...good, expires_in: expiresIn }) });
  assert.equal(readEarlyToken(answer(10), 0)?.expiresIn, 10);
  assert.equal(readEarlyToken(answer(0), 0), null);
  assert.equal(readEarlyToken(answer(10), 10_000), null);
  assert.equal(readEarlyToken(answer(11), 10_000)?.accessToken, 'tok');
  assert.equal(readEarlyToken({ cause: new TypeError('network'), timedOut: false }, 0), null, 'no response');
});
