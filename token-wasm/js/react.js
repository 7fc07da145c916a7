// `token-wasm/react`: React hooks over the package's stores (stores.js).
// React is an optional peer dependency; the main entry stays framework-free.
import { useSyncExternalStore } from 'react';
import { sessionStore, tokenStore } from './stores.js';

/**
 * A usable access token of `client` (default: the default client), kept
 * renewed while the component is mounted: `{ token, isLoading, error, state }`.
 * Components using one client share one request.
 *
 * @example
 * function Viewer() {
 *   const { token, isLoading, error } = useAccessToken();
 *   if (error) return <p>{error.message}</p>;
 *   return isLoading ? <p>Loading…</p> : <Model token={token} />;
 * }
 */
export function useAccessToken(client) {
  const store = tokenStore(client);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
}

/**
 * The signed-in user, asked of the broker once per page and kept in step with
 * sign-in and sign-out in every tab: `{ user, isAuthenticated, isLoading,
 * error, login, logout }`.
 *
 * @example
 * function Account() {
 *   const { user, isAuthenticated, isLoading, login, logout } = useSession();
 *   if (isLoading) return null;
 *   return isAuthenticated
 *     ? <button onClick={() => logout()}>Sign out {user.name}</button>
 *     : <button onClick={() => login()}>Sign in</button>;
 * }
 */
export function useSession() {
  const store = sessionStore();
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
}
