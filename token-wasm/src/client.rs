//! The token client: answers callers from the cache, runs the one shared
//! request when there is no usable token, keeps the viewer callback retrying,
//! refreshes ahead of expiry, and signs `fetch` requests (`authorizedFetch`).
//! Each asynchronous operation is a [`Task`] state machine.

use alloc::boxed::Box;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};

use js_sys::{Function, JsString, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, Response};

use crate::cache::{Lookup, Ticket, TokenCache, WallClock};
use crate::http::{self, Callback, Progress, TokenRequest, backoff_ms, call, clear_timeout, set_timeout};
use crate::options::Options;
use crate::task::{self, Step, Task};

/// The viewer callback form never gives up, but waits at most this long between tries.
pub const MAX_CALLBACK_RETRY_DELAY_MS: f64 = 30_000.0;

/// The viewer callback is told whole seconds and renews at once when told 0,
/// so it only takes a token that stays usable at least this long.
const VIEWER_MIN_LEFT_MS: f64 = 1_000.0;

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

/// Functions the JS entry passes in.
#[derive(Debug)]
pub struct Hooks {
    /// `(token | null, resolvedPromise | null, freshUntil)`: keeps the JS fast
    /// path and the `onTokenChange` listeners in step with the cache.
    pub on_change: Function,
    /// `(tokenError)`: every failed request, for `onError` listeners.
    pub on_error: Function,
    /// `(kind, status, body, cause) → TokenError`: see [`crate::error`].
    pub make_error: Function,
}

/// A handle to one client; clones share the same cache.
#[derive(Debug, Clone)]
pub struct TokenClient {
    inner: Rc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: Options,
    /// `RefCell` is enough: wasm is single-threaded, and no borrow is held
    /// across a call into JS.
    cache: RefCell<TokenCache<Token, Promise, WallClock>>,
    hooks: Hooks,
    /// The last failure as the JS `TokenError` handed to callers.
    last_error: RefCell<Option<JsValue>>,
    /// Whether the most recent request failed (drives `status: 'error'`).
    has_failed: Cell<bool>,
    /// The pending refresh-ahead `setTimeout` id.
    refresh_timer: RefCell<Option<JsValue>>,
    /// One function for all refresh-ahead timers, wrapping a closure that
    /// holds only a `Weak`, so a dropped client is not kept alive by its own
    /// timer (the closure is freed with the function). The closure has the
    /// type [`task`] uses, so no second closure glue is generated; its
    /// arguments are bound, as `setTimeout` passes none.
    refresh_callback: Option<Function>,
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
        let inner = Rc::new_cyclic(|weak: &Weak<Inner>| {
            let refresh_callback = options.refresh_ahead.then(|| {
                let weak = weak.clone();
                let callback: Box<dyn FnMut(bool, JsValue)> = Box::new(move |_, _| {
                    if let Some(inner) = weak.upgrade() {
                        TokenClient { inner }.refresh_now();
                    }
                });
                let callback: Callback = Closure::wrap_aborting(callback).into_js_value().unchecked_into();
                callback.bind_arg(&JsValue::NULL, &JsValue::TRUE)
            });
            Inner {
                options,
                cache: RefCell::new(TokenCache::new(WallClock, leeway_ms)),
                hooks,
                last_error: RefCell::new(None),
                has_failed: Cell::new(false),
                refresh_timer: RefCell::new(None),
                refresh_callback,
            }
        });
        Self { inner }
    }

    /// A promise of a usable token: the cached one, the one in flight, or a new request.
    pub fn token_promise(&self) -> Promise {
        self.token_lasting(0.0)
    }

    /// [`Self::token_promise`] for a caller that needs the token to stay
    /// usable for at least `min_left_ms` (a token with less left is replaced).
    fn token_lasting(&self, min_left_ms: f64) -> Promise {
        let lookup = self.inner.cache.borrow_mut().lookup_lasting(min_left_ms);
        match lookup {
            Lookup::Hit(token) => token.resolved,
            Lookup::Join(flight) => flight,
            Lookup::Miss => self.start_flight(),
        }
    }

    /// Start the shared request; every caller until it settles gets its outcome.
    fn start_flight(&self) -> Promise {
        let ticket = self.inner.cache.borrow_mut().begin();
        let flight = task::spawn(Box::new(Flight { client: self.clone(), ticket, request: TokenRequest::default() }));
        self.inner.cache.borrow_mut().attach(ticket, flight.clone());
        flight
    }

    /// Store the outcome of a flight and turn it into the flight promise's outcome.
    fn finish_flight(
        &self,
        ticket: Ticket,
        result: Result<http::TokenResponse, crate::TokenError>,
    ) -> Result<JsValue, JsValue> {
        match result {
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
                let error = error.into_js(&self.inner.hooks.make_error);
                if self.inner.cache.borrow_mut().finish_err(ticket) {
                    self.inner.has_failed.set(true);
                    *self.inner.last_error.borrow_mut() = Some(error.clone());
                }
                let _ = call(
                    &self.inner.hooks.on_error,
                    &error,
                    &JsValue::UNDEFINED,
                    &JsValue::UNDEFINED,
                    &JsValue::UNDEFINED,
                    &JsValue::UNDEFINED,
                );
                Err(error)
            }
        }
    }

    /// The Autodesk Viewer contract: call `on_ready(token, expiresInSeconds)`
    /// once a token is available; the promise settles after `on_ready` ran.
    /// The viewer schedules its next renewal only from inside that callback,
    /// so failures never end the loop: it retries with jittered backoff
    /// capped at 30 s (each failure reaches `onError`).
    pub fn call_when_ready(&self, on_ready: Function) -> Promise {
        task::spawn(Box::new(ViewerCall { client: self.clone(), on_ready, failures: 0, is_waiting: false }))
    }

    /// `fetch(input, init)` with `Authorization: Bearer <token>`. On a 401 the
    /// rejected token is dropped and the request is sent once more with a fresh one.
    pub fn authorized_fetch(&self, input: JsValue, init: JsValue) -> Promise {
        task::spawn(Box::new(SignedFetch {
            client: self.clone(),
            request: input,
            init,
            token: JsValue::UNDEFINED,
            stage: FetchStage::Start,
        }))
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

    /// A snapshot for UIs, never containing the token: returns
    /// `build(status, expiresAt | null, fetches, cacheHits, lastError | null)`
    /// where `status` is 0 `empty`, 1 `fresh`, 2 `refreshing` or 3 `error`.
    pub fn state(&self, build: &Function) -> JsValue {
        let (status, expires_at, fetches, cache_hits) = {
            let cache = self.inner.cache.borrow();
            let status = if cache.is_refreshing() {
                2
            } else if cache.is_fresh() {
                1
            } else if self.inner.has_failed.get() {
                3
            } else {
                0
            };
            (status, cache.token().map_or(JsValue::NULL, |t| t.expires_at.into()), cache.fetches, cache.cache_hits)
        };
        let last_error = self.inner.last_error.borrow().clone().unwrap_or(JsValue::NULL);
        call(build, &status.into(), &expires_at, &fetches.into(), &cache_hits.into(), &last_error).unwrap_or_else(|e| e)
    }

    /// Tell the JS side the cached token changed (or is gone).
    fn notify_change(&self) {
        let (token, resolved, fresh_until) = {
            let cache = self.inner.cache.borrow();
            match (cache.token(), cache.fresh_until()) {
                (Some(t), Some(until)) => (JsValue::from(&t.value.value), JsValue::from(&t.value.resolved), until),
                _ => (JsValue::NULL, JsValue::NULL, 0.0),
            }
        };
        let _ = call(
            &self.inner.hooks.on_change,
            &token,
            &resolved,
            &fresh_until.into(),
            &JsValue::UNDEFINED,
            &JsValue::UNDEFINED,
        );
    }

    /// (Re)schedule the refresh-ahead timer for the current token, if enabled
    /// and the token is still fresh (never for one that arrived stale: that
    /// would loop).
    fn arm_refresh(&self) {
        self.cancel_refresh();
        let Some(callback) = &self.inner.refresh_callback else { return };
        let cache = self.inner.cache.borrow();
        let Some(until) = cache.fresh_until() else { return };
        let left = until - cache.now();
        if left <= 0.0 {
            return;
        }
        let delay = left - REFRESH_AHEAD_MARGIN_MS.min(left / 10.0);
        *self.inner.refresh_timer.borrow_mut() = Some(set_timeout(callback, delay));
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
        let _ = task::spawn(Box::new(Observe(Some(flight))));
    }
}

/// The shared token request: [`TokenRequest`] does the HTTP, then the
/// outcome is stored in the cache (if the flight is still current).
struct Flight {
    client: TokenClient,
    ticket: Ticket,
    request: TokenRequest,
}

impl Task for Flight {
    fn resume(&mut self, input: Result<JsValue, JsValue>) -> Step {
        match self.request.resume(&self.client.inner.options, input) {
            Progress::Wait(step) => step,
            Progress::Done(result) => Step::Done(self.client.finish_flight(self.ticket, result)),
        }
    }
}

/// A rejected token request's `code` (see `makeError` in `js/index.js`).
fn get_code(error: &JsValue) -> JsValue {
    js_sys::Reflect::get(error, &JsValue::from_str("code")).unwrap_or(JsValue::UNDEFINED)
}

/// One viewer callback: wait for a token lasting at least a second, call
/// `on_ready`, and on failure sleep and try again; except when the user must
/// sign in (`login_required`), where the returned promise rejects.
struct ViewerCall {
    client: TokenClient,
    on_ready: Function,
    failures: u32,
    /// Whether the input is the token's outcome (else: start or a sleep ended).
    is_waiting: bool,
}

impl Task for ViewerCall {
    fn resume(&mut self, input: Result<JsValue, JsValue>) -> Step {
        if !self.is_waiting {
            self.is_waiting = true;
            return Step::Await(self.client.token_lasting(VIEWER_MIN_LEFT_MS));
        }
        match input {
            Ok(token) => {
                // At least 1 even if a fresh token is shorter-lived than that
                // (or was cleared meanwhile): 0 makes the Viewer spin.
                let seconds = {
                    let cache = self.client.inner.cache.borrow();
                    cache
                        .token()
                        .filter(|t| AsRef::<JsValue>::as_ref(&t.value.value) == &token)
                        .map_or(0.0, |t| cache.usable_seconds(t))
                }
                .max(1.0);
                let called = call(
                    &self.on_ready,
                    &token,
                    &seconds.into(),
                    &JsValue::UNDEFINED,
                    &JsValue::UNDEFINED,
                    &JsValue::UNDEFINED,
                );
                Step::Done(called.map(|_| JsValue::UNDEFINED))
            }
            // Retrying can't sign the user in, and would repeat the 401 for as
            // long as the page is open; the page calls again after sign-in.
            Err(error) if get_code(&error) == JsValue::from_str("login_required") => Step::Done(Err(error)),
            Err(_) => {
                let base = self.client.inner.options.retry_delay_ms.max(1.0);
                let delay = backoff_ms(self.failures, base, MAX_CALLBACK_RETRY_DELAY_MS, None, js_sys::Math::random());
                self.failures += 1;
                self.is_waiting = false;
                Step::Sleep(delay)
            }
        }
    }
}

/// Where a [`SignedFetch`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchStage {
    /// `request` and `init` are still `fetch`'s arguments.
    Start,
    /// Waiting for a token (`is_retry`: after the first answer was a 401).
    Token { is_retry: bool },
    /// Waiting for the API's answer.
    Sent { is_retry: bool },
}

/// `authorizedFetch`: token, request, and once more after a 401.
struct SignedFetch {
    client: TokenClient,
    /// `fetch`'s `input` until the `Request` is built, then the `Request`
    /// (built once so its body can be cloned for the retry).
    request: JsValue,
    init: JsValue,
    /// The token the request was sent with.
    token: JsValue,
    stage: FetchStage,
}

impl Task for SignedFetch {
    fn resume(&mut self, input: Result<JsValue, JsValue>) -> Step {
        let value = match input {
            Ok(value) => value,
            Err(reason) => return Step::Done(Err(reason)),
        };
        match self.stage {
            FetchStage::Start => match AnyRequest::new(&self.request, &self.init) {
                Ok(request) => {
                    self.request = request.into();
                    self.stage = FetchStage::Token { is_retry: false };
                    Step::Await(self.client.token_promise())
                }
                Err(error) => Step::Done(Err(error)),
            },
            FetchStage::Token { is_retry } => match send(self.request.unchecked_ref(), value.unchecked_ref()) {
                Ok(response) => {
                    self.token = value;
                    self.stage = FetchStage::Sent { is_retry };
                    Step::Await(response)
                }
                Err(error) => Step::Done(Err(error)),
            },
            FetchStage::Sent { is_retry } => {
                if is_retry || value.unchecked_ref::<Response>().status() != 401 {
                    return Step::Done(Ok(value));
                }
                let token = &self.token;
                let dropped =
                    self.client.inner.cache.borrow_mut().invalidate(|t| AsRef::<JsValue>::as_ref(&t.value) == token);
                if dropped {
                    self.client.notify_change();
                }
                self.stage = FetchStage::Token { is_retry: true };
                Step::Await(self.client.token_promise())
            }
        }
    }
}

/// Waits for a promise and ignores its outcome.
struct Observe(Option<Promise>);

impl Task for Observe {
    fn resume(&mut self, _: Result<JsValue, JsValue>) -> Step {
        match self.0.take() {
            Some(promise) => Step::Await(promise),
            None => Step::Done(Ok(JsValue::UNDEFINED)),
        }
    }
}

/// Send a copy of `request` carrying the bearer token.
fn send(request: &AnyRequest, token: &JsString) -> Result<Promise, JsValue> {
    let attempt = request.unchecked_ref::<web_sys::Request>().clone()?;
    attempt
        .headers()
        .unchecked_into::<JsHeaders>()
        .set_js("Authorization", &JsString::from("Bearer ").concat(token))?;
    Ok(http::fetch(&attempt, &JsValue::UNDEFINED))
}
