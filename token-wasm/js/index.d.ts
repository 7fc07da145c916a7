/**
 * token-wasm: access tokens for browser apps and the Autodesk Viewer, cached in
 * memory, fetched once for any number of concurrent callers, retried with
 * backoff, refreshed before expiry. Importing the module starts loading the
 * wasm in the background and returns at once; no init call is needed, and the
 * first call that needs the module waits for it (a first token request goes
 * out at once, while the module loads, and a good answer reaches the callers
 * without waiting for the module). Importing never throws, in a
 * browser or outside one (Node, server-side rendering).
 *
 * The types use the fetch types (`Request`, `Response`, `RequestInit`,
 * `Headers`, `URL`): from the `DOM` lib in a browser project, from
 * `@types/node` in a Node-only one.
 *
 * @example
 * import { getAccessToken } from 'token-wasm';
 * const token = await getAccessToken(); // from GET /api/token, cached until shortly before it expires
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
   * Bad options for `configure` / `new TokenClient` (every call of that client
   * rejects with it), a non-function listener, or a call that cannot work
   * where the code runs (a relative endpoint in Node / server-side rendering:
   * configure an absolute one there; `login()` outside a browser page).
   */
  | 'invalid_options'
  /**
   * The WebAssembly module could not be loaded: a missing or mis-served
   * `token_wasm_bg.wasm`, or a Content Security Policy whose `script-src`
   * lacks `'wasm-unsafe-eval'` (the message says which).
   */
  | 'module_unavailable';

/**
 * Why a token could not be obtained. A real `Error`: `err instanceof Error` is true.
 *
 * @example
 * try {
 *   await getUserClient().getAccessToken();
 * } catch (error) {
 *   if (error instanceof TokenError && error.code === 'login_required') login();
 *   else throw error;
 * }
 */
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

/**
 * What a UI may show. Never contains the token. `getState()` returns the same
 * frozen object until one of these fields changes.
 */
export interface TokenState {
  readonly status: 'empty' | 'fresh' | 'refreshing' | 'error';
  /** Epoch ms at which the cached token expires, or `null`. */
  readonly expiresAt: number | null;
  /** Token requests this client made (one per shared request; retries inside it, and tokens adopted from another tab, not counted). */
  readonly fetches: number;
  /** Calls answered from the cache. */
  readonly cacheHits: number;
  /** The last failure, kept after later successes; `null` if none. */
  readonly lastError: { readonly code: TokenErrorCode; readonly message: string; readonly status: number | null } | null;
}

/** The Autodesk Viewer's `getAccessToken` callback. */
export type OnTokenReady = (token: string, expiresInSeconds: number) => void;

/** `fetch`'s first argument, in types that need no DOM lib. */
export type FetchInput = string | URL | Request;

/**
 * A token client for one token route. Clients of one endpoint share their
 * token across the tabs of the origin (see `shareAcrossTabs`).
 *
 * @example
 * const user = new TokenClient({ endpoint: '/api/user/token', refreshAhead: true });
 * const response = await user.authorizedFetch('https://developer.api.autodesk.com/project/v1/hubs');
 */
export class TokenClient {
  /**
   * Never throws: options are checked when the module has loaded, and bad
   * ones reject every call of this client with `invalid_options` (and show
   * in `getState().lastError`).
   */
  constructor(options?: TokenClientOptions);
  /**
   * A usable token: cached, shared with a request in flight, or freshly fetched.
   *
   * @example
   * const token = await client.getAccessToken();
   */
  getAccessToken(): Promise<string>;
  /**
   * Viewer form: calls `onReady(token, expiresInSeconds)` (lifetime minus the
   * effective leeway, see `leewaySeconds`; floored, at least 1: a cached
   * token with less than a second left is replaced first). Never
   * gives up: retries with backoff (≤ 30 s) and reports each failure to
   * `onError` listeners. Resolves after `onReady` ran. The exceptions, which
   * retrying cannot fix, reject: `login_required` (user-token routes; call
   * again after sign-in), `invalid_options` (bad options, or an endpoint that
   * cannot be requested here) and `module_unavailable`.
   *
   * @example
   * Autodesk.Viewing.Initializer({ getAccessToken: (onReady) => client.getAccessToken(onReady) }, start);
   */
  getAccessToken(onReady: OnTokenReady): Promise<void>;
  /**
   * `fetch` with `Authorization: Bearer <token>`; after a 401, retried once with a fresh token.
   *
   * @example
   * const hubs = await (await client.authorizedFetch('/api/hubs')).json();
   */
  authorizedFetch(input: FetchInput, init?: RequestInit): Promise<Response>;
  /**
   * Called when the cached token changes (`null` when dropped). Returns an unsubscribe function.
   *
   * @example
   * const stop = client.onTokenChange((token, state) => render(token !== null, state.expiresAt));
   */
  onTokenChange(listener: (token: string | null, state: TokenState) => void): () => void;
  /**
   * Called with every failed token request. Returns an unsubscribe function.
   *
   * @example
   * client.onError((error) => console.warn(error.code, error.message));
   */
  onError(listener: (error: TokenError) => void): () => void;
  /**
   * Forget the cached token (e.g. on sign-out).
   *
   * @example
   * client.clear();
   */
  clear(): void;
  /**
   * What a UI may show; the same frozen object until something in it changes,
   * so it can be a `useSyncExternalStore` snapshot.
   *
   * @example
   * const { status, expiresAt, lastError } = client.getState();
   */
  getState(): TokenState;
}

/**
 * The default client (endpoint `/api/token`), created on first use.
 *
 * @example
 * const stop = getDefaultClient().onTokenChange(render);
 */
export function getDefaultClient(): TokenClient;
/**
 * Replace the default client with one using these options (its cached token
 * is dropped; listeners on the old one are not carried over). Never throws:
 * bad options reject the default client's calls with `invalid_options`.
 *
 * @example
 * configure({ endpoint: 'https://broker.example.com/api/token', credentials: 'include' });
 */
export function configure(options: TokenClientOptions): void;
/**
 * The default client's token; pass it as the Viewer's `getAccessToken` option as is.
 *
 * @example
 * const token = await getAccessToken();
 */
export function getAccessToken(): Promise<string>;
/**
 * The default client's token in the Autodesk Viewer form (see `TokenClient.getAccessToken(onReady)`).
 *
 * @example
 * Autodesk.Viewing.Initializer({ env: 'AutodeskProduction2', api: 'streamingV2', getAccessToken }, start);
 */
export function getAccessToken(onReady: OnTokenReady): Promise<void>;
/**
 * `fetch` with the default client's token as `Authorization: Bearer`; after a 401, retried once with a fresh token.
 *
 * @example
 * const response = await authorizedFetch('https://developer.api.autodesk.com/modelderivative/v2/designdata/formats');
 */
export function authorizedFetch(input: FetchInput, init?: RequestInit): Promise<Response>;
/**
 * Called when the default client's token changes (`null` when dropped). Returns an unsubscribe function.
 *
 * @example
 * const stop = onTokenChange((token, state) => console.log(token ? `valid until ${state.expiresAt}` : 'none'));
 */
export function onTokenChange(listener: (token: string | null, state: TokenState) => void): () => void;
/**
 * Called with every failed token request of the default client. Returns an unsubscribe function.
 *
 * @example
 * onError((error) => { if (error.code === 'module_unavailable') showBanner(error.message); });
 */
export function onError(listener: (error: TokenError) => void): () => void;
/**
 * Forget the default client's token.
 *
 * @example
 * clear();
 */
export function clear(): void;
/**
 * The default client's `TokenState`: the same frozen object until it changes.
 *
 * @example
 * const { status, fetches } = getState();
 */
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
  /**
   * The broker's session event stream (Server-Sent Events), held by one tab per browser while
   * signed in, so every tab learns within seconds that the session ended elsewhere.
   * Default `/api/user/session/events`.
   */
  events: string;
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
  /**
   * `'check'`: a `getUser`/`isAuthenticated` answer differed; `'logout'`: this tab signed out;
   * `'other-tab'`: another tab signed in or out; `'server'`: the broker's event stream said the
   * session ended (signed out in another browser or at the provider, ended by an administrator,
   * or its lifetime ran out). User-token calls then reject with `login_required`.
   */
  source: 'check' | 'logout' | 'other-tab' | 'server';
}

/**
 * Set the sign-in routes (left-out ones keep their defaults); drops the user-token client.
 * @throws {TokenError} `invalid_options`.
 *
 * @example
 * configureSession({ routes: { login: '/signin', userToken: '/api/me/token' } });
 */
export function configureSession(options: { routes?: Partial<SessionRoutes> }): void;
/**
 * The routes in use.
 *
 * @example
 * const { login } = getSessionRoutes();
 */
export function getSessionRoutes(): Readonly<SessionRoutes>;
/**
 * The signed-in user's token client (route `userToken`, `refreshAhead`), created on first use.
 *
 * @example
 * const token = await getUserClient().getAccessToken();
 */
export function getUserClient(): TokenClient;
/**
 * Where `login()` navigates: the `login` route with `?return_to=` (default:
 * this page), e.g. for a link's `href`.
 * @throws {TokenError} `invalid_options` outside a browser page without `returnTo`.
 *
 * @example
 * signInLink.href = loginUrl();
 */
export function loginUrl(options?: { returnTo?: string }): string;
/**
 * Navigate to sign-in; the broker returns to `returnTo` (a same-site path; default: this page).
 * @throws {TokenError} `invalid_options` outside a browser page.
 *
 * @example
 * if (!(await getUser())) login({ returnTo: '/projects' });
 */
export function login(options?: { returnTo?: string }): void;
/** Options of {@link logout}. */
export interface LogoutOptions {
  /**
   * Whether to navigate to the provider's end-session endpoint when the broker names one
   * (RP-initiated logout), so the provider's session ends too and the next sign-in asks for
   * the password again. `false` stays on the page; the provider's session then lives on.
   * Default `true`.
   */
  endSession?: boolean;
}
/**
 * End the session on the broker, drop user tokens here and in the other tabs, notify every tab;
 * then, when the broker answers with the provider's end-session URL (and `endSession` is not
 * `false`), navigate there: the provider signs the user out and sends the browser back to the
 * broker's `OAUTH_POST_LOGOUT_REDIRECT_URL`.
 * Rejects with `TokenError` (`network`, `http`, `invalid_options`).
 *
 * @example
 * await logout();                      // signed out here and at the provider
 * await logout({ endSession: false }); // signed out here only; stays on this page
 */
export function logout(options?: LogoutOptions): Promise<void>;
/**
 * The signed-in user's claims, or `null` when nobody is signed in.
 * Rejects with `TokenError` (`network`, `http`, `invalid_response`).
 *
 * @example
 * const user = await getUser();
 * greeting.textContent = user ? `Hello ${user.name}` : 'Not signed in';
 */
export function getUser(): Promise<User | null>;
/**
 * Whether the broker has a session for this browser (asks it; nothing is stored in the page).
 *
 * @example
 * if (await isAuthenticated()) showProjects();
 */
export function isAuthenticated(): Promise<boolean>;
/**
 * Called when this tab learns the session changed. Subscribing (like `getUser()` and
 * `getUserClient()`) starts following the session: one tab of the browser keeps the broker's
 * event stream open while signed in and tells the others, so every tab hears of an ending
 * within seconds, wherever it happened. Returns an unsubscribe function.
 *
 * @example
 * onSessionChange(({ authenticated, source }) => { if (!authenticated && source === 'other-tab') location.reload(); });
 */
export function onSessionChange(listener: (change: SessionChange) => void): () => void;
