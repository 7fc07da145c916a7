//! `TokenError` and its kinds, and the one place where the Rust error becomes
//! the JS `TokenError` (an `Error` subclass, as in oauth4webapi).
//!
//! The JS object is built by the JS entry from primitives (`makeError` in
//! `js/index.js`): the kind picks the stable `code` and the message there,
//! which keeps message strings, property names and `Reflect` calls out of the
//! wasm (see BENCHMARKS.md).

use js_sys::Function;
use wasm_bindgen::JsValue;

use crate::http::call;

/// Why a token could not be obtained. The discriminant is the contract with
/// `makeError` in `js/index.js`, which maps it to the JS `code` (the kinds
/// after `LoginRequired` all become `invalid_response`) and message. The
/// sixth code, `invalid_options`, is raised by the JS entry, which validates
/// options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `network`: the request never got a response (offline, DNS, CORS, connection reset).
    Network = 0,
    /// `timeout`: no complete response within `timeoutMs`.
    Timeout = 1,
    /// `http`: the endpoint answered with an error status other than 401.
    Http = 2,
    /// `login_required`: HTTP 401, the user has to sign in (user-token routes).
    LoginRequired = 3,
    /// `invalid_response`: a 2xx answer whose body is not a JSON object.
    NotJsonObject = 4,
    /// `invalid_response`: no non-empty string `access_token`.
    NoAccessToken = 5,
    /// `invalid_response`: no finite, non-negative number `expires_in`.
    BadExpiresIn = 6,
}

/// A failure, kept as Rust data until it crosses into JS.
#[derive(Debug)]
pub struct TokenError {
    /// The machine-readable reason.
    pub kind: ErrorKind,
    /// The HTTP status, where there was a response.
    pub status: Option<u16>,
    /// The parsed error body of a non-2xx answer (its RFC 6749-style `error`
    /// and `error_description` are read in JS), or `undefined`.
    pub body: JsValue,
    /// `Retry-After` in seconds, when an error answer carried one (used by the retry loop).
    pub retry_after_s: Option<f64>,
    /// The underlying JS exception (e.g. fetch's `TypeError`), or `undefined`.
    pub cause: JsValue,
}

impl TokenError {
    /// An error with only a kind.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, status: None, body: JsValue::UNDEFINED, retry_after_s: None, cause: JsValue::UNDEFINED }
    }

    /// Network failures, timeouts and 5xx may succeed on a later attempt; 4xx
    /// and malformed answers will not.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Network | ErrorKind::Timeout => true,
            ErrorKind::Http => self.status.is_some_and(|s| s >= 500),
            _ => false,
        }
    }

    /// The JS `TokenError`: `make_error(kind, status | null, body, cause)`
    /// builds a real `Error` with `name`, `code`, `status`, `error`,
    /// `error_description` and `cause`.
    pub fn into_js(self, make_error: &Function) -> JsValue {
        let status = self.status.map_or(JsValue::NULL, JsValue::from);
        call(make_error, &(self.kind as u32).into(), &status, &self.body, &self.cause, &JsValue::UNDEFINED)
            .unwrap_or_else(|thrown| thrown)
    }
}
