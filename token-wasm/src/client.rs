//! The token client: answers callers from the cache, runs the one shared
//! request when there is no usable token, keeps the viewer callback retrying,
//! refreshes ahead of expiry, and signs `fetch` requests (`authorizedFetch`).

use alloc::boxed::Box;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;

use js_sys::{Function, JsString, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{Headers, Response};

use crate::cache::{Lookup, Ticket, TokenCache, WallClock};
use crate::http::{self, backoff_ms, clear_timeout, set_timeout, sleep};
use crate::options::Options;

/// The viewer callback form never gives up, but waits at most this long between tries.
pub const MAX_CALLBACK_RETRY_DELAY_MS: f64 = 30_000.0;

/// Refresh-ahead fires this long (or a tenth of the remaining freshness, if
/// shorter) before the token leaves its freshness window.
const REFRESH_AHEAD_MARGIN_MS: f64 = 5_000.0;

/// A cached token as JS values: the string for callbacks, and a resolved
/// `Promise` of it that every cached `getAccessToken()` returns, so a cache
/// hit allocates nothing and never copies the token across the boundary.
#[derive(Debug, Clone)]
pub struct Token {
    /// The access token.
    pub value: JsString,
    /// `Promise.resolve(value)`, created once per token.
    pub resolved: Promise,
}

/// Functions the JS entry passes in to hear about changes.
#[derive(Debug, Default)]
pub struct Hooks {
    /// `(token | null, resolvedPromise | null, freshUntil)`: keeps the JS fast
    /// path and the `onTokenChange` listeners in step with the cache.
    pub on_change: Option<Function>,
    /// `(tokenError)`: every failed request, for `onError` listeners.
    pub on_error: Option<Function>,
    /// `TokenError.prototype` of the JS entry, given to every error created here.
    pub error_prototype: Option<Object>,
}

/// A handle to one client; clones share the same cache.
#[derive(Debug, Clone)]
pub struct TokenClient {
    inner: Rc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: Options,
    /// `RefCell` is enough: wasm is single-threaded, and no borrow is held across an `.await`.
    cache: RefCell<TokenCache<Token, Promise, WallClock>>,
    hooks: Hooks,
    /// The last failure as the JS `TokenError` handed to callers.
    last_error: RefCell<Option<JsValue>>,
    /// Whether the most recent request failed (drives `status: 'error'`).
    has_failed: Cell<bool>,
    /// The pending refresh-ahead `setTimeout` id.
    refresh_timer: RefCell<Option<JsValue>>,
    /// One closure for all refresh-ahead timers, holding only a `Weak` so a
    /// dropped client is not kept alive by its own timer.
    refresh_callback: RefCell<Option<Closure<dyn FnMut()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(timer) = self.refresh_timer.get_mut().take() {
            clear_timeout(&timer);
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// `new Request(input, init)` for whatever `fetch` itself accepts.
    #[wasm_bindgen(extends = web_sys::Request, js_name = Request)]
    type AnyRequest;

    #[wasm_bindgen(constructor, catch, js_class = Request)]
    fn new(input: &JsValue, init: &JsValue) -> Result<AnyRequest, JsValue>;

    /// `Headers` with `set(name, value)` taking a JS string value (no copy into Rust).
    #[wasm_bindgen(extends = Headers, js_name = Headers)]
    type JsHeaders;

    #[wasm_bindgen(method, catch, js_class = Headers, js_name = set)]
    fn set_js(this: &JsHeaders, name: &str, value: &JsString) -> Result<(), JsValue>;
}

impl TokenClient {
    /// A client with validated options.
    pub fn new(options: Options, hooks: Hooks) -> Self {
        let leeway_ms = options.leeway_ms;
        let inner = Rc::new(Inner {
            options,
            cache: RefCell::new(TokenCache::new(WallClock, leeway_ms)),
            hooks,
            last_error: RefCell::new(None),
            has_failed: Cell::new(false),
            refresh_timer: RefCell::new(None),
            refresh_callback: RefCell::new(None),
        });
        if inner.options.refresh_ahead {
            let weak: Weak<Inner> = Rc::downgrade(&inner);
            let callback = Closure::<dyn FnMut()>::new(move || {
                if let Some(inner) = weak.upgrade() {
                    TokenClient { inner }.refresh_now();
                }
            });
            *inner.refresh_callback.borrow_mut() = Some(callback);
        }
        Self { inner }
    }

    /// A promise of a usable token: the cached one, the one in flight, or a new request.
    pub fn token_promise(&self) -> Promise {
        let lookup = self.inner.cache.borrow_mut().lookup();
        match lookup {
            Lookup::Hit(token) => token.resolved,
            Lookup::Join(flight) => flight,
            Lookup::Miss => self.start_flight(),
        }
    }

    /// A usable token.
    pub async fn token(&self) -> Result<JsString, JsValue> {
        JsFuture::from(self.token_promise()).await.map(JsCast::unchecked_into)
    }

    /// Start the shared request; every caller until it settles gets its outcome.
    fn start_flight(&self) -> Promise {
        let ticket = self.inner.cache.borrow_mut().begin();
        let this = self.clone();
        let flight = promise(async move { this.run_flight(ticket).await });
        self.inner.cache.borrow_mut().attach(ticket, flight.clone());
        flight
    }

    async fn run_flight(self, ticket: Ticket) -> Result<JsValue, JsValue> {
        match http::fetch_token(&self.inner.options).await {
            Ok(answer) => {
                let token = Token {
                    resolved: Promise::resolve(&JsValue::from(&answer.access_token)),
                    value: answer.access_token.clone(),
                };
                let stored = self.inner.cache.borrow_mut().finish_ok(ticket, token, answer.expires_in);
                if stored {
                    self.inner.has_failed.set(false);
                    self.notify_change();
                    self.arm_refresh();
                }
                Ok(answer.access_token.into())
            }
            Err(error) => {
                let error = error.into_js(self.inner.hooks.error_prototype.as_ref());
                if self.inner.cache.borrow_mut().finish_err(ticket) {
                    self.inner.has_failed.set(true);
                    *self.inner.last_error.borrow_mut() = Some(error.clone());
                }
                if let Some(on_error) = &self.inner.hooks.on_error {
                    let _ = on_error.call1(&JsValue::NULL, &error);
                }
                Err(error)
            }
        }
    }

    /// The Autodesk Viewer contract: call `on_ready(token, expiresInSeconds)`
    /// once a token is available. The viewer schedules its next renewal only
    /// from inside that callback, so failures never end the loop: it retries
    /// with jittered backoff capped at 30 s (each failure reaches `onError`).
    pub async fn call_when_ready(&self, on_ready: Function) -> Result<JsValue, JsValue> {
        let mut failures = 0;
        loop {
            match self.token().await {
                Ok(token) => {
                    let seconds = {
                        let cache = self.inner.cache.borrow();
                        cache.token().filter(|t| t.value.value == token).map_or(0.0, |t| cache.usable_seconds(t))
                    };
                    on_ready.call2(&JsValue::NULL, &token, &seconds.into())?;
                    return Ok(JsValue::UNDEFINED);
                }
                Err(_) => {
                    let base = self.inner.options.retry_delay_ms.max(1.0);
                    sleep(backoff_ms(failures, base, MAX_CALLBACK_RETRY_DELAY_MS, None, js_sys::Math::random())).await;
                    failures += 1;
                }
            }
        }
    }

    /// `fetch(input, init)` with `Authorization: Bearer <token>`. On a 401 the
    /// rejected token is dropped and the request is sent once more with a fresh one.
    pub async fn authorized_fetch(&self, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
        // Built once so its body can be cloned for the retry.
        let request = AnyRequest::new(&input, &init)?;
        let token = self.token().await?;
        let response = send(&request, &token).await?;
        if response.unchecked_ref::<Response>().status() != 401 {
            return Ok(response);
        }
        let dropped = self.inner.cache.borrow_mut().invalidate(|t| t.value == token);
        if dropped {
            self.notify_change();
        }
        let token = self.token().await?;
        send(&request, &token).await
    }

    /// Forget the token (e.g. on sign-out). A request in flight still answers
    /// its callers but is not cached.
    pub fn clear(&self) {
        self.inner.cache.borrow_mut().clear();
        self.inner.has_failed.set(false);
        self.cancel_refresh();
        self.notify_change();
    }

    /// Called when the page becomes visible or comes back online: timers may
    /// have been frozen, so re-judge the token by the wall clock.
    pub fn wake(&self) {
        let dropped = self.inner.cache.borrow_mut().drop_stale();
        if dropped {
            self.notify_change();
            if self.inner.options.refresh_ahead {
                self.refresh_now();
            }
        } else {
            self.arm_refresh();
        }
    }

    /// A snapshot for UIs. Never contains the token.
    pub fn state(&self) -> JsValue {
        let cache = self.inner.cache.borrow();
        let status = if cache.is_refreshing() {
            "refreshing"
        } else if cache.is_fresh() {
            "fresh"
        } else if self.inner.has_failed.get() {
            "error"
        } else {
            "empty"
        };
        let state = Object::new();
        let set = |target: &Object, key: &str, value: &JsValue| {
            let _ = Reflect::set(target, &key.into(), value);
        };
        set(&state, "status", &status.into());
        set(&state, "expiresAt", &cache.token().map_or(JsValue::NULL, |t| t.expires_at.into()));
        set(&state, "fetches", &cache.fetches.into());
        set(&state, "cacheHits", &cache.cache_hits.into());
        let last_error = match self.inner.last_error.borrow().as_ref() {
            Some(error) => {
                let summary = Object::new();
                for key in ["code", "message", "status"] {
                    set(&summary, key, &Reflect::get(error, &key.into()).unwrap_or(JsValue::NULL));
                }
                summary.into()
            }
            None => JsValue::NULL,
        };
        set(&state, "lastError", &last_error);
        state.into()
    }

    /// Tell the JS side the cached token changed (or is gone).
    fn notify_change(&self) {
        let Some(on_change) = &self.inner.hooks.on_change else { return };
        let (token, resolved, fresh_until) = {
            let cache = self.inner.cache.borrow();
            match (cache.token(), cache.fresh_until()) {
                (Some(t), Some(until)) => (JsValue::from(&t.value.value), JsValue::from(&t.value.resolved), until),
                _ => (JsValue::NULL, JsValue::NULL, 0.0),
            }
        };
        let _ = on_change.call3(&JsValue::NULL, &token, &resolved, &fresh_until.into());
    }

    /// (Re)schedule the refresh-ahead timer for the current token, if enabled
    /// and the token is still fresh (never for one that arrived stale: that
    /// would loop).
    fn arm_refresh(&self) {
        self.cancel_refresh();
        let callback = self.inner.refresh_callback.borrow();
        let Some(callback) = callback.as_ref() else { return };
        let cache = self.inner.cache.borrow();
        let Some(until) = cache.fresh_until() else { return };
        let left = until - cache.now();
        if left <= 0.0 {
            return;
        }
        let delay = left - REFRESH_AHEAD_MARGIN_MS.min(left / 10.0);
        *self.inner.refresh_timer.borrow_mut() = Some(set_timeout(callback.as_ref().unchecked_ref(), delay));
    }

    fn cancel_refresh(&self) {
        if let Some(timer) = self.inner.refresh_timer.borrow_mut().take() {
            clear_timeout(&timer);
        }
    }

    /// Start a background request unless one is running. Callers keep getting
    /// the current token meanwhile; a failure is reported to `onError` only.
    fn refresh_now(&self) {
        *self.inner.refresh_timer.borrow_mut() = None;
        if self.inner.cache.borrow().is_refreshing() {
            return;
        }
        let flight = self.start_flight();
        // Observe the flight so a failure is not an unhandled rejection.
        let _ = promise(async move {
            let _ = JsFuture::from(flight).await;
            Ok(JsValue::UNDEFINED)
        });
    }
}

/// Every async operation as one boxed future type, so `future_to_promise`
/// and its task wrapper are compiled once, not once per `async` block
/// (each copy is ~1 KB of wasm).
type Task = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// Run `task` to completion as a JS `Promise`.
pub fn promise(task: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    future_to_promise(Box::pin(task) as Task)
}

/// Send a copy of `request` carrying the bearer token.
async fn send(request: &AnyRequest, token: &JsString) -> Result<JsValue, JsValue> {
    let attempt = request.unchecked_ref::<web_sys::Request>().clone()?;
    attempt
        .headers()
        .unchecked_into::<JsHeaders>()
        .set_js("Authorization", &JsString::from("Bearer ").concat(token))?;
    JsFuture::from(http::fetch(&attempt, &JsValue::UNDEFINED)).await
}
