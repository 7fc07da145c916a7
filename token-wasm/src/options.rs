//! Client options: read field by field from the JS options object into
//! [`RawOptions`] (a wrongly typed option is an error naming it), then checked
//! and completed with the defaults into [`Options`]. Every problem is a
//! `TokenError` with code `invalid_options`, which every call of that client
//! rejects with.

use js_sys::Object;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, RequestCredentials};

use crate::error::TokenError;
use crate::fields::{get, is_absent};

/// Every option name, in the order error messages list them: the object's
/// own keys are checked against it, so a typo (`leeway` for `leewaySeconds`)
/// is loud, not ignored.
const KNOWN: [&str; 9] = [
    "endpoint",
    "leewaySeconds",
    "credentials",
    "headers",
    "timeoutMs",
    "retries",
    "retryDelayMs",
    "refreshAhead",
    "shareAcrossTabs",
];

/// The messages that name each option and what it takes (wrong type or range).
const ENDPOINT: &str = "endpoint must be a non-empty string";
const LEEWAY: &str = "leewaySeconds must be a number from 0 to 86400";
const CREDENTIALS: &str = "credentials must be 'omit', 'same-origin' or 'include'";
const TIMEOUT: &str = "timeoutMs must be a number from 1 to 600000";
const RETRIES: &str = "retries must be an integer from 0 to 10";
const RETRY_DELAY: &str = "retryDelayMs must be a number from 0 to 60000";
const REFRESH_AHEAD: &str = "refreshAhead must be true or false";
const SHARE: &str = "shareAcrossTabs must be true or false";

/// The options object as given (see `TokenClientOptions` in `js/index.d.ts`):
/// each option present and of the right type, or `None`.
#[derive(Debug, Default)]
pub struct RawOptions {
    endpoint: Option<String>,
    leeway_seconds: Option<f64>,
    credentials: Option<RequestCredentials>,
    /// A record, `[name, value]` pairs or a `Headers`: whatever `new Headers()`
    /// accepts, so it is kept as the JS value and handed to that constructor.
    headers: JsValue,
    timeout_ms: Option<f64>,
    retries: Option<f64>,
    retry_delay_ms: Option<f64>,
    refresh_ahead: Option<bool>,
    share_across_tabs: Option<bool>,
}

impl RawOptions {
    /// Read every known option of `object` (`undefined` and `null` count as left out).
    fn read(object: &JsValue) -> Result<Self, TokenError> {
        Ok(Self {
            endpoint: typed(object, "endpoint", ENDPOINT, |v| v.as_string())?,
            leeway_seconds: typed(object, "leewaySeconds", LEEWAY, JsValue::as_f64)?,
            credentials: typed(object, "credentials", CREDENTIALS, |v| match v.as_string()?.as_str() {
                "omit" => Some(RequestCredentials::Omit),
                "same-origin" => Some(RequestCredentials::SameOrigin),
                "include" => Some(RequestCredentials::Include),
                _ => None,
            })?,
            headers: get(object, "headers"),
            timeout_ms: typed(object, "timeoutMs", TIMEOUT, JsValue::as_f64)?,
            retries: typed(object, "retries", RETRIES, JsValue::as_f64)?,
            retry_delay_ms: typed(object, "retryDelayMs", RETRY_DELAY, JsValue::as_f64)?,
            refresh_ahead: typed(object, "refreshAhead", REFRESH_AHEAD, JsValue::as_bool)?,
            share_across_tabs: typed(object, "shareAcrossTabs", SHARE, JsValue::as_bool)?,
        })
    }
}

/// `object[name]` read by `read`: `None` when left out, an error with
/// `message` when present but not what `read` accepts.
fn typed<T>(
    object: &JsValue,
    name: &str,
    message: &str,
    read: impl Fn(&JsValue) -> Option<T>,
) -> Result<Option<T>, TokenError> {
    let value = get(object, name);
    if is_absent(&value) {
        return Ok(None);
    }
    read(&value).map(Some).ok_or_else(|| TokenError::invalid_options(message, JsValue::UNDEFINED))
}

/// Validated options of one client.
#[derive(Debug, Clone)]
pub struct Options {
    /// URL of the token route, resolved by `fetch` against the page.
    pub endpoint: String,
    /// `fetch` credentials mode of every token request.
    pub credentials: RequestCredentials,
    /// Headers of every token request: the configured ones, plus `Accept`
    /// and `X-Requested-With: token-wasm` (the user-token route rejects
    /// requests without it, as a CSRF guard).
    pub headers: Headers,
    /// Milliseconds before `expires_at` at which a token stops being handed out.
    pub leeway_ms: f64,
    /// Abort an attempt (request and body) after this many ms.
    pub timeout_ms: f64,
    /// Extra attempts after a network error, timeout or 5xx.
    pub retries: u32,
    /// Base of the exponential backoff between attempts.
    pub retry_delay_ms: f64,
    /// Fetch a new token shortly before the cached one leaves its freshness window.
    pub refresh_ahead: bool,
    /// Share one token (and one request at a time) with the other tabs of
    /// the origin that use the same endpoint (see `tabs.rs`).
    pub share_across_tabs: bool,
}

impl Options {
    /// Read and validate a JS options object (`undefined` and `null` mean all defaults).
    pub fn from_js(value: JsValue) -> Result<Self, TokenError> {
        if value.is_undefined() || value.is_null() {
            return Self::from_raw(RawOptions::default());
        }
        let Some(object) = value.dyn_ref::<Object>().filter(|_| !value.is_function()) else {
            return Err(TokenError::invalid_options("options must be an object", JsValue::UNDEFINED));
        };
        for key in Object::keys(object).iter() {
            let key = key.as_string().unwrap_or_default();
            if !KNOWN.contains(&key.as_str()) {
                let mut message = String::from("unknown option ");
                message.push_str(&key);
                message.push_str(" (expected ");
                message.push_str(&KNOWN.join(", "));
                message.push(')');
                return Err(TokenError::invalid_options(&message, JsValue::UNDEFINED));
            }
        }
        let raw = RawOptions::read(&value)?;
        Self::from_raw(raw)
    }

    /// Apply the defaults and check ranges.
    fn from_raw(raw: RawOptions) -> Result<Self, TokenError> {
        let endpoint = raw.endpoint.unwrap_or_else(|| "/api/token".into());
        if endpoint.is_empty() {
            return Err(TokenError::invalid_options(ENDPOINT, JsValue::UNDEFINED));
        }
        let retries = within(raw.retries, 2.0, 0.0, 10.0, RETRIES)?;
        if retries.fract() != 0.0 {
            return Err(TokenError::invalid_options(RETRIES, JsValue::UNDEFINED));
        }
        Ok(Self {
            endpoint,
            credentials: raw.credentials.unwrap_or(RequestCredentials::SameOrigin),
            headers: request_headers(&raw.headers)?,
            leeway_ms: within(raw.leeway_seconds, 60.0, 0.0, 86_400.0, LEEWAY)? * 1000.0,
            timeout_ms: within(raw.timeout_ms, 10_000.0, 1.0, 600_000.0, TIMEOUT)?,
            retries: retries as u32,
            retry_delay_ms: within(raw.retry_delay_ms, 300.0, 0.0, 60_000.0, RETRY_DELAY)?,
            refresh_ahead: raw.refresh_ahead.unwrap_or(false),
            share_across_tabs: raw.share_across_tabs.unwrap_or(true),
        })
    }
}

/// `value` (or `default` when absent) if it lies in `[min, max]`; NaN does not.
fn within(value: Option<f64>, default: f64, min: f64, max: f64, message: &str) -> Result<f64, TokenError> {
    let value = value.unwrap_or(default);
    if value >= min && value <= max { Ok(value) } else { Err(TokenError::invalid_options(message, JsValue::UNDEFINED)) }
}

/// `new Headers(init)` validates names and values and accepts every form the
/// option allows; `X-Requested-With` is set last so every request carries it.
fn request_headers(init: &JsValue) -> Result<Headers, TokenError> {
    const MESSAGE: &str = "headers must be an object of valid header names to values";
    if !init.is_undefined() && !init.is_object() {
        return Err(TokenError::invalid_options(MESSAGE, JsValue::UNDEFINED));
    }
    let build = || -> Result<Headers, JsValue> {
        let headers =
            if init.is_undefined() { Headers::new()? } else { Headers::new_with_str_sequence_sequence(init)? };
        if !headers.has("accept")? {
            headers.set("Accept", "application/json")?;
        }
        headers.set("X-Requested-With", "token-wasm")?;
        Ok(headers)
    };
    build().map_err(|cause| TokenError::invalid_options(MESSAGE, cause))
}
