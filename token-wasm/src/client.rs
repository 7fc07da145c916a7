//! The token client: answers callers from the cache, runs the one shared
//! request when there is no usable token, keeps the viewer callback retrying,
//! refreshes ahead of expiry, and signs `fetch` requests (`authorizedFetch`).
//! Each operation is an `async fn`; the shared request is a `Promise` (from
//! `future_to_promise`) so JS callers and Rust callers can all wait on it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Function, JsString, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::cache::{Lookup, Ticket, TokenCache, WallClock};
use crate::error::{ErrorCode, ErrorSummary, JsTokenError};
use crate::http::{backoff_ms, fetch_token, js_error, sleep, timer_ms};
use crate::options::Options;
use crate::tabs::{Message, Tabs};

/// The viewer callback form never gives up, but waits at most this long between tries.
pub const MAX_CALLBACK_RETRY_DELAY_MS: f64 = 30_000.0;

/// The viewer callback is told whole seconds and renews at once when told 0,
/// so it only takes a token that stays usable at least this long.
const VIEWER_MIN_LEFT_MS: f64 = 1_000.0;

/// Refresh-ahead fires this long (or a tenth of the remaining freshness, if
/// shorter) before the token leaves its freshness window.
const REFRESH_AHEAD_MARGIN_MS: f64 = 5_000.0;

/// Every operation's future, boxed as one type: `future_to_promise` (the
/// executor's task and its glue) is then generated once rather than once per
/// operation, which costs download size (see BENCHMARKS.md).
pub type Operation = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// Run `operation` and return the `Promise` of its outcome.
pub fn spawn(operation: Operation) -> Promise {
    future_to_promise(operation)
}

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
}

/// What a UI may show (`getState()`); never the token.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Where the client stands.
    pub status: Status,
    /// Epoch ms at which the cached token expires.
    pub expires_at: Option<f64>,
    /// Token requests started.
    pub fetches: u32,
    /// Calls answered from the cache (the JS fast path adds its own).
    pub cache_hits: u32,
    /// The last failure, kept after later successes.
    pub last_error: Option<ErrorSummary>,
}

/// `TokenState.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No token, nothing in flight, no failure since the last `clear()`.
    Empty,
    /// A token that may be handed out.
    Fresh,
    /// A request is in flight.
    Refreshing,
    /// The most recent request failed.
    Error,
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
    /// across an `.await` or a call into JS.
    cache: RefCell<TokenCache<Token, Promise, WallClock>>,
    hooks: Hooks,
    /// The last failure, for `getState().lastError`.
    last_error: RefCell<Option<ErrorSummary>>,
    /// Whether the most recent request failed (drives `status: 'error'`).
    has_failed: Cell<bool>,
    /// The pending refresh-ahead timer; dropping it cancels it. Its closure
    /// holds only a `Weak`, so a dropped client is not kept alive by it.
    refresh_timer: RefCell<Option<Timeout>>,
    /// The other tabs sharing this endpoint's token, where the browser can
    /// share (and `shareAcrossTabs` is on); `None` means working alone.
    tabs: Option<Tabs>,
}

#[wasm_bindgen]
extern "C" {
    /// `new Request(input, init)` for whatever `fetch` itself accepts
    /// (string, `URL`, `Request`), which web-sys splits into typed constructors.
    #[wasm_bindgen(extends = web_sys::Request, js_name = Request)]
    type AnyRequest;

    #[wasm_bindgen(constructor, catch, js_class = Request)]
    fn new(input: &JsValue, init: &JsValue) -> Result<AnyRequest, JsValue>;
}

impl TokenClient {
    /// A client with validated options.
    pub fn new(options: Options, hooks: Hooks) -> Self {
        let inner = Rc::new_cyclic(|me: &Weak<Inner>| {
            let me = me.clone();
            let tabs = options.share_across_tabs.then(|| {
                Tabs::join(&options.endpoint, move |message| {
                    me.upgrade().and_then(|inner| TokenClient { inner }.receive(message))
                })
            });
            Inner {
                cache: RefCell::new(TokenCache::new(WallClock, options.leeway_ms)),
                options,
                hooks,
                last_error: RefCell::new(None),
                has_failed: Cell::new(false),
                refresh_timer: RefCell::new(None),
                tabs: tabs.flatten(),
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
        let client = self.clone();
        let flight = spawn(Box::pin(client.fly(ticket)));
        self.inner.cache.borrow_mut().attach(ticket, flight.clone());
        flight
    }

    /// The shared request. Alone, it fetches. With other tabs, it waits for
    /// this endpoint's lock first, and fetches only if no tab brought a fresh
    /// token while it waited (or has one when asked).
    async fn fly(self, ticket: Ticket) -> Result<JsValue, JsValue> {
        let Some(tabs) = &self.inner.tabs else {
            return self.fetch(ticket, None).await;
        };
        let stored = self.inner.cache.borrow().stored;
        let client = self.clone();
        tabs.exclusive(move || spawn(Box::pin(client.fetch_unless_received(ticket, stored)))).await
    }

    /// Under the lock: answer with a fresh token that arrived from another
    /// tab after this request began (when `stored` tokens had been stored),
    /// or fetch.
    async fn fetch_unless_received(self, ticket: Ticket, stored: u64) -> Result<JsValue, JsValue> {
        if let Some(tabs) = &self.inner.tabs {
            tabs.gather().await;
        }
        let received = {
            let mut cache = self.inner.cache.borrow_mut();
            let is_new = cache.stored != stored;
            let token = cache.token().filter(|_| is_new && cache.is_fresh()).map(|t| t.value.value.clone());
            token.filter(|_| cache.finish_adopted(ticket))
        };
        match received {
            Some(token) => Ok(token.into()),
            None => self.fetch(ticket, None).await,
        }
    }

    /// The first shared request of a client whose first attempt the JS
    /// entry sent before the module was ready (`js/early.js`): `sent` is the
    /// `Promise` of that attempt's answer, read and retried like one of ours.
    /// The entry sends it only where this tab may ask the server now (working
    /// alone, holding the endpoint's lock with no other tab to ask, or with no
    /// other tab's presence lease live: `js/lease.js`), and holds that lock (if
    /// it got it) until the returned flight settles, so it skips
    /// [`Self::fly`]'s lock. Called right after construction (nothing cached
    /// or in flight yet); calls made meanwhile join the flight.
    pub fn adopt_request(&self, sent: Promise) -> Promise {
        let ticket = self.inner.cache.borrow_mut().begin();
        let flight = spawn(Box::pin(self.clone().fetch(ticket, Some(sent))));
        self.inner.cache.borrow_mut().attach(ticket, flight.clone());
        flight
    }

    /// Fetch (the first attempt already `sent`, if given), then store the
    /// outcome (if the request is still current), tell the listeners and the
    /// other tabs.
    async fn fetch(self, ticket: Ticket, sent: Option<Promise>) -> Result<JsValue, JsValue> {
        match fetch_token(&self.inner.options, sent).await {
            Ok(answer) => {
                let value = JsString::from(answer.access_token.as_str());
                let token = Token { resolved: Promise::resolve(&JsValue::from(&value)), value: value.clone() };
                let is_stored = self.inner.cache.borrow_mut().finish_ok(ticket, token, answer.expires_in);
                if is_stored {
                    self.inner.has_failed.set(false);
                    self.notify_change();
                    self.arm_refresh();
                    if let (Some(tabs), Some(expires_at)) = (&self.inner.tabs, self.inner.cache.borrow().expires_at()) {
                        tabs.post_token(answer.access_token, expires_at);
                    }
                }
                Ok(value.into())
            }
            Err(error) => {
                let summary = error.summary();
                let error = JsValue::from(error.into_js());
                if self.inner.cache.borrow_mut().finish_err(ticket) {
                    self.inner.has_failed.set(true);
                    *self.inner.last_error.borrow_mut() = Some(summary);
                }
                let _ = self.inner.hooks.on_error.call1(&JsValue::UNDEFINED, &error);
                Err(error)
            }
        }
    }

    /// The Autodesk Viewer contract: call `on_ready(token, expiresInSeconds)`
    /// once a token is available; the returned future ends after `on_ready`
    /// ran. The viewer schedules its next renewal only from inside that
    /// callback, so failures never end the loop: it retries with jittered
    /// backoff capped at 30 s (each failure reaches `onError`), except on
    /// `login_required` and `invalid_options`, which retrying cannot fix.
    pub async fn call_when_ready(self, on_ready: Function) -> Result<JsValue, JsValue> {
        let mut failures = 0;
        loop {
            match JsFuture::from(self.token_lasting(VIEWER_MIN_LEFT_MS)).await {
                Ok(token) => {
                    // At least 1 even if a fresh token is shorter-lived than
                    // that (or was cleared meanwhile): 0 makes the Viewer spin.
                    let seconds = {
                        let cache = self.inner.cache.borrow();
                        cache
                            .token()
                            .filter(|t| AsRef::<JsValue>::as_ref(&t.value.value) == &token)
                            .map_or(0.0, |t| cache.usable_seconds(t))
                    }
                    .max(1.0);
                    on_ready.call2(&JsValue::UNDEFINED, &token, &seconds.into())?;
                    return Ok(JsValue::UNDEFINED);
                }
                // Retrying can't sign the user in (or fix the endpoint), and
                // would repeat the failure for as long as the page is open; the
                // page calls again after sign-in.
                Err(error) if is_final(&error) => return Err(error),
                Err(_) => {
                    let base = self.inner.options.retry_delay_ms.max(1.0);
                    let random = js_sys::Math::random();
                    sleep(backoff_ms(failures, base, MAX_CALLBACK_RETRY_DELAY_MS, None, random)).await;
                    failures += 1;
                }
            }
        }
    }

    /// `fetch(input, init)` with `Authorization: Bearer <token>`. On a 401 the
    /// rejected token is dropped and the request is sent once more with a fresh one.
    pub async fn authorized_fetch(self, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
        // Built once, so each attempt sends a clone (a body can be read once).
        let request: web_sys::Request = AnyRequest::new(&input, &init)?.unchecked_into();
        let mut is_retry = false;
        loop {
            let token = JsFuture::from(self.token_promise()).await?;
            let attempt = request.clone()?;
            let mut bearer = String::from("Bearer ");
            bearer.push_str(&token.as_string().unwrap_or_default());
            attempt.headers().set("Authorization", &bearer)?;
            let response: web_sys::Response =
                gloo_net::http::Request::from(attempt).send().await.map_err(js_error)?.into();
            if is_retry || response.status() != 401 {
                return Ok(response.into());
            }
            let is_dropped = self.inner.cache.borrow_mut().invalidate(|t| AsRef::<JsValue>::as_ref(&t.value) == &token);
            if is_dropped {
                self.notify_change();
            }
            is_retry = true;
        }
    }

    /// Forget the token (e.g. on sign-out). A request in flight still answers
    /// its callers but is not cached.
    pub fn clear(&self) {
        self.inner.cache.borrow_mut().clear();
        self.inner.has_failed.set(false);
        self.inner.refresh_timer.borrow_mut().take();
        self.notify_change();
    }

    /// Called when the page becomes visible or comes back online: timers may
    /// have been frozen, so re-judge the token by the wall clock.
    pub fn wake(&self) {
        let is_dropped = self.inner.cache.borrow_mut().drop_stale();
        if is_dropped {
            self.notify_change();
            if self.inner.options.refresh_ahead {
                self.refresh_now();
            }
        } else {
            self.arm_refresh();
        }
    }

    /// A snapshot for UIs, never containing the token.
    pub fn state(&self) -> State {
        let cache = self.inner.cache.borrow();
        let status = if cache.is_refreshing() {
            Status::Refreshing
        } else if cache.is_fresh() {
            Status::Fresh
        } else if self.inner.has_failed.get() {
            Status::Error
        } else {
            Status::Empty
        };
        State {
            status,
            expires_at: cache.token().map(|t| t.expires_at),
            fetches: cache.fetches,
            cache_hits: cache.cache_hits,
            last_error: self.inner.last_error.borrow().clone(),
        }
    }

    /// A message from another tab: keep its token if it outlives ours (and
    /// tell the listeners), or answer a request with ours if it is fresh.
    fn receive(&self, message: Message) -> Option<Message> {
        match message {
            Message::Token { access_token, expires_at } => {
                let value = JsString::from(access_token);
                let token = Token { resolved: Promise::resolve(&JsValue::from(&value)), value };
                let is_stored = self.inner.cache.borrow_mut().receive(token, expires_at);
                if is_stored {
                    self.inner.has_failed.set(false);
                    self.notify_change();
                    self.arm_refresh();
                }
            }
            Message::Wanted => {
                let cache = self.inner.cache.borrow();
                let token = cache.token().filter(|_| cache.is_fresh())?;
                let access_token = token.value.value.as_string()?;
                return Some(Message::Token { access_token, expires_at: token.expires_at });
            }
        }
        None
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
        let _ = self.inner.hooks.on_change.call3(&JsValue::UNDEFINED, &token, &resolved, &fresh_until.into());
    }

    /// (Re)schedule the refresh-ahead timer for the current token, if enabled
    /// and the token is still fresh (never for one that arrived stale: that
    /// would loop).
    fn arm_refresh(&self) {
        self.inner.refresh_timer.borrow_mut().take();
        if !self.inner.options.refresh_ahead {
            return;
        }
        let delay = {
            let cache = self.inner.cache.borrow();
            let Some(until) = cache.fresh_until() else { return };
            let left = until - cache.now();
            if left <= 0.0 {
                return;
            }
            left - REFRESH_AHEAD_MARGIN_MS.min(left / 10.0)
        };
        let weak: Weak<Inner> = Rc::downgrade(&self.inner);
        let timer = Timeout::new(timer_ms(delay), move || {
            if let Some(inner) = weak.upgrade() {
                TokenClient { inner }.refresh_now();
            }
        });
        *self.inner.refresh_timer.borrow_mut() = Some(timer);
    }

    /// Start a background request unless one is running. Callers keep getting
    /// the current token meanwhile; a failure is reported to `onError` only.
    fn refresh_now(&self) {
        // The timer that called this has fired: drop it (wasm-bindgen frees a
        // closure dropped during its own call once that call returns).
        self.inner.refresh_timer.borrow_mut().take();
        if self.inner.cache.borrow().is_refreshing() {
            return;
        }
        let flight = self.start_flight();
        // Observe the flight so a failure is not an unhandled rejection.
        let _ = spawn(Box::pin(async move {
            let _ = JsFuture::from(flight).await;
            Ok(JsValue::UNDEFINED)
        }));
    }
}

/// Whether a rejected token request is one that trying again cannot fix:
/// the user must sign in, or the endpoint cannot be requested at all.
fn is_final(error: &JsValue) -> bool {
    error.dyn_ref::<JsTokenError>().is_some_and(|e| {
        let code = e.code();
        code == ErrorCode::LoginRequired.as_str() || code == ErrorCode::InvalidOptions.as_str()
    })
}
