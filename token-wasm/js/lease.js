// A synchronous hint that a tab sharing tokens for an endpoint is open: a
// presence lease in localStorage, `token-wasm:open:<endpoint>` = `<expiry, epoch
// ms> <writer id>` (no token: tokens stay in memory). The early request
// (early.js) reads it before asking the Web Locks service, whose first answer
// in a page costs ~20-60 ms in Chromium: with no live lease, no tab of the
// endpoint is open that could hand over a token, so the first tab sends at
// once instead of waiting for the lock service.
//
// Only a hint, never the truth: a missing lease where a tab is open costs one
// extra request (a tab writes it with its first call, so tabs whose first
// calls come in the same instant may each miss the others'), a stale one costs the
// lock round trip of today's path. Every tab whose client shares tokens keeps
// the lease alive while it is open (renewed well within its lifetime, even
// under background-tab timer throttling), and the writer removes it when its
// page goes away; the other open tabs hear that through the `storage` event
// and write it again at once.

/** How long a lease lasts without renewal. Longer than background tabs' throttled timers (1 min). */
const LEASE_MS = 150_000;
/** How often an open tab renews its leases. */
const RENEW_MS = 30_000;
const PREFIX = 'token-wasm:open:';
/** This tab, as the writer of a lease. */
const WRITER = Math.random().toString(36).slice(2);

/** The endpoints this tab keeps a lease for. */
const kept = new Set();
let renewal = null;

/** `localStorage`, or `null` where it is missing or refused (a worker, disabled storage, an opaque origin). */
function storage() {
  try {
    return typeof document === 'undefined' ? null : globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether a live lease of `endpoint` exists (this tab's own included):
 * `true`, `false`, or `null` where the storage cannot tell (then the caller
 * takes the Web Locks path).
 */
export function hasLiveLease(endpoint) {
  try {
    const value = storage()?.getItem(PREFIX + endpoint);
    if (value === undefined) return null;
    return value !== null && Number.parseFloat(value) > Date.now();
  } catch {
    return null;
  }
}

/** Keeps this tab's lease of `endpoint` alive from now until the page goes away. */
export function keepOpen(endpoint) {
  if (kept.has(endpoint) || !storage()) return;
  kept.add(endpoint);
  write(endpoint);
  if (renewal) return;
  renewal = setInterval(() => kept.forEach(write), RENEW_MS);
  addEventListener('pagehide', leave);
  addEventListener('pageshow', (event) => { if (event.persisted) kept.forEach(write); });
  // Another tab removed a lease (its page went away): this tab is still open.
  addEventListener('storage', (event) => {
    const endpoint = event.key?.startsWith(PREFIX) && event.key.slice(PREFIX.length);
    if (endpoint && kept.has(endpoint) && event.newValue === null) write(endpoint);
  });
}

function write(endpoint) {
  try {
    storage()?.setItem(PREFIX + endpoint, `${Date.now() + LEASE_MS} ${WRITER}`);
  } catch {
    // Full or refused storage: the other tabs take the Web Locks path.
  }
}

/** The page goes away (closed, navigated, or into the back-forward cache): remove the leases this tab wrote last. */
function leave() {
  try {
    const store = storage();
    for (const endpoint of kept) {
      if (store?.getItem(PREFIX + endpoint)?.endsWith(` ${WRITER}`)) store.removeItem(PREFIX + endpoint);
    }
  } catch {
    // As in `write`.
  }
}
