// The package's API around the wasm `TokenClient`: the lazy default client,
// a cached fast path in JS (a cache hit never crosses into wasm), change and
// error listeners, a `getState()` snapshot that stays the same object until
// the state changes, and wake-ups after the page was hidden or offline.
// Options, errors and every other decision live in the wasm (token-wasm/src).
//
// The module loads in the background (see loader.js): a client made before
// it is ready connects to the wasm once it is, so constructing one never
// throws, and its first call meanwhile sends the token request (early.js),
// which the wasm adopts; a successful answer goes to the callers at once,
// before the module is ready (answer.js). Bad options, like a module that
// cannot load, reject every call with a `TokenError` and show in
// `getState().lastError`.
import { TokenError } from './error.js';
import { dispatch, subscribe } from './listeners.js';
import { compileAfter, isLoaded, wasmClientClass, whenLoaded, whenOnItsWay } from './loader.js';
import { keepLease, sendEarly } from './early.js';

export { TokenError };

/** The state of a client without a token, a request or a failure. */
const EMPTY = Object.freeze({ status: 'empty', expiresAt: null, fetches: 0, cacheHits: 0, lastError: null });

// Re-judge every client's token when the page wakes up (timers may have been
// frozen while hidden or offline). Clients are held weakly. The listeners are
// added with the first wasm client, not at import (nothing to wake before).
const sleepers = new Set();
const wakeAll = () => {
  if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
  for (const ref of sleepers) {
    const raw = ref.deref();
    if (raw) raw.wake(); else sleepers.delete(ref);
  }
};
function addSleeper(raw) {
  if (sleepers.size === 0) {
    if (typeof addEventListener === 'function') addEventListener('online', wakeAll);
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', wakeAll);
  }
  sleepers.add(new WeakRef(raw));
}

export class TokenClient {
  #options;
  /** The wasm client, once the module is ready and has accepted the options. */
  #raw = null;
  /** `Promise<wasm client>` for calls made before `#raw` exists. */
  #connecting;
  /** The `TokenError` that keeps this client from working (bad options, no module). */
  #failure = null;
  /** Whether a call came before the module was ready (the first one sends the request early). */
  #isCalled = false;
  /** That early request (early.js), until it is handed to the wasm. */
  #early = null;
  /**
   * `Promise` of the early request's token for callers before the module is
   * ready (`{ value, expiresAt, freshUntil }` or `null`: ask the module);
   * calls after `clear()` do not wait for it.
   */
  #earlyToken = null;
  /** What `getState()` shows of the early request until the wasm client exists. */
  #earlyState = null;
  /** Whether `clear()` came while an early request was out: the wasm client must not cache its token. */
  #isEarlyCleared = false;
  // Shared with the wasm change hook, not with `this`. `told` is the change
  // the JS already told the listeners before the module (its first
  // notification, if the same, is not told twice).
  #fast = { promise: null, until: 0, hits: 0, told: undefined };
  #changeListeners = new Set();
  #errorListeners = new Set();
  #snapshot = EMPTY;

  /** Never throws: bad options reject every call (`invalid_options`). */
  constructor(options) {
    this.#options = options;
    // Ready now: connect now, so the first call takes the synchronous path.
    if (isLoaded()) this.#connect().catch(() => {});
    // An early request must be decided (sent or not) before the wasm client
    // exists, so that no call reaches the wasm before it adopted the request.
    this.#connecting = whenLoaded().then(() => this.#early?.decided).then(() => this.#connect());
    this.#connecting.catch((error) => {
      this.#failure ??= error;
      this.#handEarly();
    });
  }

  /**
   * The first call before the module is ready sends the token request now
   * (early.js) and has the wasm adopt it once loaded, rather than asking only
   * after the module's download and compile.
   */
  #sendEarly() {
    // Not once the module failed: no module would read the answer.
    if (this.#isCalled || this.#raw || this.#failure || isLoaded()) return;
    this.#isCalled = true;
    const early = sendEarly(this.#options);
    this.#early = early;
    if (!early) return;
    early.decided.then((isSent) => {
      if (isSent && !this.#raw && !this.#earlyState && !this.#isEarlyCleared) this.#earlyState = { status: 'refreshing', fetches: 1 };
    });
    this.#earlyToken = Promise.all([early.token, whenOnItsWay()]).then(([got, isOnItsWay]) => {
      if (!got || !isOnItsWay || this.#failure) return null;
      // Before the module, this client shows and tells the token as the
      // module will once it stored it (then without telling it again). After
      // `clear()` it still answers the calls that were waiting, as a request
      // in flight does in the module.
      if (!this.#raw && !this.#isEarlyCleared) this.#holdEarly(got);
      return got;
    });
    // The answer reaches its callers first; then the module compiles.
    compileAfter(this.#earlyToken);
  }

  /** Serve `token` (the early request's) from the fast path, show it in the state and tell the listeners. */
  #holdEarly(token) {
    const fast = this.#fast;
    fast.promise = Promise.resolve(token.value);
    fast.until = token.freshUntil;
    fast.told = token.value;
    this.#earlyState = { status: 'fresh', expiresAt: token.expiresAt, fetches: 1 };
    if (this.#changeListeners.size) dispatch(this.#changeListeners, token.value, this.getState());
  }

  /**
   * A call made before the module is ready: answered with the early
   * request's token if its answer gave one that is still usable (for a
   * viewer callback, at least 1 s, as the module requires), else by the module.
   */
  #beforeModule(onReady) {
    const viaModule = () => this.#connected((raw) => raw.getAccessToken(onReady));
    const early = this.#earlyToken;
    if (!early) return viaModule();
    return early.then((token) => {
      const usableMs = (token?.freshUntil ?? 0) - Date.now();
      if (this.#failure || usableMs < (onReady ? 1000 : 1)) return viaModule();
      if (!onReady) return token.value;
      onReady(token.value, Math.max(1, Math.floor(usableMs / 1000)));
      return undefined;
    });
  }

  /** Gives the early request's answer to the wasm client, or abandons it if there is none. */
  #handEarly() {
    const raw = this.#raw;
    this.#early?.hand(raw && ((answer) => raw.adoptRequest(answer)));
    this.#early = null;
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
    this.#sendEarly();
    return this.#raw ? this.#raw.getAccessToken(onReady) : this.#beforeModule(onReady);
  }

  authorizedFetch(input, init) {
    this.#sendEarly();
    return this.#connected((raw) => raw.authorizedFetch(input, init));
  }

  onTokenChange(listener) {
    return subscribe(this.#changeListeners, listener);
  }

  onError(listener) {
    return subscribe(this.#errorListeners, listener);
  }

  clear() {
    this.#earlyToken = null;
    if (this.#raw) return this.#raw.clear();
    if (!this.#early) return;
    // The module will adopt the early answer: it must not cache it either.
    this.#isEarlyCleared = true;
    const wasHeld = this.#earlyState?.status === 'fresh';
    this.#earlyState = null;
    Object.assign(this.#fast, { promise: null, until: 0 });
    if (!wasHeld) return;
    this.#fast.told = null;
    if (this.#changeListeners.size) dispatch(this.#changeListeners, null, this.getState());
  }

  /** What a UI may show; the same (frozen) object until something in it changes. */
  getState() {
    const next = this.#readState();
    if (!isSameState(next, this.#snapshot)) {
      if (next.lastError) Object.freeze(next.lastError);
      this.#snapshot = Object.freeze(next);
    }
    return this.#snapshot;
  }

  #readState() {
    if (this.#raw) {
      const state = this.#raw.getState();
      state.cacheHits += this.#fast.hits;
      return state;
    }
    if (this.#failure) {
      const { code, message, status } = this.#failure;
      return { ...EMPTY, status: 'error', lastError: { code, message, status } };
    }
    return this.#earlyState ? { ...EMPTY, ...this.#earlyState, cacheHits: this.#fast.hits } : EMPTY;
  }

  /** Runs `call` with the wasm client, once there is one; rejects with the failure otherwise. */
  #connected(call) {
    if (this.#raw) return call(this.#raw);
    return this.#connecting.then(call, (error) => {
      dispatch(this.#errorListeners, error);
      throw error;
    });
  }

  /** Creates the wasm client (the module is ready): a promise of it, or of its failure. */
  #connect() {
    if (this.#raw || this.#failure) return this.#raw ? Promise.resolve(this.#raw) : Promise.reject(this.#failure);
    const fast = this.#fast;
    const changeListeners = this.#changeListeners;
    const errorListeners = this.#errorListeners;
    // Weak, so the hook held by wasm does not keep this client alive.
    const me = new WeakRef(this);
    try {
      const WasmClient = wasmClientClass();
      this.#raw = new WasmClient(
        this.#options,
        (token, promise, until) => {
          fast.promise = promise;
          fast.until = until;
          const isTold = token === fast.told;
          fast.told = undefined;
          const client = me.deref();
          if (client && changeListeners.size && !isTold) dispatch(changeListeners, token, client.getState());
        },
        (error) => dispatch(errorListeners, error),
      );
    } catch (error) {
      this.#failure = error;
      this.#handEarly();
      return Promise.reject(error);
    }
    this.#handEarly();
    keepLease(this.#options);
    this.#earlyState = null;
    if (this.#isEarlyCleared) this.#raw.clear();
    addSleeper(this.#raw);
    return Promise.resolve(this.#raw);
  }
}

/** Field by field: `getState()` hands out a new object only when one differs. */
function isSameState(a, b) {
  return a.status === b.status && a.expiresAt === b.expiresAt && a.fetches === b.fetches
    && a.cacheHits === b.cacheHits && (a.lastError === b.lastError || (a.lastError !== null && b.lastError !== null
      && a.lastError.code === b.lastError.code && a.lastError.message === b.lastError.message
      && a.lastError.status === b.lastError.status));
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
  return getDefaultClient().getState();
}
