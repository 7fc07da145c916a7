/**
 * token-wasm/react: React hooks (React 18 or newer, an optional peer
 * dependency of the package).
 */
import type { TokenClient, TokenError, TokenState, User, login, logout } from './index.js';

/** What {@link useAccessToken} returns; the same object until something in it changes. */
export interface AccessToken {
  /** A usable token, or `null` while loading or after a failure. */
  readonly token: string | null;
  /** `true` until the first token or failure. */
  readonly isLoading: boolean;
  /** The latest failure since the last token (a failing request is retried unless it cannot succeed), or `null`. */
  readonly error: TokenError | null;
  /** The client's `getState()`; `null` during server-side rendering. */
  readonly state: TokenState | null;
}

/** What {@link useSession} returns; the same object until something in it changes. */
export interface Session {
  /** The signed-in user's claims, or `null`. */
  readonly user: User | null;
  readonly isAuthenticated: boolean;
  /** `true` until the broker answered who is signed in. */
  readonly isLoading: boolean;
  /** Why the broker could not say (`network`, `http`, `invalid_response`), or `null`. */
  readonly error: TokenError | null;
  readonly login: typeof login;
  readonly logout: typeof logout;
}

/**
 * A usable access token of `client` (default: the default client), kept
 * renewed while the component is mounted. Components using one client share
 * one request (also under StrictMode).
 *
 * @example
 * function Viewer() {
 *   const { token, isLoading, error } = useAccessToken();
 *   if (error) return <p>{error.message}</p>;
 *   return isLoading ? <p>Loading…</p> : <Model token={token} />;
 * }
 */
export function useAccessToken(client?: TokenClient): AccessToken;

/**
 * The signed-in user, asked of the broker once per page and kept in step with
 * sign-in and sign-out in every tab, and with a session ended anywhere else
 * (another browser, the provider, its lifetime), which the broker's event
 * stream reports within seconds (see `onSessionChange`).
 *
 * @example
 * function Account() {
 *   const { user, isAuthenticated, isLoading, login, logout } = useSession();
 *   if (isLoading) return null;
 *   return isAuthenticated
 *     ? <button onClick={() => logout()}>Sign out {user?.name}</button>
 *     : <button onClick={() => login()}>Sign in</button>;
 * }
 */
export function useSession(): Session;
