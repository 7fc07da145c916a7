// The sign-in surface for the broker's sign-in routes: `login`, `logout`,
// `isAuthenticated`, `getUser`, `onSessionChange`, and the user-token client.
// The session cookie (HttpOnly, on the broker) is the truth: nothing here is
// stored in the page, every question is asked of the backend. Sign-in and
// sign-out are told to the other tabs over a BroadcastChannel.
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
});

/** The CSRF proof the broker's same-site routes require. */
const SAME_SITE_HEADERS = { 'X-Requested-With': 'token-wasm', Accept: 'application/json' };

let routes = DEFAULT_ROUTES;
let userClient = null;
/** `true` / `false` once the backend answered, `null` before. */
let known = null;
const listeners = new Set();

/** The channel to the other tabs, opened by the first session call (not at import: an app that never calls one pays nothing). */
let channel;

/** The channel to the other tabs (`null` where there is none), opened on first use. */
function tabs() {
  if (channel !== undefined) return channel;
  channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('token-wasm:session') : null;
  // Node has BroadcastChannel too; there it must not keep the process alive.
  channel?.unref?.();
  if (channel) {
    channel.onmessage = ({ data }) => {
      if (data?.kind === 'signed-out') signedOut('other-tab');
      else if (data?.kind === 'signed-in') changed(true, null, 'other-tab');
    };
  }
  return channel;
}

/** Tell the listeners, once per change. */
function changed(authenticated, user, source) {
  if (known === authenticated) return;
  known = authenticated;
  dispatch(listeners, { authenticated, user, source });
}

function signedOut(source) {
  userClient?.clear();
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
}

/** The routes in use. */
export function getSessionRoutes() {
  return routes;
}

/** The signed-in user's token client (route `userToken`, renewed ahead of expiry); created on first use. */
export function getUserClient() {
  tabs();
  return (userClient ??= new TokenClient({ endpoint: routes.userToken, credentials: 'same-origin', refreshAhead: true }));
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
  try {
    response = await fetch(routes.logout, { method: 'POST', credentials: 'same-origin', headers: SAME_SITE_HEADERS });
  } catch (cause) {
    throw new TokenError('Sign-out request failed', NETWORK, { cause });
  }
  if (!response.ok) throw new TokenError(`Sign-out failed (HTTP ${response.status})`, HTTP, { status: response.status });
  // 204: nothing more to do; 200: `{"end_session_url"}`. The session here has
  // ended either way, so an unreadable body only loses the provider's sign-out.
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  signedOut('logout');
  tabs()?.postMessage({ kind: 'signed-out' });
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
  tabs();
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
    tabs()?.postMessage({ kind: 'signed-in' });
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
 * answer differed), `'logout'` (this tab signed out) or `'other-tab'`.
 * Returns an unsubscribe function.
 */
export function onSessionChange(listener) {
  tabs();
  return subscribe(listeners, listener);
}
