// Loads the WebAssembly module in the background. The entry starts the load
// when it is imported and returns at once (no top-level await: importing never
// waits for, nor fails with, the module); the first call that needs the module
// awaits `whenLoaded()`. A module that cannot load (a missing or mis-served
// .wasm, a Content Security Policy without 'wasm-unsafe-eval') becomes one
// `TokenError` with code `module_unavailable`, which every such call rejects with.
import init from './token_wasm.js';
import { MODULE_UNAVAILABLE, TokenError } from './error.js';

/** Settles once: resolves when the module is ready, rejects with the `TokenError`. */
let loading = null;
let isReady = false;

/** Starts loading the module from `source` (a URL, or the bytes; see the entries). */
export function load(source) {
  loading = init({ module_or_path: source }).then(
    () => { isReady = true; },
    (cause) => { throw unavailable(cause); },
  );
  // Reported by the calls that need the module, not as an unhandled rejection.
  loading.catch(() => {});
}

/** Whether the module is ready now (clients then start without waiting). */
export function isLoaded() {
  return isReady;
}

/** Resolves once the module is ready; rejects with the `module_unavailable` `TokenError`. */
export function whenLoaded() {
  return loading ?? Promise.reject(unavailable(new Error('no entry started loading the module')));
}

/**
 * The error for a module that did not load, naming the likely fix. Browsers
 * word a CSP refusal differently (Chromium and WebKit name 'unsafe-eval',
 * Firefox says "CSP"), so the message names 'wasm-unsafe-eval' in any case.
 */
function unavailable(cause) {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const message = /content.security.policy|\bCSP\b|unsafe-eval/i.test(reason)
    ? `token-wasm could not compile its WebAssembly module: the page's Content Security Policy refuses it. `
      + `Add 'wasm-unsafe-eval' to script-src (${reason})`
    : `token-wasm could not load its WebAssembly module (${reason}). Serve token_wasm_bg.wasm next to the `
      + `package entry as application/wasm; under a Content Security Policy, script-src needs 'wasm-unsafe-eval'.`;
  return new TokenError(message, MODULE_UNAVAILABLE, { cause });
}
