//! The demo page: a stand-in for the Autodesk Viewer fed through the viewer
//! callback form of `getAccessToken`, a live view of the token client's state,
//! buttons to refresh, clear and fire concurrent calls, and the signed-in
//! user's own token from a second client.
//!
//! Query parameters: `?leeway=S` sets `leewaySeconds` of both clients (a test
//! hook); `?signed_in=1` is how a completed sign-in comes back (see
//! "Signed-in user" below). `window.__viewerTokens`, `window.__panelTokens`
//! and `window.__userTokens` log what the page used and showed, as masked
//! prefixes only, so tests can check no expired token was ever used; they
//! never hold a whole token.
import { configure, getAccessToken, getState, onError, onTokenChange, clear, TokenClient } from 'token-wasm';

/** Characters of the token shown; the rest is masked. */
const PREFIX_LENGTH = 8;
/** While the token route fails, the panel asks again this often. */
const ERROR_POLL_MS = 3000;
/** Shortest wait before the viewer renews, so a token handed out with 0 s to
 *  spare cannot spin the renewal loop (it still has the leeway left to live). */
const MIN_RENEW_MS = 1000;
/** localStorage key of the "this browser has signed in" hint. Not a secret:
 *  it only decides whether asking the server is worth a request. */
const SIGNED_IN_HINT = 'token-demo.signed-in';
/** The query parameter the Sign in link asks the broker to come back with. */
const SIGNED_IN_PARAM = 'signed_in';

const $ = (id) => document.getElementById(id);
const mask = (token) => `${token.slice(0, PREFIX_LENGTH)}•••`;
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

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

// ─── Viewer stand-in ──────────────────────────────────────────────────────────

/** Mimics how the Autodesk Viewer handles its `getAccessToken` option. */
const viewer = {
  token: null,
  authorizedUntil: 0,
  renewAt: 0,
  received: 0,
  isRenewing: false,

  authorize() {
    this.isRenewing = true;
    getAccessToken((token, expiresInSeconds) => this.accept(token, expiresInSeconds));
  },

  accept(token, expiresInSeconds) {
    const now = Date.now();
    this.token = token;
    this.isRenewing = false;
    latestError = null;
    this.received += 1;
    this.authorizedUntil = now + expiresInSeconds * 1000;
    const wait = Math.max(expiresInSeconds * 1000, MIN_RENEW_MS);
    this.renewAt = now + wait;
    window.__viewerTokens.push({ prefix: mask(token), receivedAt: now, expiresIn: expiresInSeconds });
    setTimeout(() => this.authorize(), wait);
    render();
  },
};

// ─── Wireframe model ──────────────────────────────────────────────────────────

/** A small house: vertices and the edges between them. */
const MODEL = (() => {
  const v = [
    [-1, 0, -0.8], [1, 0, -0.8], [1, 0, 0.8], [-1, 0, 0.8], // floor
    [-1, 1, -0.8], [1, 1, -0.8], [1, 1, 0.8], [-1, 1, 0.8], // eaves
    [-1, 1.7, 0], [1, 1.7, 0], // ridge
    [-0.25, 0, 0.8], [0.25, 0, 0.8], [0.25, 0.65, 0.8], [-0.25, 0.65, 0.8], // door
    [0.5, 0.4, 0.8], [0.8, 0.4, 0.8], [0.8, 0.7, 0.8], [0.5, 0.7, 0.8], // window
    [1, 1.15, -0.4], [1, 1.15, 0.4], // gable vent
  ];
  const e = [
    [0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
    [0, 4], [1, 5], [2, 6], [3, 7], [4, 8], [7, 8], [5, 9], [6, 9], [8, 9],
    [10, 13], [13, 12], [12, 11], [14, 15], [15, 16], [16, 17], [17, 14], [18, 19],
  ];
  return { v, e };
})();

const canvas = $('model');
const ctx = canvas.getContext('2d');
const isStill = matchMedia('(prefers-reduced-motion: reduce)').matches;
let angle = 0.6;
let lastFrame = 0;

function resizeCanvas() {
  const ratio = window.devicePixelRatio || 1;
  const { width, height } = canvas.getBoundingClientRect();
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
}

/** Turn about the vertical axis, look down from a fixed pitch, perspective-divide. */
const PITCH = 0.42;
function project([x, y, z], w, h) {
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const x1 = x * cos - z * sin;
  const z1 = x * sin + z * cos;
  const y1 = y - 0.75;
  const y2 = y1 * Math.cos(PITCH) - z1 * Math.sin(PITCH);
  const z2 = y1 * Math.sin(PITCH) + z1 * Math.cos(PITCH);
  const scale = Math.min(w * 0.62, h) * 1.7 / (z2 + 6);
  return [w / 2 + x1 * scale, h * 0.55 - y2 * scale];
}

function draw(time) {
  const { width: w, height: h } = canvas.getBoundingClientRect();
  const isAuthorized = viewer.token !== null && Date.now() < viewer.authorizedUntil + 1000;
  if (!isStill && isAuthorized) angle += Math.min(time - lastFrame, 100) * 0.00025;
  lastFrame = time;
  ctx.clearRect(0, 0, w, h);

  ctx.lineWidth = 1;
  ctx.strokeStyle = 'rgba(148, 178, 214, 0.16)';
  for (let i = -6; i <= 6; i++) {
    line(project([i * 0.4, 0, -2.4], w, h), project([i * 0.4, 0, 2.4], w, h));
    line(project([-2.4, 0, i * 0.4], w, h), project([2.4, 0, i * 0.4], w, h));
  }

  ctx.lineWidth = 1.6;
  ctx.strokeStyle = isAuthorized ? '#7cc4ff' : 'rgba(160, 174, 192, 0.45)';
  const points = MODEL.v.map((p) => project(p, w, h));
  for (const [a, b] of MODEL.e) line(points[a], points[b]);
  requestAnimationFrame(draw);
}

function line([x1, y1], [x2, y2]) {
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
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

const STATUS_TEXT = { empty: 'Empty', fresh: 'Fresh', stale: 'Stale', refreshing: 'Refreshing', error: 'Error' };

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

function formatSeconds(seconds) {
  if (seconds <= 0) return '0 s';
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m > 0 ? `${m} min ${String(s).padStart(2, '0')} s` : `${s} s`;
}

function setBadge(element, state, text) {
  element.dataset.state = state;
  if (element.textContent !== text) element.textContent = text;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
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
  const tokenEl = $('token-prefix');
  setText(tokenEl, prefix ?? '—');
  tokenEl.dataset.prefix = prefix ?? '';
  if (prefix) {
    const left = Math.max(0, Math.floor((state.expiresAt - now) / 1000));
    setText($('token-expiry'), `${formatSeconds(left)} · at ${clock.format(state.expiresAt)}`);
    $('token-meter').style.width = `${Math.min(100, ((state.expiresAt - now) / lifetimeMs) * 100)}%`;
  } else {
    setText($('token-expiry'), '—');
    $('token-meter').style.width = '0';
  }
  setText($('token-fetches'), String(state.fetches));
  setText($('token-hits'), String(state.cacheHits));
  const errorEl = $('token-error');
  errorEl.dataset.code = state.lastError?.code ?? '';
  setText(errorEl, state.lastError
    ? `${state.lastError.code}${state.lastError.status ? ` (HTTP ${state.lastError.status})` : ''}: ${state.lastError.message}`
    : 'None');

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
  const isAuthorized = viewer.token !== null && now < viewer.authorizedUntil + MIN_RENEW_MS;
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

  renderUser(now);
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

// ─── Signed-in user ───────────────────────────────────────────────────────────
//
// Only the server knows whether there is a session (its cookie is HttpOnly),
// and asking while signed out costs a 401, which the browser logs as an error.
// So the page asks only when it has a reason to think the user signed in: the
// Sign in link sends `return_to=/?signed_in=1`, and the broker redirects there
// only after a completed sign-in. That hint is kept in localStorage (shared by
// tabs, like the cookie) and dropped on sign-out or on the first
// `login_required`, so a stale hint costs one 401, once. The token itself
// lives in the client's memory only.

/** The user's token: cookie-authenticated, renewed ahead of its expiry. */
const userClient = new TokenClient({ ...options, endpoint: '/api/user/token', credentials: 'same-origin', refreshAhead: true });

const user = {
  /** `signed-out` (no request is made), `checking`, or `signed-in`. */
  state: 'signed-out',
  /** `/api/user/me`: `{ sub, name, preferred_username, email }` from the provider. */
  profile: null,
  /** The client's cached token, for the masked prefix; `null` when dropped. */
  token: null,
  shownPrefix: null,
  lifetimeMs: 0,
  /** A sign-out or profile failure, in words; token failures are in the client's state. */
  problem: null,
};

/** Where storage throws (some private modes), the hint lasts for this page load only. */
const hint = {
  isSet() {
    try { return localStorage.getItem(SIGNED_IN_HINT) === '1'; } catch { return false; }
  },
  set() {
    try { localStorage.setItem(SIGNED_IN_HINT, '1'); } catch { /* Checked on this load only. */ }
  },
  clear() {
    try { localStorage.removeItem(SIGNED_IN_HINT); } catch { /* Nothing stored. */ }
  },
};

userClient.onTokenChange((token, state) => {
  user.token = token;
  if (token) user.lifetimeMs = Math.max(1, (state?.expiresAt ?? Date.now()) - Date.now());
  render();
});
// `login_required` is the signal that the session is gone, also when it comes
// from a background refresh. Handled after the client has settled.
userClient.onError((error) => {
  if (error.code === 'login_required') queueMicrotask(signedOut);
  render();
});

/** Forget the user here. No request: the caller knows the session is over. */
function signedOut() {
  hint.clear();
  user.state = 'signed-out';
  user.profile = null;
  user.problem = null;
  userClient.clear();
  render();
}

const SAME_SITE = { credentials: 'same-origin', headers: { 'X-Requested-With': 'token-wasm', Accept: 'application/json' } };

async function loadProfile() {
  try {
    const response = await fetch('/api/user/me', SAME_SITE);
    if (response.status === 401) return signedOut();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    user.profile = await response.json();
    user.problem = null;
  } catch (error) {
    user.problem = `Couldn’t load your profile (${error.message}).`;
  }
}

/** Asks for the user's token (the proof of a session), then the profile. One at a time. */
let checking = null;
function checkSession() {
  checking ??= (async () => {
    if (user.state === 'signed-out') user.state = 'checking';
    render();
    try {
      await userClient.getAccessToken();
    } catch (error) {
      // login_required: onError signs out. Anything else: stay in `checking`;
      // pollUser asks again, as the token panel does.
      return;
    }
    user.state = 'signed-in';
    if (!user.profile) await loadProfile();
  })().finally(() => {
    checking = null;
    render();
  });
  return checking;
}

/** Back to the page, or another tab signed in: re-check, but only with a reason to. */
function recheck() {
  if (document.visibilityState === 'hidden') return;
  if (user.state === 'signed-in' || hint.isSet()) checkSession();
}

/** While a token request fails for another reason than `login_required`, keep asking. */
function pollUser() {
  if (checking || user.state === 'signed-out') return;
  const { status, lastError } = userClient.getState();
  const isFailing = user.state === 'checking' || (status === 'error' && lastError?.code !== 'login_required');
  if (isFailing || (user.state === 'signed-in' && !user.profile)) checkSession();
}

/** The Sign in link returns to this page (and its test hooks) with the hint. */
function signInHref() {
  const back = new URL(location.href);
  back.searchParams.set(SIGNED_IN_PARAM, '1');
  return `/auth/login?return_to=${encodeURIComponent(back.pathname + back.search)}`;
}

$('sign-out').addEventListener('click', async () => {
  const button = $('sign-out');
  button.disabled = true;
  try {
    const response = await fetch('/auth/logout', { ...SAME_SITE, method: 'POST' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    signedOut();
    // The pressed button is gone; keep keyboard focus in the card.
    $('sign-in').focus();
  } catch (error) {
    user.problem = `Sign-out failed (${error.message}). Try again.`;
  } finally {
    button.disabled = false;
    render();
  }
});

addEventListener('focus', recheck);
document.addEventListener('visibilitychange', recheck);
// Another tab signed in or out: the cookie is shared, so follow it.
addEventListener('storage', (event) => {
  if (event.key !== SIGNED_IN_HINT && event.key !== null) return;
  if (hint.isSet()) checkSession();
  else if (user.state !== 'signed-out') signedOut();
});

function renderUser(now) {
  const card = $('user');
  card.dataset.state = user.state;
  const state = userClient.getState();
  const isSignedIn = user.state === 'signed-in';

  const isExpired = state.expiresAt === null || state.expiresAt <= now;
  const prefix = isSignedIn && user.token && !isExpired ? mask(user.token) : null;
  if (prefix !== user.shownPrefix) {
    user.shownPrefix = prefix;
    window.__userTokens.push({ prefix, at: now });
  }
  const isFailing = state.status === 'error' && state.lastError?.code !== 'login_required';
  const [badge, badgeText] = user.state === 'signed-out' ? ['empty', 'Not signed in']
    : isFailing ? ['error', 'Error']
      : user.state === 'checking' ? ['refreshing', 'Checking…']
        : state.status === 'empty' && prefix ? ['stale', 'Stale'] : [state.status, STATUS_TEXT[state.status]];
  setBadge($('user-token-status'), badge, badgeText);

  const profile = user.profile ?? {};
  const name = isSignedIn ? profile.name || profile.preferred_username || profile.sub || 'Signed in'
    : user.state === 'checking' ? 'Checking sign-in…' : 'Not signed in';
  setText($('user-name'), name);
  setText($('user-avatar'), isSignedIn ? [...name][0] : '');
  const detail = $('user-detail');
  detail.dataset.state = user.problem ? 'error' : '';
  setText(detail, user.problem ?? (isSignedIn ? profile.email ?? ''
    : user.state === 'checking' ? 'Asking the broker for your token…'
      : 'Sign in to get an access token of your own, issued for you and renewed with your session.'));
  $('sign-in').hidden = user.state !== 'signed-out';
  $('sign-out').hidden = !isSignedIn;

  const tokenEl = $('user-token-prefix');
  setText(tokenEl, prefix ?? '—');
  tokenEl.dataset.prefix = prefix ?? '';
  if (prefix) {
    const left = Math.max(0, Math.floor((state.expiresAt - now) / 1000));
    setText($('user-token-expiry'), `${formatSeconds(left)} · at ${clock.format(state.expiresAt)}`);
    $('user-token-meter').style.width = `${Math.min(100, ((state.expiresAt - now) / user.lifetimeMs) * 100)}%`;
  } else {
    setText($('user-token-expiry'), '—');
    $('user-token-meter').style.width = '0';
  }
  setText($('user-token-fetches'), String(state.fetches));
  const errorEl = $('user-token-error');
  errorEl.dataset.code = state.lastError?.code ?? '';
  setText(errorEl, state.lastError
    ? `${state.lastError.code}${state.lastError.status ? ` (HTTP ${state.lastError.status})` : ''}: ${state.lastError.message}`
    : 'None');
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

new ResizeObserver(resizeCanvas).observe(canvas);
resizeCanvas();
requestAnimationFrame(draw);
viewer.authorize();
const hasReturnedFromSignIn = params.has(SIGNED_IN_PARAM);
if (hasReturnedFromSignIn) {
  hint.set();
  // Consumed: a reload or a bookmark should not carry it.
  params.delete(SIGNED_IN_PARAM);
  history.replaceState(history.state, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
}
$('sign-in').href = signInHref();
if (hasReturnedFromSignIn || hint.isSet()) checkSession();
setInterval(render, 250);
setInterval(pollWhileFailing, ERROR_POLL_MS);
setInterval(pollUser, ERROR_POLL_MS);
render();
