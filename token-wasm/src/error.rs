//! `TokenError` and its codes, defined once, and the one place where the Rust
//! error becomes the JS `TokenError` (an `Error` subclass with `code`,
//! `status`, `error`, `error_description` and `cause`, as in oauth4webapi).
//!
//! The class itself is `js/error.js`, imported here as a wasm-bindgen module
//! snippet and re-exported by the package entry, so callers and the wasm share
//! one class. Messages are built by concatenation rather than `format!`: every
//! format string costs download size (see BENCHMARKS.md).

use serde::Serialize;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    /// The JS `TokenError` class.
    #[wasm_bindgen(extends = js_sys::Error, js_name = TokenError)]
    #[derive(Debug, Clone)]
    pub type JsTokenError;

    #[wasm_bindgen(constructor, js_class = TokenError)]
    fn new(message: &str, code: &str, details: &JsValue) -> JsTokenError;

    /// The stable code (an [`ErrorCode`] string).
    #[wasm_bindgen(method, getter, js_class = TokenError)]
    pub fn code(this: &JsTokenError) -> String;
}

/// The stable, machine-readable reason of a [`TokenError`] (`err.code` in JS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request never got a response (offline, DNS, CORS, connection reset).
    Network,
    /// No complete response within `timeoutMs`.
    Timeout,
    /// The endpoint answered with an error status other than 401.
    Http,
    /// A 2xx answer without a usable `access_token` / `expires_in`.
    InvalidResponse,
    /// HTTP 401: the user has to sign in (user-token routes).
    LoginRequired,
    /// Bad options, or an endpoint that cannot be requested where the code runs.
    InvalidOptions,
}

impl ErrorCode {
    /// The code as JS sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::Http => "http",
            Self::InvalidResponse => "invalid_response",
            Self::LoginRequired => "login_required",
            Self::InvalidOptions => "invalid_options",
        }
    }
}

/// The RFC 6749-style fields of an error answer (`{ error, error_description }`).
#[derive(Debug, Default)]
pub struct ErrorBody {
    /// The server's error code, e.g. `upstream_rejected`.
    pub error: Option<String>,
    /// The server's human-readable explanation.
    pub error_description: Option<String>,
}

impl ErrorBody {
    /// The fields of a parsed JSON body; one of the wrong type reads as
    /// absent: a malformed body is judged by what is missing.
    pub fn read(body: &JsValue) -> Self {
        Self {
            error: crate::fields::string(body, "error"),
            error_description: crate::fields::string(body, "error_description"),
        }
    }
}

/// A failure, kept as Rust data until it crosses into JS.
#[derive(Debug)]
pub struct TokenError {
    /// The machine-readable reason.
    pub code: ErrorCode,
    /// What went wrong, for people (the JS `message`).
    pub message: String,
    /// The HTTP status, where there was a response.
    pub status: Option<u16>,
    /// The parsed body of an error answer.
    pub body: ErrorBody,
    /// `Retry-After` in seconds, when an error answer carried one (used by the retry loop).
    pub retry_after_s: Option<f64>,
    /// The underlying JS exception (e.g. fetch's `TypeError`), or `undefined`.
    pub cause: JsValue,
}

/// The JS `TokenError`'s `details` argument.
#[derive(Serialize)]
struct Details<'a> {
    status: Option<u16>,
    error: Option<&'a str>,
    error_description: Option<&'a str>,
    #[serde(with = "serde_wasm_bindgen::preserve", skip_serializing_if = "JsValue::is_undefined")]
    cause: JsValue,
}

/// The last failure as `getState().lastError` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSummary {
    /// See [`TokenError::code`].
    pub code: ErrorCode,
    /// See [`TokenError::message`].
    pub message: String,
    /// See [`TokenError::status`].
    pub status: Option<u16>,
}

impl TokenError {
    /// An error with a code and a message only.
    pub fn new(code: ErrorCode, message: &str) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
            body: ErrorBody::default(),
            retry_after_s: None,
            cause: JsValue::UNDEFINED,
        }
    }

    /// Bad options: `message` names the option, `cause` is serde's or the browser's own error.
    pub fn invalid_options(message: &str, cause: JsValue) -> Self {
        Self { cause, ..Self::new(ErrorCode::InvalidOptions, message) }
    }

    /// Network failures, timeouts and 5xx may succeed on a later attempt; 4xx
    /// and malformed answers will not.
    pub fn is_retryable(&self) -> bool {
        match self.code {
            ErrorCode::Network | ErrorCode::Timeout => true,
            ErrorCode::Http => self.status.is_some_and(|s| s >= 500),
            _ => false,
        }
    }

    /// The `lastError` view of this error.
    pub fn summary(&self) -> ErrorSummary {
        ErrorSummary { code: self.code, message: self.message.clone(), status: self.status }
    }

    /// The JS `TokenError`.
    pub fn into_js(self) -> JsTokenError {
        let details = Details {
            status: self.status,
            error: self.body.error.as_deref(),
            error_description: self.body.error_description.as_deref(),
            cause: self.cause.clone(),
        };
        // Serialising plain fields into a fresh object cannot fail; should it
        // ever, the error still carries its code and message.
        let details = serde_wasm_bindgen::to_value(&details).unwrap_or(JsValue::UNDEFINED);
        JsTokenError::new(&self.message, self.code.as_str(), &details)
    }
}

/// The message of a JS exception (the value itself if it is a string).
pub fn js_message(value: &JsValue) -> String {
    use wasm_bindgen::JsCast;
    match value.dyn_ref::<js_sys::Error>() {
        Some(error) => error.message().into(),
        None => value.as_string().unwrap_or_default(),
    }
}
