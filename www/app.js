//! The demo page: a three.js viewer showing a 3D model from a protected API, a
//! live view of the token client's state, buttons to refresh, clear and fire
//! concurrent calls, and the signed-in user's own token from a second client.
//! The viewer loads the model in one of two modes: `token` (its authorization
//! comes through the viewer callback form of `getAccessToken`, and it calls the
//! model API with that token) or `proxy` (it calls the broker's `/api/proxy/…`
//! and this page never asks for an app token). This module wires the page
//! together; `viewer.js`, `model.js`, `scene.js`, `user.js`, `page-view.js`
//! (what to show) and `view.js` (DOM helpers) hold the parts.
//!
//! Query parameters: `?mode=token|proxy` picks the mode (the switch on the
//! page sets it); `?leeway=S` sets `leewaySeconds` of the app token client (a
//! test hook; the user's token comes from the package's own user client).
//! `window.__viewerTokens`, `window.__panelTokens` and `window.__userTokens`
//! log what the page used and showed, as masked prefixes only, so tests can
//! check no expired token was ever used; they never hold a whole token.
//! `window.__viewerScene` is `{ mode, meshes, triangles, drawn, readyMs }`
//! once the model is in the scene (mesh names, its triangles, those WebGL
//! drew, and the milliseconds since navigation began).
import { configure, getAccessToken, getState, onError, onTokenChange, clear } from 'token-wasm';
import { MODES, ModelError, fetchModel, locateModel, modeFrom } from './model.js';
import { createScene, hasWebGl } from './scene.js';
import { createUser } from './user.js';
import { pageView } from './page-view.js';
import { $, renderTokenPanel, setBadge, setText } from './view.js';
import { createViewer } from './viewer.js';

/** While the token route fails, the panel asks again this often. */
const ERROR_POLL_MS = 3000;

const params = new URLSearchParams(location.search);
const mode = modeFrom(params);
const options = {};
if (params.has('leeway')) options.leewaySeconds = Number(params.get('leeway'));
configure(options);

window.__viewerTokens = [];
window.__panelTokens = [];
window.__userTokens = [];

/** The most recent failure, from `onError` (it has the server's `error` field). */
let latestError = null;
onError((error) => { latestError = error; render(); });

const viewer = createViewer(() => {
  latestError = null;
  render();
  loadModel();
});
const user = createUser({ render });

// ─── The model ────────────────────────────────────────────────────────────────

/** Bytes shown as KiB in the model line. */
const kib = (bytes) => `${Math.round(bytes / 1024)} KiB`;

/**
 * What the viewport shows. `state`: `locating` (asking `/dev/demo.json`),
 * `loading`, `loaded`, `unavailable` (not `--dev`: there is no model) or
 * `error` (`message` says why; tried again if `isRetryable`).
 */
const model = { state: 'locating', isBusy: false, located: null, summary: '', message: '', isRetryable: false };
let scene = null;

/**
 * Locates, fetches and shows the model once: in token mode when the viewer
 * holds a token, in proxy mode right away. Called on every viewer token and
 * while a retryable failure lasts; does nothing while busy or once settled.
 */
async function loadModel() {
  const isSettled = model.state === 'loaded' || model.state === 'unavailable' || (model.state === 'error' && !model.isRetryable);
  if (model.isBusy || isSettled || (mode === 'token' && !viewer.isAuthorized())) return;
  model.isBusy = true;
  try {
    if (!hasWebGl()) throw new ModelError('This browser can’t draw WebGL 2, which the viewer needs.');
    model.located ??= await locateModel();
    model.state = 'loading';
    render();
    const started = performance.now();
    const bytes = await fetchModel(model.located, mode, viewer.token);
    scene ??= createScene($('model'));
    const { meshes, triangles, drawn } = await scene.show(bytes);
    const source = mode === 'proxy' ? model.located.proxyUrl : new URL(model.located.directUrl).host;
    model.summary = `${model.located.name} · ${meshes.length} meshes · ${triangles.toLocaleString('en')} triangles · `
      + `${kib(bytes.byteLength)} from ${source} in ${Math.round(performance.now() - started)} ms`;
    model.state = 'loaded';
    window.__viewerScene = { mode, meshes, triangles, drawn, readyMs: Math.round(performance.now()) };
  } catch (error) {
    model.state = error.isUnavailable ? 'unavailable' : 'error';
    model.isRetryable = Boolean(error.isRetryable);
    model.message = error instanceof ModelError ? error.message : `The model could not be shown: ${error.message}`;
  } finally {
    model.isBusy = false;
    render();
  }
}

// ─── Token panel and status ───────────────────────────────────────────────────

/** The token the panel shows: the client's cached token while it is unexpired. */
let cachedToken = null;
let shownPrefix = null;
/** The cached token's whole lifetime as first seen, to scale the expiry meter. */
let lifetimeMs = 0;
onTokenChange((token, state) => {
  cachedToken = token;
  if (token) {
    latestError = null;
    lifetimeMs = Math.max(1, (state?.expiresAt ?? Date.now()) - Date.now());
  }
  render();
});

/** Paints what `pageView` decided (page-view.js), then the user card. */
function render() {
  const now = Date.now();
  const state = getState();
  const view = pageView({ now, mode, state, latestError, cachedToken, model, viewer });
  if (view.token.prefix !== shownPrefix) {
    shownPrefix = view.token.prefix;
    window.__panelTokens.push({ prefix: view.token.prefix, at: now });
  }
  paintToken(view.token, state, now);
  paintAlert(view.alert, view.connection);
  paintViewer(view.viewer, view.details);
  user.render(now);
}

function paintToken(token, state, now) {
  renderTokenPanel('token', { prefix: token.prefix, state, lifetimeMs, now });
  setBadge($('token-status'), token.badge.state, token.badge.text);
  if (token.prefixText !== null) setText($('token-prefix'), token.prefixText);
  setText($('token-hits'), token.cacheHits);
}

function paintAlert(alert, connection) {
  $('alert').hidden = alert === null;
  document.body.dataset.state = alert ? 'error' : 'ok';
  if (alert) {
    setText($('alert-title'), alert.title);
    setText($('alert-body'), alert.body);
  }
  $('connection').dataset.state = connection.state;
  setText($('connection-text'), connection.text);
}

function paintViewer(shown, details) {
  const viewport = $('viewport');
  viewport.dataset.model = model.state;
  viewport.dataset.state = shown.state;
  if (shown.tokenPrefix !== undefined) viewport.dataset.tokenPrefix = shown.tokenPrefix;
  setBadge($('viewer-badge'), shown.badge.state, shown.badge.text);
  setText($('viewer-overlay'), shown.overlay);
  $('viewer-overlay').hidden = shown.overlay === '';
  setText($('viewer-tag'), details.tag);
  setText($('model-info'), details.modelInfo);
  setText($('viewer-until'), details.until);
  setText($('viewer-renews'), details.renews);
  setText($('viewer-count'), details.received);
}

/** While requests fail, keep asking so the panel recovers with the backend. */
let isPolling = false;
async function pollWhileFailing() {
  const state = getState();
  if (isPolling || state.status !== 'error') return;
  isPolling = true;
  try {
    await getAccessToken();
  } catch {
    // Already reported through onError and shown by render().
  } finally {
    isPolling = false;
    render();
  }
}

// ─── Actions ──────────────────────────────────────────────────────────────────

async function fetchQuietly() {
  try {
    await getAccessToken();
  } catch {
    // Shown through onError / state.
  }
  render();
}

$('refresh').addEventListener('click', () => {
  clear();
  render();
  fetchQuietly();
});

$('clear').addEventListener('click', () => {
  clear();
  render();
});

$('burst').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const input = $('burst-count');
  if (!input.reportValidity()) return;
  const count = Number(input.value);
  const button = $('burst-run');
  const result = $('burst-result');
  button.disabled = true;
  result.dataset.state = 'running';
  if (form.elements.cold.checked) clear();
  const before = getState().fetches;
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: count }, () => getAccessToken()));
  const elapsed = Math.round(performance.now() - started);
  const requests = getState().fetches - before;
  const tokens = new Set(outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value));
  const failed = outcomes.filter((o) => o.status === 'rejected').length;
  result.dataset.state = failed ? 'error' : 'done';
  result.dataset.requests = String(requests);
  result.textContent = `${count} ${count === 1 ? 'call' : 'calls'} → ${requests} network ${requests === 1 ? 'request' : 'requests'}, `
    + `${tokens.size} distinct ${tokens.size === 1 ? 'token' : 'tokens'}${failed ? `, ${failed} failed` : ''} · ${elapsed} ms`;
  button.disabled = false;
  render();
});

// ─── Start ────────────────────────────────────────────────────────────────────

/** The mode switch: links to this page in each mode, other parameters kept. */
function showMode() {
  for (const each of MODES) {
    const link = $(`mode-${each}`);
    const linkParams = new URLSearchParams(params);
    linkParams.set('mode', each);
    link.href = `?${linkParams}`;
    if (each === mode) link.setAttribute('aria-current', 'page');
  }
  document.body.dataset.mode = mode;
  $('viewer-note').hidden = mode !== 'token';
  $('viewer-note-proxy').hidden = mode !== 'proxy';
  setText($('token-mode'), mode === 'proxy'
    ? 'Proxy: the broker calls the model API with its own token; the page holds none'
    : 'Token: the page holds the viewer’s access token');
  if (mode === 'proxy') {
    // Proxy mode asks for no app token, not even on a click, so what the
    // panel says stays true; token mode has the client to try.
    for (const id of ['refresh', 'clear', 'burst-run', 'burst-count', 'burst-cold']) $(id).disabled = true;
    setText($('burst-result'), 'Proxy mode: this page asks for no token. Switch the viewer to Token mode to try the token client.');
  }
}

showMode();
if (mode === 'token') viewer.authorize();
else loadModel();
user.start();
setInterval(render, 250);
setInterval(pollWhileFailing, ERROR_POLL_MS);
setInterval(user.poll, ERROR_POLL_MS);
setInterval(loadModel, ERROR_POLL_MS);
render();
