//! [`ApiError`]: the one place where failures become HTTP responses.
//!
//! API errors are RFC 6749-shaped JSON (`error`, `error_description`); sign-in
//! errors, which happen during browser navigations, are small HTML pages. Both
//! carry `Cache-Control: no-store`. Descriptions are written for the browser and
//! never carry upstream text; the full error rides on the response as an
//! extension for the app's error middleware, which logs and counts it once
//! ([`ApiError::record`]). The codes themselves are one table, in `codes`.

mod codes;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::exchange::ExchangeError;
use crate::http_headers::escape_html;
pub use crate::http_headers::no_store_headers;
use crate::proxy::{ProxyError, ProxyFailure};
use crate::session::SessionError;
use crate::sign_in::{FlowError, LogoutFailure, SignInError, SignInFailure, UserTokenFailure};
use crate::telemetry::Metrics;
use crate::token_cache::CacheError;
pub(crate) use codes::route_errors;
pub use codes::{ErrorCode, ErrorMedia, documented_responses};

/// Suggested wait before retrying when the upstream is down and we have no token.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Suggested wait when the proxy is at its bound: places free up as soon as
/// requests in flight finish.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

impl From<&ExchangeError> for ErrorCode {
    fn from(e: &ExchangeError) -> Self {
        match e {
            ExchangeError::Timeout(_)
            | ExchangeError::Unreachable(_)
            | ExchangeError::Unavailable { .. }
            | ExchangeError::BackingOff { .. } => Self::UpstreamUnavailable,
            ExchangeError::Rejected { .. } => Self::UpstreamRejected,
            ExchangeError::InvalidResponse(_) => Self::UpstreamInvalidResponse,
            ExchangeError::Signing(_) => Self::InternalError,
        }
    }
}

/// A failed request. A layer's error reaches it through one `From` path and
/// keeps its `source`: an upstream or session-store failure always lands in
/// `Exchange` or `Session`, whichever flow it came from; `UserToken`, `SignIn`
/// and `Proxy` hold only their flow's own failures, which their types keep apart.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The name as requested; shown reduced by [`printable`], since it is the caller's text.
    #[error("no token profile named `{}`", printable(.0))]
    UnknownProfile(String),
    /// A two-legged token could not be served; the cache has logged why.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A request to the authorization server on behalf of one user failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// A cookie-authenticated route called without our CSRF header or from a foreign origin.
    #[error("cross-site request refused: {0}")]
    CrossSite(&'static str),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The user's token could not be served.
    #[error(transparent)]
    UserToken(#[from] UserTokenFailure),
    /// A sign-in navigation failed.
    #[error(transparent)]
    SignIn(#[from] SignInFailure),
    /// A request through the API proxy failed.
    #[error(transparent)]
    Proxy(#[from] ProxyFailure),
    /// A back-channel logout was refused or failed.
    #[error(transparent)]
    Logout(#[from] LogoutFailure),
    /// `/auth/login` reached under another host than ours, by a browser that is
    /// on our origin already: a proxy in front rewrote the Host.
    #[error(
        "sign-in is served at {expected} (PUBLIC_URL, or OAUTH_REDIRECT_URL's origin), but this request was addressed to `{}`: a proxy in front changed the Host. Forward the Host unchanged (Vite: the proxy's object form, without changeOrigin) or set TRUST_FORWARDED_HEADERS=true behind a proxy that sends X-Forwarded-Host or Forwarded",
        printable(.seen)
    )]
    WrongHost { expected: String, seen: String },
    /// A bug, not a bad request: we built a header we cannot send.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// A flow's error lands in the flow's own variant, or in `Exchange` or `Session`.
impl<F> From<FlowError<F>> for ApiError
where
    ApiError: From<F>,
{
    fn from(e: FlowError<F>) -> Self {
        match e {
            FlowError::Failed(e) => e.into(),
            FlowError::Exchange(e) => Self::Exchange(e),
            FlowError::Session(e) => Self::Session(e),
        }
    }
}

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::Failed(e) => Self::Proxy(e),
            ProxyError::Cache(e) => Self::Cache(e),
            ProxyError::UserToken(e) => e.into(),
        }
    }
}

/// The error body sent to the browser.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ErrorResponse, title = "ErrorResponse")]
pub(crate) struct ErrorBody {
    /// A stable code such as `upstream_unavailable` or `login_required`.
    error: &'static str,
    error_description: String,
}

impl ApiError {
    /// The public code, which decides status and description.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownProfile(_) => ErrorCode::UnknownProfile,
            Self::Cache(CacheError::Upstream(e)) | Self::Exchange(e) => e.into(),
            Self::Cache(CacheError::Stopped(_)) | Self::Internal(_) => ErrorCode::InternalError,
            Self::CrossSite(_) => ErrorCode::CrossSiteRequest,
            Self::WrongHost { .. } => ErrorCode::WrongHost,
            Self::Session(_) => ErrorCode::SessionStoreUnavailable,
            Self::UserToken(e) => match e {
                UserTokenFailure::LoginRequired => ErrorCode::LoginRequired,
                UserTokenFailure::RefreshLock(_) | UserTokenFailure::RefreshLockTimeout => {
                    ErrorCode::SessionStoreUnavailable
                }
                UserTokenFailure::RefreshStopped(_) => ErrorCode::InternalError,
                UserTokenFailure::NoUsableToken => ErrorCode::UpstreamUnavailable,
                UserTokenFailure::NoUserinfo => ErrorCode::UserinfoNotConfigured,
            },
            Self::SignIn(e) => match e {
                SignInFailure::InvalidReturnTo => ErrorCode::InvalidReturnTo,
                SignInFailure::MissingState | SignInFailure::InvalidState => ErrorCode::InvalidState,
                SignInFailure::Replayed => ErrorCode::SignInReplayed,
                SignInFailure::ReturnToTooLong { .. } => ErrorCode::ReturnToTooLong,
                SignInFailure::UsedStates(_) => ErrorCode::SessionStoreUnavailable,
                SignInFailure::Denied => ErrorCode::AccessDenied,
                SignInFailure::IssuerMismatch | SignInFailure::MissingIssuer => ErrorCode::IssuerMismatch,
                SignInFailure::Provider { .. } => ErrorCode::ProviderError,
                SignInFailure::MissingCode => ErrorCode::InvalidRequest,
                SignInFailure::InvalidIdToken(_) => ErrorCode::InvalidIdToken,
                SignInFailure::SessionIndex(_) => ErrorCode::SessionStoreUnavailable,
            },
            Self::Logout(e) => match e {
                LogoutFailure::Invalid(_) | LogoutFailure::Replayed | LogoutFailure::Unavailable => {
                    ErrorCode::InvalidRequest
                }
                LogoutFailure::Index(_) => ErrorCode::SessionStoreUnavailable,
            },
            Self::Proxy(e) => match e {
                ProxyFailure::UnknownApi(_) => ErrorCode::ApiNotFound,
                ProxyFailure::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
                ProxyFailure::Path(_) => ErrorCode::PathNotAllowed,
                ProxyFailure::RequestTooLarge(_) => ErrorCode::RequestTooLarge,
                ProxyFailure::RequestBody(_) => ErrorCode::RequestBodyFailed,
                ProxyFailure::ResponseTooLarge(_) => ErrorCode::ResponseTooLarge,
                ProxyFailure::Timeout(_) => ErrorCode::UpstreamTimeout,
                ProxyFailure::Redirect(_) => ErrorCode::UpstreamRedirect,
                ProxyFailure::Unreachable(_) => ErrorCode::ApiUnavailable,
                ProxyFailure::Busy => ErrorCode::ProxyBusy,
            },
        }
    }

    fn description(&self) -> String {
        match (self.code().description(), self) {
            (Some(fixed), _) => fixed.to_owned(),
            (None, Self::SignIn(SignInFailure::Provider { error, .. })) => {
                format!("the sign-in service reported an error ({})", printable(error))
            }
            (None, Self::SignIn(SignInFailure::MissingCode)) => {
                "the sign-in response could not be used; please sign in again".to_owned()
            }
            (None, _) => self.to_string(),
        }
    }

    /// Counts the error by code and logs it once with the full error:
    /// two-legged token failures at debug level, as the token cache has logged
    /// the upstream failure once for all its waiters; a user's failed request to
    /// the authorization server, the session store and internal errors at error
    /// level. Called by the app's error middleware, and by the token routes,
    /// which do without it.
    pub fn record(&self, metrics: &Metrics) {
        let code = self.code().as_str();
        metrics.record_error(code);
        match (self.code(), self) {
            (_, Self::Exchange(e)) => tracing::error!(code, error = %e, "request to the authorization server failed"),
            // The one line a refused logout token leaves; its text never quotes the token.
            (ErrorCode::InvalidRequest, Self::Logout(e)) => {
                tracing::warn!(code, error = %e, "back-channel logout refused")
            }
            (ErrorCode::ApiUnavailable | ErrorCode::UpstreamTimeout | ErrorCode::UpstreamRedirect, _)
            | (ErrorCode::ResponseTooLarge, _) => tracing::warn!(code, error = %self, "proxied request failed"),
            (ErrorCode::SessionStoreUnavailable, _) => tracing::error!(code, error = %self, "session store failed"),
            (ErrorCode::InternalError, _) => tracing::error!(code, error = %self, "internal error"),
            _ => tracing::debug!(code, error = %self, "request failed"),
        }
    }

    /// `Retry-After` of a 503: the upstream's own when it sent one.
    fn retry_after(&self) -> Duration {
        match self {
            Self::Cache(CacheError::Upstream(ExchangeError::Unavailable { retry_after: Some(d), .. }))
            | Self::Exchange(ExchangeError::Unavailable { retry_after: Some(d), .. }) => *d,
            // Counts down the backoff window, rounded up so a browser never comes back early.
            Self::Cache(CacheError::Upstream(ExchangeError::BackingOff { retry_after }))
            | Self::Exchange(ExchangeError::BackingOff { retry_after }) => {
                Duration::from_secs(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            Self::Proxy(ProxyFailure::Busy) => BUSY_RETRY_AFTER,
            _ => DEFAULT_RETRY_AFTER,
        }
    }

    /// The JSON (or, for [`SignInPage`], HTML) response, with the error attached
    /// for the logging middleware.
    fn respond(self, is_page: bool) -> Response {
        let code = self.code();
        let status = code.status();
        let description = self.description();
        let mut response = if is_page {
            let page = sign_in_page(status, &description);
            (status, no_store_headers(), [(header::REFERRER_POLICY, "no-referrer")], page).into_response()
        } else {
            let body = ErrorBody { error: code.as_str(), error_description: description };
            (status, no_store_headers(), Json(body)).into_response()
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = self.retry_after().as_secs().max(1);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        // RFC 9110 §15.5.6: a 405 says what is allowed.
        if let Self::Proxy(ProxyFailure::MethodNotAllowed { allowed, .. }) = &self {
            let allowed = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            if let Ok(value) = HeaderValue::from_str(&allowed) {
                response.headers_mut().insert(header::ALLOW, value);
            }
        }
        response.extensions_mut().insert(ErrorContext(Arc::new(self)));
        response
    }
}

/// Attached to every error response so the logging middleware sees the full error.
#[derive(Debug, Clone)]
pub struct ErrorContext(pub Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(false)
    }
}

/// A failure during a sign-in navigation (`/auth/login`, `/auth/callback`):
/// the user is looking at the browser, not at a script, so it is a small page.
#[derive(Debug)]
pub struct SignInPage(pub ApiError);

impl From<ApiError> for SignInPage {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<SignInError> for SignInPage {
    fn from(e: SignInError) -> Self {
        Self(e.into())
    }
}

impl From<SignInFailure> for SignInPage {
    fn from(e: SignInFailure) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for SignInPage {
    fn into_response(self) -> Response {
        self.0.respond(true)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Provider error codes are reduced to safe characters and escaped.
    #[test]
    fn provider_text_cannot_inject_markup() {
        let error = ApiError::from(SignInFailure::Provider { error: "<script>x</script>".into(), description: None });
        assert!(!error.description().contains('<'));
        assert!(!sign_in_page(StatusCode::BAD_REQUEST, "<script>").0.contains("<script>"));
    }

    /// Each family of failure has its status.
    #[test]
    fn statuses() {
        let status = |e: ApiError| e.code().status();
        assert_eq!(status(UserTokenFailure::LoginRequired.into()), StatusCode::UNAUTHORIZED);
        assert_eq!(status(ApiError::CrossSite("missing X-Requested-With")), StatusCode::FORBIDDEN);
        assert_eq!(status(SignInFailure::InvalidState.into()), StatusCode::BAD_REQUEST);
        assert_eq!(status(UserTokenFailure::RefreshLockTimeout.into()), StatusCode::SERVICE_UNAVAILABLE);
        let stopped = CacheError::Stopped(crate::single_flight::TaskStopped);
        assert_eq!(status(stopped.into()), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// A layer error keeps its cause reachable through `source`, for the log.
    #[test]
    fn sources_are_kept() {
        use std::error::Error;
        let refused = ExchangeError::Unreachable("connection refused".into());
        let error = ApiError::from(UserTokenFailure::RefreshLock(crate::cluster::ClusterError::Encode(Arc::new(
            serde_json::from_str::<u8>("x").expect_err("not JSON"),
        ))));
        assert!(error.source().is_some());
        assert!(matches!(ApiError::from(SignInError::Exchange(refused)), ApiError::Exchange(_)), "one path");
    }
}
