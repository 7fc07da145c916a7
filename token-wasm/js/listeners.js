// Listener sets for the package's events (`onTokenChange`, `onError`,
// `onSessionChange`): subscribing checks the listener and hands back its
// unsubscribe function; a throwing listener neither breaks the others nor the
// caller, and its error is rethrown asynchronously so it still reaches the
// console and `window.onerror`.
import { INVALID_OPTIONS, TokenError } from './error.js';

/** Adds `listener` to `set`; returns the function that removes it. */
export function subscribe(set, listener) {
  if (typeof listener !== 'function') throw new TokenError('listener must be a function', INVALID_OPTIONS);
  // A wrapper per call, so subscribing one function twice needs two unsubscribes.
  const entry = (...args) => listener(...args);
  set.add(entry);
  return () => { set.delete(entry); };
}

/** Calls every listener of `set` with `args`. */
export function dispatch(set, ...args) {
  for (const listener of set) {
    try { listener(...args); } catch (error) { queueMicrotask(() => { throw error; }); }
  }
}
