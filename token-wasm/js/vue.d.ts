/**
 * token-wasm/vue: Vue composables (Vue 3.3 or newer, an optional peer
 * dependency of the package).
 */
import type { ComputedRef } from 'vue';
import type { TokenClient, TokenError, TokenState, User, login, logout } from './index.js';

/** What {@link useAccessToken} returns. */
export interface AccessTokenRefs {
  /** A usable token, or `null` while loading or after a failure. */
  token: ComputedRef<string | null>;
  /** `true` until the first token or failure. */
  isLoading: ComputedRef<boolean>;
  /** The latest failure since the last token, or `null`. */
  error: ComputedRef<TokenError | null>;
  /** The client's `getState()`; `null` during server-side rendering. */
  state: ComputedRef<TokenState | null>;
}

/** What {@link useSession} returns. */
export interface SessionRefs {
  user: ComputedRef<User | null>;
  isAuthenticated: ComputedRef<boolean>;
  /** `true` until the broker answered who is signed in. */
  isLoading: ComputedRef<boolean>;
  error: ComputedRef<TokenError | null>;
  login: typeof login;
  logout: typeof logout;
}

/**
 * A usable access token of `client` (default: the default client), kept
 * renewed while the component is mounted. Components using one client share
 * one request.
 *
 * @example
 * const { token, isLoading, error } = useAccessToken();
 * // <p v-if="error">{{ error.message }}</p><Model v-else-if="!isLoading" :token="token" />
 */
export function useAccessToken(client?: TokenClient): AccessTokenRefs;

/**
 * The signed-in user, asked of the broker once per page and kept in step with
 * sign-in and sign-out in every tab, and with a session ended anywhere else
 * (another browser, the provider, its lifetime), which the broker's event
 * stream reports within seconds (see `onSessionChange`).
 *
 * @example
 * const { user, isAuthenticated, login, logout } = useSession();
 * // <button v-if="isAuthenticated" @click="logout()">Sign out {{ user?.name }}</button>
 * // <button v-else @click="login()">Sign in</button>
 */
export function useSession(): SessionRefs;
