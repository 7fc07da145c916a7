//! Browser tests of the wasm client in headless Chromium against the real
//! token server in `token-server.mjs`. Run them with
//! `node token-wasm/tests/run-wasm-tests.mjs`, which starts the server and
//! bakes its URL in through `TOKEN_TEST_SERVER`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Function, JSON, Promise, Reflect};
use token_wasm::JsTokenClient;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn server() -> &'static str {
    match option_env!("TOKEN_TEST_SERVER") {
        Some(url) => url,
        None => panic!("run via `node token-wasm/tests/run-wasm-tests.mjs` (sets TOKEN_TEST_SERVER)"),
    }
}

/// Options JSON with `{S}` replaced by the server URL.
fn opts(json: &str) -> JsValue {
    JSON::parse(&json.replace("{S}", server())).unwrap()
}

/// A client from (valid) JSON options, with the given hooks; options go
/// through the same parsing as from JS.
fn client_with(json: &str, on_change: Option<Function>, on_error: Option<Function>) -> JsTokenClient {
    let noop = || Function::new_no_args("");
    JsTokenClient::new(opts(json), on_change.unwrap_or_else(noop), on_error.unwrap_or_else(noop))
        .unwrap_or_else(|e| panic!("options {json} rejected: {:?}", get(&e, "message")))
}

/// `client.getState()`.
fn state(c: &JsTokenClient) -> JsValue {
    c.state().unwrap()
}

/// Resolve after `ms` milliseconds.
async fn sleep(ms: f64) {
    token_wasm::http::sleep(ms).await;
}

fn client(json: &str) -> JsTokenClient {
    client_with(json, None, None)
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

async fn settle(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

async fn token(c: &JsTokenClient) -> Result<JsValue, JsValue> {
    settle(c.get_access_token(JsValue::UNDEFINED)).await
}

async fn server_json(path: &str) -> JsValue {
    let url = format!("{}{}", server(), path);
    let resp = gloo_net::http::Request::get(&url).send().await.unwrap();
    JSON::parse(&resp.text().await.unwrap()).unwrap()
}

async fn count(key: &str) -> f64 {
    get(&server_json(&format!("/count?key={key}")).await, "count").as_f64().unwrap()
}

/// Poll `check` every 20 ms until it holds; fail after `timeout_ms`.
async fn wait_until(timeout_ms: f64, mut check: impl AsyncFnMut() -> bool) {
    let start = js_sys::Date::now();
    while !check().await {
        assert!(js_sys::Date::now() - start < timeout_ms, "condition not met within {timeout_ms} ms");
        sleep(20.0).await;
    }
}

async fn expect_error(c: &JsTokenClient, code: &str) -> JsValue {
    let err = token(c).await.expect_err("expected a TokenError");
    assert!(err.is_instance_of::<js_sys::Error>(), "a real Error");
    assert_eq!(get(&err, "name"), "TokenError");
    assert_eq!(get(&err, "code"), code, "message: {:?}", get(&err, "message"));
    err
}

/// Calls so far and the arguments of the last call.
type Recorded = (Rc<Cell<u32>>, Rc<std::cell::RefCell<Vec<JsValue>>>);

/// A JS function counting its calls and remembering its last arguments.
fn recorder() -> (Function, Recorded) {
    let calls = Rc::new(Cell::new(0));
    let args = Rc::new(std::cell::RefCell::new(Vec::new()));
    let (c, a) = (calls.clone(), args.clone());
    let f = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |x: JsValue, y: JsValue| {
        c.set(c.get() + 1);
        *a.borrow_mut() = vec![x, y];
    });
    let func = f.as_ref().unchecked_ref::<Function>().clone();
    f.forget();
    (func, (calls, args))
}

/// A cached token is reused: one request, later calls are cache hits.
#[wasm_bindgen_test]
async fn cached_token_is_reused() {
    let c = client(r#"{"endpoint":"{S}/token?key=cache"}"#);
    let a = token(&c).await.unwrap();
    let b = token(&c).await.unwrap();
    assert_eq!(a, b);
    assert!(a.as_string().unwrap().starts_with("tok-cache-1"));
    assert_eq!(count("cache").await, 1.0);
    let state = state(&c);
    assert_eq!(get(&state, "status"), "fresh");
    assert_eq!(get(&state, "fetches"), 1);
    assert_eq!(get(&state, "cacheHits"), 1);
    assert!(get(&state, "expiresAt").as_f64().unwrap() > js_sys::Date::now() + 3_500_000.0);
    assert!(get(&state, "access_token").is_undefined(), "state never carries the token");
}

/// 1,000 concurrent cold calls make exactly one request and all get its token.
#[wasm_bindgen_test]
async fn cold_burst_makes_one_request() {
    let c = client(r#"{"endpoint":"{S}/slow?ms=100&key=burst"}"#);
    let all: Array = (0..1000).map(|_| JsValue::from(c.get_access_token(JsValue::UNDEFINED))).collect();
    let tokens: Array = settle(Promise::all(&all)).await.unwrap().unchecked_into();
    let first = tokens.get(0);
    assert!(first.is_string());
    assert!(tokens.iter().all(|t| t == first));
    assert_eq!(count("burst").await, 1.0);
}

/// Concurrent callers share one failure (the same error object), and the
/// failure does not poison the cache: the next call tries again.
#[wasm_bindgen_test]
async fn shared_failure_then_next_call_retries() {
    let c = client(r#"{"endpoint":"{S}/fail/500?key=sharedfail","retries":0}"#);
    let all: Array = (0..20).map(|_| JsValue::from(c.get_access_token(JsValue::UNDEFINED))).collect();
    let outcomes: Array = settle(Promise::all_settled(&all)).await.unwrap().unchecked_into();
    let first = get(&outcomes.get(0), "reason");
    assert!(outcomes.iter().all(|o| get(&o, "status") == "rejected" && get(&o, "reason") == first));
    assert_eq!(count("sharedfail").await, 1.0);
    assert_eq!(get(&state(&c), "status"), "error");
    assert_eq!(get(&get(&state(&c), "lastError"), "code"), "http");
    expect_error(&c, "http").await;
    assert_eq!(count("sharedfail").await, 2.0);
}

/// A token that arrives with no more life than the leeway is reused for half
/// its life, so callers do not refetch it at once.
#[wasm_bindgen_test]
async fn short_lived_token_is_reused_for_half_its_life() {
    let c = client(r#"{"endpoint":"{S}/token?ttl=30&key=short","leewaySeconds":60}"#);
    let a = token(&c).await.unwrap();
    let b = token(&c).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(count("short").await, 1.0);
    assert_eq!(get(&state(&c), "status"), "fresh");
}

/// Regression (re-fetch loop): the Viewer asks again as soon as its callback
/// says the token is used up. Against a server that always answers
/// `expires_in: 45` with leeway 60, rapid viewer cycles must not turn into one
/// request per cycle: they share one token and are told ~22 s, not 0.
#[wasm_bindgen_test]
async fn rapid_viewer_cycles_on_short_tokens_make_one_request() {
    let c = client(r#"{"endpoint":"{S}/token?ttl=45&key=vloop","leewaySeconds":60}"#);
    let (on_ready, (calls, args)) = recorder();
    let start = js_sys::Date::now();
    for cycle in 1..=20 {
        settle(c.get_access_token(on_ready.clone().into())).await.unwrap();
        assert_eq!(calls.get(), cycle);
        let secs = args.borrow()[1].as_f64().unwrap();
        assert!((21.0..=22.0).contains(&secs), "expiresInSeconds {secs}");
    }
    assert!(js_sys::Date::now() - start < 5_000.0, "the cycles ran within a short window");
    assert!(count("vloop").await <= 1.0);
}

/// Regression (0-second spin): the Viewer renews exactly when its
/// `expiresInSeconds` runs out. It must never be told 0 (it would renew at
/// once, in a loop, until the old token expired): with < 1 s left it gets a
/// new token, one request per renewal.
#[wasm_bindgen_test]
async fn viewer_renewing_on_time_is_never_told_zero() {
    let c = client(r#"{"endpoint":"{S}/token?ttl=62&key=renew","leewaySeconds":60}"#);
    let (on_ready, (calls, args)) = recorder();
    let start = js_sys::Date::now();
    while js_sys::Date::now() - start < 3_500.0 {
        settle(c.get_access_token(on_ready.clone().into())).await.unwrap();
        let secs = args.borrow()[1].as_f64().unwrap();
        assert!(secs >= 1.0, "renewal {} was told {secs}", calls.get());
        sleep(secs * 1000.0).await;
    }
    let requests = count("renew").await;
    assert!(requests <= f64::from(calls.get()) + 1.0, "{requests} requests for {} renewals", calls.get());
}

/// Once `expires_at - leeway` passes, the next call fetches a new token.
#[wasm_bindgen_test]
async fn expired_token_is_refetched() {
    let c = client(r#"{"endpoint":"{S}/token?ttl=61&key=expiry","leewaySeconds":60}"#);
    let a = token(&c).await.unwrap();
    assert_eq!(token(&c).await.unwrap(), a);
    let expires_at = get(&state(&c), "expiresAt").as_f64().unwrap();
    wait_until(5_000.0, async || js_sys::Date::now() >= expires_at - 60_000.0).await;
    let b = token(&c).await.unwrap();
    assert_ne!(a, b);
    assert_eq!(count("expiry").await, 2.0);
}

/// With refreshAhead the token is replaced in the background, without any call.
#[wasm_bindgen_test]
async fn refresh_ahead_replaces_token_before_expiry() {
    let c = client(r#"{"endpoint":"{S}/token?ttl=62&key=ahead","leewaySeconds":60,"refreshAhead":true}"#);
    let a = token(&c).await.unwrap();
    wait_until(5_000.0, async || count("ahead").await >= 2.0).await;
    wait_until(1_000.0, async || get(&state(&c), "status") == "fresh").await;
    let b = token(&c).await.unwrap();
    assert_ne!(a, b);
    assert!(b.as_string().unwrap().starts_with("tok-ahead-2"));
}

/// 5xx are retried with backoff until one succeeds.
#[wasm_bindgen_test]
async fn retries_5xx_then_succeeds() {
    let c = client(r#"{"endpoint":"{S}/flaky?fails=2&status=503&key=flaky","retries":2,"retryDelayMs":10}"#);
    assert!(token(&c).await.unwrap().is_string());
    assert_eq!(count("flaky").await, 3.0);
}

/// A `Retry-After` longer than our own backoff is waited out.
#[wasm_bindgen_test]
async fn retry_after_is_respected() {
    let c = client(r#"{"endpoint":"{S}/flaky?fails=1&status=503&retry_after=1&key=ra","retries":1,"retryDelayMs":1}"#);
    let start = js_sys::Date::now();
    assert!(token(&c).await.is_ok());
    assert!(js_sys::Date::now() - start >= 900.0);
}

/// Retries are bounded; the last error is reported with its status and body.
#[wasm_bindgen_test]
async fn exhausted_retries_report_http_error() {
    let c = client(r#"{"endpoint":"{S}/fail/502?key=exhaust","retries":1,"retryDelayMs":1}"#);
    let err = expect_error(&c, "http").await;
    assert_eq!(get(&err, "status"), 502);
    assert_eq!(get(&err, "error"), "upstream_rejected");
    assert_eq!(get(&err, "error_description"), "scripted 502");
    assert!(get(&err, "message").as_string().unwrap().contains("502"));
    assert_eq!(count("exhaust").await, 2.0);
}

/// 4xx are not retried.
#[wasm_bindgen_test]
async fn client_errors_are_not_retried() {
    let c = client(r#"{"endpoint":"{S}/fail/404?key=notfound","retries":2,"retryDelayMs":1}"#);
    let err = expect_error(&c, "http").await;
    assert_eq!(get(&err, "status"), 404);
    assert_eq!(count("notfound").await, 1.0);
}

/// A response slower than `timeoutMs` is aborted with code `timeout`.
#[wasm_bindgen_test]
async fn slow_endpoint_times_out() {
    let c = client(r#"{"endpoint":"{S}/slow?ms=3000&key=timeout","timeoutMs":100,"retries":0}"#);
    let start = js_sys::Date::now();
    let err = expect_error(&c, "timeout").await;
    assert!(js_sys::Date::now() - start < 2_000.0);
    assert!(!get(&err, "cause").is_undefined());
}

/// No server at all: code `network`, with fetch's error as `cause`.
#[wasm_bindgen_test]
async fn unreachable_endpoint_is_network_error() {
    let c = client(r#"{"endpoint":"http://127.0.0.1:1/token","retries":0}"#);
    let err = expect_error(&c, "network").await;
    assert!(get(&err, "cause").is_instance_of::<js_sys::TypeError>());
    assert!(get(&err, "status").is_null());
}

/// Malformed 2xx answers are errors and are never cached.
#[wasm_bindgen_test]
async fn malformed_responses_are_invalid_response() {
    for (path, key) in [
        ("/bad-json?key=bj", "bj"),
        ("/missing-token?key=mt", "mt"),
        ("/empty-token?key=et", "et"),
        ("/bad-expiry?value=-5&key=neg", "neg"),
        ("/bad-expiry?value=%22soon%22&key=soon", "soon"),
        ("/bad-expiry?value=null&key=nul", "nul"),
    ] {
        let c = client(&format!(r#"{{"endpoint":"{{S}}{path}","retries":2}}"#));
        expect_error(&c, "invalid_response").await;
        expect_error(&c, "invalid_response").await;
        assert_eq!(count(key).await, 2.0, "{path}: not retried, not cached");
    }
}

/// Any 401 from a token endpoint means `login_required`, with the server's fields.
#[wasm_bindgen_test]
async fn unauthorized_is_login_required() {
    let c = client(r#"{"endpoint":"{S}/login-required","credentials":"include"}"#);
    let err = expect_error(&c, "login_required").await;
    assert_eq!(get(&err, "status"), 401);
    assert_eq!(get(&err, "error"), "login_required");
    let c = client(r#"{"endpoint":"{S}/401"}"#);
    expect_error(&c, "login_required").await;
}

/// The Viewer form calls `onReady(token, lifetime - leeway)`.
#[wasm_bindgen_test]
async fn viewer_callback_gets_token_and_lifetime() {
    let c = client(r#"{"endpoint":"{S}/token?ttl=3600&key=viewer","leewaySeconds":60}"#);
    let (on_ready, (calls, args)) = recorder();
    settle(c.get_access_token(on_ready.into())).await.unwrap();
    assert_eq!(calls.get(), 1);
    let args = args.borrow();
    assert!(args[0].as_string().unwrap().starts_with("tok-viewer-"));
    let secs = args[1].as_f64().unwrap();
    assert!((3538.0..=3540.0).contains(&secs), "{secs}");
}

/// The Viewer form never gives up: it keeps retrying, reporting each failure.
#[wasm_bindgen_test]
async fn viewer_callback_retries_until_success() {
    let (on_error, (errors, _)) = recorder();
    let c = client_with(
        r#"{"endpoint":"{S}/flaky?fails=3&status=500&key=vretry","retries":0,"retryDelayMs":10}"#,
        None,
        Some(on_error),
    );
    let (on_ready, (calls, args)) = recorder();
    settle(c.get_access_token(on_ready.into())).await.unwrap();
    assert_eq!(calls.get(), 1);
    assert!(args.borrow()[0].is_string());
    assert_eq!(errors.get(), 3);
    assert_eq!(count("vretry").await, 4.0);
}

/// The Viewer form stops on `login_required` (it can't sign the user in) instead
/// of repeating the 401 for the life of the page; the failure is reported.
#[wasm_bindgen_test]
async fn viewer_callback_stops_on_login_required() {
    let (on_error, (errors, _)) = recorder();
    let c = client_with(
        r#"{"endpoint":"{S}/login-required?key=vlogin","retries":0,"retryDelayMs":10}"#,
        None,
        Some(on_error),
    );
    let (on_ready, (calls, _)) = recorder();
    let err = settle(c.get_access_token(on_ready.into())).await.expect_err("the promise rejects");
    assert_eq!(get(&err, "code"), "login_required");
    assert_eq!(calls.get(), 0);
    assert_eq!(errors.get(), 1);
    // A retrying loop (10 ms backoff) would have sent several more requests in this window.
    sleep(200.0).await;
    assert_eq!(count("vlogin").await, 1.0);
}

/// authorizedFetch adds the bearer token, and after a 401 drops it and retries once.
#[wasm_bindgen_test]
async fn authorized_fetch_retries_once_after_401() {
    let c = client(r#"{"endpoint":"{S}/token?key=aftoken"}"#);
    let url = JsValue::from(format!("{}/protected?key=afapi", server()));
    let resp: web_sys::Response = settle(c.authorized_fetch(url, JsValue::UNDEFINED)).await.unwrap().unchecked_into();
    assert_eq!(resp.status(), 200);
    let body = JsFuture::from(resp.json().unwrap()).await.unwrap();
    let second = token(&c).await.unwrap().as_string().unwrap();
    assert_eq!(get(&body, "authorization"), format!("Bearer {second}").as_str());
    assert!(second.starts_with("tok-aftoken-2"));
    assert_eq!(count("afapi").await, 2.0);
    assert_eq!(count("aftoken").await, 2.0);
}

/// Every token request carries `X-Requested-With: token-wasm` and the configured headers.
#[wasm_bindgen_test]
async fn requests_carry_x_requested_with() {
    let c = client(r#"{"endpoint":"{S}/token?key=xrw","headers":{"X-Custom":"yes"}}"#);
    token(&c).await.unwrap();
    let headers = server_json("/headers?key=xrw").await;
    assert_eq!(get(&headers, "x-requested-with"), "token-wasm");
    assert_eq!(get(&headers, "x-custom"), "yes");
    assert_eq!(get(&headers, "accept"), "application/json");
}

/// `clear()` forgets the token; the change hook sees the token and then `null`.
#[wasm_bindgen_test]
async fn clear_forgets_token_and_notifies() {
    let (on_change, (changes, last)) = recorder();
    let c = client_with(r#"{"endpoint":"{S}/token?key=clear"}"#, Some(on_change), None);
    let a = token(&c).await.unwrap();
    assert_eq!(changes.get(), 1);
    assert_eq!(last.borrow()[0], a);
    c.clear();
    assert_eq!(changes.get(), 2);
    assert!(last.borrow()[0].is_null());
    assert_eq!(get(&state(&c), "status"), "empty");
    assert_ne!(token(&c).await.unwrap(), a);
    assert_eq!(count("clear").await, 2.0);
}

/// Waking up with a token past its leeway drops it before it is handed out.
#[wasm_bindgen_test]
async fn wake_drops_stale_token() {
    let c = client(r#"{"endpoint":"{S}/token?ttl=61&key=wake","leewaySeconds":60}"#);
    token(&c).await.unwrap();
    c.wake();
    assert_eq!(get(&state(&c), "status"), "fresh", "a fresh token survives wake()");
    let expires_at = get(&state(&c), "expiresAt").as_f64().unwrap();
    wait_until(5_000.0, async || js_sys::Date::now() >= expires_at - 60_000.0).await;
    c.wake();
    assert!(get(&state(&c), "expiresAt").is_null());
}

/// The constructor's error for bad options.
fn rejected_options(json: &str) -> JsValue {
    let noop = Function::new_no_args("");
    match JsTokenClient::new(opts(json), noop.clone(), noop) {
        Ok(_) => panic!("options {json} were accepted"),
        Err(error) => error,
    }
}

/// Only the known options are read, so unknown ones are checked separately: a
/// typo must be rejected, naming the option.
#[wasm_bindgen_test]
fn unknown_option_is_rejected() {
    let err = rejected_options(r#"{"endpoint":"/api/token","leeway":30}"#);
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&err, "name"), "TokenError");
    assert_eq!(get(&err, "code"), "invalid_options");
    assert!(get(&err, "message").as_string().unwrap().contains("leeway"));
}

/// Wrongly typed and out-of-range options are rejected with a message
/// naming the option and what it takes.
#[wasm_bindgen_test]
fn mistyped_and_out_of_range_options_are_rejected() {
    let err = rejected_options(r#"{"retryDelayMs":"5"}"#);
    assert_eq!(get(&err, "code"), "invalid_options");
    assert_eq!(get(&err, "message"), "retryDelayMs must be a number from 0 to 60000");
    let err = rejected_options(r#"{"shareAcrossTabs":1}"#);
    assert_eq!(get(&err, "message"), "shareAcrossTabs must be true or false");
    let err = rejected_options(r#"{"credentials":"sometimes"}"#);
    assert!(get(&err, "message").as_string().unwrap().contains("same-origin"));
    let err = rejected_options(r#"{"leewaySeconds":-1}"#);
    assert!(get(&err, "message").as_string().unwrap().contains("leewaySeconds"));
    let err = rejected_options(r#"{"headers":{"bad name":"x"}}"#);
    assert!(get(&err, "message").as_string().unwrap().contains("headers"));
}

/// Two clients of one endpoint share its token as tabs would (the lock holder
/// asks the other members first); with `shareAcrossTabs: false` a client
/// keeps to itself and makes its own request.
#[wasm_bindgen_test]
async fn clients_of_one_endpoint_share_unless_told_not_to() {
    let first = client(r#"{"endpoint":"{S}/token?key=shared"}"#);
    let second = client(r#"{"endpoint":"{S}/token?key=shared"}"#);
    let alone = client(r#"{"endpoint":"{S}/token?key=shared","shareAcrossTabs":false}"#);
    let a = token(&first).await.unwrap();
    let b = token(&second).await.unwrap();
    assert_eq!(a, b, "the second client adopted the first one's token");
    assert_eq!(count("shared").await, 1.0);
    assert_eq!(get(&state(&second), "fetches"), 0.0);
    let c = token(&alone).await.unwrap();
    assert_ne!(c, a);
    assert_eq!(count("shared").await, 2.0);
}
