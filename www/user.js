//! The signed-in user's card, on the package's sign-in surface.
//!
//! The session cookie (HttpOnly, on the broker) is the truth: on load the card
//! asks `getUser()`, so it is right on any replica and port of the site, and
//! nothing about the session is kept in the page or in storage. Asking while
//! signed out costs one 401, which Chromium logs as a network line. Sign-in and
//! sign-out reach the other tabs through `onSessionChange`, without a reload.
//! The user's token comes from the package's user client (`getUserClient()`),
//! in memory only, and `logout()` drops it in every tab.
import { getUser, getUserClient, login, loginUrl, logout, onSessionChange } from 'token-wasm';
import { $, STATUS_TEXT, mask, renderTokenPanel, setBadge, setText } from './view.js';

/**
 * The user's card; calls `render` when anything it shows changes. Returns its
 * `render(now)`, the `poll()` to run while its requests fail, and `start()`
 * for page load.
 */
export function createUser({ render }) {
  /** The user's token: cookie-authenticated, renewed ahead of its expiry, dropped by `logout()` in every tab. */
  const userClient = getUserClient();

  const user = {
    /** `signed-out`, `checking` (asking the broker), or `signed-in`. */
    state: 'checking',
    /** `getUser()`: `{ sub, name, preferred_username, email }` from the provider. */
    profile: null,
    /** The client's cached token, for the masked prefix; `null` when dropped. */
    token: null,
    shownPrefix: null,
    lifetimeMs: 0,
    /** A sign-out or profile failure, in words; token failures are in the client's state. */
    problem: null,
  };

  userClient.onTokenChange((token, state) => {
    user.token = token;
    if (token) user.lifetimeMs = Math.max(1, (state?.expiresAt ?? Date.now()) - Date.now());
    render();
  });
  // `login_required`, also from a background refresh, means the session may be
  // gone: ask the broker rather than guess. Handled after the client has settled.
  userClient.onError((error) => {
    if (error.code === 'login_required' && user.state === 'signed-in') queueMicrotask(checkSession);
    render();
  });

  /** Forget the user here. No request: the session is known to be over. */
  function signedOut() {
    user.state = 'signed-out';
    user.profile = null;
    user.problem = null;
    userClient.clear();
    render();
  }

  /** Asks the broker who is signed in, then gets the user's token. One at a time. */
  let checking = null;
  function checkSession() {
    checking ??= (async () => {
      if (user.state !== 'signed-in') user.state = 'checking';
      render();
      let profile;
      try {
        profile = await getUser();
      } catch (error) {
        // The broker can't say: keep what is shown, say why; poll() asks again.
        user.problem = `Couldn’t check your sign-in (${error.message}).`;
        return;
      }
      if (profile === null) return signedOut();
      user.state = 'signed-in';
      user.profile = profile;
      user.problem = null;
      try {
        await userClient.getAccessToken();
      } catch {
        // Shown from the client's state; login_required re-checks through onError.
      }
    })().finally(() => {
      checking = null;
      render();
    });
    return checking;
  }

  // Another tab signed in or out (or a check here found the session changed).
  onSessionChange(({ authenticated, source }) => {
    if (!authenticated) signedOut();
    else if (source === 'other-tab' && user.state !== 'signed-in') checkSession();
  });

  /** Back to the page while signed in: the session may have ended elsewhere (another port, another browser tab of it). */
  function recheck() {
    if (document.visibilityState === 'hidden' || user.state !== 'signed-in') return;
    checkSession();
  }

  /** While the broker can't be asked, or a token request fails for another reason than `login_required`, keep asking. */
  function pollUser() {
    if (checking || user.state === 'signed-out') return;
    const { status, lastError } = userClient.getState();
    const isFailing = user.problem !== null || user.state === 'checking'
      || (status === 'error' && lastError?.code !== 'login_required');
    if (isFailing) checkSession();
  }

  $('sign-in').addEventListener('click', (event) => {
    // A real link (middle-click, copy), but the package decides where sign-in goes.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    login();
  });

  $('sign-out').addEventListener('click', async () => {
    const button = $('sign-out');
    button.disabled = true;
    try {
      await logout();
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
      : user.state === 'checking' ? 'Asking the broker who is signed in…'
        : 'Sign in to get an access token of your own, issued for you and renewed with your session.'));
    $('sign-in').hidden = user.state !== 'signed-out';
    $('sign-out').hidden = !isSignedIn;

    renderTokenPanel('user-token', { prefix, state, lifetimeMs: user.lifetimeMs, now });
  }

  /** The page's start: point the Sign in link back here, ask the broker. */
  function start() {
    // Where `login()` goes: sign-in, then back to this page (and its test hooks).
    $('sign-in').href = loginUrl();
    checkSession();
  }

  return { render: renderUser, poll: pollUser, start };
}
