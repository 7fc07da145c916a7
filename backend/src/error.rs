//! [`ApiError`]: the one place where failures become HTTP responses.
//!
//! API errors are RFC 6749-shaped JSON (`error`, `error_description`); sign-in
//! errors, which happen during browser navigations, are small HTML pages. Both
//! carry `Cache-Control: no-store`. Descriptions are written for the browser and
//! never carry upstream text; the full error rides on the response as an
//! extension and is logged and counted by [`crate::app`]'s middleware.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::exchange::ExchangeError;
use crate::session::SessionError;
use crate::sign_in::{SignInError, UserTokenError};

/// Suggested wait before retrying when the upstream is down and we have no token.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The name as requested; shown reduced by [`printable`], since it is the caller's text.
    #[error("no token profile named `{}`", printable(.0))]
    UnknownProfile(String),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// A cookie-authenticated route called without our CSRF header or from a foreign origin.
    #[error("cross-site request refused: {0}")]
    CrossSite(&'static str),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    UserToken(#[from] UserTokenError),
    /// Shown as a page: the user is in the middle of a browser navigation.
    #[error(transparent)]
    SignIn(#[from] SignInError),
}

/// The error body sent to the browser.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ErrorResponse, title = "ErrorResponse")]
pub(crate) struct ErrorBody {
    /// A stable code such as `upstream_unavailable` or `login_required`.
    error: &'static str,
    error_description: String,
}

fn exchange_code(e: &ExchangeError) -> &'static str {
    match e {
        ExchangeError::Timeout(_)
        | ExchangeError::Unreachable(_)
        | ExchangeError::Unavailable { .. }
        | ExchangeError::BackingOff { .. } => "upstream_unavailable",
        ExchangeError::Rejected { .. } => "upstream_rejected",
        ExchangeError::InvalidResponse(_) => "upstream_invalid_response",
    }
}

impl ApiError {
    /// The `error` code of the response; also the metrics label.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProfile(_) => "unknown_profile",
            Self::Exchange(e)
            | Self::UserToken(UserTokenError::Exchange(e))
            | Self::SignIn(SignInError::Exchange(e)) => exchange_code(e),
            Self::CrossSite(_) => "cross_site_request",
            Self::Session(_) | Self::UserToken(UserTokenError::Session(_)) | Self::SignIn(SignInError::Session(_)) => {
                "session_store_unavailable"
            }
            Self::UserToken(UserTokenError::LoginRequired) => "login_required",
            Self::UserToken(UserTokenError::NoUserinfo) => "userinfo_not_configured",
            Self::SignIn(SignInError::InvalidReturnTo) => "invalid_return_to",
            Self::SignIn(SignInError::MissingState | SignInError::InvalidState) => "invalid_state",
            Self::SignIn(SignInError::Denied) => "access_denied",
            Self::SignIn(SignInError::Provider { .. }) => "provider_error",
            Self::SignIn(SignInError::MissingCode) => "invalid_request",
            Self::SignIn(SignInError::InvalidIdToken(_)) => "invalid_id_token",
        }
    }

    fn status(&self) -> StatusCode {
        match self.code() {
            "unknown_profile" | "userinfo_not_configured" => StatusCode::NOT_FOUND,
            "upstream_unavailable" | "session_store_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "upstream_rejected" | "upstream_invalid_response" => StatusCode::BAD_GATEWAY,
            "login_required" => StatusCode::UNAUTHORIZED,
            "cross_site_request" | "access_denied" => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> String {
        match self.code() {
            "unknown_profile" | "cross_site_request" => self.to_string(),
            "upstream_unavailable" => {
                "the authorization server is unavailable and no valid token is cached; try again shortly".into()
            }
            "upstream_rejected" => "the authorization server rejected the broker's request; see the server log".into(),
            "upstream_invalid_response" => {
                "the authorization server sent a response the broker cannot use; see the server log".into()
            }
            "session_store_unavailable" => "sessions are unavailable right now; try again shortly".into(),
            "login_required" => "sign in to get a user token".into(),
            "userinfo_not_configured" => "the provider has no userinfo endpoint".into(),
            "invalid_return_to" => "return_to must be a path on this site, such as /viewer".into(),
            "invalid_state" => "this sign-in link has expired or was already used; please sign in again".into(),
            "access_denied" => "sign-in was cancelled".into(),
            "provider_error" => match self {
                Self::SignIn(SignInError::Provider { error, .. }) => {
                    format!("the sign-in service reported an error ({})", printable(error))
                }
                _ => self.to_string(),
            },
            _ => "the sign-in response could not be used; please sign in again".into(),
        }
    }

    fn is_page(&self) -> bool {
        matches!(self, Self::SignIn(_))
    }
}

/// Attached to every error response so the logging middleware sees the full error.
#[derive(Debug, Clone)]
pub struct ErrorContext(pub Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let description = self.description();
        let mut response = if self.is_page() {
            let page = sign_in_page(status, &description);
            (status, no_store_headers(), [(header::REFERRER_POLICY, "no-referrer")], page).into_response()
        } else {
            let body = ErrorBody { error: self.code(), error_description: description };
            (status, no_store_headers(), Json(body)).into_response()
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = match &self {
                Self::Exchange(ExchangeError::Unavailable { retry_after: Some(d), .. }) => *d,
                // Counts down the backoff window, rounded up so a browser never comes back early.
                Self::Exchange(ExchangeError::BackingOff { retry_after }) => {
                    Duration::from_secs(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
                }
                _ => DEFAULT_RETRY_AFTER,
            };
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
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

/// Keeps provider-supplied text to a short run of safe characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ')).take(64).collect()
}

/// A small self-contained page for sign-in failures.
fn sign_in_page(status: StatusCode, message: &str) -> Html<String> {
    let message = escape_html(message);
    let title = if status == StatusCode::FORBIDDEN { "Sign-in cancelled" } else { "Sign-in did not complete" };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>{title}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}}\
         a{{color:#0b5cad}}</style></head><body><main><h1>{title}</h1><p>{message}</p>\
         <p><a href=\"/auth/login\">Sign in again</a> · <a href=\"/\">Back to the app</a></p></main></body></html>"
    ))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Provider error codes are reduced to safe characters and escaped.
    #[test]
    fn provider_text_cannot_inject_markup() {
        let error = ApiError::SignIn(SignInError::Provider { error: "<script>x</script>".into(), description: None });
        assert!(!error.description().contains('<'));
        assert_eq!(escape_html("<a href='x'>"), "&lt;a href=&#39;x&#39;&gt;");
    }

    /// Each family of failure has its status.
    #[test]
    fn statuses() {
        assert_eq!(ApiError::UserToken(UserTokenError::LoginRequired).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::CrossSite("missing X-Requested-With").status(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::SignIn(SignInError::InvalidState).status(), StatusCode::BAD_REQUEST);
        assert_eq!(ApiError::Session(SessionError::from_message("down")).status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
