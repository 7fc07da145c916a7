//! The OpenAPI description served at /openapi.json: it passes the OpenAPI 3.1
//! validator, and real responses of every described route (the token routes'
//! successes and errors included) match the status and schema it documents.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { BACKEND_BIN, ROOT, freePort, startBackend } from '../support/backend.mjs';
import { run, waitForOk } from './process.mjs';

let dev, down, downLog = '', scratch;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'token-backend-openapi-'));
  dev = await startBackend();
  // A production configuration whose upstream is a closed port: the error answers.
  const [port, closed] = [await freePort(), await freePort()];
  down = {
    url: `http://127.0.0.1:${port}`,
    child: spawn(BACKEND_BIN, [], {
      env: {
        PATH: process.env.PATH, NO_COLOR: '1', BIND_ADDR: `127.0.0.1:${port}`,
        OAUTH_PROVIDER: 'generic', OAUTH_TOKEN_URL: `http://127.0.0.1:${closed}/token`,
        OAUTH_CLIENT_ID: 'broker', OAUTH_CLIENT_SECRET: 'broker-secret', UPSTREAM_CONNECT_TIMEOUT_SECS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  };
  down.child.stderr.setEncoding('utf8').on('data', (chunk) => { downLog += chunk; });
  await waitForOk(`${down.url}/healthz`, { describe: () => downLog });
});

after(async () => {
  down?.child.kill('SIGKILL');
  await dev?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** One real exchange, recorded as the checker wants it. */
async function sample(base, method, template, path, headers = {}) {
  const res = await fetch(`${base}${path}`, { method: method.toUpperCase(), headers, redirect: 'manual' });
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  const text = await res.text();
  let body = null;
  if (contentType === 'application/json') body = JSON.parse(text);
  else if (contentType.startsWith('application/openmetrics-text')) body = text;
  return { method, path: template, status: res.status, content_type: contentType, body };
}

test('openapi_description_is_valid_and_matches_real_responses', { timeout: 60_000 }, async () => {
  const described = await fetch(`${dev.url}/openapi.json`);
  assert.equal(described.status, 200);
  const spec = await described.json();
  assert.equal(spec.openapi, '3.1.0');

  const ajax = { 'x-requested-with': 'fetch' };
  const samples = [
    await sample(dev.url, 'get', '/api/token', '/api/token'),
    await sample(dev.url, 'get', '/api/token/{profile}', '/api/token/no-such-profile'),
    await sample(down.url, 'get', '/api/token', '/api/token'),
    await sample(down.url, 'get', '/api/token/{profile}', '/api/token/default'),
    await sample(dev.url, 'get', '/api/user/token', '/api/user/token', ajax),
    await sample(dev.url, 'get', '/api/user/token', '/api/user/token'),
    await sample(dev.url, 'get', '/api/user/me', '/api/user/me', ajax),
    await sample(dev.url, 'get', '/api/user/session/events', '/api/user/session/events'),
    await sample(dev.url, 'get', '/api/user/session/events', '/api/user/session/events', { origin: 'https://evil.example' }),
    await sample(dev.url, 'get', '/auth/login', '/auth/login?return_to=/'),
    await sample(dev.url, 'get', '/auth/callback', '/auth/callback?code=x&state=forged'),
    await sample(dev.url, 'post', '/auth/logout', '/auth/logout', ajax),
    // No logout token (and no JWKS in --dev): 400 invalid_request.
    await sample(dev.url, 'post', '/auth/backchannel-logout', '/auth/backchannel-logout'),
    await sample(dev.url, 'get', '/api/proxy/{name}/{path}', '/api/proxy/models/building.glb'),
    await sample(dev.url, 'get', '/api/proxy/{name}/{path}', '/api/proxy/no-such-api/x'),
    await sample(dev.url, 'get', '/api/proxy/{name}/{path}', '/api/proxy/models/a%2F..%2Fb'),
    await sample(dev.url, 'get', '/healthz', '/healthz'),
    await sample(dev.url, 'get', '/readyz', '/readyz'),
    await sample(down.url, 'get', '/readyz', '/readyz'),
    await sample(dev.url, 'get', '/metrics', '/metrics'),
  ];
  const statuses = samples.map((s) => `${s.path} ${s.status}`);
  for (const expected of ['/api/token 200', '/api/token 503', '/api/token/{profile} 404', '/api/user/token 401',
    '/api/user/token 403', '/readyz 503', '/api/proxy/{name}/{path} 200', '/api/proxy/{name}/{path} 404',
    '/api/proxy/{name}/{path} 403']) {
    assert.ok(statuses.includes(expected), `${expected} not among ${statuses.join(', ')}`);
  }
  const operations = Object.entries(spec.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`));
  const sampled = new Set(samples.map((s) => `${s.method} ${s.path}`));
  assert.deepEqual(operations.filter((op) => !sampled.has(op)), [], 'every described operation is exercised');

  const specFile = join(scratch, 'openapi.json');
  const samplesFile = join(scratch, 'samples.json');
  writeFileSync(specFile, JSON.stringify(spec));
  writeFileSync(samplesFile, JSON.stringify(samples));
  const checked = await run('python3', [join(ROOT, 'tests', 'deploy', 'openapi_check.py'), specFile, samplesFile]);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
});
