// The public entry of the token-wasm package: loads the wasm once (top-level
// await, so no init call is needed), defines `TokenError`, keeps a cached fast
// path in JS (a cache hit never crosses into wasm), and re-exports the API.
import init, { TokenClient as WasmClient } from './token_wasm.js';

await init({ module_or_path: new URL('./token_wasm_bg.wasm', import.meta.url) });

/** A failed token request or bad options. `code` says which (see index.d.ts). */
export class TokenError extends Error {
  constructor(message, code, details = {}) {
    super(message, 'cause' in details ? { cause: details.cause } : undefined);
    this.name = 'TokenError';
    this.code = code;
    this.status = details.status ?? null;
    this.error = details.error ?? null;
    this.error_description = details.error_description ?? null;
  }
}

// The JS side of the wasm's `ErrorKind` (token-wasm/src/error.rs), by
// discriminant: [code, message].
const FAILURES = [
  ['network', 'Token request failed: network error'],
  ['timeout', 'Token request timed out'],
  ['http', 'Token endpoint answered with an error'],
  ['login_required', 'Sign-in required to get a token'],
  ['invalid_response', 'Token endpoint did not answer with a JSON object'],
  ['invalid_response', 'Token response has no access_token'],
  ['invalid_response', 'Token response has no valid expires_in'],
];

// Builds the TokenError of a failed request from what the wasm found: its
// kind, the HTTP status (or null), the parsed error body (non-2xx only) and
// the underlying exception.
const makeError = (kind, status, body, cause) => {
  const [code, message] = FAILURES[kind];
  const description = body?.error_description;
  return new TokenError(
    message + (status ? ` (HTTP ${status})` : '') + (typeof description === 'string' ? ': ' + description : ''),
    code,
    { status, error: body?.error, error_description: description, ...(cause !== undefined && { cause }) },
  );
};

const STATUSES = ['empty', 'fresh', 'refreshing', 'error'];

// Every option name `configure` / `new TokenClient` accepts. Anything else is
// rejected, so a typo (`leeway` for `leewaySeconds`) is loud, not ignored.
const KNOWN = ['endpoint', 'leewaySeconds', 'credentials', 'headers', 'timeoutMs', 'retries', 'retryDelayMs', 'refreshAhead'];
const invalid = (message, cause) => new TokenError(message, 'invalid_options', cause && { cause });

// A finite number in [min, max], or `fallback` when the option is absent.
const number = (options, key, min, max, fallback) => {
  const value = options[key] ?? fallback;
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw invalid(`${key} must be a number from ${min} to ${max}`);
  }
  return value;
};

// Validates the options once, applies the defaults and builds the request
// init; returns the leading arguments of the wasm constructor. Parsed here
// rather than in Rust because reading a JS object from wasm costs ~5 KB.
function parseOptions(options) {
  options ??= {};
  if (typeof options !== 'object') throw invalid('options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw invalid(`unknown option ${key} (expected ${KNOWN.join(', ')})`);
  }
  const { endpoint = '/api/token', credentials = 'same-origin', refreshAhead = false, headers: init } = options;
  if (typeof endpoint !== 'string' || !endpoint) throw invalid('endpoint must be a non-empty string');
  if (!['omit', 'same-origin', 'include'].includes(credentials)) {
    throw invalid("credentials must be 'omit', 'same-origin' or 'include'");
  }
  if (typeof refreshAhead !== 'boolean') throw invalid('refreshAhead must be a boolean');
  const retries = number(options, 'retries', 0, 10, 2);
  if (!Number.isInteger(retries)) throw invalid('retries must be an integer from 0 to 10');
  if (init !== undefined && (typeof init !== 'object' || init === null)) {
    throw invalid('headers must be an object of header names to values');
  }
  let headers;
  try {
    // `new Headers(init)` accepts a record, pairs or a Headers object, and
    // validates names and values. `X-Requested-With` is set last so every
    // request carries it (the user-token route requires it, as a CSRF guard).
    headers = new Headers(init);
    if (!headers.has('accept')) headers.set('Accept', 'application/json');
    headers.set('X-Requested-With', 'token-wasm');
  } catch (cause) {
    throw invalid('headers must be an object of valid header names to values', cause);
  }
  // The init of every token request (the wasm adds each attempt's signal).
  const request = { credentials, headers, cache: 'no-store' };
  return [endpoint, request, number(options, 'leewaySeconds', 0, 86400, 60),
    number(options, 'timeoutMs', 1, 600000, 10000), retries, number(options, 'retryDelayMs', 0, 60000, 300), refreshAhead];
}

// Listener errors must not break the client; rethrow them asynchronously so
// they still reach the console / window.onerror.
const dispatch = (listeners, ...args) => {
  for (const listener of listeners) {
    try { listener(...args); } catch (e) { queueMicrotask(() => { throw e; }); }
  }
};

// Re-judge every client's token when the page wakes up (timers may have been
// frozen while hidden or offline). Clients are held weakly.
const sleepers = new Set();
const wakeAll = () => {
  if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
  for (const ref of sleepers) {
    const raw = ref.deref();
    if (raw) raw.wake(); else sleepers.delete(ref);
  }
};
if (typeof addEventListener === 'function') addEventListener('online', wakeAll);
if (typeof document !== 'undefined') document.addEventListener('visibilitychange', wakeAll);

export class TokenClient {
  #raw;
  #fast; // { promise, until, hits }: shared with the wasm change hook, not with `this`
  #changeListeners = new Set();
  #errorListeners = new Set();

  constructor(options) {
    const fast = (this.#fast = { promise: null, until: 0, hits: 0 });
    const changeListeners = this.#changeListeners;
    const errorListeners = this.#errorListeners;
    // Weak, so the hook held by wasm does not keep this client alive.
    const me = new WeakRef(this);
    this.#raw = new WasmClient(
      ...parseOptions(options),
      (token, promise, until) => {
        fast.promise = promise;
        fast.until = until;
        if (changeListeners.size) dispatch(changeListeners, token, me.deref()?.state);
      },
      (error) => dispatch(errorListeners, error),
      makeError,
    );
    sleepers.add(new WeakRef(this.#raw));
  }

  /**
   * `getAccessToken()` resolves to a token; `getAccessToken(onReady)` calls
   * `onReady(token, expiresInSeconds)` (the Autodesk Viewer contract).
   */
  getAccessToken(onReady) {
    const fast = this.#fast;
    if (onReady === undefined && fast.until > Date.now()) {
      fast.hits++;
      return fast.promise;
    }
    return this.#raw.getAccessToken(onReady);
  }

  authorizedFetch(input, init) {
    return this.#raw.authorizedFetch(input, init);
  }

  onTokenChange(listener) {
    return subscribe(this.#changeListeners, listener);
  }

  onError(listener) {
    return subscribe(this.#errorListeners, listener);
  }

  clear() {
    this.#raw.clear();
  }

  get state() {
    const hits = this.#fast.hits;
    return this.#raw.getState((status, expiresAt, fetches, cacheHits, lastError) => ({
      status: STATUSES[status],
      expiresAt,
      fetches,
      cacheHits: cacheHits + hits,
      lastError: lastError && { code: lastError.code, message: lastError.message, status: lastError.status },
    }));
  }

  getState() {
    return this.state;
  }
}

function subscribe(set, listener) {
  if (typeof listener !== 'function') throw new TokenError('listener must be a function', 'invalid_options');
  const entry = (...args) => listener(...args);
  set.add(entry);
  return () => { set.delete(entry); };
}

let defaultClient = null;

/** The client behind the module-level functions (created on first use). */
export function getDefaultClient() {
  return (defaultClient ??= new TokenClient());
}

/** Replace the default client's options (its cached token is dropped). */
export function configure(options) {
  const next = new TokenClient(options);
  defaultClient?.clear();
  defaultClient = next;
}

export function getAccessToken(onReady) {
  return (defaultClient ?? getDefaultClient()).getAccessToken(onReady);
}

export function authorizedFetch(input, init) {
  return getDefaultClient().authorizedFetch(input, init);
}

export function onTokenChange(listener) {
  return getDefaultClient().onTokenChange(listener);
}

export function onError(listener) {
  return getDefaultClient().onError(listener);
}

export function clear() {
  getDefaultClient().clear();
}

export function getState() {
  return getDefaultClient().state;
}
