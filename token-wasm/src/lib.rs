//! Browser token client compiled to WebAssembly: hands web apps (and the
//! Autodesk Viewer) short-lived access tokens from the token broker, cached in
//! memory, fetched once for any number of concurrent callers, and refreshed
//! before they expire.
//!
//! # Layout
//!
//! - `lib.rs` (this file): the JS boundary only. The `#[wasm_bindgen]` exports
//!   delegate to the modules below. The public JS API is the hand-written
//!   `js/client.js` (lazy default client, a cached fast path, listeners,
//!   wake-up events), `js/index.d.ts`, the two entries that load the wasm
//!   (`js/index.js` by URL, `js/embedded.js` with the bytes inlined), and
//!   `js/early.js`, which sends a client's first token request while the
//!   module loads (adopted by `adoptRequest`).
//! - [`client`]: `TokenClient`, the core logic as `async fn`s (cache lookups,
//!   the shared request, viewer callback loop, refresh-ahead, `authorizedFetch`).
//! - [`cache`]: the token cache and in-flight slot, pure Rust with an
//!   injectable clock (unit-tested on the host).
//! - [`http`]: requests through gloo-net with timeout, response validation,
//!   retry with backoff.
//! - [`options`]: the options, read field by field and validated.
//! - [`fields`]: typed reads of the JS objects that come in (options, token
//!   answers, messages from other tabs); serde-wasm-bindgen serialises the
//!   values that go out.
//! - [`error`]: `TokenError`, its code enum, and the conversion to the JS error.
//!
//! - [`tabs`]: one token per endpoint across the tabs of an origin (Web
//!   Locks for one request at a time, `BroadcastChannel` for the hand-off);
//!   the client uses it when the browser has both APIs.
//!
//! Modules are public so the browser tests (`tests/web.rs`) can drive the
//! Rust API directly.

pub mod cache;
pub mod client;
pub mod error;
pub mod fields;
pub mod http;
pub mod options;
pub mod tabs;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

pub use client::TokenClient;
use client::spawn;
pub use error::{ErrorCode, TokenError};
pub use options::Options;

/// The token client allocates little and briefly, so a small free-list
/// allocator beats dlmalloc on download size (see BENCHMARKS.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The wasm side of the JS `TokenClient` (wrapped by `js/client.js`).
#[wasm_bindgen(js_name = TokenClient, skip_typescript)]
#[derive(Debug)]
pub struct JsTokenClient {
    client: TokenClient,
}

#[wasm_bindgen(js_class = TokenClient)]
impl JsTokenClient {
    /// `new TokenClient(options, onChange, onError)`; throws a `TokenError`
    /// (`invalid_options`) for bad options. The hooks are described on
    /// [`client::Hooks`].
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, on_change: Function, on_error: Function) -> Result<JsTokenClient, JsValue> {
        let options = Options::from_js(options).map_err(|error| JsValue::from(error.into_js()))?;
        let hooks = client::Hooks { on_change, on_error };
        Ok(Self { client: TokenClient::new(options, hooks) })
    }

    /// `getAccessToken()` → `Promise<string>`; `getAccessToken(onReady)` →
    /// calls `onReady(token, expiresInSeconds)` (Autodesk Viewer contract).
    #[wasm_bindgen(js_name = getAccessToken)]
    pub fn get_access_token(&self, on_ready: JsValue) -> Promise {
        match on_ready.dyn_into::<Function>() {
            Ok(on_ready) => spawn(Box::pin(self.client.clone().call_when_ready(on_ready))),
            Err(_) => self.client.token_promise(),
        }
    }

    /// Start the first shared request from an attempt the JS entry already
    /// sent (`Promise` of its answer; see `js/early.js`); returns the flight.
    #[wasm_bindgen(js_name = adoptRequest)]
    pub fn adopt_request(&self, sent: Promise) -> Promise {
        self.client.adopt_request(sent)
    }

    /// `fetch` with `Authorization: Bearer …`, retried once after a 401.
    #[wasm_bindgen(js_name = authorizedFetch)]
    pub fn authorized_fetch(&self, input: JsValue, init: JsValue) -> Promise {
        spawn(Box::pin(self.client.clone().authorized_fetch(input, init)))
    }

    /// Forget the cached token.
    pub fn clear(&self) {
        self.client.clear();
    }

    /// Re-judge the token after the page was hidden or offline.
    pub fn wake(&self) {
        self.client.wake();
    }

    /// The `TokenState` object (missing values as `null`), never the token.
    #[wasm_bindgen(js_name = getState)]
    pub fn state(&self) -> Result<JsValue, JsValue> {
        let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);
        Ok(serde::Serialize::serialize(&self.client.state(), &serializer)?)
    }
}
