//! [`ApiError`]: the one place where failures become HTTP responses.
//!
//! API errors are RFC 6749-shaped JSON (`error`, `error_description`); sign-in
//! errors, which happen during browser navigations, are small HTML pages. Both
//! carry `Cache-Control: no-store`. Descriptions are written for the browser and
//! never carry upstream text; the full error rides on the response as an
//! extension for the app's error middleware, which logs and counts it once
//! ([`ApiError::record`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::exchange::ExchangeError;
use crate::http_headers::escape_html;
pub use crate::http_headers::no_store_headers;
use crate::proxy::ProxyError;
use crate::session::SessionError;
use crate::sign_in::{SignInError, UserTokenError};
use crate::telemetry::Metrics;
use crate::token_cache::CacheError;

/// Suggested wait before retrying when the upstream is down and we have no token.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Suggested wait when the proxy is at its bound: places free up as soon as
/// requests in flight finish.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The public `error` code of a failed request. Each code owns its HTTP status
/// and the description shown to the browser, so a new failure picks a code and
/// gets both; nothing matches on code strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    UnknownProfile,
    UpstreamUnavailable,
    UpstreamRejected,
    UpstreamInvalidResponse,
    CrossSiteRequest,
    SessionStoreUnavailable,
    LoginRequired,
    UserinfoNotConfigured,
    InvalidReturnTo,
    InvalidState,
    SignInReplayed,
    ReturnToTooLong,
    IssuerMismatch,
    WrongHost,
    AccessDenied,
    ProviderError,
    InvalidRequest,
    InvalidIdToken,
    InternalError,
    ApiNotFound,
    MethodNotAllowed,
    PathNotAllowed,
    RequestTooLarge,
    RequestBodyFailed,
    ResponseTooLarge,
    UpstreamTimeout,
    UpstreamRedirect,
    ApiUnavailable,
    ProxyBusy,
}

impl ErrorCode {
    /// The code as sent in the body's `error` field; also the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownProfile => "unknown_profile",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamRejected => "upstream_rejected",
            Self::UpstreamInvalidResponse => "upstream_invalid_response",
            Self::CrossSiteRequest => "cross_site_request",
            Self::SessionStoreUnavailable => "session_store_unavailable",
            Self::LoginRequired => "login_required",
            Self::UserinfoNotConfigured => "userinfo_not_configured",
            Self::InvalidReturnTo => "invalid_return_to",
            Self::InvalidState => "invalid_state",
            Self::SignInReplayed => "sign_in_replayed",
            Self::ReturnToTooLong => "return_to_too_long",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::WrongHost => "wrong_host",
            Self::AccessDenied => "access_denied",
            Self::ProviderError => "provider_error",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidIdToken => "invalid_id_token",
            Self::InternalError => "internal_error",
            Self::ApiNotFound => "api_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PathNotAllowed => "path_not_allowed",
            Self::RequestTooLarge => "request_too_large",
            Self::RequestBodyFailed => "request_body_failed",
            Self::ResponseTooLarge => "response_too_large",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UpstreamRedirect => "upstream_redirect",
            Self::ApiUnavailable => "api_unavailable",
            Self::ProxyBusy => "proxy_busy",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::UnknownProfile | Self::UserinfoNotConfigured => StatusCode::NOT_FOUND,
            Self::UpstreamUnavailable | Self::SessionStoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamRejected | Self::UpstreamInvalidResponse => StatusCode::BAD_GATEWAY,
            Self::LoginRequired => StatusCode::UNAUTHORIZED,
            Self::CrossSiteRequest | Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::InvalidReturnTo
            | Self::InvalidState
            | Self::SignInReplayed
            | Self::ReturnToTooLong
            | Self::IssuerMismatch
            | Self::ProviderError
            | Self::InvalidRequest
            | Self::InvalidIdToken => StatusCode::BAD_REQUEST,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::WrongHost => StatusCode::MISDIRECTED_REQUEST,
            Self::ApiNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PathNotAllowed => StatusCode::FORBIDDEN,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestBodyFailed => StatusCode::BAD_REQUEST,
            Self::ResponseTooLarge | Self::UpstreamRedirect | Self::ApiUnavailable => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::ProxyBusy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The fixed public description; `None` where [`ApiError`] writes one from
    /// the error itself (its own text, never upstream text).
    fn description(self) -> Option<&'static str> {
        Some(match self {
            Self::UnknownProfile
            | Self::CrossSiteRequest
            | Self::ReturnToTooLong
            | Self::WrongHost
            | Self::ProviderError
            | Self::ApiNotFound
            | Self::MethodNotAllowed
            | Self::PathNotAllowed
            | Self::RequestTooLarge
            | Self::ResponseTooLarge
            | Self::UpstreamTimeout => return None,
            Self::UpstreamUnavailable => {
                "the authorization server is unavailable and no valid token is cached; try again shortly"
            }
            Self::UpstreamRejected => "the authorization server rejected the broker's request; see the server log",
            Self::UpstreamInvalidResponse => {
                "the authorization server sent a response the broker cannot use; see the server log"
            }
            Self::SessionStoreUnavailable => "sessions are unavailable right now; try again shortly",
            Self::LoginRequired => "sign in to get a user token",
            Self::UserinfoNotConfigured => {
                "no user profile: the provider has no userinfo endpoint (or it refused the user's token) and sign-in gave no ID token"
            }
            Self::InvalidReturnTo => "return_to must be a path on this site, such as /viewer",
            Self::InvalidState => "this sign-in link has expired or was already used; please sign in again",
            Self::SignInReplayed => "this sign-in was already completed; a sign-in link works only once",
            Self::IssuerMismatch => {
                "the sign-in response did not come from the expected authorization server; please sign in again"
            }
            Self::AccessDenied => "sign-in was cancelled",
            Self::InvalidRequest | Self::InvalidIdToken => {
                "the sign-in response could not be used; please sign in again"
            }
            Self::InternalError => "something went wrong; see the server log",
            Self::RequestBodyFailed => "the request body could not be read",
            Self::UpstreamRedirect => "the API answered with a redirect, which the proxy does not follow",
            Self::ApiUnavailable => "the API could not be reached; see the server log",
            Self::ProxyBusy => "the proxy has too many requests in progress; try again shortly",
        })
    }
}

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
/// `Exchange` or `Session`, whichever flow it came from; `UserToken` and `SignIn`
/// hold only their flow's own failures.
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
    /// The user's token could not be served (never its `Exchange` or `Session` variants).
    #[error(transparent)]
    UserToken(UserTokenError),
    /// A sign-in navigation failed (never its `Exchange` or `Session` variants).
    #[error(transparent)]
    SignIn(SignInError),
    /// A request through the API proxy failed (never its token variants, which
    /// land in `Cache` or come through `UserToken`).
    #[error(transparent)]
    Proxy(ProxyError),
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

impl From<UserTokenError> for ApiError {
    fn from(e: UserTokenError) -> Self {
        match e {
            UserTokenError::Exchange(e) => Self::Exchange(e),
            UserTokenError::Session(e) => Self::Session(e),
            other => Self::UserToken(other),
        }
    }
}

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::Cache(e) => Self::Cache(e),
            ProxyError::UserToken(e) => e.into(),
            other => Self::Proxy(other),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Exchange(e) => Self::Exchange(e),
            SignInError::Session(e) => Self::Session(e),
            other => Self::SignIn(other),
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
            Self::Cache(CacheError::Upstream(e))
            | Self::Exchange(e)
            | Self::UserToken(UserTokenError::Exchange(e))
            | Self::SignIn(SignInError::Exchange(e)) => e.into(),
            Self::Cache(CacheError::Stopped(_))
            | Self::UserToken(UserTokenError::RefreshStopped(_))
            | Self::Internal(_) => ErrorCode::InternalError,
            Self::CrossSite(_) => ErrorCode::CrossSiteRequest,
            Self::WrongHost { .. } => ErrorCode::WrongHost,
            Self::Session(_)
            | Self::UserToken(
                UserTokenError::Session(_) | UserTokenError::RefreshLock(_) | UserTokenError::RefreshLockTimeout,
            )
            | Self::SignIn(SignInError::Session(_) | SignInError::UsedStates(_)) => ErrorCode::SessionStoreUnavailable,
            Self::UserToken(UserTokenError::LoginRequired) => ErrorCode::LoginRequired,
            Self::UserToken(UserTokenError::NoUsableToken) => ErrorCode::UpstreamUnavailable,
            Self::UserToken(UserTokenError::NoUserinfo) => ErrorCode::UserinfoNotConfigured,
            Self::SignIn(SignInError::InvalidReturnTo) => ErrorCode::InvalidReturnTo,
            Self::SignIn(SignInError::MissingState | SignInError::InvalidState) => ErrorCode::InvalidState,
            Self::SignIn(SignInError::Replayed) => ErrorCode::SignInReplayed,
            Self::SignIn(SignInError::ReturnToTooLong { .. }) => ErrorCode::ReturnToTooLong,
            Self::SignIn(SignInError::IssuerMismatch | SignInError::MissingIssuer) => ErrorCode::IssuerMismatch,
            Self::SignIn(SignInError::Denied) => ErrorCode::AccessDenied,
            Self::SignIn(SignInError::Provider { .. }) => ErrorCode::ProviderError,
            Self::SignIn(SignInError::MissingCode) => ErrorCode::InvalidRequest,
            Self::SignIn(SignInError::InvalidIdToken(_)) => ErrorCode::InvalidIdToken,
            Self::Proxy(e) => match e {
                ProxyError::UnknownApi(_) => ErrorCode::ApiNotFound,
                ProxyError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
                ProxyError::Path(_) => ErrorCode::PathNotAllowed,
                ProxyError::RequestTooLarge(_) => ErrorCode::RequestTooLarge,
                ProxyError::RequestBody(_) => ErrorCode::RequestBodyFailed,
                ProxyError::ResponseTooLarge(_) => ErrorCode::ResponseTooLarge,
                ProxyError::Timeout(_) => ErrorCode::UpstreamTimeout,
                ProxyError::Redirect(_) => ErrorCode::UpstreamRedirect,
                ProxyError::Unreachable(_) => ErrorCode::ApiUnavailable,
                ProxyError::Busy => ErrorCode::ProxyBusy,
                ProxyError::Cache(_) | ProxyError::UserToken(_) => ErrorCode::InternalError,
            },
        }
    }

    fn description(&self) -> String {
        match (self.code().description(), self) {
            (Some(fixed), _) => fixed.to_owned(),
            (None, Self::SignIn(SignInError::Provider { error, .. })) => {
                format!("the sign-in service reported an error ({})", printable(error))
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
            Self::Proxy(ProxyError::Busy) => BUSY_RETRY_AFTER,
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
        let error = ApiError::from(SignInError::Provider { error: "<script>x</script>".into(), description: None });
        assert!(!error.description().contains('<'));
        assert!(!sign_in_page(StatusCode::BAD_REQUEST, "<script>").0.contains("<script>"));
    }

    /// Each family of failure has its status.
    #[test]
    fn statuses() {
        let status = |e: ApiError| e.code().status();
        assert_eq!(status(UserTokenError::LoginRequired.into()), StatusCode::UNAUTHORIZED);
        assert_eq!(status(ApiError::CrossSite("missing X-Requested-With")), StatusCode::FORBIDDEN);
        assert_eq!(status(SignInError::InvalidState.into()), StatusCode::BAD_REQUEST);
        assert_eq!(status(UserTokenError::RefreshLockTimeout.into()), StatusCode::SERVICE_UNAVAILABLE);
        let stopped = CacheError::Stopped(crate::single_flight::TaskStopped);
        assert_eq!(status(stopped.into()), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// A layer error keeps its cause reachable through `source`, for the log.
    #[test]
    fn sources_are_kept() {
        use std::error::Error;
        let refused = ExchangeError::Unreachable("connection refused".into());
        let error = ApiError::from(UserTokenError::RefreshLock(crate::cluster::ClusterError::Encode(Arc::new(
            serde_json::from_str::<u8>("x").expect_err("not JSON"),
        ))));
        assert!(error.source().is_some());
        assert!(matches!(ApiError::from(SignInError::Exchange(refused)), ApiError::Exchange(_)), "one path");
    }
}
