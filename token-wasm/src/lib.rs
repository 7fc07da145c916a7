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
//! - [`http`]: fetch with timeout, response validation, retry with backoff,
//!   as a state machine; the browser bindings.
//! - [`task`]: the hand-written async driver (state machines resumed from
//!   `Promise.then`), in place of an async executor.
//! - [`options`]: the typed options (parsed and validated by `js/index.js`).
//! - [`error`]: `TokenError`, its kind enum, and the conversion to the JS error.
//!
//! Modules are public so the browser tests (`tests/web.rs`) can drive the
//! Rust API directly.
//!
//! The shipped module is built without the default `std` feature: the crate
//! is then `no_std` and brings its own panic handler (see `Cargo.toml`).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod cache;
pub mod client;
pub mod error;
pub mod http;
pub mod options;
pub mod task;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::RequestInit;

pub use client::TokenClient;

/// The token client allocates little and briefly, so a small free-list
/// allocator beats dlmalloc on download size (see BENCHMARKS.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());
pub use error::{ErrorKind, TokenError};
pub use options::Options;

/// Without std, a panic traps (a `RuntimeError: unreachable` in JS) and
/// formats nothing, so `core::fmt` and the panic message strings are dead code.
/// Nothing in the crate is meant to panic: there is no `unwrap`, `expect`,
/// slice indexing or formatting in it, and `RefCell` borrows never overlap.
#[cfg(all(not(feature = "std"), target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// The wasm side of the JS `TokenClient` (wrapped by `js/index.js`).
#[wasm_bindgen(js_name = TokenClient, skip_typescript)]
#[derive(Debug)]
pub struct JsTokenClient {
    client: TokenClient,
}

#[wasm_bindgen(js_class = TokenClient)]
impl JsTokenClient {
    /// `new TokenClient(...parseOptions(options), onChange, onError,
    /// makeError)`: the options arrive validated, in the order of
    /// [`Options`]' fields (`leewaySeconds` in seconds); the hooks are
    /// described on [`client::Hooks`].
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments, reason = "one plain argument per option keeps the boundary cheap")]
    pub fn new(
        endpoint: JsValue,
        init: RequestInit,
        leeway_seconds: f64,
        timeout_ms: f64,
        retries: u32,
        retry_delay_ms: f64,
        refresh_ahead: bool,
        on_change: Function,
        on_error: Function,
        make_error: Function,
    ) -> JsTokenClient {
        let options = Options {
            endpoint,
            init,
            leeway_ms: leeway_seconds * 1000.0,
            timeout_ms,
            retries,
            retry_delay_ms,
            refresh_ahead,
        };
        let hooks = client::Hooks { on_change, on_error, make_error };
        Self { client: TokenClient::new(options, hooks) }
    }

    /// `getAccessToken()` → `Promise<string>`; `getAccessToken(onReady)` →
    /// calls `onReady(token, expiresInSeconds)` (Autodesk Viewer contract).
    #[wasm_bindgen(js_name = getAccessToken)]
    pub fn get_access_token(&self, on_ready: JsValue) -> Promise {
        match on_ready.dyn_into::<Function>() {
            Ok(on_ready) => self.client.call_when_ready(on_ready),
            Err(_) => self.client.token_promise(),
        }
    }

    /// `fetch` with `Authorization: Bearer …`, retried once after a 401.
    #[wasm_bindgen(js_name = authorizedFetch)]
    pub fn authorized_fetch(&self, input: JsValue, init: JsValue) -> Promise {
        self.client.authorized_fetch(input, init)
    }

    /// Forget the cached token.
    pub fn clear(&self) {
        self.client.clear();
    }

    /// Re-judge the token after the page was hidden or offline.
    pub fn wake(&self) {
        self.client.wake();
    }

    /// `build(status, expiresAt, fetches, cacheHits, lastError)`, never the
    /// token (see [`TokenClient::state`]).
    #[wasm_bindgen(js_name = getState)]
    pub fn state(&self, build: &Function) -> JsValue {
        self.client.state(build)
    }
}
