//! Journey: the demo's 3D viewer loads the model from the `--dev` resource
//! server in both modes. Token mode calls the model API with the viewer's
//! access token; proxy mode goes through the broker's `/api/proxy/models/…`
//! and no response the page receives holds an access token, nor does the page
//! ask the token route for one. The scene must hold the model's meshes, as the
//! GLB itself lists them; a screenshot is kept (docs/viewer.png with
//! UPDATE_SCREENSHOT=1). Outside `--dev` the viewer says there is no model.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { makeDevModel, MODEL_PATH } from '../../scripts/make-dev-model.mjs';
import { BACKEND_BIN, ROOT, WWW_DIR, freePort, startBackend } from '../support/backend.mjs';
import { collectPageErrors, launchChromium } from '../support/chromium.mjs';
import { isSignedOutProbe } from '../support/demo.mjs';
import { isFailedLoad } from '../support/page-errors.mjs';
import { startProcess } from '../support/process.mjs';
import { maskToken } from '../support/token-traffic.mjs';
import { until } from '../support/wait.mjs';

const ARTIFACTS = join(ROOT, 'tests', 'artifacts');
/** What the dev authorization server's access tokens look like (`dev_` and 24 random characters). */
const DEV_TOKEN = /dev_[A-Za-z0-9_-]{16,}/;

/**
 * The GLB's own account of its content, read from its JSON chunk: the names
 * of the nodes that carry a mesh and the triangles of their primitives.
 */
function readGlb(bytes) {
  assert.equal(bytes.readUInt32LE(0), 0x46546c67, 'GLB magic');
  assert.equal(bytes.readUInt32LE(4), 2, 'glTF 2');
  assert.equal(bytes.readUInt32LE(8), bytes.length, 'GLB length');
  const jsonLength = bytes.readUInt32LE(12);
  assert.equal(bytes.readUInt32LE(16), 0x4e4f534a, 'first chunk is JSON');
  const gltf = JSON.parse(bytes.subarray(20, 20 + jsonLength).toString('utf8'));
  const meshNodes = gltf.nodes.filter((node) => node.mesh !== undefined);
  const triangles = meshNodes
    .flatMap((node) => gltf.meshes[node.mesh].primitives)
    .reduce((sum, primitive) => sum + gltf.accessors[primitive.indices].count / 3, 0);
  return { meshes: meshNodes.map((node) => node.name), triangles };
}

const model = readGlb(readFileSync(MODEL_PATH));

/**
 * WebGL drew the whole model in the viewer's first frame: at least its
 * triangles, at most twice as many (three.js draws double-sided transparent
 * materials, the glass, in two passes, back faces first).
 */
function assertDrewEveryTriangle(scene) {
  assert.ok(scene.drawn >= model.triangles && scene.drawn <= 2 * model.triangles,
    `WebGL drew ${scene.drawn} triangles of the model's ${model.triangles}`);
}

let backend, browser;

before(async () => {
  backend = await startBackend();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

/**
 * A page in `mode` (1280×820, no motion), in a browser context of its own:
 * tabs of one context share tokens (BroadcastChannel), and the proxy-mode page
 * must get none from a token-mode one. Every response it receives is recorded
 * (`{ url, status, headers, body }`, the body as latin1 text so any token in
 * it is plain to see), and its console errors. Resolves once the model is in
 * the scene.
 */
async function openViewer(mode) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const errors = collectPageErrors(page, isSignedOutProbe(backend));
  const responses = [];
  const reads = [];
  page.on('response', (response) => {
    reads.push(response.body().then(
      (body) => ({ body: body.toString('latin1') }),
      // Preflights and redirects have no body Playwright can read.
      () => ({ body: '' }),
    ).then(({ body }) => responses.push({ url: response.url(), status: response.status(), headers: response.headers(), body })));
  });
  const requests = [];
  page.on('request', (request) => requests.push({ url: request.url(), method: request.method(), headers: request.headers() }));
  await page.goto(`${backend.url}/?mode=${mode}`);
  await page.waitForFunction(() => window.__viewerScene
    || ['error', 'unavailable'].includes(document.getElementById('viewport').dataset.model), null, { timeout: 20_000 });
  const scene = await page.evaluate(() => window.__viewerScene ?? document.getElementById('model-info').textContent);
  assert.equal(typeof scene, 'object', `the model did not load: ${scene}`);
  await Promise.all(reads);
  return { context, page, scene, responses, requests, errors };
}

/** The committed model is what scripts/make-dev-model.mjs writes, byte for byte. */
test('committed_model_matches_its_generator', () => {
  assert.ok(makeDevModel().equals(readFileSync(MODEL_PATH)), 'backend/assets/dev-model.glb is stale: run node scripts/make-dev-model.mjs');
  assert.ok(model.meshes.length >= 10, `the model has only ${model.meshes.length} meshes`);
});

/** Token mode: the viewer's own token goes to the model API, and the scene holds every mesh of the model. */
test('token_mode_loads_the_model_with_the_viewers_token', { timeout: 60_000 }, () => backend.check(async () => {
  const { context, page, scene, requests, errors } = await openViewer('token');
  try {
    const { directUrl } = (await (await fetch(`${backend.url}/dev/demo.json`)).json()).model;
    assert.equal(scene.mode, 'token');
    assert.deepEqual(scene.meshes, model.meshes);
    assert.equal(scene.triangles, model.triangles);
    assertDrewEveryTriangle(scene);

    const modelRequests = requests.filter((r) => r.url === directUrl && r.method === 'GET');
    assert.equal(modelRequests.length, 1, `one GET of ${directUrl}: ${JSON.stringify(requests.map((r) => r.url))}`);
    const bearer = /^Bearer (.+)$/.exec(modelRequests[0].headers.authorization ?? '')?.[1];
    assert.ok(bearer, 'the model request carries a bearer token');
    const viewerTokens = await page.evaluate(() => window.__viewerTokens.map((t) => t.prefix));
    assert.ok(viewerTokens.includes(maskToken(bearer)), `the model was fetched with ${maskToken(bearer)}, the viewer held ${viewerTokens}`);
    assert.equal(await page.locator('#viewer-badge').textContent(), 'Authorized');
    assert.deepEqual(errors, [], 'console errors or uncaught exceptions');
  } finally {
    await context.close();
  }
}));

/**
 * Proxy mode: the model comes through /api/proxy/, the page never asks the
 * token route, and no response it receives (headers or body) holds the
 * broker's current token or anything shaped like a dev access token.
 */
test('proxy_mode_loads_the_model_and_the_page_never_holds_a_token', { timeout: 60_000 }, () => backend.check(async () => {
  const { context, page, scene, responses, requests, errors } = await openViewer('proxy');
  try {
    assert.equal(scene.mode, 'proxy');
    assert.deepEqual(scene.meshes, model.meshes);
    assert.equal(scene.triangles, model.triangles);
    assertDrewEveryTriangle(scene);

    const proxied = responses.filter((r) => new URL(r.url).pathname === '/api/proxy/models/building.glb');
    assert.equal(proxied.length, 1, 'the model came through the proxy once');
    assert.equal(proxied[0].status, 200);
    assert.deepEqual(requests.filter((r) => new URL(r.url).pathname === '/api/token'), [], 'the page asked the token route');
    assert.deepEqual(requests.filter((r) => r.headers.authorization), [], 'the page sent an Authorization header');

    // The token the broker attaches for the proxy: its cached two-legged token,
    // which this (Node) request gets from the same cache.
    const { access_token: brokerToken } = await (await fetch(`${backend.url}/api/token`)).json();
    assert.match(brokerToken, DEV_TOKEN, 'the dev token pattern matches a real dev token');
    for (const { url, headers, body } of responses) {
      const seen = `${JSON.stringify(headers)}\n${body}`;
      assert.ok(!seen.includes(brokerToken), `${url}: the broker's token reached the page`);
      assert.doesNotMatch(seen, DEV_TOKEN, `${url}: an access token reached the page`);
    }
    assert.equal(await page.evaluate(() => window.__viewerTokens.length), 0, 'the viewer held a token');
    assert.equal(await page.locator('#token-status').textContent(), 'None held');
    assert.equal(await page.locator('#token-prefix').getAttribute('data-prefix'), '');
    assert.equal(await page.locator('#viewer-badge').textContent(), 'Proxied');
    assert.deepEqual(errors, [], 'console errors or uncaught exceptions');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(ARTIFACTS, 'viewer.png') });
    if (process.env.UPDATE_SCREENSHOT) copyFileSync(join(ARTIFACTS, 'viewer.png'), join(ROOT, 'docs', 'viewer.png'));
  } finally {
    await context.close();
  }
}));

/**
 * A broker without `--dev` has no model and no `/dev/demo.json` route: the
 * site's own `www/dev/demo.json` tells the viewer so, which it says, with no
 * console error of its own. (Proxy mode, so the unreachable token URL is
 * never asked; the user card's 404 for `/api/user/me`, sign-in being off, is
 * that card's and expected.)
 */
test('outside_dev_the_viewer_says_there_is_no_model', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const broker = startProcess(BACKEND_BIN, [], {
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_DIR: WWW_DIR,
    OAUTH_PROVIDER: 'generic',
    OAUTH_TOKEN_URL: 'http://127.0.0.1:9/token',
    OAUTH_CLIENT_ID: 'viewer-test',
    OAUTH_CLIENT_SECRET: 'viewer-test-secret',
    RUST_LOG: 'warn',
  });
  const context = await browser.newContext();
  try {
    // Not listening yet is "not up", not a failure.
    await until('the broker to answer /healthz', () => fetch(`${url}/healthz`).then((r) => r.ok, () => false), { intervalMs: 50, timeoutMs: 15_000 })
      .catch((error) => { throw new Error(`${error.message}: the broker did not start:\n${broker.log}`); });
    const page = await context.newPage();
    const errors = collectPageErrors(page, isFailedLoad(`${url}/api/user/me`, 404));
    const located = page.waitForResponse((r) => new URL(r.url()).pathname === '/dev/demo.json');
    await page.goto(`${url}/?mode=proxy`);
    assert.equal((await located).status(), 200);
    await page.waitForFunction(() => document.getElementById('viewport').dataset.model === 'unavailable');
    assert.match(await page.locator('#viewer-overlay').textContent(), /No demo model here/);
    assert.equal(await page.locator('#viewer-badge').textContent(), 'No model');
    assert.equal(await page.evaluate(() => window.__viewerScene), undefined);
    assert.deepEqual(errors, [], 'console errors or uncaught exceptions');
  } finally {
    await context.close();
    await broker.stop();
  }
});
