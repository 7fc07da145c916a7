//! Client options as typed values. The JS entry (`js/index.js`,
//! `parseOptions`) reads the options object, applies the defaults, rejects
//! unknown or invalid options with `invalid_options`, and builds the `fetch`
//! init (credentials, headers, `cache: 'no-store'`); the wasm constructor
//! receives the results as plain arguments.
//!
//! Why in JS: reading a JS object field by field from Rust costs a
//! `Reflect.get`, a string and an error path per option, ~5 KB of wasm for
//! what is ~1 KB of JS (see BENCHMARKS.md).

use wasm_bindgen::JsValue;
use web_sys::RequestInit;

/// Validated options of one client.
#[derive(Debug, Clone)]
pub struct Options {
    /// URL of the token route, resolved by `fetch` against the page.
    pub endpoint: JsValue,
    /// `{ credentials, headers, cache: 'no-store' }` for every token request;
    /// each attempt sets its own `signal` on it. The headers include `Accept`
    /// and `X-Requested-With: token-wasm` (the user-token route rejects
    /// requests without it, as a CSRF guard).
    pub init: RequestInit,
    /// Milliseconds before `expires_at` at which a token stops being handed out.
    pub leeway_ms: f64,
    /// Abort an attempt (request and body) after this many ms.
    pub timeout_ms: f64,
    /// Extra attempts after a network error, timeout or 5xx.
    pub retries: u32,
    /// Base of the exponential backoff between attempts.
    pub retry_delay_ms: f64,
    /// Fetch a new token shortly before the cached one leaves its freshness window.
    pub refresh_ahead: bool,
}
