/**
 * token-wasm: access tokens for browser apps and the Autodesk Viewer, cached in
 * memory, fetched once for any number of concurrent callers, retried with
 * backoff, refreshed before expiry. Importing the module loads the wasm
 * (top-level await); no init call is needed. Importing never throws outside a
 * browser (Node, server-side rendering).
 */

/** Stable error codes of {@link TokenError}. */
export type TokenErrorCode =
  /** No response at all (offline, DNS, CORS, connection reset). */
  | 'network'
  /** No complete response within `timeoutMs`. */
  | 'timeout'
  /** An error status other than 401 (`status`, `error`, `error_description` tell more). */
  | 'http'
  /** A 2xx answer without a usable `access_token` / `expires_in`. */
  | 'invalid_response'
  /** HTTP 401: the user must sign in (user-token routes). */
  | 'login_required'
  /**
   * Bad options for `configure` / `new TokenClient`, a non-function listener,
   * or an endpoint that cannot be requested where the code runs (a relative
   * URL in Node / server-side rendering: configure an absolute one there).
   */
  | 'invalid_options';

/** Why a token could not be obtained. A real `Error`: `err instanceof Error` is true. */
export class TokenError extends Error {
  constructor(
    message: string,
    code: TokenErrorCode,
    details?: { status?: number; error?: string; error_description?: string; cause?: unknown },
  );
  readonly name: 'TokenError';
  readonly code: TokenErrorCode;
  /** HTTP status, where there was a response; otherwise `null`. */
  readonly status: number | null;
  /** The server's `error` field (e.g. `upstream_rejected`, `login_required`), or `null`. */
  readonly error: string | null;
  /** The server's `error_description`, or `null`. */
  readonly error_description: string | null;
  /** The underlying exception (e.g. fetch's `TypeError`), if any. */
  readonly cause?: unknown;
}

export interface TokenClientOptions {
  /** Token route. Default `/api/token`. */
  endpoint?: string;
  /**
   * Stop handing out a token this many seconds before it expires. Default 60.
   * A token that arrives with no more remaining life than this uses half its
   * remaining life instead (for caching, `expiresInSeconds` and refresh-ahead):
   * a 45 s token with leeway 60 is reused for ~22 s and the Viewer is told ~22.
   */
  leewaySeconds?: number;
  /** `fetch` credentials mode. Default `'same-origin'` (sends the session cookie to your own origin). */
  credentials?: 'omit' | 'same-origin' | 'include';
  /** Extra request headers. `X-Requested-With: token-wasm` is always sent. */
  headers?: Record<string, string> | [string, string][] | Headers;
  /** Abort one attempt after this many ms. Default 10000. */
  timeoutMs?: number;
  /** Extra attempts after a network error, timeout or 5xx (not 4xx). Integer 0–10, default 2. */
  retries?: number;
  /** Base of the jittered exponential backoff between attempts, in ms. Default 300. */
  retryDelayMs?: number;
  /** Fetch a new token shortly before the cached one stops being handed out. Default false. */
  refreshAhead?: boolean;
  /**
   * Share one token with the other tabs of this origin that use the same
   * endpoint (Web Locks + BroadcastChannel, memory to memory): however many
   * tabs need a token, one request is made. Default true; where the browser
   * lacks these APIs each tab works alone. Turn off when tabs send different
   * `headers` to one endpoint and must not share tokens.
   */
  shareAcrossTabs?: boolean;
}

/** What a UI may show. Never contains the token. */
export interface TokenState {
  status: 'empty' | 'fresh' | 'refreshing' | 'error';
  /** Epoch ms at which the cached token expires, or `null`. */
  expiresAt: number | null;
  /** Token requests this client made (one per shared request; retries inside it, and tokens adopted from another tab, not counted). */
  fetches: number;
  /** Calls answered from the cache. */
  cacheHits: number;
  /** The last failure, kept after later successes; `null` if none. */
  lastError: { code: TokenErrorCode; message: string; status: number | null } | null;
}

/** The Autodesk Viewer's `getAccessToken` callback. */
export type OnTokenReady = (token: string, expiresInSeconds: number) => void;

export class TokenClient {
  /** @throws {TokenError} with code `invalid_options`. */
  constructor(options?: TokenClientOptions);
  /** A usable token: cached, shared with a request in flight, or freshly fetched. */
  getAccessToken(): Promise<string>;
  /**
   * Viewer form: calls `onReady(token, expiresInSeconds)` (lifetime minus the
   * effective leeway, see `leewaySeconds`; floored, at least 1: a cached
   * token with less than a second left is replaced first). Never
   * gives up: retries with backoff (≤ 30 s) and reports each failure to
   * `onError` listeners. Resolves after `onReady` ran. The exceptions are
   * `login_required` (user-token routes): retrying can't sign the user in, so
   * the promise rejects with that `TokenError`; call again after sign-in; and
   * `invalid_options` for an endpoint that cannot be requested (a relative
   * URL outside a browser page).
   */
  getAccessToken(onReady: OnTokenReady): Promise<void>;
  /** `fetch` with `Authorization: Bearer <token>`; after a 401, retried once with a fresh token. */
  authorizedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Called when the cached token changes (`null` when dropped). Returns an unsubscribe function. */
  onTokenChange(listener: (token: string | null, state: TokenState) => void): () => void;
  /** Called with every failed token request. Returns an unsubscribe function. */
  onError(listener: (error: TokenError) => void): () => void;
  /** Forget the cached token (e.g. on sign-out). */
  clear(): void;
  /** A fresh snapshot on every read. */
  readonly state: TokenState;
  getState(): TokenState;
}

/** The default client (endpoint `/api/token`), created on first use. */
export function getDefaultClient(): TokenClient;
/** Replace the default client with one using these options. @throws {TokenError} `invalid_options`. */
export function configure(options: TokenClientOptions): void;
/** Default client's token; pass it as the Viewer's `getAccessToken` option as is. */
export function getAccessToken(): Promise<string>;
export function getAccessToken(onReady: OnTokenReady): Promise<void>;
export function authorizedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
export function onTokenChange(listener: (token: string | null, state: TokenState) => void): () => void;
export function onError(listener: (error: TokenError) => void): () => void;
export function clear(): void;
export function getState(): TokenState;

/** The broker's sign-in routes, relative to the page or absolute. */
export interface SessionRoutes {
  /** Navigated to by `login()`, with `?return_to=`. Default `/auth/login`. */
  login: string;
  /** Posted to by `logout()`. Default `/auth/logout`. */
  logout: string;
  /** Asked by `getUser()` / `isAuthenticated()`. Default `/api/user/me`. */
  user: string;
  /** The user-token route of `getUserClient()`. Default `/api/user/token`. */
  userToken: string;
}

/** The signed-in user's claims as the broker returns them (`/api/user/me`). */
export interface User {
  sub: string;
  name?: string;
  preferred_username?: string;
  email?: string;
  [claim: string]: unknown;
}

/** What `onSessionChange` listeners receive. */
export interface SessionChange {
  authenticated: boolean;
  /** The user's claims when a `getUser()` in this tab found them; otherwise `null`. */
  user: User | null;
  /** `'check'`: a `getUser`/`isAuthenticated` answer differed; `'logout'`: this tab signed out; `'other-tab'`: another tab signed in or out. */
  source: 'check' | 'logout' | 'other-tab';
}

/** Set the sign-in routes (left-out ones keep their defaults); drops the user-token client. @throws {TokenError} `invalid_options`. */
export function configureSession(options: { routes?: Partial<SessionRoutes> }): void;
/** The routes in use. */
export function getSessionRoutes(): Readonly<SessionRoutes>;
/** The signed-in user's token client (route `userToken`, `refreshAhead`), created on first use. */
export function getUserClient(): TokenClient;
/** Navigate to sign-in; the broker returns to `returnTo` (a same-site path; default: this page). */
export function login(options?: { returnTo?: string }): void;
/** End the session on the broker, drop user tokens here and in the other tabs, notify every tab. Rejects with `TokenError` (`network`, `http`). */
export function logout(): Promise<void>;
/** The signed-in user's claims, or `null` when nobody is signed in. Rejects with `TokenError` (`network`, `http`, `invalid_response`). */
export function getUser(): Promise<User | null>;
/** Whether the broker has a session for this browser (asks it; nothing is stored in the page). */
export function isAuthenticated(): Promise<boolean>;
/** Called when this tab learns the session changed. Returns an unsubscribe function. */
export function onSessionChange(listener: (change: SessionChange) => void): () => void;
