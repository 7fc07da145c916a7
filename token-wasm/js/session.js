// The sign-in surface for the broker's sign-in routes: `login`, `logout`,
// `isAuthenticated`, `getUser`, `onSessionChange`, and the user-token client.
// The session cookie (HttpOnly, on the broker) is the truth: nothing here is
// stored in the page, every question is asked of the backend. Sign-in and
// sign-out are told to the other tabs over a BroadcastChannel.
//
// Endings that happen elsewhere (another device, the provider's back-channel
// logout, an administrator, the session's lifetime) come from the broker's
// event stream (`events` route, Server-Sent Events): one per browser, held by
// the tab that holds the Web Lock `token-wasm:session-events` and relayed to
// the others over the channel. When that tab closes, the browser gives the
// lock to the next, which opens its own stream; the stream's first event is
// the current state, so an ending during the hand-over is not missed. Idle,
// a browser holds one open connection while signed in and none while signed
// out: the stream is opened only once the tab knows it is signed in (a
// `getUser` answer, another tab's sign-in, a user token), and closes after
// saying "signed out".
//
// Plain JS rather than wasm: it navigates, makes two fetches and relays
// events, with no decision the wasm client could share; in the wasm it would
// cost download size for nothing.
import { TokenClient } from './client.js';
import { HTTP, INVALID_OPTIONS, INVALID_RESPONSE, NETWORK, TokenError } from './error.js';
import { dispatch, subscribe } from './listeners.js';

const DEFAULT_ROUTES = Object.freeze({
  login: '/auth/login',
  logout: '/auth/logout',
  user: '/api/user/me',
  userToken: '/api/user/token',
  events: '/api/user/session/events',
});

/** Held by the one tab that keeps the browser's event stream open. */
const EVENTS_LOCK = 'token-wasm:session-events';
/** After the stream failed for good (an HTTP error, no such route), ask again this much later. */
const EVENTS_RETRY_MS = 30_000;

/** The CSRF proof the broker's same-site routes require. */
const SAME_SITE_HEADERS = { 'X-Requested-With': 'token-wasm', Accept: 'application/json' };

let routes = DEFAULT_ROUTES;
let userClient = null;
/** `true` / `false` once the backend answered, `null` before. */
let known = null;
const listeners = new Set();
/** Whether this tab takes part in following the session (queued for the lock or holding it). */
let isWatching = false;
/** Whether this tab holds the lock: it keeps the stream while signed in. */
let isLeader = false;
/** The open `EventSource`, or `null`. */
let stream = null;
let retryTimer = null;
/** Whether the user client got a token since the last sign-out: a session exists. */
let hasUserToken = false;
/**
 * While a sign-out started by a tab is under way: `'logout'` (this tab) or
 * `'other-tab'`, so the stream's report of that same ending keeps its source.
 */
let signingOut = null;

const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('token-wasm:session') : null;
// Node has BroadcastChannel too; there it must not keep the process alive.
channel?.unref?.();
if (channel) {
  channel.onmessage = ({ data }) => {
    if (data?.kind === 'signed-out') signedOut(data.source === 'server' ? 'server' : 'other-tab');
    else if (data?.kind === 'signed-in') changed(true, null, 'other-tab');
    else if (data?.kind === 'signing-out') signingOut ??= 'other-tab';
    else if (data?.kind === 'sign-out-failed' && signingOut === 'other-tab') signingOut = null;
  };
}

/** Tell the listeners, once per change; a sign-in reopens the leader's stream. */
function changed(authenticated, user, source) {
  if (known === authenticated) return;
  known = authenticated;
  if (authenticated) openStream();
  dispatch(listeners, { authenticated, user, source });
}

/**
 * Joins the tabs that follow the session, once per page: the lock holder
 * opens the stream. Without Web Locks or BroadcastChannel every tab keeps its
 * own; without EventSource or a page (Node, workers) nothing is followed.
 */
function watchSession() {
  if (isWatching || typeof EventSource !== 'function' || !hasPage()) return;
  isWatching = true;
  const locks = globalThis.navigator?.locks;
  const lead = () => { isLeader = true; openStream(); };
  if (channel && typeof locks?.request === 'function') {
    // Never released by this tab: the browser releases it when the tab goes.
    locks.request(EVENTS_LOCK, () => { lead(); return new Promise(() => {}); }).catch(() => {});
  } else {
    lead();
  }
}

function openStream() {
  const isSignedIn = known === true || (known === null && hasUserToken);
  if (!isLeader || stream !== null || !isSignedIn) return;
  clearTimeout(retryTimer);
  const source = new EventSource(routes.events);
  stream = source;
  source.addEventListener('session', ({ data }) => {
    let authenticated;
    try { ({ authenticated } = JSON.parse(data)); } catch { return; }
    if (authenticated !== false) return;
    // The broker closes the stream after this; no reconnecting until a sign-in.
    closeStream();
    if (known === false) return;
    const source = signingOut ?? 'server';
    signedOut(source);
    if (source === 'server') channel?.postMessage({ kind: 'signed-out', source });
  });
  // A dropped connection is retried by EventSource itself (after the broker's
  // `retry`); an HTTP error ends it for good, so ask again later.
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED || stream !== source) return;
    stream = null;
    retryTimer = setTimeout(openStream, EVENTS_RETRY_MS);
  };
}

function closeStream() {
  stream?.close();
  stream = null;
}

function signedOut(source) {
  userClient?.clear();
  hasUserToken = false;
  signingOut = null;
  closeStream();
  changed(false, null, source);
}

/**
 * Set the sign-in routes (any left out keep their defaults). The user-token
 * client is replaced and its token dropped.
 */
export function configureSession(options = {}) {
  const next = { ...DEFAULT_ROUTES };
  for (const [name, value] of Object.entries(options.routes ?? {})) {
    if (!(name in DEFAULT_ROUTES)) {
      throw new TokenError(`unknown route ${name} (expected ${Object.keys(DEFAULT_ROUTES).join(', ')})`, INVALID_OPTIONS);
    }
    if (typeof value !== 'string' || value === '') {
      throw new TokenError(`route ${name} must be a non-empty string`, INVALID_OPTIONS);
    }
    next[name] = value;
  }
  routes = Object.freeze(next);
  userClient?.clear();
  userClient = null;
  if (stream !== null) {
    closeStream();
    openStream();
  }
}

/** The routes in use. */
export function getSessionRoutes() {
  return routes;
}

/** The signed-in user's token client (route `userToken`, renewed ahead of expiry); created on first use. */
export function getUserClient() {
  watchSession();
  if (userClient === null) {
    userClient = new TokenClient({ endpoint: routes.userToken, credentials: 'same-origin', refreshAhead: true });
    userClient.onTokenChange((token) => {
      if (token === null || hasUserToken) return;
      hasUserToken = true;
      openStream();
    });
  }
  return userClient;
}

/**
 * Where `login()` navigates: the sign-in route with `?return_to=` (default:
 * this page), for links that should also work with a middle click.
 */
export function loginUrl({ returnTo } = {}) {
  const back = returnTo ?? (hasPage() ? `${location.pathname}${location.search}${location.hash}` : null);
  if (back === null) throw new TokenError('login needs a browser page, or a returnTo path', INVALID_OPTIONS);
  return `${routes.login}?return_to=${encodeURIComponent(back)}`;
}

/** Navigate to sign-in; the broker brings the browser back to `returnTo` (default: this page). */
export function login(options) {
  const url = loginUrl(options);
  if (!hasPage()) throw new TokenError('login() navigates, which needs a browser page', INVALID_OPTIONS);
  location.assign(url);
}

/** Whether there is a page to navigate (not Node, server-side rendering or a worker). */
const hasPage = () => typeof location === 'object' && location !== null && typeof location.assign === 'function';

/**
 * Sign out: ends the session on the broker (POST with the CSRF header),
 * drops the user's token here and in the other tabs, and tells the
 * `onSessionChange` listeners of every tab. When the broker answers with the
 * provider's end-session URL (RP-initiated logout), navigates there so the
 * provider's session ends too, unless `endSession` is `false`. Rejects with a
 * `TokenError` if the broker did not confirm.
 */
export async function logout({ endSession = true } = {}) {
  if (typeof endSession !== 'boolean') throw new TokenError('endSession must be true or false', INVALID_OPTIONS);
  let response;
  signingOut = 'logout';
  channel?.postMessage({ kind: 'signing-out' });
  const failed = (error) => {
    signingOut = null;
    channel?.postMessage({ kind: 'sign-out-failed' });
    return error;
  };
  try {
    response = await fetch(routes.logout, { method: 'POST', credentials: 'same-origin', headers: SAME_SITE_HEADERS });
  } catch (cause) {
    throw failed(new TokenError('Sign-out request failed', NETWORK, { cause }));
  }
  if (!response.ok) throw failed(new TokenError(`Sign-out failed (HTTP ${response.status})`, HTTP, { status: response.status }));
  // 204: nothing more to do; 200: `{"end_session_url"}`. The session here has
  // ended either way, so an unreadable body only loses the provider's sign-out.
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  signedOut('logout');
  channel?.postMessage({ kind: 'signed-out' });
  const target = endSessionTarget(body?.end_session_url);
  if (endSession && target !== null && hasPage()) location.assign(target);
}

/** The provider's end-session URL if it is an http(s) URL (never `javascript:`), else `null`. */
function endSessionTarget(raw) {
  if (typeof raw !== 'string') return null;
  try {
    const url = new URL(raw, hasPage() ? location.href : undefined);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * The signed-in user's claims from the broker (`sub`, `name`, `email`, …),
 * or `null` when nobody is signed in. Rejects with a `TokenError` when the
 * broker cannot be asked or answers with another error.
 */
export async function getUser() {
  watchSession();
  let response;
  try {
    response = await fetch(routes.user, { credentials: 'same-origin', headers: SAME_SITE_HEADERS, cache: 'no-store' });
  } catch (cause) {
    throw new TokenError('Could not reach the sign-in routes', NETWORK, { cause });
  }
  if (response.status === 401) {
    // Read nothing of the body, but release it: an unread body keeps the
    // response open in the browser (and in test drivers waiting for it).
    response.body?.cancel().catch(() => {});
    if (known !== false) signedOut('check');
    return null;
  }
  const body = await response.json().catch(() => null);
  if (!response.ok || body === null || typeof body !== 'object') {
    throw new TokenError(`Could not read the signed-in user (HTTP ${response.status})`, response.ok ? INVALID_RESPONSE : HTTP, {
      status: response.status, error: body?.error, error_description: body?.error_description,
    });
  }
  if (known !== true) {
    changed(true, body, 'check');
    channel?.postMessage({ kind: 'signed-in' });
  }
  return body;
}

/** Whether the broker has a signed-in session for this browser. */
export async function isAuthenticated() {
  return (await getUser()) !== null;
}

/**
 * `listener({ authenticated, user, source })` when this tab learns that the
 * session changed: `source` is `'check'` (a `getUser`/`isAuthenticated`
 * answer differed), `'logout'` (this tab signed out), `'other-tab'` or
 * `'server'` (the broker's event stream said the session ended: a sign-out
 * elsewhere, the provider, an administrator, its lifetime). Subscribing starts
 * following the session. Returns an unsubscribe function.
 */
export function onSessionChange(listener) {
  const unsubscribe = subscribe(listeners, listener);
  watchSession();
  return unsubscribe;
}
