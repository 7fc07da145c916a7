// `TokenError`, the one JS class of the package's failures, and its codes.
// The wasm builds most instances (token-wasm/src/error.rs decides code,
// message and details); the JS modules build the others with the constants
// below, never with retyped string literals. The entry re-exports the class
// so `instanceof TokenError` works for callers.

/** No response at all (offline, DNS, CORS, connection reset). */
export const NETWORK = 'network';
/** No complete response within `timeoutMs`. */
export const TIMEOUT = 'timeout';
/** An error status other than 401. */
export const HTTP = 'http';
/** A 2xx answer without a usable `access_token` / `expires_in`. */
export const INVALID_RESPONSE = 'invalid_response';
/** HTTP 401: the user must sign in. */
export const LOGIN_REQUIRED = 'login_required';
/** Bad options, a non-function listener, or a call that cannot work where the code runs. */
export const INVALID_OPTIONS = 'invalid_options';
/** The WebAssembly module could not be loaded (missing file, CSP without `'wasm-unsafe-eval'`). */
export const MODULE_UNAVAILABLE = 'module_unavailable';

/** A failed token request or bad options. `code` says which (see index.d.ts). */
export class TokenError extends Error {
  // Minifiers rename the class; consoles and `util.inspect` print this name.
  static name = 'TokenError';

  constructor(message, code, details = {}) {
    super(message, 'cause' in details ? { cause: details.cause } : undefined);
    this.name = 'TokenError';
    this.code = code;
    this.status = details.status ?? null;
    this.error = details.error ?? null;
    this.error_description = details.error_description ?? null;
  }
}
