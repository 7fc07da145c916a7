//! Talking to the token endpoint through gloo-net: one request per attempt,
//! aborted after `timeoutMs` (request and body), the answer parsed by the
//! browser's `JSON.parse` and read field by field, and retries with jittered
//! exponential backoff that honours `Retry-After`.
//!
//! The first attempt of a client may have been sent by the JS entry before
//! the module was ready (`js/early.js`, the same request): its [`Answer`] is
//! judged here exactly as one of ours.

use gloo_net::http::{Headers, RequestBuilder};
use gloo_timers::callback::Timeout;
use gloo_timers::future::TimeoutFuture;
use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestCache};

use crate::error::{ErrorBody, ErrorCode, TokenError};
use crate::fields;
use crate::options::Options;

/// Longest wait between two attempts of one request, even if `Retry-After` asks for more.
pub const MAX_RETRY_DELAY_MS: f64 = 10_000.0;

/// A validated token answer.
#[derive(Debug)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
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

/// Milliseconds as the whole, non-negative count timers take, at most
/// `i32::MAX` (gloo-timers passes it on as an `i32`; larger would wrap).
pub fn timer_ms(ms: f64) -> u32 {
    // `clamp` keeps NaN, which `as` turns into 0 (`min` would turn it into the maximum).
    ms.ceil().clamp(0.0, f64::from(i32::MAX)) as u32
}

/// Wait `ms` milliseconds.
pub async fn sleep(ms: f64) {
    TimeoutFuture::new(timer_ms(ms)).await;
}

/// One token request: attempts bounded by `timeout_ms` each, retrying
/// network errors, timeouts and 5xx up to `options.retries` times with backoff.
/// `sent`, when given, is the first attempt, already sent by the JS entry: a
/// `Promise` of its [`Answer`].
pub async fn fetch_token(options: &Options, mut sent: Option<Promise>) -> Result<TokenResponse, TokenError> {
    let mut retried = 0;
    loop {
        let outcome = match sent.take() {
            Some(answer) => read_answer(options, answer).await,
            None => attempt(options).await,
        };
        match outcome {
            Err(error) if error.is_retryable() && retried < options.retries => {
                let random = js_sys::Math::random();
                sleep(backoff_ms(retried, options.retry_delay_ms, MAX_RETRY_DELAY_MS, error.retry_after_s, random))
                    .await;
                retried += 1;
            }
            result => return result,
        }
    }
}

/// One attempt, with a timer that aborts it after `timeout_ms`.
async fn attempt(options: &Options) -> Result<TokenResponse, TokenError> {
    let controller = AbortController::new().map_err(|cause| transport_error(options, false, cause))?;
    let signal = controller.signal();
    let request = RequestBuilder::new(&options.endpoint)
        .credentials(options.credentials)
        .cache(RequestCache::NoStore)
        .headers(Headers::from_raw(options.headers.clone()))
        .abort_signal(Some(&signal))
        .build()
        .map_err(|error| unusable_endpoint(&options.endpoint, error))?;
    // Dropped (and so cancelled) when the attempt ends, whichever way.
    let _deadline = Timeout::new(timer_ms(options.timeout_ms), move || controller.abort());
    let failed = |error| transport_error(options, signal.aborted(), js_error(error));
    let response = request.send().await.map_err(failed)?;
    let text = response.text().await.map_err(failed)?;
    read_response(response.status(), response.headers().get("retry-after"), &text)
}

/// An attempt the JS entry made (`js/early.js`): `{ status, retryAfter, text }`
/// for a complete response, `{ cause, timedOut }` for none.
async fn read_answer(options: &Options, answer: Promise) -> Result<TokenResponse, TokenError> {
    let answer = JsFuture::from(answer).await.unwrap_or_else(|cause| cause);
    match (fields::number(&answer, "status"), fields::string(&answer, "text")) {
        (Some(status), Some(text)) => read_response(status as u16, fields::string(&answer, "retryAfter"), &text),
        _ => {
            let timed_out = fields::get(&answer, "timedOut").as_bool().unwrap_or(false);
            Err(transport_error(options, timed_out, fields::get(&answer, "cause")))
        }
    }
}

/// A failed request to another origin is most often CORS, which browsers
/// report as a bare network error: say which broker setting allows it.
const CROSS_ORIGIN_HINT: &str =
    " (the token route is on another origin: the broker's ALLOWED_ORIGINS must list this page's origin)";

/// Whether `endpoint` is absolute and outside the page's origin. Outside a
/// browser page (no `location`) there is no CORS, so never.
fn is_cross_origin(endpoint: &str) -> bool {
    let is_absolute = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    let origin = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("location"))
        .and_then(|location| js_sys::Reflect::get(&location, &JsValue::from_str("origin")))
        .ok()
        .and_then(|origin| origin.as_string());
    match origin {
        Some(origin) if is_absolute => !endpoint
            .strip_prefix(origin.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#'])),
        _ => false,
    }
}

/// The JS exception behind a gloo-net error. gloo-net keeps the exception's
/// name and message, not the object, so an equivalent one is rebuilt: a
/// `TypeError` stays a `TypeError` (what `fetch` throws for network failures),
/// anything else becomes an `Error` with the original `name` (e.g. `AbortError`).
pub fn js_error(error: gloo_net::Error) -> JsValue {
    match error {
        gloo_net::Error::JsError(error) if error.name == "TypeError" => js_sys::TypeError::new(&error.message).into(),
        gloo_net::Error::JsError(error) => {
            let rebuilt = js_sys::Error::new(&error.message);
            rebuilt.set_name(&error.name);
            rebuilt.into()
        }
        gloo_net::Error::GlooError(message) => js_sys::Error::new(&message).into(),
    }
}

/// The endpoint cannot become a request here: typically a relative URL
/// outside a browser page (server-side rendering, Node), where there is no
/// page address to resolve it against.
fn unusable_endpoint(endpoint: &str, error: gloo_net::Error) -> TokenError {
    let cause = js_error(error);
    let mut message = String::from("endpoint ");
    message.push_str(endpoint);
    message.push_str(" cannot be requested here (");
    message.push_str(&crate::error::js_message(&cause));
    message.push_str("); outside a browser page, configure an absolute URL");
    TokenError::invalid_options(&message, cause)
}

/// A failed request or body read: ours if our timer aborted it, else the
/// network (naming `ALLOWED_ORIGINS` for a route on another origin).
fn transport_error(options: &Options, timed_out: bool, cause: JsValue) -> TokenError {
    let mut error = if timed_out {
        TokenError::new(ErrorCode::Timeout, "Token request timed out")
    } else {
        TokenError::new(ErrorCode::Network, "Token request failed: network error")
    };
    if !timed_out && is_cross_origin(&options.endpoint) {
        error.message.push_str(CROSS_ORIGIN_HINT);
    }
    TokenError { cause, ..error }
}

/// Turn a complete response (status, `Retry-After` header, body) into a
/// token or a typed error.
fn read_response(status: u16, retry_after: Option<String>, text: &str) -> Result<TokenResponse, TokenError> {
    let body = js_sys::JSON::parse(text).ok().filter(JsValue::is_object);
    let error = |code, message| TokenError { status: Some(status), ..TokenError::new(code, message) };

    if !(200..300).contains(&status) {
        let body = body.as_ref().map(ErrorBody::read).unwrap_or_default();
        let retry_after_s = retry_after.map(|v| js_sys::Number::parse_float(&v));
        let mut failure = if status == 401 {
            error(ErrorCode::LoginRequired, "Sign-in required to get a token")
        } else {
            error(ErrorCode::Http, "Token endpoint answered with an error")
        };
        failure.message.push_str(" (HTTP ");
        push_number(&mut failure.message, status);
        failure.message.push(')');
        if let Some(description) = &body.error_description {
            failure.message.push_str(": ");
            failure.message.push_str(description);
        }
        failure.retry_after_s = retry_after_s.filter(|s| s.is_finite() && *s >= 0.0);
        failure.body = body;
        return Err(failure);
    }

    // RFC 6749 §5.1's fields; one of the wrong type reads as absent, so the
    // error says which field is unusable.
    let body =
        body.ok_or_else(|| error(ErrorCode::InvalidResponse, "Token endpoint did not answer with a JSON object"))?;
    let access_token = fields::string(&body, "access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| error(ErrorCode::InvalidResponse, "Token response has no access_token"))?;
    let expires_in = fields::number(&body, "expires_in")
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| error(ErrorCode::InvalidResponse, "Token response has no valid expires_in"))?;
    Ok(TokenResponse { access_token, expires_in })
}

/// Append `n` in decimal (in place of `format!`, whose machinery costs download size).
fn push_number(out: &mut String, n: u16) {
    if n >= 10 {
        push_number(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
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

    /// Status codes read the same as `format!` would write them.
    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0_u16, 7, 10, 401, 503, 65_535] {
            let mut out = String::new();
            push_number(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    /// Timer delays round up and never go negative or wrap.
    #[test]
    fn timer_delays_saturate() {
        assert_eq!(timer_ms(0.2), 1);
        assert_eq!(timer_ms(-5.0), 0);
        assert_eq!(timer_ms(f64::NAN), 0);
        assert_eq!(timer_ms(1e12), i32::MAX as u32);
    }
}
