//! Talking to the token endpoint: one `fetch` per attempt with a timeout
//! (AbortController), validation of the answer, and retries with jittered
//! exponential backoff. Also the small browser bindings the client needs.

use js_sys::{Function, JsString, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestCache, RequestInit, Response};

use crate::error::{ErrorCode, TokenError};
use crate::options::Options;

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

    /// `JSON.parse` on a JS string, without copying the body into Rust first.
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;
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

/// Resolve after `ms` milliseconds.
pub async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
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

/// Fetch a token, retrying network errors, timeouts and 5xx up to `options.retries` times.
pub async fn fetch_token(options: &Options) -> Result<TokenResponse, TokenError> {
    let mut attempt = 0;
    loop {
        match fetch_once(options).await {
            Err(e) if e.is_retryable() && attempt < options.retries => {
                sleep(backoff_ms(
                    attempt,
                    options.retry_delay_ms,
                    MAX_RETRY_DELAY_MS,
                    e.retry_after_s,
                    js_sys::Math::random(),
                ))
                .await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// One attempt, bounded by `timeout_ms` from request start to body end.
async fn fetch_once(options: &Options) -> Result<TokenResponse, TokenError> {
    let controller = AbortController::new()
        .map_err(|e| TokenError::new(ErrorCode::Network, "AbortController unavailable").with_cause(e))?;
    let signal = controller.signal();
    // `controller.abort` bound to the controller: a timer callback without a Rust closure.
    let abort = Reflect::get(&controller, &"abort".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .map(|f| f.bind0(&controller));
    let timer = abort.map(|f| set_timeout(&f, options.timeout_ms));

    let init = RequestInit::new();
    init.set_method("GET");
    init.set_credentials(options.credentials);
    init.set_headers(&options.headers);
    init.set_signal(Some(&signal));
    init.set_cache(RequestCache::NoStore);

    let result = async {
        let response: Response = JsFuture::from(fetch(&options.endpoint, &init))
            .await
            .map_err(|e| transport_error(&signal, e))?
            .unchecked_into();
        let text = match response.text() {
            Ok(p) => JsFuture::from(p).await.map_err(|e| transport_error(&signal, e))?,
            Err(e) => return Err(transport_error(&signal, e)),
        };
        read_response(&response, &text)
    }
    .await;
    if let Some(timer) = timer {
        clear_timeout(&timer);
    }
    result
}

/// A rejected `fetch`/`text()`: ours if our timer aborted it, else the network.
fn transport_error(signal: &web_sys::AbortSignal, cause: JsValue) -> TokenError {
    if signal.aborted() {
        TokenError::new(ErrorCode::Timeout, "Token request timed out").with_cause(cause)
    } else {
        TokenError::new(ErrorCode::Network, "Token request failed: network error").with_cause(cause)
    }
}

/// Turn a complete response into a token or a typed error.
fn read_response(response: &Response, text: &JsValue) -> Result<TokenResponse, TokenError> {
    let status = response.status();
    let body = json_parse(text).ok().filter(JsValue::is_object);
    let field = |name: &str| {
        body.as_ref().and_then(|b| Reflect::get(b, &name.into()).ok()).filter(|v| !v.is_undefined() && !v.is_null())
    };

    if !(200..300).contains(&status) {
        let (code, message) = if status == 401 {
            (ErrorCode::LoginRequired, "Sign-in required to get a token")
        } else {
            (ErrorCode::Http, "Token endpoint answered with an error")
        };
        let mut error = TokenError::new(code, message);
        error.status = Some(status);
        error.error = field("error");
        error.error_description = field("error_description");
        error.retry_after_s = response
            .headers()
            .get("retry-after")
            .ok()
            .flatten()
            .map(|v| js_sys::Number::parse_float(&v))
            .filter(|s| s.is_finite() && *s >= 0.0);
        return Err(error);
    }

    let invalid = |message| {
        let mut e = TokenError::new(ErrorCode::InvalidResponse, message);
        e.status = Some(status);
        e
    };
    if body.is_none() {
        return Err(invalid("Token endpoint did not answer with a JSON object"));
    }
    let access_token = field("access_token")
        .and_then(|v| v.dyn_into::<JsString>().ok())
        .filter(|s| s.length() > 0)
        .ok_or_else(|| invalid("Token response has no access_token"))?;
    let expires_in = field("expires_in")
        .and_then(|v| v.as_f64())
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| invalid("Token response has no valid expires_in"))?;
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
