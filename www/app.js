//! The demo page: a stand-in for the Autodesk Viewer fed through the viewer
//! callback form of `getAccessToken`, a live view of the token client's state,
//! buttons to refresh, clear and fire concurrent calls, and the signed-in
//! user's own token from a second client. This module wires the page together;
//! `viewer.js`, `model.js`, `user.js` and `view.js` hold the parts.
//!
//! Query parameter: `?leeway=S` sets `leewaySeconds` of the app token client
//! (a test hook; the user's token comes from the package's own user client).
//! `window.__viewerTokens`, `window.__panelTokens`
//! and `window.__userTokens` log what the page used and showed, as masked
//! prefixes only, so tests can check no expired token was ever used; they
//! never hold a whole token.
import { configure, getAccessToken, getState, onError, onTokenChange, clear } from 'token-wasm';
import { startModel } from './model.js';
import { createUser } from './user.js';
import { $, STATUS_TEXT, clock, formatSeconds, mask, renderTokenPanel, setBadge, setText } from './view.js';
import { createViewer } from './viewer.js';

/** While the token route fails, the panel asks again this often. */
const ERROR_POLL_MS = 3000;

const params = new URLSearchParams(location.search);
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
});
const user = createUser({ render });

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

/** Friendly words for a failure, by code and the broker's `error` field. */
function describe(error) {
  if (!error) return null;
  if (error.code === 'network') {
    return ['Can’t reach the token service', 'The backend is not answering. This page keeps trying and recovers by itself once it is back.'];
  }
  if (error.code === 'timeout') {
    return ['The token service is too slow', 'A token request timed out. Retrying automatically.'];
  }
  if (error.status === 503 || error.error === 'upstream_unavailable') {
    return ['The authorization server is unavailable', 'The broker can’t get a token right now. Retrying automatically; no action needed.'];
  }
  if (error.error === 'upstream_rejected') {
    return ['The authorization server refused the broker', 'Its client credentials were rejected. Check the broker’s configuration and log.'];
  }
  if (error.code === 'login_required') {
    return ['Sign-in required', 'This token route needs a signed-in user.'];
  }
  return ['Couldn’t get a token', `${error.message} Retrying automatically.`];
}

function render() {
  const now = Date.now();
  const state = getState();
  // Failing from the first error until a token arrives; steady across retries.
  const isFailing = state.status === 'error' || (latestError !== null && state.status !== 'fresh');

  // Token panel. An expired token is never shown, even while the backend is away.
  const isExpired = state.expiresAt === null || state.expiresAt <= now;
  const prefix = cachedToken && !isExpired ? mask(cachedToken) : null;
  if (prefix !== shownPrefix) {
    shownPrefix = prefix;
    window.__panelTokens.push({ prefix, at: now });
  }
  // Past its leeway but not yet replaced: still valid, no longer handed out.
  const status = isFailing ? 'error' : state.status === 'empty' && prefix ? 'stale' : state.status;
  setBadge($('token-status'), status, STATUS_TEXT[status]);
  renderTokenPanel('token', { prefix, state, lifetimeMs, now });
  setText($('token-hits'), String(state.cacheHits));

  // Alert and connection pill.
  const alert = $('alert');
  const words = isFailing ? describe(latestError ?? state.lastError) : null;
  alert.hidden = words === null;
  document.body.dataset.state = words ? 'error' : 'ok';
  if (words) {
    setText($('alert-title'), words[0]);
    setText($('alert-body'), words[1]);
  }
  const connection = $('connection');
  const link = words ? 'error' : viewer.token ? 'ok' : 'connecting';
  connection.dataset.state = link;
  setText($('connection-text'), { error: 'Reconnecting…', ok: 'Connected', connecting: 'Connecting…' }[link]);

  // Viewer.
  const viewport = $('viewport');
  const isAuthorized = viewer.isAuthorized(now);
  viewport.dataset.state = isAuthorized ? 'authorized' : 'waiting';
  viewport.dataset.tokenPrefix = viewer.token ? mask(viewer.token) : '';
  const overlay = !viewer.token ? (isFailing ? 'Waiting for the token service…' : 'Waiting for an access token…')
    : !isAuthorized ? (isFailing ? 'Token service unreachable · retrying…' : 'Renewing authorization…') : '';
  setText($('viewer-overlay'), overlay);
  $('viewer-overlay').hidden = overlay === '';
  const viewerState = isFailing && (!viewer.token || viewer.isRenewing) ? 'error'
    : !viewer.token ? 'empty' : viewer.isRenewing ? 'refreshing' : 'fresh';
  setBadge($('viewer-badge'), viewerState, { empty: 'Starting', error: 'Offline', refreshing: 'Renewing', fresh: 'Authorized' }[viewerState]);
  setText($('viewer-until'), viewer.token ? clock.format(viewer.authorizedUntil) : '—');
  setText($('viewer-renews'), viewer.token && !viewer.isRenewing ? formatSeconds(Math.max(0, Math.ceil((viewer.renewAt - now) / 1000))) : viewer.token ? 'now' : '—');
  setText($('viewer-count'), String(viewer.received));

  user.render(now);
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

startModel(() => viewer.isAuthorized());
viewer.authorize();
user.start();
setInterval(render, 250);
setInterval(pollWhileFailing, ERROR_POLL_MS);
setInterval(user.poll, ERROR_POLL_MS);
render();
