//! Talking to the token endpoint: one `fetch` per attempt with a timeout
//! (AbortController), validation of the answer, and retries with jittered
//! exponential backoff, as a state machine ([`TokenRequest`]) driven by the
//! client's flight task. Also the small browser bindings the client needs.

use js_sys::{Function, JsString, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortSignal, Response};

use crate::error::{ErrorKind, TokenError};
use crate::options::Options;
use crate::task::Step;

/// Longest wait between two attempts of one request, even if `Retry-After` asks for more.
pub const MAX_RETRY_DELAY_MS: f64 = 10_000.0;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (works in windows and workers alike, unlike `Window::fetch`).
    #[wasm_bindgen(js_name = fetch)]
    pub fn fetch(input: &JsValue, init: &JsValue) -> Promise;

    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(id: &JsValue);

    /// `f.call(thisArg, a, b, c, d, e)`: the one binding for every JS
    /// callback the client calls (unused arguments are `undefined`), so the
    /// glue has one function for all of them.
    pub type Callback;

    #[wasm_bindgen(method, catch, js_name = call)]
    fn call_with(
        this: &Callback,
        this_arg: &JsValue,
        a: &JsValue,
        b: &JsValue,
        c: &JsValue,
        d: &JsValue,
        e: &JsValue,
    ) -> Result<JsValue, JsValue>;

    /// `JSON.parse` on a JS string, without copying the body into Rust first.
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;

    /// `Number.isFinite`: true only for finite numbers (no coercion).
    #[wasm_bindgen(js_namespace = Number, js_name = isFinite)]
    fn is_finite_number(value: &JsValue) -> bool;

    /// `Number.parseFloat` on a JS value (`null` gives `NaN`).
    #[wasm_bindgen(js_namespace = Number, js_name = parseFloat)]
    fn parse_float(value: &JsValue) -> f64;

    /// `new AbortController()` (cannot fail in a browser, so no `catch`).
    type AbortController;

    #[wasm_bindgen(constructor)]
    fn new() -> AbortController;

    #[wasm_bindgen(method, getter)]
    fn signal(this: &AbortController) -> AbortSignal;

    /// The `abort` method itself, to be bound and handed to `setTimeout`.
    #[wasm_bindgen(method, getter = abort)]
    fn abort_method(this: &AbortController) -> Callback;

    /// `f.bind(thisArg, arg)`.
    #[wasm_bindgen(method, js_name = bind)]
    pub fn bind_arg(this: &Callback, this_arg: &JsValue, arg: &JsValue) -> Function;

    /// `Headers` whose `get(name)` returns a JS value (`null` when absent),
    /// never copied into Rust.
    type HttpHeaders;

    #[wasm_bindgen(method, js_name = get)]
    fn get(this: &HttpHeaders, name: &str) -> JsValue;

    /// A parsed token endpoint body (RFC 6749 §5.1 field names).
    type TokenBody;

    #[wasm_bindgen(method, getter)]
    fn access_token(this: &TokenBody) -> JsValue;

    #[wasm_bindgen(method, getter)]
    fn expires_in(this: &TokenBody) -> JsValue;
}

/// Call a JS function with up to five arguments (`this` is `undefined`).
pub fn call(f: &Function, a: &JsValue, b: &JsValue, c: &JsValue, d: &JsValue, e: &JsValue) -> Result<JsValue, JsValue> {
    f.unchecked_ref::<Callback>().call_with(&JsValue::UNDEFINED, a, b, c, d, e)
}

/// A validated token answer.
#[derive(Debug)]
pub struct TokenResponse {
    /// Kept as a JS string: it is handed back to JS on every call and never
    /// needs to be decoded into Rust.
    pub access_token: JsString,
    /// Seconds of life left when the response arrived.
    pub expires_in: f64,
}

/// Delay before retry number `attempt` (0-based): `base * 2^attempt`, capped,
/// with "equal jitter" (half fixed, half random) so a crowd of pages that
/// failed together does not retry together. A server's `Retry-After` wins when
/// it asks for longer, still capped. `random` is in `[0, 1)`.
pub fn backoff_ms(attempt: u32, base_ms: f64, cap_ms: f64, retry_after_s: Option<f64>, random: f64) -> f64 {
    let exp = (base_ms * f64::from(2_u32.saturating_pow(attempt.min(20)))).min(cap_ms);
    let jittered = exp / 2.0 + random * exp / 2.0;
    match retry_after_s {
        Some(s) if s * 1000.0 > jittered => (s * 1000.0).min(cap_ms),
        _ => jittered,
    }
}

/// Where a [`TokenRequest`] stands.
#[derive(Debug)]
enum Stage {
    /// About to send an attempt (at the start and after a backoff sleep).
    Idle,
    /// Waiting for the response headers.
    Sending { signal: AbortSignal, timer: JsValue },
    /// Waiting for the body.
    Reading { signal: AbortSignal, timer: JsValue, response: Response },
}

/// What a [`TokenRequest`] needs next.
#[derive(Debug)]
pub enum Progress {
    /// Wait for this, then resume.
    Wait(Step),
    /// The request is over: a token, or the error of its last attempt.
    Done(Result<TokenResponse, TokenError>),
}

/// One token request: attempts bounded by `timeout_ms` each (request start
/// to body end), retrying network errors, timeouts and 5xx up to
/// `options.retries` times with backoff.
#[derive(Debug)]
pub struct TokenRequest {
    /// Attempts that failed and were retried so far.
    retried: u32,
    stage: Stage,
}

impl Default for TokenRequest {
    fn default() -> Self {
        Self { retried: 0, stage: Stage::Idle }
    }
}

impl TokenRequest {
    /// Advance with the outcome of what the last [`Progress::Wait`] waited for.
    pub fn resume(&mut self, options: &Options, input: Result<JsValue, JsValue>) -> Progress {
        let outcome = match core::mem::replace(&mut self.stage, Stage::Idle) {
            Stage::Idle => return self.send(options),
            Stage::Sending { signal, timer } => match input {
                Ok(response) => {
                    let response: Response = response.unchecked_into();
                    match response.text() {
                        Ok(text) => {
                            self.stage = Stage::Reading { signal, timer, response };
                            return Progress::Wait(Step::Await(text));
                        }
                        Err(cause) => Err(transport_error(&signal, cause)),
                    }
                }
                Err(cause) => Err(transport_error(&signal, cause)),
            }
            .inspect_err(|_| clear_timeout(&timer)),
            Stage::Reading { signal, timer, response } => {
                clear_timeout(&timer);
                match input {
                    Ok(text) => read_response(&response, &text),
                    Err(cause) => Err(transport_error(&signal, cause)),
                }
            }
        };
        match outcome {
            Err(error) if error.is_retryable() && self.retried < options.retries => {
                let delay = backoff_ms(
                    self.retried,
                    options.retry_delay_ms,
                    MAX_RETRY_DELAY_MS,
                    error.retry_after_s,
                    js_sys::Math::random(),
                );
                self.retried += 1;
                Progress::Wait(Step::Sleep(delay))
            }
            result => Progress::Done(result),
        }
    }

    /// Start an attempt, with a timer that aborts it after `timeout_ms`.
    fn send(&mut self, options: &Options) -> Progress {
        let controller = AbortController::new();
        let signal = controller.signal();
        let abort = controller.abort_method().bind_arg(&controller, &JsValue::UNDEFINED);
        let timer = set_timeout(&abort, options.timeout_ms);
        // The init object is the client's own; fetch reads it synchronously.
        options.init.set_signal(Some(&signal));
        let response = fetch(&options.endpoint, options.init.as_ref());
        self.stage = Stage::Sending { signal, timer };
        Progress::Wait(Step::Await(response))
    }
}

/// A rejected `fetch`/`text()`: ours if our timer aborted it, else the network.
fn transport_error(signal: &AbortSignal, cause: JsValue) -> TokenError {
    let kind = if signal.aborted() { ErrorKind::Timeout } else { ErrorKind::Network };
    TokenError { cause, ..TokenError::new(kind) }
}

/// Turn a complete response into a token or a typed error.
fn read_response(response: &Response, text: &JsValue) -> Result<TokenResponse, TokenError> {
    let status = response.status();
    let body = json_parse(text).ok().filter(JsValue::is_object).map(JsCast::unchecked_into::<TokenBody>);
    let error = |kind| TokenError { status: Some(status), ..TokenError::new(kind) };

    if !(200..300).contains(&status) {
        let retry_after_s = parse_float(&response.headers().unchecked_into::<HttpHeaders>().get("retry-after"));
        return Err(TokenError {
            body: body.map_or(JsValue::UNDEFINED, Into::into),
            retry_after_s: Some(retry_after_s).filter(|s| s.is_finite() && *s >= 0.0),
            ..error(if status == 401 { ErrorKind::LoginRequired } else { ErrorKind::Http })
        });
    }

    let body = body.ok_or_else(|| error(ErrorKind::NotJsonObject))?;
    let access_token = body
        .access_token()
        .dyn_into::<JsString>()
        .ok()
        .filter(|s| s.length() > 0)
        .ok_or_else(|| error(ErrorKind::NoAccessToken))?;
    let expires_in = Some(body.expires_in())
        .filter(is_finite_number)
        .map(|n| n.unchecked_into_f64())
        .filter(|n| *n >= 0.0)
        .ok_or_else(|| error(ErrorKind::BadExpiresIn))?;
    Ok(TokenResponse { access_token, expires_in })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delays double per attempt, stay within the jitter band and the cap.
    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0, 100.0, 10_000.0, None, 0.0), 50.0);
        assert_eq!(backoff_ms(0, 100.0, 10_000.0, None, 0.999_999), 99.999_95);
        assert_eq!(backoff_ms(3, 100.0, 10_000.0, None, 0.0), 400.0);
        assert_eq!(backoff_ms(30, 100.0, 10_000.0, None, 1.0), 10_000.0);
    }

    /// `Retry-After` is honoured when longer than our own delay, but never past the cap.
    #[test]
    fn retry_after_is_respected_and_capped() {
        assert_eq!(backoff_ms(0, 100.0, 10_000.0, Some(2.0), 0.5), 2_000.0);
        assert_eq!(backoff_ms(0, 100.0, 10_000.0, Some(3600.0), 0.5), 10_000.0);
        assert_eq!(backoff_ms(0, 100.0, 10_000.0, Some(0.0), 0.0), 50.0);
    }
}
