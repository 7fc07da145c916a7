// `TokenError`, the one JS class of the package's failures. The wasm builds
// every instance (token-wasm/src/error.rs decides code, message and details);
// the entry re-exports the class so `instanceof TokenError` works for callers.

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
