//! [`ApiError`]: the one place where failures become HTTP responses.
//!
//! Every error response is RFC 6749-shaped JSON (`error`, `error_description`)
//! with `Cache-Control: no-store`. Descriptions are written for the browser and
//! never carry upstream text; the full error rides on the response as an
//! extension and is logged and counted by [`crate::app`]'s middleware.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::exchange::ExchangeError;

/// Suggested wait before retrying when the upstream is down and we have no token.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no token profile named `{0}`")]
    UnknownProfile(String),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
}

/// The error body sent to the browser.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: String,
}

impl ApiError {
    /// The `error` code of the response; also the metrics label.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProfile(_) => "unknown_profile",
            Self::Exchange(
                ExchangeError::Timeout(_) | ExchangeError::Unreachable(_) | ExchangeError::Unavailable { .. },
            ) => "upstream_unavailable",
            Self::Exchange(ExchangeError::Rejected { .. }) => "upstream_rejected",
            Self::Exchange(ExchangeError::InvalidResponse(_)) => "upstream_invalid_response",
        }
    }

    fn status(&self) -> StatusCode {
        match self.code() {
            "unknown_profile" => StatusCode::NOT_FOUND,
            "upstream_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    fn description(&self) -> String {
        match self {
            Self::UnknownProfile(_) => self.to_string(),
            Self::Exchange(e) => match e {
                ExchangeError::Timeout(_) | ExchangeError::Unreachable(_) | ExchangeError::Unavailable { .. } => {
                    "the authorization server is unavailable and no valid token is cached; try again shortly".into()
                }
                ExchangeError::Rejected { .. } => {
                    "the authorization server rejected the broker's request; see the server log".into()
                }
                ExchangeError::InvalidResponse(_) => {
                    "the authorization server sent a response the broker cannot use; see the server log".into()
                }
            },
        }
    }
}

/// Attached to every error response so the logging middleware sees the full error.
#[derive(Debug, Clone)]
pub struct ErrorContext(pub Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.code(),
            error_description: self.description(),
        };
        let mut response = (status, no_store_headers(), Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = match &self {
                Self::Exchange(ExchangeError::Unavailable {
                    retry_after: Some(d), ..
                }) => *d,
                _ => DEFAULT_RETRY_AFTER,
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
        }
        response.extensions_mut().insert(ErrorContext(Arc::new(self)));
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`: token responses and their
/// errors must never be stored by a browser or proxy (RFC 6749 §5.1).
pub fn no_store_headers() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}
