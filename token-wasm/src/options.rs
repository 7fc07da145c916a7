//! Client options, parsed from the JS object once and validated, so the rest
//! of the crate reads typed values and never re-checks them.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, RequestCredentials};

use crate::error::{ErrorCode, TokenError};

/// The default token route of the token broker.
pub const DEFAULT_ENDPOINT: &str = "/api/token";

/// Every option name `configure` / `new TokenClient` accepts. Anything else is
/// rejected, so a typo (`leeway` for `leewaySeconds`) is loud, not ignored.
const KNOWN: [&str; 8] = [
    "endpoint",
    "leewaySeconds",
    "credentials",
    "headers",
    "timeoutMs",
    "retries",
    "retryDelayMs",
    "refreshAhead",
];

/// Validated options of one client.
#[derive(Debug, Clone)]
pub struct Options {
    /// URL of the token route, resolved by `fetch` against the page.
    pub endpoint: JsValue,
    /// Seconds before `expires_at` at which a token stops being handed out.
    pub leeway_ms: f64,
    /// `fetch` credentials mode; `same-origin` sends the session cookie to our own backend.
    pub credentials: RequestCredentials,
    /// Request headers, including `Accept` and `X-Requested-With: token-wasm`.
    pub headers: Headers,
    /// Abort an attempt (request and body) after this many ms.
    pub timeout_ms: f64,
    /// Extra attempts after a network error, timeout or 5xx.
    pub retries: u32,
    /// Base of the exponential backoff between attempts.
    pub retry_delay_ms: f64,
    /// Fetch a new token shortly before the cached one leaves its freshness window.
    pub refresh_ahead: bool,
}

fn invalid(message: &'static str) -> TokenError {
    TokenError::new(ErrorCode::InvalidOptions, message)
}

/// A finite number in `[min, max]`, or `default` when the option is absent.
fn number(value: &JsValue, min: f64, max: f64, default: f64, message: &'static str) -> Result<f64, TokenError> {
    if value.is_undefined() {
        return Ok(default);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && n >= min && n <= max => Ok(n),
        _ => Err(invalid(message)),
    }
}

impl Options {
    /// Parse and validate a JS options object (`undefined` means all defaults).
    pub fn parse(js: &JsValue) -> Result<Self, TokenError> {
        if !js.is_undefined() && !js.is_null() && !js.is_object() {
            return Err(invalid("options must be an object"));
        }
        let get = |key: &str| -> JsValue {
            if js.is_object() { Reflect::get(js, &key.into()).unwrap_or(JsValue::UNDEFINED) } else { JsValue::UNDEFINED }
        };
        if js.is_object() {
            for key in Object::keys(js.unchecked_ref::<Object>()).iter() {
                if !KNOWN.iter().any(|k| key == JsValue::from_str(k)) {
                    return Err(invalid("unknown option (expected endpoint, leewaySeconds, credentials, headers, timeoutMs, retries, retryDelayMs, refreshAhead)"));
                }
            }
        }

        let endpoint = get("endpoint");
        let endpoint = if endpoint.is_undefined() {
            JsValue::from_str(DEFAULT_ENDPOINT)
        } else if endpoint.as_string().is_some_and(|s| !s.is_empty()) {
            endpoint
        } else {
            return Err(invalid("endpoint must be a non-empty string"));
        };

        let credentials = get("credentials");
        let credentials = if credentials.is_undefined() {
            RequestCredentials::SameOrigin
        } else {
            match RequestCredentials::from_js_value(&credentials) {
                Some(c) => c,
                None => return Err(invalid("credentials must be 'omit', 'same-origin' or 'include'")),
            }
        };

        let headers = Self::headers(&get("headers"))?;

        let refresh_ahead = get("refreshAhead");
        let refresh_ahead = match refresh_ahead.as_bool() {
            Some(b) => b,
            None if refresh_ahead.is_undefined() => false,
            None => return Err(invalid("refreshAhead must be a boolean")),
        };

        let retries = number(&get("retries"), 0.0, 10.0, 2.0, "retries must be an integer from 0 to 10")?;
        if retries.fract() != 0.0 {
            return Err(invalid("retries must be an integer from 0 to 10"));
        }

        Ok(Self {
            endpoint,
            leeway_ms: number(&get("leewaySeconds"), 0.0, 86_400.0, 60.0, "leewaySeconds must be a number from 0 to 86400")? * 1000.0,
            credentials,
            headers,
            timeout_ms: number(&get("timeoutMs"), 1.0, 600_000.0, 10_000.0, "timeoutMs must be a number from 1 to 600000")?,
            retries: retries as u32,
            retry_delay_ms: number(&get("retryDelayMs"), 0.0, 60_000.0, 300.0, "retryDelayMs must be a number from 0 to 60000")?,
            refresh_ahead,
        })
    }

    /// Build the request headers once: the browser validates names and values,
    /// and our `X-Requested-With` is set last so every request carries it
    /// (the user-token route rejects requests without it, as a CSRF guard).
    fn headers(value: &JsValue) -> Result<Headers, TokenError> {
        let headers = if value.is_undefined() {
            Headers::new()
        } else if value.is_object() {
            // `new Headers(init)`: accepts a record, pairs or a Headers object.
            Headers::new_with_str_sequence_sequence(value)
        } else {
            return Err(invalid("headers must be an object of header names to values"));
        }
        .map_err(|e| invalid("headers must be an object of valid header names to values").with_cause(e))?;
        let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| invalid("invalid header").with_cause(e));
        if !headers.has("accept").unwrap_or(true) {
            set("Accept", "application/json")?;
        }
        set("X-Requested-With", "token-wasm")?;
        Ok(headers)
    }
}
