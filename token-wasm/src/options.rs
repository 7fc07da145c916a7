//! Client options: deserialised from the JS options object with
//! serde-wasm-bindgen into [`RawOptions`], then checked and completed with
//! the defaults into [`Options`]. Every problem is a `TokenError` with code
//! `invalid_options`, thrown by the constructor.

use js_sys::Object;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, RequestCredentials};

use crate::error::{TokenError, js_message};

/// Every option name, in the order error messages list them. serde-wasm-bindgen
/// reads only the fields a struct declares (`deny_unknown_fields` never sees
/// the others), so [`Options::from_js`] checks the object's own keys against
/// this list: a typo (`leeway` for `leewaySeconds`) is loud, not ignored.
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

/// The options object as given (see `TokenClientOptions` in `js/index.d.ts`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOptions {
    endpoint: Option<String>,
    leeway_seconds: Option<f64>,
    credentials: Option<Credentials>,
    /// A record, `[name, value]` pairs or a `Headers`: whatever `new Headers()`
    /// accepts, so it is kept as the JS value and handed to that constructor.
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    headers: JsValue,
    timeout_ms: Option<f64>,
    retries: Option<f64>,
    retry_delay_ms: Option<f64>,
    refresh_ahead: Option<bool>,
    share_across_tabs: Option<bool>,
}

/// `fetch`'s credentials modes.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Credentials {
    Omit,
    SameOrigin,
    Include,
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
        let raw = serde_wasm_bindgen::from_value::<RawOptions>(value).map_err(|error| {
            let cause = JsValue::from(error);
            let mut message = String::from("invalid options: ");
            message.push_str(&js_message(&cause));
            TokenError::invalid_options(&message, cause)
        })?;
        Self::from_raw(raw)
    }

    /// Apply the defaults and check ranges.
    fn from_raw(raw: RawOptions) -> Result<Self, TokenError> {
        let endpoint = raw.endpoint.unwrap_or_else(|| "/api/token".into());
        if endpoint.is_empty() {
            return Err(TokenError::invalid_options("endpoint must be a non-empty string", JsValue::UNDEFINED));
        }
        let retries = within(raw.retries, 2.0, 0.0, 10.0, "retries must be an integer from 0 to 10")?;
        if retries.fract() != 0.0 {
            return Err(TokenError::invalid_options("retries must be an integer from 0 to 10", JsValue::UNDEFINED));
        }
        Ok(Self {
            endpoint,
            credentials: match raw.credentials.unwrap_or(Credentials::SameOrigin) {
                Credentials::Omit => RequestCredentials::Omit,
                Credentials::SameOrigin => RequestCredentials::SameOrigin,
                Credentials::Include => RequestCredentials::Include,
            },
            headers: request_headers(&raw.headers)?,
            leeway_ms: within(
                raw.leeway_seconds,
                60.0,
                0.0,
                86_400.0,
                "leewaySeconds must be a number from 0 to 86400",
            )? * 1000.0,
            timeout_ms: within(
                raw.timeout_ms,
                10_000.0,
                1.0,
                600_000.0,
                "timeoutMs must be a number from 1 to 600000",
            )?,
            retries: retries as u32,
            retry_delay_ms: within(
                raw.retry_delay_ms,
                300.0,
                0.0,
                60_000.0,
                "retryDelayMs must be a number from 0 to 60000",
            )?,
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
