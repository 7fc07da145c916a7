//! The signed-in user's card.
//!
//! Only the server knows whether there is a session (its cookie is HttpOnly),
//! and asking while signed out costs a 401, which the browser logs as an error.
//! So the page asks only when it has a reason to think the user signed in: the
//! Sign in link sends `return_to=/?signed_in=1`, and the broker redirects there
//! only after a completed sign-in. That hint is kept in localStorage (shared by
//! tabs, like the cookie) and dropped on sign-out or on the first
//! `login_required`, so a stale hint costs one 401, once. The token itself
//! lives in the client's memory only.
import { TokenClient } from 'token-wasm';
import { $, STATUS_TEXT, mask, renderTokenPanel, setBadge, setText } from './view.js';

/** localStorage key of the "this browser has signed in" hint. Not a secret:
 *  it only decides whether asking the server is worth a request. */
const SIGNED_IN_HINT = 'token-demo.signed-in';
/** The query parameter the Sign in link asks the broker to come back with. */
const SIGNED_IN_PARAM = 'signed_in';

/**
 * The user's card and its own token client (with the page's `options`); calls
 * `render` when anything it shows changes. Returns its `render(now)`, the
 * `poll()` to run while its requests fail, and `start(params)` for page load.
 */
export function createUser({ options, render }) {
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

    renderTokenPanel('user-token', { prefix, state, lifetimeMs: user.lifetimeMs, now });
  }

  /** The page's start: take the sign-in hint from the URL, point the Sign in link back here, check. */
  function start(params) {
    const hasReturnedFromSignIn = params.has(SIGNED_IN_PARAM);
    if (hasReturnedFromSignIn) {
      hint.set();
      // Consumed: a reload or a bookmark should not carry it.
      params.delete(SIGNED_IN_PARAM);
      history.replaceState(history.state, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
    }
    $('sign-in').href = signInHref();
    if (hasReturnedFromSignIn || hint.isSet()) checkSession();
  }

  return { render: renderUser, poll: pollUser, start };
}
