// The package's API around the wasm `TokenClient`: the lazy default client,
// a cached fast path in JS (a cache hit never crosses into wasm), change and
// error listeners, and wake-ups after the page was hidden or offline. Options,
// errors and every other decision live in the wasm (token-wasm/src). The
// entries (index.js, embedded.js) load the wasm and re-export this module.
import { TokenClient as WasmClient } from './token_wasm.js';
import { TokenError } from './error.js';

export { TokenError };

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
      options,
      (token, promise, until) => {
        fast.promise = promise;
        fast.until = until;
        if (changeListeners.size) dispatch(changeListeners, token, me.deref()?.state);
      },
      (error) => dispatch(errorListeners, error),
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
    const state = this.#raw.getState();
    state.cacheHits += this.#fast.hits;
    return state;
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
