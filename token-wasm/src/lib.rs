//! Browser token client compiled to WebAssembly: hands web apps (and the
//! Autodesk Viewer) short-lived access tokens from the token broker, cached in
//! memory, fetched once for any number of concurrent callers, and refreshed
//! before they expire.
//!
//! # Layout
//!
//! - `lib.rs` (this file): the JS boundary only. The `#[wasm_bindgen]` exports
//!   delegate to the modules below. The public JS API is the hand-written
//!   `js/index.js` entry and `js/index.d.ts`, which wrap these exports with
//!   lazy defaults, a cached fast path and the `TokenError` class.
//! - [`client`]: `TokenClient`, the core logic (cache lookups, the shared
//!   request, viewer callback loop, refresh-ahead, `authorizedFetch`).
//! - [`cache`]: the token cache and in-flight slot, pure Rust with an
//!   injectable clock (unit-tested on the host).
//! - [`http`]: fetch with timeout, response validation, retry with backoff.
//! - [`options`]: options parsed from JS and validated once.
//! - [`error`]: `TokenError`, its code enum, and the conversion to the JS error.
//!
//! Modules are public so the browser tests (`tests/web.rs`) can drive the
//! Rust API directly.

pub mod cache;
pub mod client;
pub mod error;
pub mod http;
pub mod options;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::future_to_promise;

pub use client::TokenClient;

/// The token client allocates little and briefly, so a small free-list
/// allocator beats dlmalloc on download size (see BENCHMARKS-wasm.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());
pub use error::{ErrorCode, TokenError};
pub use options::Options;

/// The wasm side of the JS `TokenClient` (wrapped by `js/index.js`).
#[wasm_bindgen(js_name = TokenClient, skip_typescript)]
#[derive(Debug)]
pub struct JsTokenClient {
    client: TokenClient,
}

#[wasm_bindgen(js_class = TokenClient)]
impl JsTokenClient {
    /// `new TokenClient(options, onChange, onError)`; throws a `TokenError`
    /// with code `invalid_options` for bad options.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, on_change: Option<Function>, on_error: Option<Function>) -> Result<JsTokenClient, JsValue> {
        let options = Options::parse(&options).map_err(TokenError::into_js)?;
        Ok(Self { client: TokenClient::new(options, client::Hooks { on_change, on_error }) })
    }

    /// `getAccessToken()` → `Promise<string>`; `getAccessToken(onReady)` →
    /// calls `onReady(token, expiresInSeconds)` (Autodesk Viewer contract).
    #[wasm_bindgen(js_name = getAccessToken)]
    pub fn get_access_token(&self, on_ready: JsValue) -> Promise {
        match on_ready.dyn_into::<Function>() {
            Ok(on_ready) => {
                let client = self.client.clone();
                future_to_promise(async move { client.call_when_ready(on_ready).await })
            }
            Err(_) => self.client.token_promise(),
        }
    }

    /// `fetch` with `Authorization: Bearer …`, retried once after a 401.
    #[wasm_bindgen(js_name = authorizedFetch)]
    pub fn authorized_fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let client = self.client.clone();
        future_to_promise(async move { client.authorized_fetch(input, init).await })
    }

    /// Forget the cached token.
    pub fn clear(&self) {
        self.client.clear();
    }

    /// Re-judge the token after the page was hidden or offline.
    pub fn wake(&self) {
        self.client.wake();
    }

    /// `{ status, expiresAt, fetches, cacheHits, lastError }`, never the token.
    #[wasm_bindgen(js_name = getState)]
    pub fn state(&self) -> JsValue {
        self.client.state()
    }
}

/// Called once by `js/index.js` with its `TokenError` class so errors created
/// in wasm satisfy `err instanceof TokenError`.
#[wasm_bindgen(js_name = registerErrorClass, skip_typescript)]
pub fn register_error_class(class: JsValue) {
    error::register_class(&class);
}
