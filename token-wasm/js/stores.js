// Framework-free stores behind the React hooks (react.js) and the Vue
// composables (vue.js): `subscribe(listener)` returns its unsubscribe, and
// `getSnapshot()` returns the same frozen object until something in it changes,
// which is what React's `useSyncExternalStore` requires (a new object on every
// read makes it re-render forever).
//
// They import the package by its name: the build points that import at the
// entry of the same export condition (index.js or embedded.js), so a binding
// and the app share one module, one default client and one session.
import { getDefaultClient, getUser, login, logout, onSessionChange } from 'token-wasm';

/** What a binding shows before the browser runs it (server-side rendering). */
const SERVER_TOKEN = Object.freeze({ token: null, isLoading: true, error: null, state: null });

const tokenStores = new WeakMap();

/** The store of `client`'s token (default: the default client), one per client. */
export function tokenStore(client = getDefaultClient()) {
  let store = tokenStores.get(client);
  if (!store) tokenStores.set(client, (store = createTokenStore(client)));
  return store;
}

/**
 * While anyone is subscribed, keeps a usable token of `client`: the viewer
 * form of `getAccessToken` tells how long the token may be used, and the store
 * asks again when that runs out, so a shown token is never past its leeway.
 * Many components (and StrictMode's double mount) share one loop, and the
 * client's single-flight makes one request for all of them.
 */
function createTokenStore(client) {
  const listeners = new Set();
  let token = null;
  let error = null;
  let snapshot = null;
  let isAsking = false;
  let timer = null;

  const notify = () => { for (const listener of [...listeners]) listener(); };

  function ask() {
    clearTimeout(timer);
    timer = null;
    if (isAsking || listeners.size === 0) return;
    isAsking = true;
    client.getAccessToken((next, expiresInSeconds) => {
      isAsking = false;
      token = next;
      error = null;
      notify();
      if (listeners.size) timer = setTimeout(ask, expiresInSeconds * 1000);
    }).catch((failure) => {
      // Final failures only (sign-in required, bad options, no module): the
      // viewer form retries the others itself, reporting them to onError.
      isAsking = false;
      error = failure;
      notify();
    });
  }

  client.onTokenChange((next) => {
    token = next;
    if (next !== null) error = null;
    notify();
    // Dropped (`clear()`, sign-out): ask again, which gets a new token or
    // says why there is none; on the next task, so that a component that
    // the same change unmounts (the user's token after sign-out; React and
    // Vue re-render in a microtask) has unsubscribed and asks nothing.
    if (next === null) setTimeout(ask, 0);
  });
  client.onError((failure) => {
    error = failure;
    notify();
  });

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (listeners.size === 1) ask();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          clearTimeout(timer);
          timer = null;
        }
      };
    },
    getSnapshot() {
      const state = client.getState();
      if (snapshot === null || snapshot.token !== token || snapshot.error !== error || snapshot.state !== state) {
        snapshot = Object.freeze({ token, isLoading: token === null && error === null, error, state });
      }
      return snapshot;
    },
    getServerSnapshot: () => SERVER_TOKEN,
  };
}

let session = null;

/** The store of the signed-in user, one per page. */
export function sessionStore() {
  return (session ??= createSessionStore());
}

/**
 * Asks the broker who is signed in when the first subscriber comes (once, not
 * per component or mount), and follows `onSessionChange` after that (sign-out
 * here or in another tab, sign-in in another tab).
 */
function createSessionStore() {
  const listeners = new Set();
  const actions = { login, logout };
  const serverSnapshot = Object.freeze({ user: null, isAuthenticated: false, isLoading: true, error: null, ...actions });
  let current = { user: null, isAuthenticated: false, isLoading: true, error: null };
  let snapshot = serverSnapshot;
  let checking = null;
  let hasAsked = false;

  function update(next) {
    current = { ...current, ...next };
    snapshot = Object.freeze({ ...current, ...actions });
    for (const listener of [...listeners]) listener();
  }

  function check() {
    checking ??= getUser().then(
      (user) => update({ user, isAuthenticated: user !== null, isLoading: false, error: null }),
      (error) => update({ isLoading: false, error }),
    ).finally(() => { checking = null; });
  }

  onSessionChange(({ authenticated, user }) => {
    if (!authenticated) update({ user: null, isAuthenticated: false, isLoading: false, error: null });
    else if (user) update({ user, isAuthenticated: true, isLoading: false, error: null });
    else check();
  });

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!hasAsked) {
        hasAsked = true;
        check();
      }
      return () => { listeners.delete(listener); };
    },
    getSnapshot: () => snapshot,
    getServerSnapshot: () => serverSnapshot,
  };
}
