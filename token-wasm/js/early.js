// The first token request of a client, sent by JS when the first call comes
// before the WebAssembly module is ready, so the request travels while the
// module downloads and compiles instead of after (issue 19 item 1: time to
// first token). It is the request the wasm would send (token-wasm/src/http.rs:
// GET, the same URL, headers, credentials mode, `cache: 'no-store'` and
// `timeoutMs`); the wasm then reads its answer as its own first attempt
// (`adoptRequest`): it validates, caches, retries and reports errors with the
// same codes, so exactly one request is made.
//
// Sent only when JS can read the options that shape the request (anything
// else is left to the wasm, which also reports bad options), where there is a
// page to resolve the endpoint against, and without breaking the one request
// across tabs (token-wasm/src/tabs.rs). Where tabs share tokens:
// - no live presence lease of the endpoint (lease.js: no tab of it is open,
//   so none to ask for a token): sent at once, without waiting for the lock
//   service, whose first answer in a page costs tens of ms; the endpoint's
//   Web Lock is taken in parallel if free;
// - otherwise (or where the lease cannot be read): sent only while holding
//   the endpoint's Web Lock with no other tab of that endpoint open.
// A lock taken is held until the wasm has stored the token and posted it to
// the tabs that joined since.
//
// A successful answer also goes straight to the first callers (answer.js),
// before the module is ready; the module still adopts it as above.
import { readEarlyToken } from './answer.js';
import { hasLiveLease, keepOpen } from './lease.js';

// A page's first Web Locks call sets up the connection to the browser's lock
// service, ~10-30 ms in Chromium, which the first early request would wait
// for: set it up at import, while the app and the module load.
globalThis.navigator?.locks?.query?.().catch(() => {});

/** Option names the wasm accepts (token-wasm/src/options.rs `KNOWN`). */
const KNOWN = new Set(['endpoint', 'leewaySeconds', 'credentials', 'headers', 'timeoutMs', 'retries',
  'retryDelayMs', 'refreshAhead', 'shareAcrossTabs']);
const CREDENTIALS = new Set(['omit', 'same-origin', 'include']);

/**
 * Sends the first request for a client with `options`, or not: returns
 * `null` (nothing sent: the wasm will ask), or `{ decided, token, hand }`
 * where `decided` resolves to whether the request went out, `token` to the
 * token its answer gives callers before the module is ready (`{ value,
 * expiresAt, freshUntil }`, epoch ms) or `null` (not sent, or an answer for the module
 * to judge), and `hand(adopt)` gives its answer to the wasm
 * (`adopt(answerPromise)` returns the flight) or, with no `adopt` (the module
 * failed), abandons it.
 */
export function sendEarly(options) {
  const request = readRequest(options);
  if (!request) return null;
  const locks = globalThis.navigator?.locks;
  const isShared = isSharedHere(request);
  let answer = null;
  let controller = null;
  /** Set when the module or the options failed before the request was decided: never send it then. */
  let isAbandoned = false;
  /** Ends the hold on the endpoint's lock, if one is taken (before or after it is granted). */
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  const send = () => {
    controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), request.timeoutMs);
    answer = fetch(request.endpoint, { credentials: request.credentials, cache: 'no-store', headers: request.headers, signal: controller.signal })
      .then(async (response) => ({ status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() }))
      .catch((cause) => ({ cause, timedOut: controller.signal.aborted }))
      .finally(() => clearTimeout(timer));
    // A module that stays stuck loading must not keep the other tabs from
    // their token: the lock goes `timeoutMs` after the answer at the latest
    // (only a shared request holds one; a timer would also keep Node running).
    if (isShared) answer.then(() => setTimeout(release, request.timeoutMs));
  };
  let decided;
  // The wasm's lock name for this endpoint, and its tabs' presence locks.
  const name = `token-wasm:${request.endpoint}`;
  // Read before this tab writes its own lease (written after the request
  // went out: the first write of a page's storage costs a few ms).
  const isFirstTab = isShared && hasLiveLease(request.endpoint) === false;
  if (isFirstTab) {
    send();
    keepOpen(request.endpoint);
    decided = Promise.resolve(true);
    // Tabs that open meanwhile see the lease and queue for the lock: holding
    // it until the wasm posted the token makes them ask this tab. Taken only
    // if free: a tab holding it is asking the server already (tabs that
    // opened in the same instant), and this answer is as good as its.
    locks.request(name, { ifAvailable: true }, (lock) => lock && released).catch(() => {});
  } else if (isShared) {
    keepOpen(request.endpoint);
    decided = new Promise((resolve) => {
      // Asked together with the lock (one round trip to the lock service, not
      // two). The browser answers them in order, so a tab that got a token
      // between the two would have had to take and release the endpoint's
      // lock in between: the lock's holder knows every tab open before it.
      const open = locks.query();
      open.catch(() => {});
      locks.request(name, { ifAvailable: true }, async (lock) => {
        // Another tab is asking the server, or a tab that may hold a token is
        // open: the wasm's own path (wait for the lock, ask the tabs) applies.
        if (!lock || isAbandoned) return resolve(false);
        const { held = [] } = await open;
        if (isAbandoned || held.some((other) => other.name.startsWith(`${name}:member:`))) return resolve(false);
        send();
        resolve(true);
        await released;
      }).catch(() => resolve(false));
    });
  } else {
    send();
    decided = Promise.resolve(true);
  }
  const token = decided.then((isSent) => isSent && answer.then((got) => {
    const read = readEarlyToken(got, request.leewayMs);
    if (!read) return null;
    // Judged from now, as the module's cache will (`finish_ok`).
    const expiresAt = Date.now() + read.expiresIn * 1000;
    return { value: read.accessToken, expiresAt, freshUntil: expiresAt - request.leewayMs };
  })).then((read) => read || null);
  return {
    decided,
    token,
    hand(adopt) {
      if (!adopt) isAbandoned = true;
      if (!answer) return;
      if (!adopt) {
        controller.abort();
        release();
        return;
      }
      let flight;
      try { flight = adopt(answer); } catch { release(); return; }
      flight.then(release, release);
    },
  };
}

/**
 * Keeps this tab's presence lease for a client with `options` that shares
 * tokens across tabs (lease.js), so that a tab opened later asks it first.
 */
export function keepLease(options) {
  const request = readRequest(options);
  if (request && isSharedHere(request)) keepOpen(request.endpoint);
}

/** Whether `request`'s client shares tokens across tabs here (tabs.rs needs both APIs). */
function isSharedHere(request) {
  return request.share && typeof globalThis.navigator?.locks?.request === 'function' && typeof BroadcastChannel === 'function';
}

/** Whether `value` is a number from `min` to `max` (NaN is not), as options.rs `within`. */
const within = (value, min, max) => typeof value === 'number' && value >= min && value <= max;

/**
 * The request the wasm would send for `options`, or `null` when JS cannot
 * tell (an option it does not read, or one the wasm will refuse: its token
 * then goes to no caller before the wasm refused the options) or there is no
 * page to resolve the endpoint against.
 */
function readRequest(options = {}) {
  if (options === null) options = {};
  if (typeof fetch !== 'function' || typeof options !== 'object' || Object.keys(options).some((key) => !KNOWN.has(key))) return null;
  const endpoint = options.endpoint ?? '/api/token';
  const credentials = options.credentials ?? 'same-origin';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const share = options.shareAcrossTabs ?? true;
  const leewaySeconds = options.leewaySeconds ?? 60;
  const retries = options.retries ?? 2;
  if (typeof endpoint !== 'string' || endpoint === '' || !CREDENTIALS.has(credentials) || typeof share !== 'boolean'
    || !within(timeoutMs, 1, 600_000) || !within(leewaySeconds, 0, 86_400) || !within(retries, 0, 10)
    || !Number.isInteger(retries) || !within(options.retryDelayMs ?? 300, 0, 60_000)
    || typeof (options.refreshAhead ?? false) !== 'boolean') return null;
  if (options.headers !== undefined && (options.headers === null || typeof options.headers !== 'object')) return null;
  let headers;
  try {
    // Resolvable here, as `fetch` will resolve it (outside a page only an absolute URL is).
    new URL(endpoint, globalThis.document?.baseURI ?? globalThis.location?.href);
    headers = new Headers(options.headers);
  } catch {
    return null;
  }
  if (!headers.has('accept')) headers.set('Accept', 'application/json');
  headers.set('X-Requested-With', 'token-wasm');
  return { endpoint, credentials, timeoutMs, share, headers, leewayMs: leewaySeconds * 1000 };
}
