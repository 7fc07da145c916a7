//! `TokenError` and its code enum, and the one place where the Rust error
//! becomes the JS `TokenError` (an `Error` subclass, as in oauth4webapi).

use js_sys::{JsString, Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// Why a token could not be obtained. The JS `code` strings are a contract;
/// the sixth, `invalid_options`, is raised by the JS entry, which validates options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request never got a response (offline, DNS, CORS, connection reset).
    Network,
    /// No complete response within `timeoutMs`.
    Timeout,
    /// The endpoint answered with an error status other than 401.
    Http,
    /// A 2xx answer that is not a usable token (not JSON, no `access_token`, bad `expires_in`).
    InvalidResponse,
    /// HTTP 401: the user has to sign in (user-token routes).
    LoginRequired,
}

impl ErrorCode {
    /// The stable lowercase string seen by JS.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::Http => "http",
            Self::InvalidResponse => "invalid_response",
            Self::LoginRequired => "login_required",
        }
    }
}

/// A failure, kept as Rust data until it crosses into JS.
///
/// Messages are `&'static str` on purpose: the status and the server's
/// description are appended with JS string concatenation in [`TokenError::into_js`],
/// which keeps Rust's formatting machinery out of the wasm binary.
#[derive(Debug)]
pub struct TokenError {
    /// The machine-readable reason.
    pub code: ErrorCode,
    /// A human sentence without the details appended at conversion.
    pub message: &'static str,
    /// The HTTP status, where there was a response.
    pub status: Option<u16>,
    /// The server's RFC 6749-style `error` value, when its body had one.
    pub error: Option<JsValue>,
    /// The server's `error_description`, when its body had one.
    pub error_description: Option<JsValue>,
    /// `Retry-After` in seconds, when a 5xx carried one (used by the retry loop).
    pub retry_after_s: Option<f64>,
    /// The underlying JS exception (e.g. fetch's `TypeError`).
    pub cause: Option<JsValue>,
}

impl TokenError {
    /// An error with only a code and a message.
    pub fn new(code: ErrorCode, message: &'static str) -> Self {
        Self { code, message, status: None, error: None, error_description: None, retry_after_s: None, cause: None }
    }

    /// Attach the underlying JS exception.
    pub fn with_cause(mut self, cause: JsValue) -> Self {
        self.cause = Some(cause);
        self
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

    /// Build the JS `TokenError`: a real `Error` (so stacks and `instanceof
    /// Error` work) with `name`, `code`, `status`, `error`, `error_description`
    /// and `cause`, whose prototype is `prototype` (`TokenError.prototype`,
    /// passed in by the JS entry) so `err instanceof TokenError` holds.
    /// Without it (e.g. in the wasm-bindgen tests) errors are plain `Error`s
    /// with the same fields.
    pub fn into_js(self, prototype: Option<&Object>) -> JsValue {
        let mut message = JsString::from(self.message);
        if let Some(status) = self.status {
            message = message.concat(&" (HTTP ".into()).concat(&JsValue::from(status)).concat(&")".into());
        }
        if let Some(description) = self.error_description.as_ref().filter(|d| d.is_string()) {
            message = message.concat(&": ".into()).concat(description);
        }
        let error: JsValue = MessageError::new(&message).into();
        let set = |key: &str, value: &JsValue| {
            // Setting a property on a fresh Error cannot fail; ignore the Result.
            let _ = Reflect::set(&error, &key.into(), value);
        };
        set("name", &"TokenError".into());
        set("code", &self.code.as_str().into());
        set("status", &self.status.map_or(JsValue::NULL, JsValue::from));
        set("error", &self.error.unwrap_or(JsValue::NULL));
        set("error_description", &self.error_description.unwrap_or(JsValue::NULL));
        if let Some(cause) = self.cause {
            set("cause", &cause);
        }
        if let Some(prototype) = prototype {
            Object::set_prototype_of(error.unchecked_ref::<Object>(), prototype);
        }
        error
    }
}

#[wasm_bindgen]
extern "C" {
    /// `new Error(message)` with a JS string message (js-sys only takes `&str`).
    #[wasm_bindgen(js_name = Error, extends = js_sys::Error)]
    type MessageError;

    #[wasm_bindgen(constructor, js_class = Error)]
    fn new(message: &JsString) -> MessageError;
}
